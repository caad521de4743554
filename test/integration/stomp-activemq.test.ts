// E2E: the ActiveMQ STOMP dialect translated onto AMQP, on both fabrics: dotted names and
// wildcards, temp queues and topics, client-id durable subscribers, activemq.prefetchSize,
// absolute `expires`, JMSXGroupID message groups and JMS selectors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStompProtocol } from '../../src/protocols/stomp/index.js';
import { uniqueName } from '../support/broker.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { BrokerCleanup, FABRICS } from '../unit/stomp/support/fabrics.js';
import { RawStompClient } from '../unit/stomp/support/raw-client.js';

const name = (prefix: string) => uniqueName(prefix).replace(/[^\w]/g, '_');

for (const [label, fabric, enabled] of FABRICS) {
  describe.runIf(enabled)(`E2E: ActiveMQ STOMP dialect on the ${label}`, () => {
    let gw: TestGateway;
    const cleanup = new BrokerCleanup(fabric);
    const open: RawStompClient[] = [];
    const connect = async (headers: Record<string, string> = {}) => {
      const c = await RawStompClient.connect(gw.ports.stomp!, headers);
      open.push(c);
      return c;
    };

    beforeAll(async () => {
      gw = await startTestGateway({ stomp: { heartbeatMs: 0 } }, { fabric, protocols: [createStompProtocol] });
    });
    afterAll(async () => {
      for (const c of open) c.destroy();
      await gw?.stop();
      await cleanup.run();
    });

    it('dotted topic names with ActiveMQ wildcards: * is one word, > the rest', async () => {
      const root = name('ORDERS');
      const c = await connect();
      await c.withReceipt('SUBSCRIBE', { id: 'one', destination: `/topic/${root}.*` });
      await c.withReceipt('SUBSCRIBE', { id: 'rest', destination: `/topic/${root}.>` });
      await c.withReceipt('SEND', { destination: `/topic/${root}.EU` }, 'one level');
      await c.withReceipt('SEND', { destination: `/topic/${root}.EU.DE` }, 'two levels');
      const got = await c.messages(3);
      const by = (id: string) => got.filter((m) => m.headers['subscription'] === id).map((m) => m.body.toString()).sort();
      expect(by('one')).toEqual(['one level']);
      expect(by('rest')).toEqual(['one level', 'two levels']);
    });

    it('/temp-queue/: subscribe to it, send with reply-to, get the answer on your subscription', async () => {
      const svc = cleanup.queue(name('SVC'));
      const responder = await connect();
      await responder.withReceipt('SUBSCRIBE', { id: 'svc', destination: `/queue/${svc}` });
      const requester = await connect();
      await requester.withReceipt('SUBSCRIBE', { id: 'mine', destination: '/temp-queue/replies', ack: 'client-individual' });
      await requester.withReceipt('SEND', { destination: `/queue/${svc}`, 'reply-to': '/temp-queue/replies' }, 'q');
      const [req] = await responder.messages(1);
      await responder.withReceipt('SEND', { destination: req!.headers['reply-to']! }, 'a');
      const [reply] = await requester.messages(1);
      expect(reply!.headers).toMatchObject({ subscription: 'mine', destination: '/temp-queue/replies' });
      expect(reply!.body.toString()).toBe('a');
      await requester.withReceipt('ACK', { id: reply!.headers['ack']! });
    });

    it('/temp-topic/: events sent to the rewritten reply-to reach the creator\'s subscription', async () => {
      const svc = cleanup.queue(name('SVC'));
      const creator = await connect();
      await creator.withReceipt('SUBSCRIBE', { id: 'events', destination: '/temp-topic/events' });
      await creator.withReceipt('SEND', { destination: `/queue/${svc}`, 'reply-to': '/temp-topic/events' }, 'notify me');
      const other = await connect();
      await other.withReceipt('SUBSCRIBE', { id: 'svc', destination: `/queue/${svc}` });
      const [req] = await other.messages(1);
      expect(req!.headers['reply-to']).toMatch(/^\/topic\/temp-topic\./);
      await other.withReceipt('SEND', { destination: req!.headers['reply-to']! }, 'event');
      const [ev] = await creator.messages(1);
      expect(ev!.headers).toMatchObject({ subscription: 'events', destination: '/temp-topic/events' });
    });

    it('durable topic subscriber by client-id + activemq.subscriptionName', async () => {
      const topic = name('NEWS');
      const clientId = name('client');
      const sub = { id: 's', destination: `/topic/${topic}`, 'activemq.subscriptionName': 'headlines' };
      const a = await connect({ 'client-id': clientId });
      await a.withReceipt('SUBSCRIBE', sub);
      await a.disconnect();
      const p = await connect();
      await p.withReceipt('SEND', { destination: `/topic/${topic}`, persistent: 'true' }, 'while offline');
      const b = await connect({ 'client-id': clientId });
      await b.withReceipt('SUBSCRIBE', sub);
      expect((await b.messages(1))[0]!.body.toString()).toBe('while offline');
      // another client id has its own subscription, which did not exist then
      const other = await connect({ 'client-id': `${clientId}-2` });
      await other.withReceipt('SUBSCRIBE', sub);
      await other.noMessageFor(100);
      await other.withReceipt('UNSUBSCRIBE', { id: 's', 'activemq.subscriptionName': 'headlines' });
      await b.withReceipt('UNSUBSCRIBE', { id: 's', 'activemq.subscriptionName': 'headlines' });
    });

    it('activemq.prefetchSize bounds what is in flight', async () => {
      const q = cleanup.queue(name('PREF'));
      const c = await connect();
      for (const n of ['1', '2']) await c.withReceipt('SEND', { destination: `/queue/${q}` }, n);
      await c.withReceipt('SUBSCRIBE', { id: 's', destination: `/queue/${q}`, ack: 'client', 'activemq.prefetchSize': '1' });
      const [m1] = await c.messages(1);
      await c.noMessageFor(150);
      await c.withReceipt('ACK', { id: m1!.headers['ack']! });
      expect((await c.messages(1))[0]!.body.toString()).toBe('2');
    });

    it('expires (absolute epoch ms): a past one is dropped, a future one becomes a TTL', async () => {
      const q = cleanup.queue(name('EXP'));
      const c = await connect();
      await c.withReceipt('SEND', { destination: `/queue/${q}`, expires: String(Date.now() - 1000) }, 'stale');
      await c.withReceipt('SEND', { destination: `/queue/${q}`, expires: String(Date.now() + 60_000) }, 'fresh');
      await c.withReceipt('SEND', { destination: `/queue/${q}`, expires: String(Date.now() + 50) }, 'soon gone');
      await new Promise((r) => setTimeout(r, 300));
      await c.withReceipt('SUBSCRIBE', { id: 's', destination: `/queue/${q}` });
      const [m] = await c.messages(1);
      expect(m!.body.toString()).toBe('fresh');
      const ttl = Number(m!.headers['expiration']);
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
      await c.noMessageFor(100);
    });

    it('JMSXGroupID: every message of a group goes to one consumer, in order; the group moves when it leaves', async () => {
      const q = cleanup.queue(name('GRP'));
      const sub = { id: 's', destination: `/queue/${q}`, 'prefetch-count': '4' };
      const c1 = await connect();
      const c2 = await connect();
      await c1.withReceipt('SUBSCRIBE', sub);
      await c2.withReceipt('SUBSCRIBE', sub);
      const p = await connect();
      for (let i = 0; i < 12; i++) await p.withReceipt('SEND', { destination: `/queue/${q}`, JMSXGroupID: `g${i % 3}` }, `g${i % 3}-${i}`);
      const messagesOf = (c: RawStompClient) => c.frames.filter((f) => f.command === 'MESSAGE');
      await RawStompClient.until([c1, c2], () => messagesOf(c1).length + messagesOf(c2).length === 12);
      const bodiesOf = (c: RawStompClient, g: string) => messagesOf(c).filter((m) => m.headers['JMSXGroupID'] === g).map((m) => m.body.toString());
      for (const g of ['g0', 'g1', 'g2']) {
        const expected = [0, 1, 2, 3].map((k) => `${g}-${Number(g.slice(1)) + 3 * k}`);
        const [at1, at2] = [bodiesOf(c1, g), bodiesOf(c2, g)];
        expect(at1.length === 0 || at2.length === 0, `group ${g} went to one consumer: ${at1} | ${at2}`).toBe(true);
        expect([...at1, ...at2]).toEqual(expected);
      }
      // the owner of g0 leaves: g0 moves to the remaining consumer
      const owner = bodiesOf(c1, 'g0').length > 0 ? c1 : c2;
      const survivor = owner === c1 ? c2 : c1;
      survivor.frames.length = 0;
      await owner.disconnect();
      await p.withReceipt('SEND', { destination: `/queue/${q}`, JMSXGroupID: 'g0' }, 'g0-late');
      const [late] = await survivor.messages(1);
      expect(late!.body.toString()).toBe('g0-late');
    });

    it('selector on a topic: only matching messages arrive; the rest are skipped for good', async () => {
      const topic = name('SEL');
      const c = await connect();
      await c.withReceipt('SUBSCRIBE', { id: 'red', destination: `/topic/${topic}`, selector: "color = 'red' AND JMSPriority > 4", ack: 'client' });
      await c.withReceipt('SEND', { destination: `/topic/${topic}`, color: 'blue', priority: '9' }, 'blue');
      await c.withReceipt('SEND', { destination: `/topic/${topic}`, color: 'red', priority: '1' }, 'red-low');
      await c.withReceipt('SEND', { destination: `/topic/${topic}`, color: 'red', priority: '9' }, 'red-high');
      const [m] = await c.messages(1);
      expect(m!.body.toString()).toBe('red-high');
      await c.withReceipt('ACK', { id: m!.headers['ack']! });
      await c.noMessageFor(100);
    });

    it('selectors on a queue: each consumer gets what it selects; what nobody selects stays queued', async () => {
      const q = cleanup.queue(name('SELQ'));
      const red = await connect();
      const blue = await connect();
      await red.withReceipt('SUBSCRIBE', { id: 's', destination: `/queue/${q}`, selector: "color = 'red'" });
      await blue.withReceipt('SUBSCRIBE', { id: 's', destination: `/queue/${q}`, selector: "color = 'blue'" });
      const p = await connect();
      for (const color of ['red', 'blue', 'red', 'blue', 'green']) await p.withReceipt('SEND', { destination: `/queue/${q}`, color }, color);
      expect((await red.messages(2)).map((m) => m.body.toString())).toEqual(['red', 'red']);
      expect((await blue.messages(2)).map((m) => m.body.toString())).toEqual(['blue', 'blue']);
      await Promise.all([red.disconnect(), blue.disconnect()]);
      const any = await connect();
      await any.withReceipt('SUBSCRIBE', { id: 's', destination: `/queue/${q}` });
      expect((await any.messages(1))[0]!.body.toString()).toBe('green');
    });
  });
}
