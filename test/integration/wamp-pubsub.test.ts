// E2E: WAMP publish/subscribe through the gateway with autobahn, on both fabrics.
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics.js';
import { brokerAvailable } from '../support/broker.js';
import { startTestGateway } from '../support/gateway.js';
import { EventInbox, RawWamp, openSession, uniqueTopic, wampGatewayFixture } from './wamp-support.js';

function pubsubSuite(fabric: 'embedded' | 'amqp') {
  const fixture = wampGatewayFixture(fabric);
  const join = fixture.join;

  it('WELCOME announces the broker and dealer features and a session ID in [1, 2^53]', async () => {
    for (const serializer of ['json', 'msgpack'] as const) {
      const o = fixture.track(await openSession(fixture.gw.wsUrl('/ws'), { serializer }));
      const roles = o.details.roles as Record<string, { features: Record<string, boolean> }>;
      expect(roles.broker?.features).toMatchObject({ pattern_based_subscription: true, publisher_exclusion: true, publisher_identification: true, subscriber_blackwhite_listing: true });
      expect(roles.dealer?.features).toMatchObject({ shared_registration: true, progressive_call_results: true, call_canceling: true, call_timeout: true });
      expect(o.details).toMatchObject({ authid: 'guest', authmethod: 'anonymous', authrole: 'anonymous' });
      expect(o.session.id).toBeGreaterThanOrEqual(1);
      expect(o.session.id).toBeLessThanOrEqual(2 ** 53);
    }
  });

  it('delivers args and kwargs between JSON and MessagePack sessions', async () => {
    const topic = uniqueTopic('payload');
    const [pub, subJson, subPack] = [await join('msgpack'), await join('json'), await join('msgpack')];
    const a = new EventInbox();
    const b = new EventInbox();
    await subJson.subscribe(topic, a.handler);
    await subPack.subscribe(topic, b.handler);
    await pub.publish(topic, [1, 'two', { three: 3 }], { k: [true, null] }, { acknowledge: true });
    await pub.publish(topic, [{ t: 21.5 }], {}, { acknowledge: true });
    await pub.publish(topic, [Buffer.from([0, 1, 255])], {}, { acknowledge: true });
    for (const inbox of [a, b]) {
      expect(await inbox.next()).toMatchObject({ args: [1, 'two', { three: 3 }], kwargs: { k: [true, null] } });
      expect(await inbox.next()).toMatchObject({ args: [{ t: 21.5 }], kwargs: {} });
    }
    // binary stays binary for MessagePack, and is "\0"+base64 for JSON (wamp-proto binary convention)
    expect((await b.next()).args[0]).toEqual(Buffer.from([0, 1, 255]));
    expect((await a.next()).args[0]).toBe('\u0000AAH/');
  });

  it('acknowledge: PUBLISHED carries the publication ID the EVENT carries', async () => {
    const topic = uniqueTopic('ack');
    const [pub, sub] = [await join(), await join()];
    const inbox = new EventInbox();
    await sub.subscribe(topic, inbox.handler);
    const published = await pub.publish(topic, ['x'], {}, { acknowledge: true });
    const event = await inbox.next();
    expect(published?.id).toBe(event.details.publication);
    expect(published?.id).toBeGreaterThanOrEqual(1);
  });

  it('exclude_me defaults to true; exclude_me=false delivers to the publisher too', async () => {
    const topic = uniqueTopic('excludeme');
    const self = await join();
    const inbox = new EventInbox();
    await self.subscribe(topic, inbox.handler);
    await self.publish(topic, ['not for me'], {}, { acknowledge: true });
    await self.publish(topic, ['for me'], {}, { acknowledge: true, exclude_me: false });
    expect((await inbox.next()).args).toEqual(['for me']);
  });

  it('disclose_me puts the publisher session and authid in EVENT.Details', async () => {
    const topic = uniqueTopic('disclose');
    const [pub, sub] = [await join(), await join()];
    const inbox = new EventInbox();
    await sub.subscribe(topic, inbox.handler);
    await pub.publish(topic, ['anon'], {}, { acknowledge: true });
    await pub.publish(topic, ['me'], {}, { acknowledge: true, disclose_me: true });
    expect((await inbox.next()).details.publisher).toBeUndefined();
    const disclosed = (await inbox.next()).details;
    expect(disclosed).toMatchObject({ publisher: pub.id, publisher_authid: 'guest', publisher_authrole: 'anonymous' });
  });

  it('exclude and eligible lists restrict the receivers (every list present must admit)', async () => {
    const topic = uniqueTopic('lists');
    const pub = await join();
    const subs = [await join(), await join(), await join()];
    const inboxes = subs.map(() => new EventInbox());
    await Promise.all(subs.map((s, i) => s.subscribe(topic, inboxes[i]!.handler)));
    const [s0, s1, s2] = subs.map((s) => s.id) as [number, number, number];
    await pub.publish(topic, ['exclude s0'], {}, { acknowledge: true, exclude: [s0] });
    await pub.publish(topic, ['eligible s2'], {}, { acknowledge: true, eligible: [s2] });
    await pub.publish(topic, ['eligible s1,s2 exclude s2'], {}, { acknowledge: true, eligible: [s1, s2], exclude: [s2] });
    await pub.publish(topic, ['eligible_authid nobody'], {}, { acknowledge: true, eligible_authid: ['nobody'] });
    await pub.publish(topic, ['exclude_authrole anonymous'], {}, { acknowledge: true, exclude_authrole: ['anonymous'] });
    await pub.publish(topic, ['end'], {}, { acknowledge: true });
    const seen = async (i: number) => {
      const out: unknown[] = [];
      for (;;) {
        const e = await inboxes[i]!.next();
        out.push(e.args[0]);
        if (e.args[0] === 'end') return out;
      }
    };
    expect(await seen(0)).toEqual(['end']);
    expect(await seen(1)).toEqual(['exclude s0', 'eligible s1,s2 exclude s2', 'end']);
    expect(await seen(2)).toEqual(['exclude s0', 'eligible s2', 'end']);
  });

  it('prefix match is a string prefix, with Details.topic', async () => {
    const base = uniqueTopic('prefix');
    const [pub, sub] = [await join(), await join()];
    const inbox = new EventInbox();
    await sub.subscribe(`${base}.my`, inbox.handler, { match: 'prefix' });
    for (const t of [`${base}.my`, `${base}.other`, `${base}.myapp.x`, `${base}.m`, `${base}.my.deep.er`]) {
      await pub.publish(t, [t], {}, { acknowledge: true });
    }
    const topics = [(await inbox.next()).details.topic, (await inbox.next()).details.topic, (await inbox.next()).details.topic];
    expect(topics).toEqual([`${base}.my`, `${base}.myapp.x`, `${base}.my.deep.er`]);
    expect(inbox.pending).toBe(0);
  });

  it('wildcard match: an empty component matches exactly one component', async () => {
    const base = uniqueTopic('wild');
    const [pub, sub] = [await join(), await join()];
    const inbox = new EventInbox();
    await sub.subscribe(`${base}..temp`, inbox.handler, { match: 'wildcard' });
    for (const t of [`${base}.a.temp`, `${base}.temp`, `${base}.a.b.temp`, `${base}.b.temp`, `${base}.b.temp2`]) {
      await pub.publish(t, [t], {}, { acknowledge: true });
    }
    await pub.publish(`${base}.end.temp`, ['end'], {}, { acknowledge: true });
    const got = [];
    for (let i = 0; i < 3; i++) got.push((await inbox.next()).details.topic);
    expect(got).toEqual([`${base}.a.temp`, `${base}.b.temp`, `${base}.end.temp`]);
  });

  it('sessions subscribed to the same topic share one subscription; unsubscribing one keeps the other', async () => {
    const topic = uniqueTopic('shared');
    const [pub, a, b] = [await join(), await join(), await join()];
    const ia = new EventInbox();
    const ib = new EventInbox();
    const subA = await a.subscribe(topic, ia.handler);
    const subB = await b.subscribe(topic, ib.handler);
    expect(subA.id).toBe(subB.id);
    await a.unsubscribe(subA);
    await pub.publish(topic, ['after a left'], {}, { acknowledge: true });
    expect((await ib.next()).args).toEqual(['after a left']);
    await b.unsubscribe(subB);
    const again = await a.subscribe(topic, ia.handler);
    await pub.publish(topic, ['only a'], {}, { acknowledge: true });
    expect((await ia.next()).args).toEqual(['only a']); // nothing from before it re-subscribed
    expect(again.id).toBeGreaterThanOrEqual(1);
    expect(ib.pending).toBe(0);
  });

  it('fans one publication out to 50 subscribers', async () => {
    const topic = uniqueTopic('fanout');
    const pub = await join();
    const inboxes = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const s = await join(i % 2 === 0 ? 'json' : 'msgpack');
        const inbox = new EventInbox();
        await s.subscribe(topic, inbox.handler);
        return inbox;
      }),
    );
    await pub.publish(topic, ['hello all'], {}, { acknowledge: true });
    const events = await Promise.all(inboxes.map((i) => i.next()));
    expect(new Set(events.map((e) => e.details.publication)).size).toBe(1);
    expect(events.every((e) => e.args[0] === 'hello all')).toBe(true);
  });

  it('request errors: invalid URI, unknown subscription, unknown match policy', async () => {
    const raw = await RawWamp.connect(fixture.gw.wsUrl('/ws'));
    expect((await raw.hello())[0]).toBe(2);
    raw.send([16, 1, { acknowledge: true }, 'bad uri']);
    expect(await raw.next()).toEqual([8, 16, 1, expect.any(Object), 'wamp.error.invalid_uri', expect.any(Array)]);
    raw.send([16, 2, {}, 'bad uri']); // not acknowledged: no answer at all
    raw.send([34, 3, 12345]);
    expect(await raw.next()).toEqual([8, 34, 3, expect.any(Object), 'wamp.error.no_such_subscription', expect.any(Array)]);
    raw.send([32, 4, { match: 'regex' }, 'a.b']);
    expect((await raw.next()).slice(0, 5)).toEqual([8, 32, 4, expect.any(Object), 'wamp.error.invalid_argument']);
    raw.send([16, 5, { acknowledge: true }, 'wamp.reserved']);
    expect((await raw.next()).slice(0, 5)).toEqual([8, 16, 5, expect.any(Object), 'wamp.error.invalid_uri']);
    raw.close();
  });
}

