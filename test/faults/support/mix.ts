// The traffic every fault test runs: MQTT QoS 1 publishers, a STOMP publisher with receipts
// and a WAMP publisher with acknowledge, all on one run's topics; a persistent MQTT session
// (clean session off, QoS 1) and a durable STOMP subscription (client-individual) each
// subscribed to all of it. One ledger per (publishing protocol, subscriber).
import { hostname } from 'node:os';
import { connect } from 'amqplib';
import { amqpUrl } from '../../support/broker.js';
import { rabbitmqctl } from '../../integration/fabric-amqp-helpers.js';
import { Ledger, report, type Counts } from './ledger.js';
import { MqttPublisher, MqttSubscriber, Observations, StompPublisher, StompSubscriber, WampPublisher, discardMqttSession, type Endpoint, type Publisher } from './peers.js';

export type PubProtocol = 'mqtt' | 'stomp' | 'wamp';
export type SubName = 'mqttSession' | 'stompDurable';

export interface MixOptions {
  /** which publishers (default: 2 MQTT, 1 STOMP, 1 WAMP) */
  publishers?: Partial<Record<PubProtocol, number>>;
  subscribers?: readonly SubName[];
}

export class Mix {
  readonly run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  readonly obs = new Observations();
  readonly ledgers = new Map<string, Ledger>();
  publishers: Publisher[] = [];
  private subscribers: (MqttSubscriber | StompSubscriber)[] = [];
  readonly subNames: readonly SubName[];
  private readonly pubCounts: Record<PubProtocol, number>;
  readonly stompQueue = `faults-stomp-durable-${this.run}`;
  readonly clientIds: string[] = [];

  constructor(opts: MixOptions = {}) {
    this.subNames = opts.subscribers ?? ['mqttSession', 'stompDurable'];
    this.pubCounts = { mqtt: 2, stomp: 1, wamp: 1, ...opts.publishers };
    for (const proto of ['mqtt', 'stomp', 'wamp'] as const) {
      if (this.pubCounts[proto] === 0) continue;
      for (const sub of this.subNames) this.ledgers.set(`${proto}>${sub}`, new Ledger(`${label(proto)} → ${subLabel(sub)}`));
    }
  }

  private ledgersOf(proto: PubProtocol): Ledger[] {
    return this.subNames.map((sub) => this.ledgers.get(`${proto}>${sub}`) as Ledger);
  }

  private recorder(sub: SubName): (id: string) => void {
    return (id) => {
      const proto = /^faults-(mqtt|stomp|wamp)-/.exec(id)?.[1];
      this.ledgers.get(`${proto}>${sub}`)?.received(id);
    };
  }

  /** subscribers first (their queues must exist before anything is published) */
  async startSubscribers(endpoint: Endpoint): Promise<void> {
    for (const sub of this.subNames) {
      if (sub === 'mqttSession') {
        const id = `faults-sub-${this.run}`;
        this.clientIds.push(id);
        this.subscribers.push(new MqttSubscriber(id, endpoint, `faults/${this.run}/#`, this.recorder(sub), this.obs));
      } else {
        this.subscribers.push(new StompSubscriber(`stomp-sub-${this.run}`, endpoint, `/topic/faults.${this.run}.#`, this.stompQueue, this.recorder(sub), this.obs));
      }
    }
    await Promise.all(this.subscribers.map((s) => s.ready));
  }

  startPublishers(endpoint: Endpoint): void {
    for (let i = 0; i < this.pubCounts.mqtt; i++) {
      const name = `faults-mqtt-p${i}-${this.run}`;
      this.clientIds.push(name);
      this.publishers.push(new MqttPublisher(name, endpoint, `faults/${this.run}/mqtt/p${i}`, this.ledgersOf('mqtt'), this.obs));
    }
    for (let i = 0; i < this.pubCounts.stomp; i++) {
      this.publishers.push(new StompPublisher(`faults-stomp-p${i}-${this.run}`, endpoint, `/topic/faults.${this.run}.stomp.p${i}`, this.ledgersOf('stomp'), this.obs));
    }
    for (let i = 0; i < this.pubCounts.wamp; i++) {
      this.publishers.push(new WampPublisher(`faults-wamp-p${i}-${this.run}`, endpoint, `faults.${this.run}.wamp.p${i}`, this.ledgersOf('wamp'), this.obs));
    }
  }

