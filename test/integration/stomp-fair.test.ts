// E2E: STOMP /fair/<stream> consumes a per-publisher fair stream's output (src/fair): messages
// published on the stream's topics by STOMP clients come out round-robin per publisher.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStompProtocol } from '../../src/protocols/stomp/index.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { RawStompClient } from '../unit/stomp/support/raw-client.js';

describe('E2E: STOMP /fair/<stream> on the embedded fabric', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway(
      { stomp: { heartbeatMs: 0 }, fair: { streams: [{ name: 'jobs', patterns: ['jobs.#'], publisherBy: 'header:tenant', maxPerPublisher: 1000, idleExpiryMs: 60_000, outputQueueLength: 5, amqpIntake: false }] } },
      { protocols: [createStompProtocol] },
    );
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('a flood from one publisher does not starve another', async () => {
    const worker = await RawStompClient.connect(gw.ports.stomp!);
    const p = await RawStompClient.connect(gw.ports.stomp!);
    for (let i = 0; i < 100; i++) await p.withReceipt('SEND', { destination: '/topic/jobs.render', tenant: 'big' }, `big-${i}`);
    await p.withReceipt('SEND', { destination: '/topic/jobs.render', tenant: 'small' }, 'small-0');
    await worker.withReceipt('SUBSCRIBE', { id: 'w', destination: '/fair/jobs', ack: 'client-individual', 'prefetch-count': '1' });
    const order: string[] = [];
    while (!order.includes('small-0')) {
      const [m] = await worker.messages(1);
      order.push(m!.body.toString());
      await worker.withReceipt('ACK', { id: m!.headers['ack']! });
    }
    // the quiet publisher is served long before the flood has drained (the dispatcher's
    // output queue, 5 long here, decides how soon exactly; that is src/fair's to test)
    expect(order.indexOf('small-0')).toBeLessThan(20);
    await Promise.all([worker.disconnect(), p.disconnect()]);
  });

  it('SEND to /fair/ and an unknown stream are refused', async () => {
    const c = await RawStompClient.connect(gw.ports.stomp!);
    c.send('SEND', { destination: '/fair/jobs' }, 'x');
    expect((await c.next()).headers['message']).toBe('invalid destination /fair/jobs');
    const d = await RawStompClient.connect(gw.ports.stomp!);
    d.send('SUBSCRIBE', { id: '1', destination: '/fair/nope' });
    expect((await d.next()).headers['message']).toBe('unknown destination /fair/nope');
  });
});
