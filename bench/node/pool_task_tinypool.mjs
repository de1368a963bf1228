// The tiny task of bench/pool for tinypool's child_process runtime: x + 1.
export default (x) => x + 1;