  /** every publisher sends `count` ids; resolves once all are acknowledged */
  publish(count: number, window: number, paceMs = 0): Promise<void> {
    return Promise.all(this.publishers.map((p) => p.run(count, window, { paceMs }))).then(() => undefined);
  }

  /** acknowledged ids over every ledger of the first subscriber (each publish counted once) */
  get acked(): number {
    const first = this.subNames[0];
    let n = 0;
    for (const [key, l] of this.ledgers) if (key.endsWith(`>${first}`)) n += l.ackedCount;
    return n;
  }

  private readonly startedAt = Date.now();

  /** a progress line (FAULTS_VERBOSE=1): elapsed time, acknowledged, received, what clients were told */
  step(what: string): void {
    if (process.env.FAULTS_VERBOSE !== '1') return;
    const received = [...this.ledgers.values()].map((l) => l.receivedCount).join('/');
    console.log(`[faults ${((Date.now() - this.startedAt) / 1000).toFixed(1)}s] ${what}: acked=${this.acked} received=${received} told=${JSON.stringify(this.obs.told())}`);
  }

  async allReceived(timeoutMs: number): Promise<void> {
    await Promise.all([...this.ledgers.values()].map((l) => l.allReceived(timeoutMs)));
  }

  counts(): Record<string, Counts> {
    return Object.fromEntries([...this.ledgers.values()].map((l) => [l.name, l.counts()]));
  }

  report(title: string, extra: Record<string, unknown> = {}): string {
    return report(title, [...this.ledgers.values()], { told: this.obs.told(), ...extra });
  }

  /** the subscribers go away (their session and durable queue keep what is published meanwhile) */
  async stopSubscribers(): Promise<void> {
    await Promise.all(this.subscribers.map((s) => s.close()));
    this.subscribers = [];
  }

  async close(): Promise<void> {
    await Promise.all([...this.publishers, ...this.subscribers].map((c) => c.close()));
    this.publishers = [];
    this.subscribers = [];
  }

  /** delete what the run left on the broker: MQTT sessions (via a clean connect) and the durable STOMP queue */
  async cleanup(mqttPort: number | null): Promise<void> {
    if (mqttPort !== null) await Promise.all(this.clientIds.map((id) => discardMqttSession(mqttPort, id).catch(() => undefined)));
    const conn = await connect(amqpUrl).catch(() => null);
    if (!conn) return;
    conn.on('error', () => undefined);
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    await ch.deleteQueue(this.stompQueue).catch(() => undefined);
    await conn.close().catch(() => undefined);
  }
}

function label(proto: PubProtocol): string {
  return { mqtt: 'MQTT QoS 1 PUBACKed', stomp: 'STOMP SEND receipted', wamp: 'WAMP acknowledged' }[proto];
}

function subLabel(sub: SubName): string {
  return { mqttSession: 'MQTT persistent session', stompDurable: 'STOMP durable (client-ind.)' }[sub];
}

export function endpointOf(gw: { ports: { mqtt: number | null; stomp: number | null }; wsUrl(path: string): string }): Endpoint {
  return { mqttPort: gw.ports.mqtt as number, stompPort: gw.ports.stomp as number, wsUrl: gw.wsUrl('/ws') };
}

/** close, from the broker's side, every AMQP connection of gateway process `pid`; returns how many */
export async function closeGatewayConnections(pid: number, reason = 'faults test: connection killed'): Promise<number> {
  const marker = `tributary ${hostname()} ${pid} `;
  const out = await rabbitmqctl('list_connections', 'pid', 'client_properties');
  const pids = out.split('\n').filter((line) => line.includes(marker)).map((line) => line.split('\t')[0] ?? '').filter((p) => p.startsWith('<'));
  await Promise.all(pids.map((p) => rabbitmqctl('close_connection', p, reason).catch(() => undefined)));
  return pids.length;
}

/** resolves once `predicate` holds, polling every `everyMs` */
export async function until(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** /readyz status (0 when unreachable) */
export async function readyz(url: string): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3_000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}
