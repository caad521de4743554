// Gateway subscribers of a fair stream, with real clients on both fabrics: MQTT `$fair/<s>`
// (3.1.1 and 5.0: original topics from several publishers, the round-robin order, SUBACK codes,
// UNSUBSCRIBE, a persistent session that resumes it) and WAMP `fair.<s>` (EVENTs with the
// original topic, subscribers that compete, `fair.<x>` without a stream is an ordinary topic).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/auth/password.js';
import type { FabricSession } from '../../src/fabric/types.js';
import type { FairFabric } from '../../src/fair/index.js';
import { brokerAvailable, uniqueName } from '../support/broker.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { connectClient, type TestClient } from '../unit/mqtt/support/clients.js';
import { makeFabric } from './fabric-amqp-helpers.js';
import { deleteStreamQueues, eventually, streamConfig, Worker } from './fair-helpers.js';
import { EventInbox, openSession, type ReceivedEvent } from './wamp-support.js';

type FabricKind = 'embedded' | 'amqp';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const fairOf = (gw: TestGateway): FairFabric => gw.gateway.ctx.fabric as FairFabric;

interface StreamGateway {
  gw: TestGateway;
  stream: string;
  /** a client id of this test alone (RabbitMQ is shared by parallel test files: ids are global there) */
  id(name: string): string;
}

/**
 * A gateway with one stream (publishers told apart by client id), dispatching. `publishers`:
 * the names (for id()) whose queues are deleted afterwards on RabbitMQ.
 */
async function streamGateway(fabric: FabricKind, over: Parameters<typeof streamConfig>[1] = {}, publishers: string[] = []): Promise<StreamGateway> {
  const stream = fabric === 'amqp' ? uniqueName('fs').replace(/[^A-Za-z0-9_-]/g, '') : 'fs';
  const id = (name: string): string => (fabric === 'amqp' ? `${stream}-${name}` : name);
  // as named, or made unique by id() (WAMP sessions publish as their user: 'guest')
  if (fabric === 'amqp') cleanups.push(() => deleteStreamQueues(stream, [...publishers, ...publishers.map(id)]));
  const gw = await startTestGateway({ fair: { streams: [streamConfig(stream, { publisherBy: 'client-id', ...over })] }, shutdownTimeoutMs: 2_000 }, { fabric });
  cleanups.push(() => gw.stop());
  await eventually(() => fairOf(gw).isDispatching(stream), 10_000, 'the dispatcher');
  return { gw, stream, id };
}

/** a session that consumes the output queue directly (an AMQP worker) */
async function workerSession(gw: TestGateway, fabric: FabricKind): Promise<FabricSession> {
  if (fabric === 'embedded') return fairOf(gw).inner.openSession({ vhost: '/' });
  const f = makeFabric();
  await f.start();
  cleanups.push(() => f.close());
  return f.openSession({ vhost: '/' });
}

async function mqttClient(gw: TestGateway, clientId: string, protocolVersion: 4 | 5, extra: Record<string, unknown> = {}): Promise<TestClient> {
  const c = await connectClient(gw.ports.mqtt as number, { clientId, protocolVersion, ...extra });
  cleanups.push(() => c.end(true));
  return c;
}

async function publishEach(c: TestClient, topic: string, bodies: string[]): Promise<void> {
  for (const b of bodies) await c.client.publishAsync(topic, b, { qos: 1 });
}

const range = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

