'use strict';
// A Node workerpool worker for isprime-pool --node-worker: an unmodified
// workerpool.worker({...}) script, as npm workerpool's own pools run it. It needs npm's
// workerpool (10.x) where node can find it, e.g. `npm install workerpool@10.0.3` here, or
// NODE_PATH=test/node/node_modules (installed by .ci/install-deps).
const workerpool = require('workerpool');

function isPrime(n) {
  if (!Number.isInteger(n)) throw new TypeError('isPrime wants an integer');
  if (n < 2) return { number: n, isPrime: false };
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return { number: n, isPrime: false };
  return { number: n, isPrime: true };
}

workerpool.worker({ isPrime });
