// Node's own cluster primary with uvproc C workers (test/helpers/cluster_worker.c, argv[2]),
// in the policy argv[3] ("rr" or "none"): both answer HTTP through Node's primary, then
// cluster.disconnect() lets them leave. Node's cluster.fork() always runs process.execPath,
// so it is pointed at the C program for the fork (the only way Node offers). Prints
// "ok <pid1> <pid2>" and exits 0 on success.
const cluster = require('node:cluster');
const http = require('node:http');

cluster.schedulingPolicy = process.argv[3] === 'none' ? cluster.SCHED_NONE : cluster.SCHED_RR;
cluster.setupPrimary({ exec: 'serve', args: ['0'], execArgv: [] });
process.execPath = process.argv[2];

const pids = new Set();
let listening = 0;
let port = 0;
const get = () => new Promise((resolve, reject) => {
  http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
    let body = '';
    res.on('data', (d) => { body += d; });
    res.on('end', () => resolve(body.trim()));
  }).on('error', reject);
});

cluster.on('listening', async (w, address) => {
  port = address.port;
  if (++listening < 2) return;
  try {
    // Four connections at a time: with a shared handle (SCHED_NONE) the worker that wins
    // accept() can win every sequential one on a busy machine (Node's docs warn the balance
    // is uneven); connections arriving together reach both.
    for (let i = 0; i < 100 && pids.size < 2; i++)
      for (const pid of await Promise.all([get(), get(), get(), get()])) pids.add(pid);
  } catch (e) {
    console.log(`request failed: ${e}`);
    process.exit(1);
  }
  cluster.disconnect(() => {
    console.log(pids.size === 2 ? `ok ${[...pids].join(' ')}` : `only ${[...pids]}`);
    process.exitCode = pids.size === 2 ? 0 : 1;
  });
});
cluster.fork();
cluster.fork();
setTimeout(() => { console.log('timeout'); process.exit(2); }, 20000).unref();