function mqttSuite(fabric: FabricKind) {
  for (const version of [4, 5] as const) {
    it(`MQTT ${version === 5 ? '5.0' : '3.1.1'}: $fair/<s> gets every publisher's messages with their own topics, backlogs served in turn`, async () => {
      const { gw, stream, id } = await streamGateway(fabric, { outputQueueLength: 2 }, ['fill', 'dev-a', 'dev-b']);
      // more than the output queue takes (2): the dispatcher holds the rest, nobody consumes yet
      await publishEach(await mqttClient(gw, id('fill'), version), `${stream}/fill`, range('f', 5));
      // then two backlogs, one after the other: a FIFO would hand out all of a's before b's
      await publishEach(await mqttClient(gw, id('dev-a'), version), `${stream}/a/temp`, range('a', 10));
      await publishEach(await mqttClient(gw, id('dev-b'), version), `${stream}/b/temp`, range('b', 10));
      await eventually(() => fairOf(gw).fairStatus(stream)?.activePublishers === 3, 10_000, 'the dispatcher to hold all three');

      const sub = await mqttClient(gw, uniqueName('sub'), version);
      const granted = await sub.client.subscribeAsync(`$fair/${stream}`, { qos: 1 });
      expect(granted[0]?.qos).toBe(1);
      const got = await sub.waitFor(25, 10_000);
      const byTopic = (t: string) => got.filter((m) => m.topic === t).map((m) => m.payload.toString());
      expect(new Set(byTopic(`${stream}/a/temp`))).toEqual(new Set(range('a', 10)));
      expect(new Set(byTopic(`${stream}/b/temp`))).toEqual(new Set(range('b', 10)));
      expect(byTopic(`${stream}/fill`)).toHaveLength(5);
      expect(got.every((m) => !m.packet.retain)).toBe(true);
      // round robin: at every point of the two backlogs, neither is more than two ahead
      let lead = 0;
      for (const m of got.filter((x) => x.topic !== `${stream}/fill`)) {
        lead += m.topic === `${stream}/a/temp` ? 1 : -1;
        expect(Math.abs(lead)).toBeLessThanOrEqual(2);
      }
    });
  }

  it('UNSUBSCRIBE stops the consumer: later messages go to the other consumer of the stream', async () => {
    const { gw, stream, id } = await streamGateway(fabric, {}, ['dev']);
    const sub = await mqttClient(gw, uniqueName('sub'), 5);
    await sub.client.subscribeAsync(`$fair/${stream}`, { qos: 1 });
    const dev = await mqttClient(gw, id('dev'), 5);
    await publishEach(dev, `${stream}/dev`, ['before']);
    expect((await sub.waitFor(1))[0]).toMatchObject({ topic: `${stream}/dev` });
    await sub.client.unsubscribeAsync(`$fair/${stream}`);

    const worker = await new Worker(await workerSession(gw, fabric), stream).start(10);
    cleanups.push(() => worker.stop());
    await publishEach(dev, `${stream}/dev`, range('after', 6));
    await worker.waitFor(6);
    // two live consumers would have shared them (the broker hands out in turn)
    expect(worker.bodies()).toEqual(range('after', 6));
    expect(sub.messages).toHaveLength(1);
  });

  it('a persistent session resumes its $fair/ subscription and gets what came while it was away', async () => {
    const { gw, stream, id } = await streamGateway(fabric, {}, ['dev']);
    const clientId = uniqueName('persist');
    const first = await connectClient(gw.ports.mqtt as number, { clientId, protocolVersion: 4, clean: false });
    await first.client.subscribeAsync(`$fair/${stream}`, { qos: 1 });
    await first.end();
    const dev = await mqttClient(gw, id('dev'), 4);
    await publishEach(dev, `${stream}/dev/x`, range('away', 3));

    const again = await connectClient(gw.ports.mqtt as number, { clientId, protocolVersion: 4, clean: false });
    cleanups.push(async () => {
      await again.end(true);
      await (await connectClient(gw.ports.mqtt as number, { clientId, protocolVersion: 4, clean: true })).end(); // discard the session
    });
    expect(again.connack?.sessionPresent).toBe(true);
    const got = await again.waitFor(3, 10_000);
    expect(got.map((m) => [m.topic, m.payload.toString()])).toEqual(range('away', 3).map((b) => [`${stream}/dev/x`, b]));
  });

  it('SUBACK: no such stream is 0x80 (3.1.1) / 0x8F (5.0); $share/…/$fair/ is invalid; no read permission on the stream is 0x87', async () => {
    const { gw, stream } = await streamGateway(fabric, {}, []);
    const v3 = await mqttClient(gw, uniqueName('v3'), 4);
    expect(await subackCodes(v3, ['$fair/nosuchstream', `$fair/${stream}`])).toEqual([0x80, 1]);
    const v5 = await mqttClient(gw, uniqueName('v5'), 5);
    expect(await subackCodes(v5, ['$fair/nosuchstream', `$share/g/$fair/${stream}`, '$fair/bad/name', `$fair/${stream}`])).toEqual([0x8f, 0x8f, 0x8f, 1]);
    expect(v5.client.connected).toBe(true);

    const limited = await startTestGateway({ auth: { usersFile: await noFairReaderUsers() }, fair: { streams: [streamConfig(stream)] }, shutdownTimeoutMs: 2_000 }, { fabric });
    cleanups.push(() => limited.stop());
    const erin = await connectClient(limited.ports.mqtt as number, { clientId: uniqueName('erin'), protocolVersion: 5, username: 'erin', password: 'erin' });
    cleanups.push(() => erin.end(true));
    expect(await subackCodes(erin, [`$fair/${stream}`, `${stream}/#`])).toEqual([0x87, 1]); // topics are allowed
  });
}

