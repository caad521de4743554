// ack:auto subscriptions, on both fabrics (RabbitMQ when it answers): a window of their own (stomp.autoAckPrefetch, not the
// client's prefetch-count and not the session's client-ack window), and writes that wait while
// the socket is backed up, so a reader that pauses gets everything later instead of being cut
// off by the pending-bytes cap.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStompProtocol } from '../../../src/protocols/stomp/index.js';
import { uniqueName } from '../../support/broker.js';
import { startTestGateway, type TestGateway } from '../../support/gateway.js';
import { BrokerCleanup, FABRICS } from './support/fabrics.js';
import { RawStompClient } from './support/raw-client.js';

for (const [label, fabric, enabled] of FABRICS) describe.runIf(enabled)(`STOMP ack:auto window on the ${label}`, () => {
  let gw: TestGateway;
  const cleanup = new BrokerCleanup(fabric);
  beforeAll(async () => {
    gw = await startTestGateway(
      {
        stomp: { heartbeatMs: 0, autoAckPrefetch: 1024 },
        limits: { maxInflightPerSession: 3, drainTimeoutMs: 15_000, maxPendingBytesPerConnection: 2 * 1024 * 1024 },
      },
      { fabric, protocols: [createStompProtocol] },
    );
  });
  afterAll(async () => {
    await gw?.stop();
    await cleanup.run();
  });

  it('a subscriber that stops reading for a while keeps its connection and then gets every message: 40 MiB wait for the socket, never past the 2 MiB pending cap', { timeout: 60_000 }, async () => {
    const port = gw.ports.stomp!;
    const topic = `/topic/${uniqueName('auto-pause')}`;
    const reader = await RawStompClient.connect(port);
    // prefetch-count 1 does not bound ack:auto (RabbitMQ's plugin ignores it there too)
    await reader.withReceipt('SUBSCRIBE', { id: 's', destination: topic, 'prefetch-count': '1' });
    reader.socket.pause();
    const publisher = await RawStompClient.connect(port);
    const body = Buffer.alloc(1024 * 1024, 'y');
    const count = 40;
    for (let i = 0; i < count; i++) publisher.send('SEND', { destination: topic, n: String(i) }, body);
    await publisher.withReceipt('SEND', { destination: `/topic/${uniqueName('sync')}` }, 'sync');
    // the broker pushes up to 1,024 deliveries: without waiting for the socket they would all
    // be handed to the link at once and the 2 MiB cap would close this client as a slow consumer
    await new Promise((r) => setTimeout(r, 1_500));
    reader.socket.resume();
    const got = await reader.messages(count, 30_000);
    expect(got.map((m) => m.headers['n'])).toEqual(Array.from({ length: count }, (_, i) => String(i)));
    expect(got.every((m) => m.body.length === body.length)).toBe(true);
    expect(reader.isOpen).toBe(true);
    await Promise.all([reader.disconnect(), publisher.disconnect()]);
  });

  it('a full client-ack window (maxInflightPerSession 3) holds back only the client-ack subscription; ack:auto on the same connection keeps flowing', { timeout: 30_000 }, async () => {
    const port = gw.ports.stomp!;
    const qa = cleanup.queue(uniqueName('window-client'));
    const qb = cleanup.queue(uniqueName('window-auto'));
    const c = await RawStompClient.connect(port);
    await c.withReceipt('SUBSCRIBE', { id: 'a', destination: `/queue/${qa}`, ack: 'client-individual', 'prefetch-count': '100' });
    await c.withReceipt('SUBSCRIBE', { id: 'b', destination: `/queue/${qb}` });
    const p = await RawStompClient.connect(port);
    for (let i = 0; i < 10; i++) p.send('SEND', { destination: `/queue/${qa}` }, `a${i}`);
    for (let i = 0; i < 500; i++) p.send('SEND', { destination: `/queue/${qb}` }, `b${i}`);
    await p.withReceipt('SEND', { destination: `/queue/${qb}` }, 'b-last');
    const messages = await c.messages(3 + 501, 20_000);
    const bodies = (sub: string) => messages.filter((m) => m.headers['subscription'] === sub).map((m) => m.body.toString());
    expect(bodies('a')).toEqual(['a0', 'a1', 'a2']);
    expect(bodies('b')).toEqual([...Array.from({ length: 500 }, (_, i) => `b${i}`), 'b-last']);
    await c.noMessageFor(200); // the client-ack window is full: nothing more for "a"
    const third = messages.filter((m) => m.headers['subscription'] === 'a')[2]!;
    c.send('ACK', { id: third.headers['ack']! });
    const [next] = await c.messages(1);
    expect(next!.body.toString()).toBe('a3');
    await c.noMessageFor(200);
    await Promise.all([c.disconnect(), p.disconnect()]);
  });
});
