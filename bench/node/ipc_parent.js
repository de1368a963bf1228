// Node's parent side of bench/ipc: forks bench/node/ipc_child.js (or, with --c-child EXE, the
// uvproc C child: fork('--uvproc-child', [MODE, N], {execPath: EXE})), starts the timer when
// the child says {"ready":true}, then
//   oneway:   says {"go":true} and receives N messages, each checked (n in order, isPrime
//             against its own sieve);
//   pingpong: N round trips {"number":i} -> {"n":i,"isPrime":b}, each answer checked.
// Stops the timer at the last message, disconnects, waits for the child to exit 0, and prints
// "secs=<s> rate=<per s> n=<N>" for bench.h. Node's own start-up and the child's are outside.
//
//   node ipc_parent.js oneway|pingpong N [--c-child EXE]
'use strict';
const path = require('path');
const { fork } = require('child_process');

const mode = process.argv[2];
const n = Number(process.argv[3]);
const cChild = process.argv[4] === '--c-child' ? process.argv[5] : null;
if ((mode !== 'oneway' && mode !== 'pingpong') || !(n > 0)) {
  console.error('usage: node ipc_parent.js oneway|pingpong N [--c-child EXE]');
  process.exit(2);
}

const sieve = new Uint8Array(n + 2).fill(1);
sieve[0] = sieve[1] = 0;
for (let i = 2; i * i <= n + 1; i++) {
  if (sieve[i]) for (let j = i * i; j <= n + 1; j += i) sieve[j] = 0;
}

const opts = { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] };
const child = cChild
  ? fork('--uvproc-child', [mode, String(n)], { ...opts, execPath: cChild })
  : fork(path.join(__dirname, 'ipc_child.js'), [mode, String(n)], opts);

let ready = false;
let count = 0;
let t0 = 0n;
let secs = 0;

function fail(why) {
  console.error('ipc_parent.js:', why);
  process.exit(1);
}

child.on('error', (err) => fail(err.message));
child.on('message', (m) => {
  if (!ready) {
    if (m.ready !== true) fail(`expected {"ready":true}, got ${JSON.stringify(m)}`);
    ready = true;
    t0 = process.hrtime.bigint();
    child.send(mode === 'oneway' ? { go: true } : { number: 0 });
    return;
  }
  if (count >= n || m.n !== count || m.isPrime !== (sieve[count] === 1)) {
    fail(`bad answer for ${count}: ${JSON.stringify(m)}`);
  }
  if (++count === n) {
    secs = Number(process.hrtime.bigint() - t0) / 1e9;
    child.disconnect();
  } else if (mode === 'pingpong') {
    child.send({ number: count });
  }
});
child.on('exit', (code, signal) => {
  if (code !== 0 || count !== n) fail(`child exited with ${code} ${signal} after ${count} of ${n}`);
  console.log(`secs=${secs.toFixed(6)} rate=${(n / secs).toFixed(1)} n=${n}`);
});