/** the SUBACK's codes (mqtt.js rejects a SUBACK with failures, so it is read off the wire) */
async function subackCodes(c: TestClient, filters: string[]): Promise<number[]> {
  const suback = new Promise<number[]>((resolve) => {
    const onPacket = (p: { cmd: string; granted?: unknown }): void => {
      if (p.cmd !== 'suback') return;
      c.client.off('packetreceive', onPacket);
      resolve(p.granted as number[]);
    };
    c.client.on('packetreceive', onPacket);
  });
  await c.client.subscribeAsync(filters, { qos: 1 }).catch(() => undefined);
  return suback;
}

/** erin may do anything except read queues named tributary.fair.* */
async function noFairReaderUsers(): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'fair-users-')), 'users.yaml');
  const password_hash = await hashPassword('erin', { N: 1024, r: 8, p: 1 });
  const permissions = { '/': { configure: '.*', write: '.*', read: '^(?!tributary\\.fair\\.).*' } };
  writeFileSync(file, JSON.stringify({ users: [{ name: 'erin', password_hash, permissions }] }));
  return file;
}

function wampSuite(fabric: FabricKind) {
  async function join(gw: TestGateway) {
    const o = await openSession(gw.wsUrl('/ws'));
    cleanups.push(() => o.close());
    return o.session;
  }

  it('WAMP fair.<s>: subscribers compete for the stream; EVENTs carry the topic each was published with', async () => {
    const { gw, stream, id } = await streamGateway(fabric, {}, ['mqtt-dev', 'guest']);
    const [x, y, wampPub] = [await join(gw), await join(gw), await join(gw)];
    const events: ReceivedEvent[][] = [[], []];
    const record = (i: number) => (args: unknown[], kwargs: Record<string, unknown>, details: ReceivedEvent['details']) => events[i]!.push({ args, kwargs, details });
    const subX = await x.subscribe(`fair.${stream}`, record(0));
    const subY = await y.subscribe(`fair.${stream}`, record(1));
    expect(subX.id).toBe(subY.id); // router-scoped subscription ID

    const mqttPub = await mqttClient(gw, id('mqtt-dev'), 5);
    await publishEach(mqttPub, `${stream}/mqtt/temp`, range('m', 10));
    for (let i = 0; i < 10; i++) await wampPub.publish(`${stream}.wamp.temp`, [`w${i}`], {}, { acknowledge: true });
    const [gotX, gotY] = events as [ReceivedEvent[], ReceivedEvent[]];
    await eventually(() => gotX.length + gotY.length >= 20, 10_000, '20 events');
    const all = [...gotX, ...gotY];
    expect(all).toHaveLength(20);
    // each message went to one of them, and both took part
    expect(gotX.length).toBeGreaterThan(0);
    expect(gotY.length).toBeGreaterThan(0);
    const seen = (topic: string) => all.filter((e) => e.details.topic === topic).map((e) => e.args[0]).sort();
    expect(seen(`${stream}.mqtt.temp`)).toEqual(range('m', 10).sort());
    expect(seen(`${stream}.wamp.temp`)).toEqual(range('w', 10).sort());

    // one leaves: the other gets the rest
    await y.unsubscribe(subY);
    const [xBefore, yBefore] = [gotX.length, gotY.length];
    await publishEach(mqttPub, `${stream}/mqtt/temp`, range('late', 4));
    await eventually(() => gotX.length === xBefore + 4, 10_000, 'the late events');
    expect(gotX.slice(xBefore).map((e) => e.args[0])).toEqual(range('late', 4));
    expect(gotY.length).toBe(yBefore);
  });

  it('WAMP fair.<x> where no stream x is configured is an ordinary topic', async () => {
    const { gw } = await streamGateway(fabric, {}, []);
    const [sub, pub] = [await join(gw), await join(gw)];
    const inbox = new EventInbox();
    const topic = `fair.${uniqueName('plain').replace(/[^A-Za-z0-9]/g, '')}`;
    await sub.subscribe(topic, inbox.handler);
    await pub.publish(topic, ['hello'], {}, { acknowledge: true });
    expect((await inbox.next()).args).toEqual(['hello']);
  });
}

describe('E2E: fair stream subscribers [embedded]', () => {
  mqttSuite('embedded');
  wampSuite('embedded');
});

describe.runIf(brokerAvailable)('[rabbitmq] E2E: fair stream subscribers', () => {
  mqttSuite('amqp');
  wampSuite('amqp');
});
