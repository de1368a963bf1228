// The Node child of bench/ipc (forked by bench/node/ipc_parent.js or by uvproc_fork with
// exec_path node). Builds its sieve, says {"ready":true}, then:
//   oneway:   at the parent's first message ({"go":true}) sends N messages
//             {"n":i,"isPrime":b} with process.send in a tight loop (what Node code usually
//             does; Node queues what the socket does not take);
//   pingpong: answers every {"number":i} with {"n":i,"isPrime":b}.
// Exits once the parent disconnects (nothing else keeps it alive).
//
//   node ipc_child.js oneway|pingpong N
'use strict';

const mode = process.argv[2];
const n = Number(process.argv[3]);
if ((mode !== 'oneway' && mode !== 'pingpong') || !(n > 0) || !process.send) {
  console.error('usage: node ipc_child.js oneway|pingpong N (forked, with an IPC channel)');
  process.exit(2);
}

const sieve = new Uint8Array(n + 2).fill(1);
sieve[0] = sieve[1] = 0;
for (let i = 2; i * i <= n + 1; i++) {
  if (sieve[i]) for (let j = i * i; j <= n + 1; j += i) sieve[j] = 0;
}

// bench/ipc --cpus P,C: children run on CPU C (every thread of this process), set before
// saying ready.
if (process.env.UVPROC_BENCH_CHILD_CPU) {
  const cpu = process.env.UVPROC_BENCH_CHILD_CPU;
  require('child_process').execFileSync('taskset', ['-a', '-c', '-p', cpu, String(process.pid)], {
    stdio: 'ignore',
  });
}

let going = false;
process.on('message', (m) => {
  if (mode === 'pingpong') {
    const i = m.number;
    if (!Number.isInteger(i) || i < 0 || i >= n) {
      console.error('ipc_child.js: bad question', JSON.stringify(m));
      process.exit(1);
    }
    process.send({ n: i, isPrime: sieve[i] === 1 });
  } else if (!going) {
    going = true;
    for (let i = 0; i < n; i++) process.send({ n: i, isPrime: sieve[i] === 1 });
  }
});
process.send({ ready: true });
