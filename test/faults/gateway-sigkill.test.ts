// Fault: the gateway process SIGKILLed mid-stream and started again on the same ports.
// Nothing is drained: confirms in flight are lost with the process (their clients were never
// acknowledged and retransmit), deliveries the clients had not acknowledged go back to their
// queues when the broker sees the connection die. The persistent MQTT session and the
// durable STOMP subscription live in RabbitMQ and resume on the new process: every message
// the gateway acknowledged arrives; duplicates are counted and reported.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { amqpUrl, brokerAvailable } from '../support/broker.js';
import { killAllGatewayProcesses, spawnGateway, type GatewayProcess } from '../support/gateway-process.js';
import { Mix, endpointOf, readyz, until } from './support/mix.js';
import { sleep } from './support/peers.js';

const GATEWAY_ARGS = ['--amqp-url', amqpUrl, '--set', 'mqtt.maxQueuedMessages=100000'];

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});
afterAll(() => killAllGatewayProcesses());

describe.runIf(brokerAvailable)('[rabbitmq] faults: the gateway SIGKILLed and restarted', () => {
  it('persistent MQTT session and durable STOMP subscription lose none of the acknowledged messages', async () => {
    let gw: GatewayProcess = await spawnGateway(GATEWAY_ARGS);
    const ports = gw.ports;
    const mix = new Mix();
    cleanups.push(() => gw.stop(), () => mix.cleanup(ports.mqtt), () => mix.close());
    const endpoint = endpointOf(gw);
    await mix.startSubscribers(endpoint);

    const perPublisher = 300;
    mix.startPublishers(endpoint);
    const publishing = mix.publish(perPublisher, 8, 2);
    const total = perPublisher * mix.publishers.length;
    await until(() => mix.acked >= total / 3, 60_000, 'a third acknowledged');

    mix.step('SIGKILL');
    const toldBefore = mix.obs.told();
    gw.kill('SIGKILL');
    expect((await gw.exited).signal).toBe('SIGKILL');
    await sleep(200); // what the process wrote before it died has been read
    const ackedAtKill = mix.acked;
    await sleep(1_500); // clients notice: connections refused while no process listens
    const ackedWhileDead = mix.acked - ackedAtKill;

    // the same ports, so that the clients' own reconnect logic finds it
    gw = await spawnGateway([...GATEWAY_ARGS, '--stomp-port', String(ports.stomp), '--mqtt-port', String(ports.mqtt), '--http-port', String(ports.http)]);
    mix.step('restarted');
    expect(gw.ports).toMatchObject({ stomp: ports.stomp, mqtt: ports.mqtt, http: ports.http });

    const progress = setInterval(() => {
      mix.step('recovering');
      if (process.env.FAULTS_VERBOSE === '1') console.log(gw.stdout().split('\n').slice(-15).join('\n'));
    }, 5_000);
    cleanups.push(async () => clearInterval(progress));
    await publishing;
    mix.step('all published');
    await mix.allReceived(90_000);
    mix.step('all received');
    expect(await readyz(gw.url('/readyz'))).toBe(200);
    const told = mix.obs.told();
    mix.report('gateway SIGKILLed mid-stream, restarted on the same ports', {
      ackedBeforeKill: ackedAtKill,
      ackedWhileDead,
      toldByTheKill: Object.fromEntries(Object.entries(told).map(([k, v]) => [k, v - toldBefore[k as keyof typeof told]])),
    });
    for (const [name, c] of Object.entries(mix.counts())) {
      expect.soft(c.lost, `${name}: lost`).toBe(0);
      expect.soft(c.unexpected, `${name}: unexpected ids`).toBe(0);
      expect.soft(c.acked, `${name}: every id acknowledged in the end`).toBe(c.sent);
    }
    expect(ackedWhileDead).toBe(0);
  });
});
