// bench/cluster's Node servers: the hello world with the same body as tools/cluster-server/http_hello.c.
// WORKERS=N (N > 0): Node's own cluster primary with N workers (RR, Node's default; set
// NODE_CLUSTER_SCHED_POLICY=none for the shared handle); WORKERS=0: one plain process. Under
// uvproc's C primary (cluster-server --node-worker) each process is a worker. Prints
// "listening on http://127.0.0.1:PORT/" once every worker listens. PORT from CLUSTER_TEST_PORT.
const cluster = require('node:cluster');
const http = require('node:http');
const port = +(process.env.CLUSTER_TEST_PORT || 8000);
const workers = +(process.env.WORKERS || 0);

function serve(announce) {
  http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 12 });
    res.end('hello world\n');
  }).listen(port, '127.0.0.1', announce);
}

if (cluster.isPrimary && workers > 0) {
  let listening = 0;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('listening', () => {
    if (++listening === workers) console.log(`listening on http://127.0.0.1:${port}/`);
  });
  process.on('SIGTERM', () => process.exit(0)); // workers leave when the channel drops
  // SIGHUP: the "correct" hand-written rolling reload of the baselines (cluster_reload.js):
  // fork the new worker, wait for its 'listening', disconnect the old one, SIGKILL after 5 s.
  process.on('SIGHUP', async () => {
    for (const old of Object.values(cluster.workers)) {
      const fresh = cluster.fork();
      await new Promise((resolve) => fresh.once('listening', resolve));
      old.disconnect();
      const t = setTimeout(() => old.process.kill('SIGKILL'), 5000);
      old.once('exit', () => clearTimeout(t));
    }
  });
  // Restart measurement (bench/cluster's restart table): KILLS=n kills a worker 50 ms after
  // it listens and times SIGKILL -> replacement listening, as a Node user's exit handler does.
  const kills = +(process.env.KILLS || 0);
  if (kills > 0) {
    const times = [];
    let t0 = 0;
    cluster.on('exit', (w, code, signal) => { if (signal === 'SIGKILL') cluster.fork(); });
    cluster.on('listening', (w) => {
      if (t0 !== 0) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (times.length === kills) {
        times.sort((a, b) => a - b);
        console.log(`restart_ms=${times[Math.floor(times.length / 2)]}`);
        process.exit(0);
      }
      setTimeout(() => { t0 = process.hrtime.bigint(); w.process.kill('SIGKILL'); }, 50);
    });
  }
} else if (cluster.isPrimary) {
  serve(() => console.log(`listening on http://127.0.0.1:${port}/`));
} else {
  serve();
}
