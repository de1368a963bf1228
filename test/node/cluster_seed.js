// Seed 004's cluster program, unmodified but for the port (CLUSTER_TEST_PORT, default 8000):
// under a C primary it is a worker; run with plain `node` it is its own primary.
const cluster = require('node:cluster');
const http = require('node:http');
const numCPUs = require('node:os').availableParallelism();
const process = require('node:process');

if (cluster.isPrimary) {
  console.log(`Primary ${process.pid} is running`);
  for (let i = 0; i < numCPUs; i++) {
    cluster.fork();
  }
  cluster.on('exit', (worker, code, signal) => {
    console.log(`worker ${worker.process.pid} died`);
  });
} else {
  http.createServer((req, res) => {
    res.writeHead(200);
    res.end('hello world\n');
  }).listen(+(process.env.CLUSTER_TEST_PORT || 8000));
  console.log(`Worker ${process.pid} started`);
}
