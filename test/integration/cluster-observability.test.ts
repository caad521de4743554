// `tributary --workers 2` observed from outside, with real processes (test/support/gateway-process.ts):
// whichever worker the kernel hands an HTTP connection to, /metrics, /api/connections,
// /api/subscriptions and /api/overview describe both workers, and DELETE /api/connections/:id
// closes a client held by the other worker. A worker that does not answer (SIGSTOP) is reported
// missing within the gather timeout instead of hanging the request.
import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { amqpUrl, brokerAvailable } from '../support/broker.js';
import { killAllGatewayProcesses, spawnGateway, type GatewayProcess } from '../support/gateway-process.js';
import { connectClient, type TestClient } from '../unit/mqtt/support/clients.js';
import { RawStompClient } from '../unit/stomp/support/raw-client.js';

const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const admin = `Basic ${Buffer.from('guest:guest').toString('base64')}`;

interface Reply { status: number; headers: http.IncomingHttpHeaders; text: string }
interface Listed { id: string; protocol: string; user?: string; clientId?: string; peer: string; worker: number; pid: number; subscriptions: number }
interface Overview {
  connections: Record<string, number>;
  servedBy: { worker: number; pid: number };
  workers: Array<{ worker: number; pid: number; connections: Record<string, number> }>;
  missingWorkers: Array<{ worker: number; pid: number; reason: string }>;
  ready: { ready: boolean; reasons: string[] };
}

/** one request; `agent` pins it to one HTTP connection (and so to one worker), none: a fresh one */
function request(url: string, opts: { method?: string; agent?: http.Agent } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', agent: opts.agent ?? false, headers: { authorization: admin, ...(opts.agent ? {} : { connection: 'close' }) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.setTimeout(20_000, () => req.destroy(new Error(`${opts.method ?? 'GET'} ${url}: no answer within 20 s`)));
    req.end();
  });
}
const getJson = async <T>(url: string, agent?: http.Agent): Promise<T> => {
  const res = await request(url, agent ? { agent } : {});
  expect(res.status, `${url}: ${res.text}`).toBe(200);
  return JSON.parse(res.text) as T;
};

/** the value of one series of a Prometheus exposition (undefined: absent) */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

afterAll(() => killAllGatewayProcesses());

