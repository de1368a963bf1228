// The seed's load tester, written the way a Node user would: the parent forks N children,
// each runs C/N `http.get` loops on a keep-alive agent and reports its count to the parent
// over IPC once per second; the parent sums them. The clock starts once every child is up
// (Node's start-up is not counted, as for the other generators' process start).
//
//   node naive_loadtest.js URL [CHILDREN=2] [CONNECTIONS=50] [SECONDS=3]
// Prints "rps=N requests=N errors=N" (the bench/loadtest variant reads the tokens).
'use strict';
const {fork} = require('child_process');
const http = require('http');

if (process.argv[2] === '--child') {
  const [url, conns] = [process.argv[3], Number(process.argv[4])];
  const agent = new http.Agent({keepAlive: true, maxSockets: conns});
  let done = 0, errors = 0, stop = false, timer;
  const loop = () => {
    if (stop) return;
    http.get(url, {agent}, (res) => {
      res.resume();
      res.on('end', () => { done++; loop(); });
    }).on('error', () => { errors++; setImmediate(loop); });
  };
  process.on('message', (m) => {
    if (m === 'go') {
      for (let i = 0; i < conns; i++) loop();
      timer = setInterval(() => { process.send({done, errors}); done = errors = 0; }, 1000);
      return;
    }
    stop = true;
    clearInterval(timer);
    process.send({done, errors}, () => process.disconnect());
    agent.destroy();
  });
  process.send('ready');
} else {
  const [url, n = 2, c = 50, secs = 3] = process.argv.slice(2);
  let total = 0, errors = 0, exited = 0, ready = 0, start, end;
  const kids = [];
  for (let i = 0; i < Number(n); i++) {
    const share = Math.floor(c / n) + (i < c % n ? 1 : 0);
    const k = fork(__filename, ['--child', url, String(share)]);
    k.on('message', (m) => {
      if (m === 'ready') {
        if (++ready < Number(n)) return;
        start = process.hrtime.bigint();
        for (const kid of kids) kid.send('go');
        setTimeout(() => {
          end = process.hrtime.bigint();
          for (const kid of kids) kid.send('stop');
        }, Number(secs) * 1000);
        return;
      }
      total += m.done;
      errors += m.errors;
    });
    k.on('exit', () => {
      if (++exited < Number(n)) return;
      const s = Number(end - start) / 1e9;
      console.log(`rps=${(total / s).toFixed(0)} requests=${total} errors=${errors}`);
    });
    kids.push(k);
  }
}
