'use strict';
// An unmodified Node process.send worker for the remote tests (test_remote_fork.c), run behind
// uvproc-relay on the far side of ssh. Objects with "op" are commands:
//   {op:'pid'}          -> {op:'pid', pid}
//   {op:'hold'}         -> keeps the process alive past a disconnect (a timer), {op:'holding'}
//   {op:'ignore_term'}  -> SIGTERM does nothing from now on, {op:'ignoring'}
//   {op:'exit', code}   -> process.exit(code)
// Anything else is echoed back unchanged.
process.on('message', (m) => {
  if (m !== null && typeof m === 'object' && typeof m.op === 'string') {
    if (m.op === 'pid') return process.send({ op: 'pid', pid: process.pid });
    if (m.op === 'hold') {
      setInterval(() => {}, 1000);
      return process.send({ op: 'holding' });
    }
    if (m.op === 'ignore_term') {
      process.on('SIGTERM', () => {});
      return process.send({ op: 'ignoring' });
    }
    if (m.op === 'exit') return process.exit(m.code);
  }
  process.send(m);
});