describe.runIf(brokerAvailable)('[rabbitmq] observability across tributary --workers 2', () => {
  let gw: GatewayProcess | undefined;
  const mqttClients: TestClient[] = [];
  const stompClients: RawStompClient[] = [];
  afterAll(async () => {
    await Promise.all(mqttClients.map((c) => c.end(true).catch(() => undefined)));
    for (const s of stompClients) s.destroy();
    await gw?.stop();
  });

  it('/metrics, /api/connections, /api/subscriptions and /api/overview count both workers; DELETE reaches the other worker; a silent worker is reported missing', async () => {
    const stream = `obs${run}`;
    const fair = ['--set', `fair.streams=[{name: ${stream}, patterns: ["${stream}.#"], publisherBy: client-id}]`];
    gw = await spawnGateway(['--amqp-url', amqpUrl, '--workers', '2', '--set', 'shutdownTimeoutMs=3000', ...fair], { startTimeoutMs: 120_000 });
    const g = gw;
    const topic = `obs/${run}`;
    const connections = async (query = ''): Promise<Listed[]> => getJson<Listed[]>(g.url(`/api/connections${query}`));
    const pidsOf = (list: Listed[], protocol: string) => new Set(list.filter((c) => c.protocol === protocol).map((c) => c.pid));

    // open MQTT and STOMP connections until both workers hold some of each (at least 4 each)
    for (let i = 0; i < 40; i++) {
      const list = await connections();
      if (mqttClients.length >= 4 && pidsOf(list, 'mqtt').size === 2 && pidsOf(list, 'stomp').size === 2) break;
      const m = await connectClient(g.ports.mqtt as number, { clientId: `obs-${run}-${i}`, protocolVersion: 5, username: 'guest', password: 'guest' });
      await m.client.subscribeAsync(`${topic}/${i}`, { qos: 1 });
      mqttClients.push(m);
      stompClients.push(await RawStompClient.connect(g.ports.stomp as number, { login: 'guest', passcode: 'guest' }));
    }
    const n = mqttClients.length;
    const all = await connections();
    console.log(`[cluster-observability] ${n} MQTT + ${n} STOMP connections; per pid: ${JSON.stringify([...new Set(all.map((c) => c.pid))].map((pid) => [pid, all.filter((c) => c.pid === pid).length]))}`);

    // /api/connections: every connection once, on both pids, ids unique; filters still work
    expect(all.filter((c) => c.protocol === 'mqtt')).toHaveLength(n);
    expect(all.filter((c) => c.protocol === 'stomp')).toHaveLength(n);
    expect(pidsOf(all, 'mqtt').size).toBe(2);
    expect(pidsOf(all, 'stomp').size).toBe(2);
    expect(new Set(all.map((c) => c.id)).size).toBe(all.length);
    for (const c of all) expect(c.id).toMatch(new RegExp(`^w${c.worker}-(mqtt|stomp)-\\d+$`));
    expect((await connections('?protocol=mqtt')).map((c) => c.clientId).sort()).toEqual(mqttClients.map((c) => c.client.options.clientId).sort());
    expect(await connections('?protocol=stomp')).toHaveLength(n);
    expect(await connections('?user=guest')).toHaveLength(2 * n);
    expect(await connections('?user=nobody')).toEqual([]);
    const workerPids = new Set(all.map((c) => c.pid));

    // /metrics: one exposition for both workers, whichever worker answers (asked on fresh connections)
    for (let i = 0; i < 4; i++) {
      const { text } = await request(g.url('/metrics'));
      expect(sample(text, 'tributary_connections{protocol="mqtt",transport="tcp"}')).toBe(n);
      expect(sample(text, 'tributary_connections{protocol="stomp",transport="tcp"}')).toBe(n);
      expect(sample(text, 'tributary_connections_opened_total{protocol="mqtt",transport="tcp"}')).toBe(n);
      expect(sample(text, 'tributary_subscriptions{protocol="mqtt"}')).toBe(n);
      expect(sample(text, 'tributary_cluster_workers{state="answered"}')).toBe(2);
      expect(sample(text, 'tributary_cluster_workers{state="missing"}')).toBe(0);
      expect(sample(text, 'tributary_fabric_up')).toBe(1);
      expect(text.split('\n').filter((l) => l.startsWith('# TYPE tributary_connections gauge'))).toHaveLength(1);
    }

    // /api/overview and /api/subscriptions: totals over both workers, each worker listed
    for (let i = 0; i < 4; i++) {
      const o = await getJson<Overview>(g.url('/api/overview'));
      expect(o.connections).toMatchObject({ total: 2 * n, mqtt: n, stomp: n });
      expect(new Set(o.workers.map((w) => w.pid))).toEqual(workerPids);
      expect(o.workers.reduce((s, w) => s + (w.connections.mqtt ?? 0), 0)).toBe(n);
      expect(o.missingWorkers).toEqual([]);
      expect(o.ready).toEqual({ ready: true, reasons: [] });
    }
    const live = await getJson<{ connections: { total: number; byProtocol: Record<string, number> } }>(g.url('/live-page/summary.json'));
    expect(live.connections).toMatchObject({ total: 2 * n, byProtocol: { mqtt: n, stomp: n } });

    // the fair stream: one dispatcher in the group, whichever worker leads it
    type Fair = { role: string; workers: Array<{ pid: number; role: string }> };
    let status = await getJson<Fair>(g.url(`/api/fair/${stream}`));
    for (let i = 0; i < 80 && status.role !== 'leader'; i++) {
      await new Promise((r) => setTimeout(r, 250));
      status = await getJson<Fair>(g.url(`/api/fair/${stream}`));
    }
    expect(status.workers.map((w) => w.role).sort()).toEqual(['leader', 'standby']);
    expect(new Set(status.workers.map((w) => w.pid))).toEqual(workerPids);
    expect(sample((await request(g.url('/metrics'))).text, `tributary_fair_dispatching{stream="${stream}"}`)).toBe(1);
    expect((await request(g.url('/api/fair/nosuchstream'))).status).toBe(404);

    // what asking every worker costs (printed, not asserted)
    for (const path of ['/metrics', '/api/overview', '/api/connections']) {
      const ms: number[] = [];
      for (let i = 0; i < 10; i++) {
        const started = performance.now();
        await request(g.url(path));
        ms.push(performance.now() - started);
      }
      ms.sort((a, b) => a - b);
      console.log(`[cluster-observability] GET ${path} across 2 workers (fresh connection each): median ${ms[5]?.toFixed(1)} ms, max ${ms[9]?.toFixed(1)} ms`);
    }

    const subs = await getJson<{ total: number; byProtocol: Record<string, number>; connections: Listed[] }>(g.url('/api/subscriptions'));
    expect(subs.byProtocol.mqtt).toBe(n);
    expect(new Set(subs.connections.map((c) => c.pid))).toEqual(workerPids);

    // DELETE over one HTTP connection (one worker) of a client that the other worker holds
    const pinned = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const served = (await getJson<Overview>(g.url('/api/overview'), pinned)).servedBy;
      const mqttVictim = all.find((c) => c.protocol === 'mqtt' && c.worker !== served.worker) as Listed;
      const stompVictim = all.find((c) => c.protocol === 'stomp' && c.worker !== served.worker) as Listed;
      const mqttClient = mqttClients.find((c) => c.client.options.clientId === mqttVictim.clientId) as TestClient;
      const stompClient = stompClients.find((s) => stompVictim.peer.endsWith(`:${s.socket.localPort}`)) as RawStompClient;
      expect(mqttClient).toBeDefined();
      expect(stompClient).toBeDefined();
      const mqttClosed = new Promise<void>((resolve) => mqttClient.client.stream.once('close', () => resolve()));

      const deleted = await request(g.url(`/api/connections/${mqttVictim.id}`), { method: 'DELETE', agent: pinned });
      expect(deleted.status, deleted.text).toBe(204);
      await mqttClosed;
      expect(mqttClient.disconnects).toEqual([{ reasonCode: 0x8b }]); // MQTT 5: server shutting down
      expect((await request(g.url(`/api/connections/${stompVictim.id}`), { method: 'DELETE', agent: pinned })).status).toBe(204);
      await stompClient.closed;
      expect(stompClient.frames.map((f) => f.command)).toContain('ERROR');
      expect((await getJson<Overview>(g.url('/api/overview'), pinned)).servedBy).toEqual(served); // still the same worker

      // gone from every worker: 404 for it, for an unknown worker and for an unprefixed id
      expect((await request(g.url(`/api/connections/${mqttVictim.id}`), { method: 'DELETE', agent: pinned })).status).toBe(404);
      expect((await request(g.url(`/api/connections/w99-${mqttVictim.id.replace(/^w\d+-/, '')}`), { method: 'DELETE', agent: pinned })).status).toBe(404);
      expect((await request(g.url('/api/connections/mqtt-1'), { method: 'DELETE', agent: pinned })).status).toBe(404);
      const after = await connections();
      expect(after.map((c) => c.id)).not.toContain(mqttVictim.id);
      expect(after.map((c) => c.id)).not.toContain(stompVictim.id);
      expect(after).toHaveLength(2 * n - 2);

      // a worker that does not answer (stopped) is reported missing after the gather timeout
      const silent = [...workerPids].find((pid) => pid !== served.pid) as number;
      process.kill(silent, 'SIGSTOP');
      try {
        const started = Date.now();
        const o = await getJson<Overview>(g.url('/api/overview'), pinned);
        const ms = Date.now() - started;
        console.log(`[cluster-observability] /api/overview with one worker stopped answered in ${ms} ms`);
        expect(o.missingWorkers).toEqual([expect.objectContaining({ pid: silent, reason: 'no answer within 2000 ms' })]);
        expect(o.workers.map((w) => w.pid)).toEqual([served.pid]);
        expect(o.ready.ready).toBe(false);
        const listing = await request(g.url('/api/connections'), { agent: pinned });
        expect(listing.headers['x-tributary-missing-workers']).toContain(`pid ${silent}`);
        const { text } = await request(g.url('/metrics'), { agent: pinned });
        expect(sample(text, 'tributary_cluster_workers{state="missing"}')).toBe(1);
      } finally {
        process.kill(silent, 'SIGCONT');
      }
      expect((await getJson<Overview>(g.url('/api/overview'), pinned)).missingWorkers).toEqual([]);
    } finally {
      pinned.destroy();
    }
  }, 180_000);
});
