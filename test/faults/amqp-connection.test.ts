// Faults: the gateway's RabbitMQ connections die mid-stream.
//  1. killed from the broker's side (rabbitmqctl close_connection on this gateway's
//     connections only: the broker is shared) — the fabric reconnects at once;
//  2. the broker goes away for seconds (a TCP relay between gateway and broker is cut):
//     /readyz turns 503, clients are told (MQTT acks withheld and CONNACK 3; STOMP ERROR
//     "broker unavailable" for frames that need the broker and, after stomp.brokerDownGraceMs,
//     for idle sessions; WAMP ERROR), the gateway's RSS stays bounded, and everything resumes
//     when the relay is back (the STOMP publisher reconnects and resends what has no receipt).
// Every message the gateway acknowledged (MQTT PUBACK, STOMP RECEIPT, WAMP PUBLISHED) must
// reach the persistent MQTT session and the durable STOMP subscription: 0 lost; duplicates are
// counted and reported.
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { brokerAvailable } from '../support/broker.js';
import { killAllGatewayProcesses, mib, spawnGateway, type GatewayProcess } from '../support/gateway-process.js';
import { BrokerRelay } from '../integration/fabric-amqp-helpers.js';
import { openSession } from '../integration/wamp-support.js';
import { RawStompClient } from '../unit/stomp/support/raw-client.js';
import { Mix, closeGatewayConnections, endpointOf, readyz, until } from './support/mix.js';
import { sleep } from './support/peers.js';

const GRACE_MS = 1_500;
const GATEWAY_ARGS = ['--set', 'mqtt.maxQueuedMessages=100000', '--set', `stomp.brokerDownGraceMs=${GRACE_MS}`];

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});
afterAll(() => killAllGatewayProcesses());


/** what a client that arrives while the broker is away is told, per protocol */
async function probeWhileAway(gw: GatewayProcess): Promise<{ mqttConnack: string; wampPublish: string; stompConnect: string }> {
  const client = mqtt.connect({ host: '127.0.0.1', port: gw.ports.mqtt as number, clientId: `faults-probe-${process.pid}`, clean: false, reconnectPeriod: 0, username: 'guest', password: 'guest' });
  const mqttConnack = await new Promise<string>((resolve) => {
    client.once('connect', () => resolve('accepted'));
    client.once('error', (err) => resolve(err.message));
    client.once('close', () => resolve('closed'));
  });
  client.end(true);
  const wamp = await openSession(gw.wsUrl('/ws'));
  const wampPublish = await Promise.resolve(wamp.session.publish('faults.probe', ['x'], {}, { acknowledge: true }))
    .then(() => 'PUBLISHED', (err: { error?: string }) => err.error ?? String(err));
  await wamp.close();
  const stomp = await RawStompClient.open(gw.ports.stomp as number);
  const stompConnect = await stomp.request('CONNECT', { 'accept-version': '1.2', host: '/', login: 'guest', passcode: 'guest' })
    .then(async (f) => {
      await stomp.closed;
      return `${f.command} ${f.headers['message'] ?? ''}, then ${stomp.isOpen ? 'open' : 'closed'}`;
    }, (err: Error) => err.message);
  stomp.destroy();
  return { mqttConnack, wampPublish, stompConnect };
}

/** a STOMP session connected before the cut that sends nothing: when is it told, and what */
async function idleStompSession(port: number): Promise<{ told: Promise<{ frame: string; afterMs: number }>; cut(): void; destroy(): void }> {
  const c = await RawStompClient.connect(port, { login: 'guest', passcode: 'guest', 'heart-beat': '0,0' });
  let cutAt = 0;
  const told = c.next(60_000).then(async (f) => {
    const afterMs = Date.now() - cutAt;
    await c.closed;
    return { frame: `${f.command} ${f.headers['message'] ?? ''}`, afterMs };
  }, (err: Error) => ({ frame: err.message, afterMs: Date.now() - cutAt }));
  return { told, cut: () => { cutAt = Date.now(); }, destroy: () => c.destroy() };
}

/** what the gateway logged about its broker connections and its clients' failed publishes */
function logCounts(gw: GatewayProcess): Record<string, number | number[]> {
  const lines = gw.stdout().split('\n');
  const count = (text: string) => lines.filter((l) => l.includes(text)).length;
  return { connectionLost: count('AMQP connection lost'), fabricDown: count('"fabric down"'), publishFailed: count('publish failed'), reconnectedAfterMs: outages(lines) };
}

