import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics.js';

describe('metrics - folded counts', () => {
  it('messagesDelivered reports what deliveredCounts children counted, once, beside its ordinary inc()', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const mqtt = m.deliveredCounts.child({ protocol: 'mqtt' });
    expect(m.deliveredCounts.child({ protocol: 'mqtt' })).toBe(mqtt); // one per label set
    for (let i = 0; i < 5; i++) mqtt.inc();
    m.messagesDelivered.inc({ protocol: 'stomp' }, 2);
    const values = async () => Object.fromEntries((await m.messagesDelivered.get()).values.map((v) => [v.labels.protocol, v.value]));
    expect(await values()).toEqual({ mqtt: 5, stomp: 2 });
    expect(await values()).toEqual({ mqtt: 5, stomp: 2 }); // reading twice does not add again
    mqtt.inc();
    expect(await m.registry.metrics()).toContain('tributary_messages_delivered_total{protocol="mqtt"} 6');
  });

  it('messagesReceived likewise, through receivedCounts', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const wamp = m.receivedCounts.child({ protocol: 'wamp' });
    wamp.inc();
    wamp.inc();
    expect(await m.registry.metrics()).toContain('tributary_messages_received_total{protocol="wamp"} 2');
  });
});
