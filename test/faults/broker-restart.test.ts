// Fault: RabbitMQ itself restarted mid-stream (`rabbitmqctl stop_app`, then `start_app` and
// `await_startup`). This restarts the broker every other test uses, so it lives in the
// sequential faults phase only (vitest.faults.config.ts, after the main suite);
// TRIBUTARY_TEST_BROKER_RESTART=0 skips it.
// While the broker is down /readyz is 503 and nothing is acknowledged; after it returns the
// gateway reconnects, redeclares and resumes, and the persistent MQTT session (QoS 1, clean
// session off) and the durable STOMP subscription get every message the gateway acknowledged
// (MQTT QoS 1 and STOMP `persistent:true` are persistent messages in durable queues).
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { amqpUrl, brokerAvailable } from '../support/broker.js';
import { killAllGatewayProcesses, mib, spawnGateway } from '../support/gateway-process.js';
import { rabbitmqctl } from '../integration/fabric-amqp-helpers.js';
import { Mix, endpointOf, readyz, until } from './support/mix.js';
import { sleep } from './support/peers.js';

const GATEWAY_ARGS = ['--amqp-url', amqpUrl, '--set', 'mqtt.maxQueuedMessages=100000'];

/** a local broker we may restart: rabbitmqctl answers, and the test broker is on this machine */
function restartable(): boolean {
  if (!brokerAvailable || process.env.TRIBUTARY_TEST_BROKER_RESTART === '0') return false;
  if (!['127.0.0.1', 'localhost'].includes(new URL(amqpUrl).hostname)) return false;
  try {
    execFileSync('rabbitmqctl', ['-q', 'ping'], { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const done = (open: boolean) => { socket.destroy(); resolve(open); };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});
afterAll(() => killAllGatewayProcesses());

describe.runIf(restartable())('[rabbitmq] faults: the broker restarted', () => {
  it('stop_app/start_app mid-stream: persistent MQTT session and durable STOMP subscription lose none of the acknowledged messages', async () => {
    const brokerPort = Number(new URL(amqpUrl).port || 5672);
    const gw = await spawnGateway(GATEWAY_ARGS);
    const mix = new Mix();
    let brokerStopped = false;
    // whatever happens, the broker must be running again for everything after this test
    cleanups.push(async () => {
      if (brokerStopped) {
        await rabbitmqctl('start_app').catch(() => undefined);
        await rabbitmqctl('await_startup').catch(() => undefined);
      }
    }, () => gw.stop(), () => mix.cleanup(gw.ports.mqtt), () => mix.close());
    const endpoint = endpointOf(gw);
    await mix.startSubscribers(endpoint);
    const rssBefore = gw.rssBytes();

    // paced (about 20 msg/s per publisher, ~15 s of traffic) so that every publisher is
    // mid-stream while stop_app runs (it takes seconds) and while the broker is down
    const perPublisher = 300;
    mix.startPublishers(endpoint);
    const publishing = mix.publish(perPublisher, 1, 50);
    const total = perPublisher * mix.publishers.length;
    await until(() => mix.acked >= total / 6, 60_000, 'a sixth acknowledged');

    mix.step('stop_app');
    brokerStopped = true;
    await rabbitmqctl('stop_app');
    const stoppedAt = Date.now();
    mix.step('broker stopped');
    await until(async () => (await readyz(gw.url('/readyz'))) === 503, 15_000, '/readyz 503 while the broker is down');
    let rssMax = gw.rssBytes();
    while (Date.now() - stoppedAt < 4_000) {
      rssMax = Math.max(rssMax, gw.rssBytes());
      expect(await readyz(gw.url('/readyz'))).toBe(503);
      await sleep(250);
    }
    const ackedWhileDown = mix.obs.ackedBetween(stoppedAt + 1_000, Date.now());
    const receivedWhenStopped = mix.counts();

    await rabbitmqctl('start_app');
    await rabbitmqctl('await_startup');
    brokerStopped = false;
    await until(() => portOpen(brokerPort), 60_000, `RabbitMQ listening on ${brokerPort}`, 250);
    const upAt = Date.now();
    const downMs = upAt - stoppedAt;
    mix.step('broker started');
    const progress = setInterval(() => mix.step('recovering'), 5_000);
    cleanups.push(async () => clearInterval(progress));

    await until(async () => (await readyz(gw.url('/readyz'))) === 200, 60_000, '/readyz 200 after the broker returns', 250);
    const readyAfterMs = Date.now() - upAt;
    await publishing;
    mix.step('all published');
    await mix.allReceived(90_000);
    mix.report(`broker restarted (stop_app … start_app, down ${(downMs / 1000).toFixed(1)} s)`, {
      ackedWhileDown,
      receivedBeforeTheBrokerCameBack: Object.values(receivedWhenStopped).map((c) => `${c.received}/${c.sent}`).join(' '),
      readyAgainAfterBrokerMs: readyAfterMs,
      rss: `before ${mib(rssBefore)}, max while down ${mib(rssMax)}, after ${mib(gw.rssBytes())}`,
    });
    for (const [name, c] of Object.entries(mix.counts())) {
      expect.soft(c.lost, `${name}: lost`).toBe(0);
      expect.soft(c.unexpected, `${name}: unexpected ids`).toBe(0);
      expect.soft(c.acked, `${name}: every id acknowledged in the end`).toBe(c.sent);
    }
    expect(ackedWhileDown).toEqual({ mqtt: 0, stomp: 0, wamp: 0 });
    expect(rssMax - rssBefore).toBeLessThan(64 * 1024 * 1024);
  });
});
