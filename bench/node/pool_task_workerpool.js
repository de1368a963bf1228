'use strict';
// The tiny task of bench/pool for npm workerpool's process workers: inc(x) = x + 1.
require('workerpool').worker({ inc: (x) => x + 1 });
