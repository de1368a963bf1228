// A Node `http` server for test/test_loadtest.py that counts what it sees, so a test can
// compare loadtest's numbers with the server's.
//
//   node loadtest_server.js MODE [K]
//     hello     200 "Hello World\n" to every request
//     chaos     by request number n (1-based, all connections together): n%10==3 resets the
//               connection (RST), n%10==5 answers 500, n%10==7 never answers (stalls),
//               n%10==9 closes the connection without answering (FIN); else 200
//     maxconn K hello, but at most K connections at once: Node closes any further one at once
//     freeze MS hello, but the first request that comes 500 ms or more after the first one
//               freezes the whole server for MS ms (a GC pause, a blocking call) before answering
//
// Prints "listening PORT" once listening on 127.0.0.1 (a free port); on SIGTERM prints
// {"requests":N,"connections":N} and exits.
'use strict';
const http = require('http');

const mode = process.argv[2] || 'hello';
let requests = 0;
let connections = 0;
const stalled = [];
let firstAt = 0;
let frozen = false;

const server = http.createServer((req, res) => {
  requests++;
  const n = requests;
  if (mode === 'freeze' && !frozen) {
    const now = Date.now();
    if (firstAt === 0) firstAt = now;
    if (now - firstAt >= 500) {
      frozen = true;
      while (Date.now() - now < Number(process.argv[3])) { /* the freeze */ }
    }
  }
  if (mode === 'chaos') {
    if (n % 10 === 3) return req.socket.resetAndDestroy();
    if (n % 10 === 7) return stalled.push(res);
    if (n % 10 === 9) return req.socket.destroy();
    if (n % 10 === 5) {
      res.writeHead(500, {'Content-Type': 'text/plain'});
      return res.end('oops\n');
    }
  }
  res.writeHead(200, {'Content-Type': 'text/plain'});
  res.end('Hello World\n');
});
server.on('connection', () => connections++);
if (mode === 'maxconn') server.maxConnections = Number(process.argv[3]);
server.keepAliveTimeout = 60000;

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => {
  process.stdout.write(JSON.stringify({requests, connections}) + '\n', () => process.exit(0));
});
