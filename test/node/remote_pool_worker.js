'use strict';
// An unmodified Node process.send worker that speaks npm workerpool's wire protocol by hand
// ("ready", {id, method, params} -> {id, result, error}, "__workerpool-terminate__"), for
// test_remote_pool.c, where it serves a uvproc pool on ssh hosts behind uvproc-relay.
const methods = {
  add: (a, b) => a + b,
  echo: (v) => v,
  pid: () => process.pid,
};
process.on('message', (m) => {
  if (m === '__workerpool-terminate__') return process.exit(0);
  const f = methods[m.method];
  if (!f) return process.send({ id: m.id, result: null, error: { name: 'Error', message: 'no method ' + m.method } });
  process.send({ id: m.id, result: f(...(m.params || [])), error: null });
});
process.send('ready');
