'use strict';
// A Node parent driving the C child test/helpers/ipc_child (protocol at its top) through
//   node parent_fork.js fork  <ipc_child>   child_process.fork(..., {execPath: ipc_child})
//   node parent_fork.js spawn <ipc_child>   child_process.spawn(ipc_child, {stdio: [..., 'ipc']})
// and checking what an unmodified Node program relies on. Exit code 0 means every check held.
const assert = require('assert');
const net = require('net');
const { fork, spawn } = require('child_process');

const [mode, cChild] = process.argv.slice(2);
const child = mode === 'fork'
  ? fork('unused-module-path', [], { execPath: cChild, execArgv: [] })
  : spawn(cChild, [], { stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });

setTimeout(() => {
  console.error(`parent_fork.js ${mode}: timed out`);
  process.exit(1);
}, 40000).unref();

// Messages in arrival order; {i:k} bursts are counted instead.
const inbox = [];
let waiter = null;
let counted = 0;
let countedInOrder = true;
child.on('message', (m, handle) => {
  if (m !== null && typeof m === 'object' && typeof m.i === 'number' &&
      Object.keys(m).length === 1) {
    countedInOrder = countedInOrder && m.i === counted;
    counted++;
    return;
  }
  inbox.push([m, handle]);
  if (waiter) {
    const w = waiter;
    waiter = null;
    w();
  }
});
async function next() {
  while (inbox.length === 0) await new Promise((r) => { waiter = r; });
  return inbox.shift();
}
const events = [];
child.on('disconnect', () => events.push('disconnect'));
child.on('exit', (code, signal) => events.push(`exit ${code} ${signal}`));
const closed = new Promise((r) => child.on('close', () => { events.push('close'); r(); }));

function readAll(port) {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    let data = '';
    c.setEncoding('utf8');
    c.on('data', (d) => { data += d; });
    c.on('end', () => resolve(data));
    c.on('error', reject);
  });
}

async function main() {
  // Every JSON type, unicode (U+2028, emoji, NUL), nesting.
  const values = [
    'hello', 42, -1.5, 0, 1e300, true, false, null, '', [], {},
    [1, 'two', [3, [4]], { five: 5 }],
    { a: { b: { c: [1, 2, { d: null }] } }, e: true },
    'line\nbreak \r \u2028 \u2029 \u00e9 \u{1F600} \u0000 end',
    { '\u2028key\u{1F600}': '\u{1F600}' },
    Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER,
    2 ** 64, // past int64: the C side reads it as a double and sends the same number back
  ];
  for (const v of values) child.send(v);
  for (const v of values) assert.deepStrictEqual((await next())[0], v);

  // A lone surrogate cannot be carried in UTF-8: the C side reads it as U+FFFD.
  child.send('a\ud800b');
  assert.strictEqual((await next())[0], 'a\ufffdb');

  // 10 MB.
  const big = 'x'.repeat(10 << 20) + '\u2028\u{1F600}';
  child.send({ big });
  assert.strictEqual((await next())[0].big, big);

  // 100k each way, in order.
  for (let k = 0; k < 100000; k++) child.send({ i: k });
  child.send({ op: 'count' });
  assert.deepStrictEqual((await next())[0], { op: 'count', n: 100000, in_order: true });
  child.send({ op: 'burst', n: 100000 });
  assert.deepStrictEqual((await next())[0], { op: 'burst_done', n: 100000 });
  assert.strictEqual(counted, 100000);
  assert.ok(countedInOrder);

  // The child adopted the channel: variables gone, fd close-on-exec.
  child.send({ op: 'env' });
  assert.deepStrictEqual((await next())[0],
    { op: 'env', fd_env: null, mode_env: null, cloexec: true });

  // Raw JSON from C: what Node's JSON.parse accepts arrives intact (a lone surrogate escape),
  // and what it would die of is refused on the C side.
  child.send({ op: 'raw', text: '"\\ud800"' });
  assert.strictEqual((await next())[0], '\ud800');
  child.send({ op: 'raw', text: '1 2' });
  assert.deepStrictEqual((await next())[0], { op: 'raw_error', err: -30004 });

  // C passes a listening TCP server: Node gets a net.Server and serves on it.
  child.send({ op: 'send_server' });
  const [srvMsg, server] = await next();
  assert.strictEqual(srvMsg.op, 'server');
  assert.ok(server instanceof net.Server);
  server.on('connection', (s) => s.end('hello from node\n'));
  assert.strictEqual(await readAll(srvMsg.port), 'hello from node\n');
  server.close();

  // Node passes a socket: C writes to it.
  const gotData = new Promise((resolve) => {
    const srv = net.createServer((sock) => {
      child.send({ op: 'socket' }, sock);
      srv.close();
    });
    srv.listen(0, '127.0.0.1', () => readAll(srv.address().port).then(resolve));
  });
  assert.strictEqual(await gotData, 'hello from C\n');
  assert.deepStrictEqual((await next())[0], { op: 'greeted', type: 'net.Socket', status: 0 });

  if (mode === 'fork') {
    child.disconnect(); // parent-initiated: the C child sees EOF and exits
  } else {
    child.send({ op: 'disconnect' }); // child-initiated
  }
  await new Promise((r) => child.on('exit', r));
  if (mode !== 'fork') await closed; // Node's 'close' never comes after child.disconnect()
  assert.ok(events.includes('disconnect'), events.join());
  assert.ok(events.includes('exit 0 null'), events.join());
  assert.strictEqual(inbox.length, 0);
  // "# ": the line reaches the TAP stream of test_node_interop as a diagnostic.
  console.log(`# parent_fork.js ${mode}: ok`);
}

main().catch((e) => {
  console.error(`parent_fork.js ${mode}:`, e);
  process.exit(1);
});
