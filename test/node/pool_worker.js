'use strict';
// An unmodified npm workerpool worker script (workerpool.worker), served to uvproc's C pool in
// test_pool_interop.c and in demos/isprime-pool --node-worker. Methods:
//   isPrime(n)      -> {number: n, isPrime: bool}
//   add(a, b)       -> a + b
//   fail(msg)       -> throws a TypeError(msg)
//   emit(n)         -> n workerEmit events {i}, then 'emitted'
//   sleep(ms, v)    -> v after ms (a Promise)
const workerpool = require('workerpool');

function isPrime(n) {
  if (n < 2) return { number: n, isPrime: false };
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return { number: n, isPrime: false };
  return { number: n, isPrime: true };
}

workerpool.worker({
  isPrime,
  add: (a, b) => a + b,
  fail: (msg) => { throw new TypeError(msg); },
  emit: (n) => {
    for (let i = 0; i < n; i++) workerpool.workerEmit({ i });
    return 'emitted';
  },
  sleep: (ms, v) => new Promise((resolve) => setTimeout(() => resolve(v), ms)),
});
