// The Node child of the pingpong demo: echoes every message back to its parent.
process.on('message', (m) => process.send(m));