/** per "fabric down": ms until the last of its connections was re-established */
function outages(lines: string[]): number[] {
  const at = (line: string) => Date.parse((JSON.parse(line) as { time: string }).time);
  const result: number[] = [];
  let downAt: number | undefined;
  let lastUp: number | undefined;
  for (const line of lines) {
    if (line.includes('"fabric down"')) {
      if (downAt !== undefined && lastUp !== undefined) result.push(lastUp - downAt);
      downAt = at(line);
      lastUp = undefined;
    } else if (downAt !== undefined && line.includes('AMQP connection re-established')) {
      lastUp = at(line);
    }
  }
  if (downAt !== undefined && lastUp !== undefined) result.push(lastUp - downAt);
  return result;
}

function expectNoLoss(mix: Mix): void {
  for (const [name, c] of Object.entries(mix.counts())) {
    expect.soft(c.lost, `${name}: lost`).toBe(0);
    expect.soft(c.unexpected, `${name}: unexpected ids`).toBe(0);
    expect.soft(c.acked, `${name}: every id acknowledged in the end`).toBe(c.sent);
  }
}

describe.runIf(brokerAvailable)('[rabbitmq] faults: the AMQP connection killed mid-stream', () => {
  // one gateway process for both tests, its broker connections through a relay the second cuts
  let relay: BrokerRelay;
  let gw: GatewayProcess;
  beforeAll(async () => {
    relay = new BrokerRelay();
    await relay.up();
    gw = await spawnGateway(['--amqp-url', relay.url, ...GATEWAY_ARGS]);
  });
  afterAll(async () => {
    await gw?.stop();
    await relay?.down();
  });

  it('rabbitmqctl close_connection on the gateway\'s connections: 0 acknowledged messages lost, sessions resume', async () => {
    const mix = new Mix();
    cleanups.push(() => mix.cleanup(gw.ports.mqtt), () => mix.close());
    const endpoint = endpointOf(gw);
    await mix.startSubscribers(endpoint);
    const rssBefore = gw.rssBytes();

    const perPublisher = 300;
    mix.startPublishers(endpoint);
    const publishing = mix.publish(perPublisher, 8, 2);
    const total = perPublisher * mix.publishers.length;
    await until(() => mix.acked >= total / 4, 60_000, 'a quarter acknowledged');
    const ackedAtKill = mix.acked;
    mix.step('closing the connections');
    const killed = await closeGatewayConnections(gw.pid);
    mix.step('closed');
    expect(killed).toBeGreaterThan(0);
    // once more while the first recovery is under way
    await until(() => mix.acked >= ackedAtKill + total / 4, 90_000, 'another quarter acknowledged after the kill');
    const killedAgain = await closeGatewayConnections(gw.pid);

    await publishing;
    mix.step('all published');
    await mix.allReceived(90_000);
    mix.step('all received');
    await until(async () => (await readyz(gw.url('/readyz'))) === 200, 30_000, '/readyz 200');
    mix.report('AMQP connections closed by the broker (rabbitmqctl close_connection), twice', {
      connectionsClosed: [killed, killedAgain],
      gatewayLog: logCounts(gw),
      ackedBeforeFirstKill: ackedAtKill,
      rss: `${mib(rssBefore)} → ${mib(gw.rssBytes())}`,
    });
    expectNoLoss(mix);
  });

  it('the broker away for seconds (relay cut): /readyz 503, clients told, RSS bounded; 0 acknowledged lost after it returns', async () => {
    const mix = new Mix();
    cleanups.push(() => mix.cleanup(gw.ports.mqtt), () => mix.close());
    await until(async () => (await readyz(gw.url('/readyz'))) === 200, 30_000, '/readyz 200 at the start');
    const endpoint = endpointOf(gw);
    await mix.startSubscribers(endpoint);
    const rssBefore = gw.rssBytes();
    const idle = await idleStompSession(gw.ports.stomp as number);
    cleanups.push(async () => idle.destroy());
    const sender = await RawStompClient.connect(gw.ports.stomp as number, { login: 'guest', passcode: 'guest', 'heart-beat': '0,0' });
    cleanups.push(async () => sender.destroy());

    const perPublisher = 300;
    mix.startPublishers(endpoint);
    const publishing = mix.publish(perPublisher, 8, 2);
    const total = perPublisher * mix.publishers.length;
    await until(() => mix.acked >= total / 4, 60_000, 'a quarter acknowledged');

    mix.step('cutting the relay');
    idle.cut();
    await relay.down();
    const cutAt = Date.now();
    const toldBefore = mix.obs.told();
    await until(async () => (await readyz(gw.url('/readyz'))) === 503, 15_000, '/readyz 503 while the broker is away');
    // a SEND on a session connected before the cut, within the grace period
    sender.send('SEND', { destination: '/topic/faults.probe', receipt: 'away-1' }, 'x');
    const sendWhileAway = await sender.next(5_000).then(async (f) => {
      await sender.closed;
      return `${f.command} ${f.headers['message'] ?? ''} receipt-id=${f.headers['receipt-id'] ?? ''}`;
    }, (err: Error) => err.message);
    const readyzBody = await (await fetch(gw.url('/readyz'))).json() as { reasons: string[] };
    const probes = await probeWhileAway(gw);
    let rssMax = gw.rssBytes();
    const outageMs = 6_000;
    while (Date.now() - cutAt < outageMs) {
      rssMax = Math.max(rssMax, gw.rssBytes());
      expect(await readyz(gw.url('/readyz'))).toBe(503);
      await sleep(250);
    }
    const toldDuring = mix.obs.told();
    const idleTold = await idle.told;
    // a confirm that raced the cut may still be answered just after it; nothing later
    const ackedDuringOutage = mix.obs.ackedBetween(cutAt + 1_000, Date.now());
    mix.step('relay back up');
    await relay.up();
    const upAt = Date.now();
    const progress = setInterval(() => mix.step('recovering'), 3_000);
    cleanups.push(async () => clearInterval(progress));

    await publishing;
    mix.step('all published');
    await mix.allReceived(90_000);
    await until(async () => (await readyz(gw.url('/readyz'))) === 200, 30_000, '/readyz 200 after the broker returns');
    const resumedMs = Math.min(...Object.values(mix.obs.ackTimes).flat().filter((t) => t > upAt)) - upAt;
    mix.report(`broker away ${outageMs / 1000} s (TCP relay cut)`, {
      readyzWhileAway: readyzBody.reasons,
      newClientsWhileAway: probes,
      stompSendWhileAway: sendWhileAway,
      idleStompSession: idleTold,
      ackedDuringOutage,
      toldWhileAway: Object.fromEntries(Object.entries(toldDuring).map(([k, v]) => [k, v - toldBefore[k as keyof typeof toldBefore]])),
      firstAckAfterReturnMs: resumedMs,
      gatewayLog: logCounts(gw),
      rss: `before ${mib(rssBefore)}, max while away ${mib(rssMax)}, after ${mib(gw.rssBytes())}`,
    });
    expectNoLoss(mix);
    // clients are told: no acknowledgement while the broker is away, and errors where the protocol has them
    expect(ackedDuringOutage).toEqual({ mqtt: 0, stomp: 0, wamp: 0 });
    expect(toldDuring.wampErrors - toldBefore.wampErrors).toBeGreaterThan(0);
    expect(toldDuring.stompErrors - toldBefore.stompErrors).toBeGreaterThan(0);
    // new clients are told too: MQTT CONNACK 3 (server unavailable), WAMP ERROR, STOMP ERROR and close
    expect(probes).toEqual({
      mqttConnack: 'Connection refused: Server unavailable',
      wampPublish: 'wamp.error.network_failure',
      stompConnect: 'ERROR broker unavailable, then closed',
    });
    // a SEND that needs the broker: ERROR carrying its receipt-id, then close
    expect(sendWhileAway).toBe('ERROR broker unavailable receipt-id=away-1');
    // a connected STOMP session that sends nothing is ended once the grace period has passed
    expect(idleTold.frame).toBe('ERROR broker unavailable');
    expect(idleTold.afterMs).toBeGreaterThanOrEqual(GRACE_MS);
    expect(rssMax - rssBefore).toBeLessThan(64 * 1024 * 1024);
  });
});
