// Seed 004's program (cluster_seed_verbatim.js, byte for byte), run on CLUSTER_TEST_PORT
// instead of its port 8000, which may be taken where tests run: listen() is wrapped, the
// program itself is not touched.
const net = require('node:net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (port, ...rest) {
  return listen.call(this, port === 8000 ? +(process.env.CLUSTER_TEST_PORT || 8000) : port, ...rest);
};
require('./cluster_seed_verbatim.js');
