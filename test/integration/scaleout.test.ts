// Scale-out on one RabbitMQ, with real OS processes (test/support/gateway-process.ts):
//  - `tributary --workers 2`: one listening line with the shared ports; MQTT and STOMP
//    connections on one port land on both workers (as /api/overview's per-worker list shows;
//    cluster-observability.test.ts checks what /metrics and /api say across workers) and
//    messages cross between them; a worker
//    that dies is restarted; SIGTERM to the primary stops every worker and exits 0.
//  - two separate gateway processes: what must be unique across processes is unique (MQTT
//    client-id takeover, retained messages, WAMP exclusive registrations, the fair-stream
//    dispatcher). The same properties between two gateways inside one test process are in
//    mqtt-amqp.test.ts (takeover, retained), wamp-amqp.test.ts (registrations) and
//    fair-gateway.test.ts (dispatcher failover); here nothing but the broker is shared.
import http from 'node:http';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { amqpUrl, brokerAvailable } from '../support/broker.js';
import { killAllGatewayProcesses, spawnGateway, type GatewayProcess } from '../support/gateway-process.js';
import { connectClient } from '../unit/mqtt/support/clients.js';
import { RawStompClient } from '../unit/stomp/support/raw-client.js';
import { openSession, type Opened } from './wamp-support.js';

const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const admin = `Basic ${Buffer.from('guest:guest').toString('base64')}`;

afterAll(() => killAllGatewayProcesses());

/** GET on a fresh TCP connection (no keep-alive), so that each request may land on another worker */
function getFresh(url: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { authorization: admin, connection: 'close' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${url}: no answer within 10 s`)));
  });
}

interface WorkerOverview { worker: number; pid: number; node: string; connections: Record<string, number> }
interface Overview { workers: WorkerOverview[] }

/** asks /api/overview (which lists every worker that answers) until `want` workers are listed; them by node id */
async function workersSeen(gw: GatewayProcess, want: number, tries = 60): Promise<Map<string, WorkerOverview>> {
  let seen = new Map<string, WorkerOverview>();
  for (let i = 0; i < tries && seen.size < want; i++) {
    if (i > 0) await sleep(250);
    const { body } = await getFresh(gw.url('/api/overview'));
    seen = new Map(((body as Overview).workers ?? []).map((w) => [w.node, w]));
  }
  return seen;
}

const pidOf = (node: string): number => Number(node.split('-').at(-2));

describe.runIf(brokerAvailable)('[rabbitmq] scale-out: tributary --workers 2', () => {
  it('one listening line; MQTT and STOMP on one port reach both workers, messages cross them; a dead worker is restarted; SIGTERM stops all', async () => {
    const gw = await spawnGateway(['--amqp-url', amqpUrl, '--workers', '2'], { startTimeoutMs: 120_000 });
    expect(gw.listening).toMatch(/^listening stomp=\d+ mqtt=\d+ http=\d+ fabric=amqp workers=2$/);
    expect(gw.stdout().split('\n').filter((l) => l.includes('"msg":"listening ')).length).toBe(1);

    const n = 10;
    const topic = `scale/${run}/w`;
    const mqttClients: mqtt.MqttClient[] = [];
    const received: number[] = [];
    for (let i = 0; i < n; i++) {
      const c = await mqtt.connectAsync({ host: '127.0.0.1', port: gw.ports.mqtt as number, clientId: `scale-${run}-${i}`, username: 'guest', password: 'guest', reconnectPeriod: 500 });
      c.on('error', () => undefined);
      received.push(0);
      c.on('message', () => { received[i] = (received[i] ?? 0) + 1; });
      await c.subscribeAsync(topic, { qos: 1 });
      mqttClients.push(c);
    }
    const stompClients: RawStompClient[] = [];
    for (let i = 0; i < n; i++) stompClients.push(await RawStompClient.connect(gw.ports.stomp as number, { login: 'guest', passcode: 'guest' }));

    const workers = await workersSeen(gw, 2);
    const byWorker = [...workers.values()].map((o) => ({ node: o.node, mqtt: o.connections.mqtt ?? 0, stomp: o.connections.stomp ?? 0 }));
    console.log(`[scale-out] connections per worker: ${JSON.stringify(byWorker)}`);
    expect(byWorker).toHaveLength(2);
    expect(byWorker.reduce((s, w) => s + w.mqtt, 0)).toBe(n);
    expect(byWorker.reduce((s, w) => s + w.stomp, 0)).toBe(n);
    for (const w of byWorker) {
      expect(w.mqtt, `MQTT connections on ${w.node}`).toBeGreaterThan(0);
      expect(w.stomp, `STOMP connections on ${w.node}`).toBeGreaterThan(0);
    }

    // every STOMP client sends one message; every MQTT client, whichever worker holds it, gets all
    for (const [i, s] of stompClients.entries()) await s.withReceipt('SEND', { destination: `/topic/${topic.replaceAll('/', '.')}` }, `from stomp ${i}`);
    const deadline = Date.now() + 30_000;
    while (received.some((r) => r < n) && Date.now() < deadline) await sleep(100);
    expect(received).toEqual(Array.from({ length: n }, () => n));

    const step = (what: string) => { if (process.env.SCALEOUT_VERBOSE === '1') console.log(`[scale-out] ${what}`); };
    step('messages crossed');
    // a worker dies: the primary starts another in its place, on the same ports
    const [victim] = workers.keys();
    process.kill(pidOf(victim as string), 'SIGKILL');
    let replacement: string | undefined;
    for (let i = 0; i < 100 && replacement === undefined; i++) {
      const seen = await workersSeen(gw, 2, 10).catch(() => new Map<string, WorkerOverview>());
      replacement = [...seen.keys()].find((node) => !workers.has(node));
      if (replacement === undefined) await sleep(500);
    }
    expect(replacement, 'a new worker answers').toBeDefined();
    expect(gw.stdout()).toContain('worker died: restarting');
    step('replaced');

    for (const c of mqttClients) await c.endAsync(true);
    for (const s of stompClients) s.destroy();
    const pids = [pidOf(replacement as string), ...[...workers.keys()].map(pidOf).filter((p) => p !== pidOf(victim as string))];
    step('SIGTERM');
    gw.kill('SIGTERM');
    const exited = await gw.exited;
    expect(exited, `the primary's last lines:\n${gw.stdout().split('\n').filter((l) => !l.includes('"level":20')).slice(-25).join('\n')}\n${gw.stderr()}`).toEqual({ code: 0, signal: null });
    step('exited');
    for (const pid of pids) expect(() => process.kill(pid, 0), `worker ${pid} gone`).toThrow();
    expect(gw.stdout()).toContain('"msg":"worker stopped"');
  }, 180_000);
});

