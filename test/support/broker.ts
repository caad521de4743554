// Use in broker tests: `describe.runIf(brokerAvailable)('[rabbitmq] …', …)`.
// The global setup has probed the broker; when TRIBUTARY_REQUIRE_BROKER=1 it already failed
// the run if none answered, so nothing is silently skipped in CI.
export const amqpUrl = process.env.TRIBUTARY_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const brokerAvailable = process.env.TRIBUTARY_TEST_BROKER === '1';

/** a name no other test (or parallel test run) uses */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
