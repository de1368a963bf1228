// bench/loadtest --tls: an HTTPS hello server for the generators to load (Node's https, the
// same answer as raw_http_server's). node https_hello.js CERT KEY [WORKERS]: prints
// "listening on https://127.0.0.1:PORT/" once every worker listens; WORKERS > 1 uses cluster.
'use strict';
const cluster = require('cluster');
const fs = require('fs');
const https = require('https');

const [cert, key, workers = '1'] = process.argv.slice(2);
const n = Number(workers);
if (cluster.isPrimary && n > 1) {
  let ready = 0;
  let port = 0;
  for (let i = 0; i < n; i++) cluster.fork();
  cluster.on('message', (w, m) => {
    port = m.port;
    if (++ready === n) console.log(`listening on https://127.0.0.1:${port}/`);
  });
  process.on('SIGTERM', () => { for (const id in cluster.workers) cluster.workers[id].kill(); process.exit(0); });
} else {
  const server = https.createServer({cert: fs.readFileSync(cert), key: fs.readFileSync(key)},
    (req, res) => {
      res.writeHead(200, {'Content-Type': 'text/plain', 'Content-Length': '12'});
      res.end('Hello World\n');
    });
  server.keepAliveTimeout = 60000;
  server.listen(cluster.isPrimary ? 0 : 0, '127.0.0.1', () => {
    if (cluster.isPrimary) console.log(`listening on https://127.0.0.1:${server.address().port}/`);
    else process.send({port: server.address().port});
  });
}
