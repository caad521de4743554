// The retained store on the embedded fabric (a product component): two stores on one fabric
// stand for two gateway processes on one RabbitMQ.
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedFabric } from '../../../src/fabric/embedded/index.js';
import { createLogger } from '../../../src/log.js';
import { RETAINED_STORE_QUEUE } from '../../../src/protocols/mqtt/names.js';
import { RetainedStore } from '../../../src/protocols/mqtt/retained.js';

const log = createLogger('silent');
const limits = { maxMessages: 100, maxBytes: 1 << 20 };
const fabrics: EmbeddedFabric[] = [];
const stores: RetainedStore[] = [];

async function fabric(): Promise<EmbeddedFabric> {
  const f = new EmbeddedFabric();
  await f.start();
  fabrics.push(f);
  return f;
}

function store(f: EmbeddedFabric, node: string, l = limits): RetainedStore {
  const s = new RetainedStore(f, '/', node, 'tributary.retained', l, log);
  stores.push(s);
  return s;
}

const msg = (topic: string, payload: string, extra: object = {}) => ({ topic, qos: 1 as const, retain: true, payload: Buffer.from(payload), ...extra });

async function logLength(f: EmbeddedFabric): Promise<number> {
  const s = f.openSession({ vhost: '/' });
  const { messageCount } = await s.checkQueue(RETAINED_STORE_QUEUE);
  await s.close();
  return messageCount;
}

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const f of fabrics.splice(0)) await f.close();
});

describe('mqtt retained store', () => {
  it('keeps the newest message per topic, matches wildcard filters, deletes on an empty payload', async () => {
    const f = await fabric();
    const a = store(f, 'a');
    await a.retain(msg('home/kitchen/lamp', 'on'));
    await a.retain(msg('home/kitchen/lamp', 'off'));
    await a.retain(msg('home/hall/lamp', 'on'));
    await a.retain(msg('$SYS/uptime', '5'));
    expect(a.match('home/+/lamp').map((m) => [m.topic, m.payload.toString()]).sort()).toEqual([
      ['home/hall/lamp', 'on'],
      ['home/kitchen/lamp', 'off'],
    ]);
    expect(a.match('#').map((m) => m.topic)).not.toContain('$SYS/uptime');
    expect(await a.retain(msg('home/hall/lamp', ''))).toBe('cleared');
    expect(a.match('home/#').map((m) => m.topic)).toEqual(['home/kitchen/lamp']);
  });

  it('a second process sees updates live and, started later, reads the log; the log is compacted', async () => {
    const f = await fabric();
    const a = store(f, 'a');
    for (let i = 0; i < 20; i++) await a.retain(msg('t/x', String(i)));
    await a.retain(msg('t/y', 'y'));
    await a.retain(msg('t/gone', 'z'));
    await a.retain(msg('t/gone', ''));
    expect(await logLength(f)).toBe(23);
    const b = store(f, 'b');
    await b.start(); // reads and compacts: newest per topic, no deletions
    expect(await logLength(f)).toBe(2);
    expect(b.match('t/#').map((m) => [m.topic, m.payload.toString()]).sort()).toEqual([
      ['t/x', '19'],
      ['t/y', 'y'],
    ]);
    await b.retain(msg('t/y', 'from b'));
    await new Promise((r) => setImmediate(r));
    expect(a.match('t/y')[0]?.payload.toString()).toBe('from b');
  });

  it('bounds memory: a new topic beyond the limit is refused, existing ones still update', async () => {
    const f = await fabric();
    const a = store(f, 'a', { maxMessages: 2, maxBytes: 1 << 20 });
    expect(await a.retain(msg('a', '1'))).toBe('stored');
    expect(await a.retain(msg('b', '1'))).toBe('stored');
    expect(await a.retain(msg('c', '1'))).toBe('refused');
    expect(await a.retain(msg('a', '2'))).toBe('stored');
    expect(a.size).toBe(2);
  });

  it('drops a retained message once its Message Expiry Interval has passed', async () => {
    const f = await fabric();
    const a = store(f, 'a');
    await a.retain(msg('e/short', 's', { properties: { messageExpiryInterval: 1 } }));
    await a.retain(msg('e/long', 'l', { properties: { messageExpiryInterval: 60 } }));
    expect(a.match('e/#')).toHaveLength(2);
    expect(a.match('e/#', Date.now() + 1_500).map((m) => m.topic)).toEqual(['e/long']);
  });
});
