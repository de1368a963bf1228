// cluster_worker.js whose workers leave by themselves once listening (worker.disconnect()).
process.env.LEAVE = '1';
require('./cluster_worker.js');
