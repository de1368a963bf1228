// Node's side of bench/exec: child_process.exec('echo hi', cb), N calls one after the other
// (the next starts from the callback), every output checked. Times only the loop (Node's own
// start-up is outside, as for the C variants) and prints
// "us_per_call=<us> calls_per_s=<rate> n=<N>" for bench.h.
//
//   node exec.js [N=500]
'use strict';
const { exec } = require('child_process');

const n = Number(process.argv[2] || 500);
if (!(n > 0)) {
  console.error('usage: node exec.js [N]');
  process.exit(2);
}

let done = 0;
const t0 = process.hrtime.bigint();

function call() {
  exec('echo hi', (err, stdout, stderr) => {
    if (err || stdout !== 'hi\n' || stderr !== '') {
      console.error('exec failed:', err ? err.message : `stdout ${JSON.stringify(stdout)}`);
      process.exit(1);
    }
    if (++done < n) {
      call();
      return;
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const us = (secs * 1e6) / n;
    console.log(`us_per_call=${us.toFixed(1)} calls_per_s=${(n / secs).toFixed(1)} n=${n}`);
  });
}

call();
