// Preloaded into the fuzzed gateway process only (node --expose-gc --import <this>): on SIGUSR2
// it runs full garbage collections and writes one line `fuzz-gc-probe <n> <memoryUsage JSON>`
// to stderr, so the test reads the heap and RSS the process settles at. Nothing of this is
// in the gateway itself.
let probes = 0;
process.on('SIGUSR2', () => {
  const gc = globalThis.gc;
  if (gc) {
    gc();
    gc();
  }
  probes += 1;
  process.stderr.write(`fuzz-gc-probe ${probes} ${JSON.stringify({ ...process.memoryUsage(), collected: Boolean(gc) })}\n`);
});
