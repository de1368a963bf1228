// Node's side of bench/pool: N tiny tasks (x => x + 1) through npm workerpool (process
// workers) or tinypool (child_process runtime), 2 workers, as the anchors measured them: the
// workers start and 200 warm-up tasks run first, then the timed Promise.all over N tasks,
// every result checked. Prints "tasks_per_s=<rate> n=<N>" for bench.h.
//
//   node pool_anchor.mjs workerpool|tinypool [N=10000]
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const which = process.argv[2];
const n = Number(process.argv[3] || 10000);

async function makePool() {
  if (which === 'workerpool') {
    const workerpool = require('workerpool');
    const pool = workerpool.pool(path.join(here, 'pool_task_workerpool.js'), {
      workerType: 'process', minWorkers: 2, maxWorkers: 2,
    });
    return { run: (x) => pool.exec('inc', [x]), close: () => pool.terminate() };
  }
  if (which === 'tinypool') {
    const { Tinypool } = await import('tinypool');
    const pool = new Tinypool({
      filename: path.join(here, 'pool_task_tinypool.mjs'),
      runtime: 'child_process', minThreads: 2, maxThreads: 2,
    });
    return { run: (x) => pool.run(x), close: () => pool.destroy() };
  }
  console.error('usage: node pool_anchor.mjs workerpool|tinypool [N]');
  process.exit(2);
}

async function batch(pool, count) {
  const all = [];
  for (let i = 0; i < count; i++) all.push(pool.run(i));
  const got = await Promise.all(all);
  for (let i = 0; i < count; i++) if (got[i] !== i + 1) throw new Error(`task ${i}: ${got[i]}`);
}

const pool = await makePool();
await batch(pool, 200);
const t0 = process.hrtime.bigint();
await batch(pool, n);
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
await pool.close();
console.log(`tasks_per_s=${n / secs} n=${n}`);
