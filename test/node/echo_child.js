'use strict';
// An unmodified Node child for test_node_interop.c: it only uses process.on('message') and
// process.send, as any Node program would. Messages that are objects with "op" are commands:
//   {op:'count'}        -> {op:'count', n, in_order} about the {i:k} messages received so far
//   {op:'burst', n}     -> sends {i:0}..{i:n-1}, then {op:'burst_done', n}
//   {op:'codes', s}     -> {op:'codes', codes:[UTF-16 code units of s]}
//   {op:'give_socket'}  -> passes a connected net.Socket to the parent with {op:'socket'}; the
//                          client end reports what it read with {op:'client_got', data}
//   {op:'disconnect'}   -> process.disconnect()
// A message with a net.Server handle makes it serve "hello from node\n" per connection and
// reply {op:'server_ready'}. Anything else is echoed back unchanged.
const net = require('net');

let count = 0;
let inOrder = true;
const servers = [];

process.on('message', (m, handle) => {
  if (handle) {
    handle.on('connection', (s) => s.end('hello from node\n'));
    servers.push(handle);
    process.send({ op: 'server_ready', type: handle.constructor.name });
    return;
  }
  if (m !== null && typeof m === 'object' && !Array.isArray(m)) {
    if (typeof m.i === 'number' && Object.keys(m).length === 1) {
      inOrder = inOrder && m.i === count;
      count++;
      return;
    }
    switch (m.op) {
      case 'count':
        process.send({ op: 'count', n: count, in_order: inOrder });
        count = 0;
        inOrder = true;
        return;
      case 'burst':
        for (let k = 0; k < m.n; k++) process.send({ i: k });
        process.send({ op: 'burst_done', n: m.n });
        return;
      case 'codes': {
        const codes = [];
        for (let k = 0; k < m.s.length; k++) codes.push(m.s.charCodeAt(k));
        process.send({ op: 'codes', codes });
        return;
      }
      case 'give_socket':
        giveSocket();
        return;
      case 'disconnect':
        process.disconnect();
        return;
    }
  }
  process.send(m);
});

process.on('disconnect', () => {
  for (const s of servers) s.close();
});

function giveSocket() {
  const srv = net.createServer((sock) => {
    process.send({ op: 'socket' }, sock);
    srv.close();
  });
  srv.listen(0, '127.0.0.1', () => {
    const c = net.connect(srv.address().port, '127.0.0.1');
    let data = '';
    c.setEncoding('utf8');
    c.on('data', (d) => { data += d; });
    c.on('end', () => {
      process.send({ op: 'client_got', data });
      c.end();
    });
  });
}
