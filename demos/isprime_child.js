// The Node child of the isprime demo (`isprime --node-child demos/isprime_child.js N...`): an
// ordinary Node script using process.on('message') and process.send, unaware of uvproc.
function isPrime(n) {
  if (n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}
process.on('message', (m) => {
  process.send({ number: m.number, isPrime: isPrime(m.number) });
});