describe.runIf(brokerAvailable)('[rabbitmq] scale-out: two gateway processes on one broker', () => {
  let a: GatewayProcess;
  let b: GatewayProcess;
  const stream = `scale${run}`;
  const opened: Opened[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((o) => o.close().catch(() => undefined)));
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('unique across processes: MQTT client-id takeover, retained messages, WAMP exclusive registration, one fair-stream dispatcher', async () => {
    const fair = ['--set', `fair.streams=[{name: ${stream}, patterns: ["${stream}.#"], publisherBy: client-id}]`];
    [a, b] = await Promise.all([spawnGateway(['--amqp-url', amqpUrl, ...fair], { startTimeoutMs: 120_000 }), spawnGateway(['--amqp-url', amqpUrl, ...fair], { startTimeoutMs: 120_000 })]);

    // MQTT: the same client id on the other process takes the session over (v5: DISCONNECT 0x8E)
    const clientId = `scale-twin-${run}`;
    const first = await connectClient(a.ports.mqtt as number, { clientId, protocolVersion: 5, reconnectPeriod: 0 });
    const closed = new Promise<void>((resolve) => first.client.stream.once('close', () => resolve()));
    const second = await connectClient(b.ports.mqtt as number, { clientId, protocolVersion: 5, reconnectPeriod: 0 });
    await closed;
    expect(first.disconnects).toEqual([{ reasonCode: 0x8e }]);
    expect(second.client.connected).toBe(true);
    await second.end(true);

    // retained on one process, seen by a new subscriber on the other
    const retainedTopic = `scale/${run}/retained`;
    const setter = await connectClient(a.ports.mqtt as number, { protocolVersion: 4, reconnectPeriod: 0 });
    await setter.client.publishAsync(retainedTopic, 'kept', { qos: 1, retain: true });
    const later = await connectClient(b.ports.mqtt as number, { protocolVersion: 4, reconnectPeriod: 0 });
    await later.client.subscribeAsync(retainedTopic, { qos: 1 });
    const [m] = await later.waitFor(1, 15_000);
    expect(m?.payload.toString()).toBe('kept');
    expect(m?.packet.retain).toBe(true);
    await setter.client.publishAsync(retainedTopic, '', { qos: 1, retain: true }); // clear it
    await Promise.all([setter.end(true), later.end(true)]);

    // WAMP: a single registration on one process is refused on the other; calls cross
    const proc = `scale.${run}.proc`;
    const onA = await openSession(a.wsUrl('/ws'));
    const onB = await openSession(b.wsUrl('/ws'));
    opened.push(onA, onB);
    await onA.session.register(proc, () => 'from a');
    const refused = await onB.session.register(proc, () => 'from b').then(() => null, (e: { error: string }) => e);
    expect(refused?.error).toBe('wamp.error.procedure_already_exists');
    expect(await onB.session.call(proc, [])).toBe('from a');

    // fair stream: exactly one process dispatches it
    const roles = async () => Promise.all([a, b].map(async (gw) => ((await getFresh(gw.url(`/api/fair/${stream}`))).body as { role: string }).role));
    let seen = await roles();
    for (let i = 0; i < 40 && !seen.includes('leader'); i++) {
      await sleep(250);
      seen = await roles();
    }
    expect(seen.sort()).toEqual(['leader', 'standby']);
  }, 180_000);
});
