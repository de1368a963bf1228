// Node's side of bench/workers: the same work with worker_threads, timed inside Node (Node's
// own start-up is outside). Prints "value=<number>" for bench.h:
//   startup N   mean microseconds from `new Worker` to 'online' (each worker then terminated)
//   rtt N       round trips per second of {n:i} (the worker echoes every message)
//   oneway N    messages per second: the worker posts {n:i} N times, the parent checks order
//   buf N transfer|copy
//               round trips per second of one 1 MB ArrayBuffer: transferred both ways (the
//               same buffer moves back and forth) or copied (structured clone both ways)
'use strict';
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');

if (!isMainThread) {
  const { mode, n } = workerData;
  if (mode === 'oneway') {
    parentPort.once('message', () => {
      for (let i = 0; i < n; i++) parentPort.postMessage({ n: i });
    });
  } else if (mode === 'buf-transfer') {
    parentPort.on('message', (m) => parentPort.postMessage(m, [m]));
  } else {
    parentPort.on('message', (m) => parentPort.postMessage(m));
  }
  return;
}

const mode = process.argv[2];
const n = Number(process.argv[3]);
const how = process.argv[4];
const now = () => process.hrtime.bigint();

function start(workerMode) {
  return new Worker(__filename, { workerData: { mode: workerMode, n } });
}

function done(value, w) {
  console.log(`value=${value}`);
  if (w) w.terminate();
}

if (mode === 'startup') {
  (async () => {
    let total = 0n;
    for (let i = 0; i < n; i++) {
      const t0 = now();
      const w = new Worker('', { eval: true });
      await new Promise((resolve) => w.once('online', resolve));
      total += now() - t0;
      await w.terminate();
    }
    done(Number(total) / 1e3 / n);
  })();
} else if (mode === 'rtt') {
  const w = start('echo');
  let i = 0;
  let t0;
  w.on('message', (m) => {
    if (m.n !== i) throw new Error(`out of order: ${m.n} != ${i}`);
    if (++i === n) return done(n / (Number(now() - t0) / 1e9), w);
    w.postMessage({ n: i });
  });
  w.once('online', () => {
    t0 = now();
    w.postMessage({ n: 0 });
  });
} else if (mode === 'oneway') {
  const w = start('oneway');
  let i = 0;
  let t0;
  w.on('message', (m) => {
    if (m.n !== i) throw new Error(`out of order: ${m.n} != ${i}`);
    if (++i === n) done(n / (Number(now() - t0) / 1e9), w);
  });
  w.once('online', () => {
    t0 = now();
    w.postMessage('go');
  });
} else if (mode === 'buf') {
  const transfer = how === 'transfer';
  const w = start(transfer ? 'buf-transfer' : 'echo');
  let i = 0;
  let t0;
  const send = (ab) => (transfer ? w.postMessage(ab, [ab]) : w.postMessage(ab));
  w.on('message', (ab) => {
    if (ab.byteLength !== 1 << 20) throw new Error('lost the buffer');
    if (++i === n) return done(n / (Number(now() - t0) / 1e9), w);
    send(ab);
  });
  w.once('online', () => {
    t0 = now();
    send(new ArrayBuffer(1 << 20));
  });
} else {
  console.error('usage: node workers.js startup|rtt|oneway|buf N [transfer|copy]');
  process.exit(2);
}
