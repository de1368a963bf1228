// Node's side of bench/spawn: spawn + wait of /bin/true, N times, INFLIGHT at a time, with
// child_process.spawn. A child counts as done at 'close' (exit and its stdio closed), as
// uvproc's on_close. Times only the loop (Node's own start-up is outside, as for the C
// variants) and prints "rate=<spawns/s> us_per_spawn=<us> n=<N>" for bench.h.
//
//   node spawn.js [N=2000] [INFLIGHT=1] [inherit|pipe] [HEAP_MIB=0]
'use strict';
const { spawn } = require('child_process');

const n = Number(process.argv[2] || 2000);
const inflight = Number(process.argv[3] || 1);
const mode = process.argv[4] || 'inherit';
if (!(n > 0) || !(inflight > 0) || (mode !== 'inherit' && mode !== 'pipe')) {
  console.error('usage: node spawn.js [N] [INFLIGHT] [inherit|pipe]');
  process.exit(2);
}
const stdio = mode === 'inherit' ? 'inherit' : 'pipe';
// Touched memory in the parent: libuv's uv_spawn forks, and fork's cost grows with it.
const heap = Buffer.alloc(Number(process.argv[5] || 0) * 1048576, 1);
globalThis.keepHeap = heap;

let started = 0;
let done = 0;
const t0 = process.hrtime.bigint();

function start() {
  started++;
  const child = spawn('/bin/true', [], { stdio });
  child.on('error', (err) => {
    console.error('spawn failed:', err.message);
    process.exit(1);
  });
  child.on('close', (code, signal) => {
    if (code !== 0) {
      console.error(`child closed with code ${code}, signal ${signal}`);
      process.exit(1);
    }
    done++;
    if (started < n) {
      start();
    } else if (done === n) {
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      const us = (secs * 1e6) / n;
      console.log(`rate=${(n / secs).toFixed(1)} us_per_spawn=${us.toFixed(1)} n=${n}`);
    }
  });
}

for (let i = 0; i < Math.min(inflight, n); i++) start();
