// The fuzz phase: each protocol fuzzed on live listeners of a gateway process of its own for a
// budget (TRIBUTARY_TEST_FUZZ_SECONDS, default 60 s per protocol; test/fuzz). The three files run
// at once, one gateway process each, after the main suite and the faults phase (`npm test`).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/fuzz/**/*.fuzz.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    fileParallelism: true,
    maxWorkers: 3,
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
