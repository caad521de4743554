// The faults phase: tests that cut RabbitMQ connections, restart the broker and SIGKILL the
// gateway (test/faults). They disturb everything else that uses the broker, so they run on
// their own, one file at a time, after the main suite (`npm test`).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
