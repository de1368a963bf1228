// A Node cluster program for the cluster tests and bench/cluster, written as any Node user
// would (require('node:cluster'), http.createServer(...).listen()): under uvproc's C primary
// each process is a worker; run with plain `node` it is its own primary (WORKERS workers).
// Body: the worker's pid. GET /slow tells the primary (process.send) and answers after 300 ms.
// LEAVE=1: the worker leaves by itself once listening (cluster.worker.disconnect()).
const cluster = require('node:cluster');
const http = require('node:http');
const port = +(process.env.CLUSTER_TEST_PORT || 8000);

if (cluster.isPrimary) {
  for (let i = 0; i < +(process.env.WORKERS || 2); i++) cluster.fork();
  cluster.on('listening', (w, a) => {
    if (Object.values(cluster.workers).every((x) => x.state === 'listening'))
      console.log(`node cluster listening on http://127.0.0.1:${a.port}/`);
  });
} else {
  const server = http.createServer((req, res) => {
    if (req.url === '/slow') {
      process.send({ slow: true });
      setTimeout(() => res.end(`${process.pid}\n`), 300);
      return;
    }
    res.end(`${process.pid}\n`);
  });
  server.on('error', (e) => {
    console.error(`worker ${process.pid}: ${e.code}`);
    process.exit(e.code === 'EADDRINUSE' ? 7 : 8);
  });
  server.listen(port, '127.0.0.1', () => {
    if (process.env.LEAVE) cluster.worker.disconnect();
  });
}