describe('E2E: wamp pub/sub [embedded]', () => pubsubSuite('embedded'));
describe.runIf(brokerAvailable)('[rabbitmq] E2E: wamp pub/sub', () => pubsubSuite('amqp'));

describe('E2E: wamp metrics', () => {
  it('every EVENT delivered counts once in tributary_messages_delivered_total{protocol="wamp"}', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const gw = await startTestGateway({}, { metrics });
    const opened = [await openSession(gw.wsUrl('/ws')), await openSession(gw.wsUrl('/ws')), await openSession(gw.wsUrl('/ws'))];
    try {
      const [pub, s1, s2] = opened.map((o) => o.session) as [(typeof opened)[0]['session'], (typeof opened)[0]['session'], (typeof opened)[0]['session']];
      const topic = uniqueTopic('metrics');
      const [a, b] = [new EventInbox(), new EventInbox()];
      await s1.subscribe(topic, a.handler);
      await s2.subscribe(topic, b.handler);
      for (const n of [1, 2, 3]) await pub.publish(topic, [n], {}, { acknowledge: true });
      for (const inbox of [a, b]) for (const n of [1, 2, 3]) expect((await inbox.next()).args).toEqual([n]);
      const wamp = async () => (await metrics.messagesDelivered.get()).values.find((v) => v.labels.protocol === 'wamp')?.value;
      expect(await wamp()).toBe(6);
      expect(await wamp()).toBe(6); // folded once, not again on the next read
      expect(await metrics.registry.metrics()).toContain('tributary_messages_delivered_total{protocol="wamp"} 6');
    } finally {
      await Promise.all(opened.map((o) => o.close()));
      await gw.stop();
    }
  });
});
