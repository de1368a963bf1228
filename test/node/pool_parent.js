'use strict';
// npm workerpool (process mode) driving a C worker: `node pool_parent.js C_WORKER`. workerpool
// forks its script with child_process.fork; forkOpts.execPath makes that fork run the C
// program instead of node (the script path reaches it as argv[1], which it ignores). Prints one
// JSON line with what came back, which test_pool_interop.c checks.
const workerpool = require('workerpool');

const cWorker = process.argv[2];
const pool = workerpool.pool(cWorker, {
  workerType: 'process',
  maxWorkers: 2,
  forkOpts: { execPath: cWorker },
});

async function main() {
  const out = {};
  const sums = [];
  for (let i = 0; i < 50; i++) sums.push(pool.exec('add', [i, 1000]));
  out.sums = await Promise.all(sums);
  out.prime = await pool.exec('isPrime', [97]);
  out.echo = await pool.exec('echo', [{ k: ['ü"\n', null, true] }]);
  try {
    await pool.exec('fail', ['RangeError', 'out of range']);
  } catch (e) {
    out.error = { name: e.name, message: e.message, isError: e instanceof Error };
  }
  try {
    await pool.exec('nope', []);
  } catch (e) {
    out.unknown = e.message;
  }
  out.events = [];
  out.emitted = await pool.exec('emit', [3], { on: (p) => out.events.push(p) });
  try {
    await pool.exec('sleep', [100000, 'never']).timeout(200);
  } catch (e) {
    out.timeout = e.name;
  }
  out.afterTimeout = await pool.exec('add', [1, 2]);
  out.methods = (await pool.proxy().then((p) => Object.keys(p))).sort();
  await pool.terminate();
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
