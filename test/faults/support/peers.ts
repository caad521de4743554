// Real clients that keep going across faults, recording into ledgers: mqtt.js (QoS 1,
// persistent sessions, automatic reconnect and retransmission), @stomp/stompjs over TCP
// (SEND with receipts, retransmitted after a reconnect; durable client-individual
// subscriptions) and autobahn (acknowledged publishes, retried after an ERROR).
//
// Message bodies are their ids ("<publisher>-<seq>"), so every subscriber can read them
// whatever the publishing protocol was.
import { Client, type IMessage, type IStompSocket } from '@stomp/stompjs';
import { TCPWrapper } from '@stomp/tcp-wrapper';
import mqtt, { type MqttClient } from 'mqtt';
import { openSession, type Opened } from '../../integration/wamp-support.js';
import type { Ledger } from './ledger.js';

/** what clients were told while things were broken, and when each acknowledgement came */
export class Observations {
  /** MQTT connections that closed (by the gateway or the network) */
  mqttCloses = 0;
  /** CONNACKs refused while reconnecting */
  mqttRefusedConnects = 0;
  stompErrors = 0;
  stompCloses = 0;
  /** acknowledged WAMP publishes answered with ERROR */
  wampErrors = 0;
  wampCloses = 0;
  /** time of every acknowledgement, per protocol */
  readonly ackTimes: Record<'mqtt' | 'stomp' | 'wamp', number[]> = { mqtt: [], stomp: [], wamp: [] };

  ackedBetween(from: number, to: number): Record<'mqtt' | 'stomp' | 'wamp', number> {
    const n = (times: number[]) => times.filter((t) => t >= from && t <= to).length;
    return { mqtt: n(this.ackTimes.mqtt), stomp: n(this.ackTimes.stomp), wamp: n(this.ackTimes.wamp) };
  }

  told(): { mqttCloses: number; mqttRefusedConnects: number; stompErrors: number; stompCloses: number; wampErrors: number; wampCloses: number } {
    const { mqttCloses, mqttRefusedConnects, stompErrors, stompCloses, wampErrors, wampCloses } = this;
    return { mqttCloses, mqttRefusedConnects, stompErrors, stompCloses, wampErrors, wampCloses };
  }
}

export interface Endpoint {
  mqttPort: number;
  stompPort: number;
  wsUrl: string;
}

export interface Publisher {
  readonly name: string;
  /** publish `count` ids with up to `window` unacknowledged; resolves once every one is acknowledged */
  run(count: number, window: number, opts?: { paceMs?: number }): Promise<void>;
  close(): Promise<void>;
}

/** runs `count` jobs with at most `window` at once */
async function pool(count: number, window: number, job: (i: number) => Promise<void>, paceMs = 0): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await job(i);
      if (paceMs > 0) await sleep(paceMs);
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, worker));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- MQTT

// reconnectOnConnackError: a CONNACK "server unavailable" while the broker is away is retried, as devices do
const mqttBase = { host: '127.0.0.1', protocolVersion: 4 as const, reconnectPeriod: 250, reconnectOnConnackError: true, connectTimeout: 10_000, keepalive: 30, username: 'guest', password: 'guest' };

export class MqttPublisher implements Publisher {
  readonly client: MqttClient;

  constructor(readonly name: string, endpoint: Endpoint, private readonly topic: string, private readonly ledgers: readonly Ledger[], private readonly obs: Observations) {
    this.client = mqtt.connect({ ...mqttBase, port: endpoint.mqttPort, clientId: `${name}`, clean: false });
    this.client.on('close', () => { obs.mqttCloses++; });
    // a CONNACK refusal carries a numeric return code; socket errors (ECONNREFUSED) a string one
    this.client.on('error', (err) => { if (typeof (err as { code?: unknown }).code === 'number') obs.mqttRefusedConnects++; });
  }

  async run(count: number, window: number, opts: { paceMs?: number } = {}): Promise<void> {
    await pool(count, window, async (i) => {
      const id = `${this.name}-${i}`;
      for (const l of this.ledgers) l.sent(id);
      // mqtt.js keeps a QoS 1 publish in its store until PUBACK and retransmits it after every reconnect
      await this.client.publishAsync(this.topic, id, { qos: 1 });
      this.obs.ackTimes.mqtt.push(Date.now());
      for (const l of this.ledgers) l.acked(id);
    }, opts.paceMs);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true).catch(() => undefined);
  }
}

/** a persistent session (clean session off) subscribed with QoS 1; PUBACK after recording */
export class MqttSubscriber {
  readonly client: MqttClient;
  readonly ready: Promise<void>;

  constructor(readonly name: string, endpoint: Endpoint, filter: string, record: (id: string) => void, obs: Observations) {
    this.client = mqtt.connect({ ...mqttBase, port: endpoint.mqttPort, clientId: name, clean: false });
    this.client.on('message', (_topic, payload) => record(payload.toString()));
    this.client.on('close', () => { obs.mqttCloses++; });
    this.client.on('error', () => undefined);
    this.ready = new Promise<void>((resolve, reject) => {
      this.client.once('connect', () => {
        this.client.subscribeAsync(filter, { qos: 1 }).then(() => resolve(), reject);
      });
    });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true).catch(() => undefined);
  }
}

/** connect with clean session on to delete a persistent session's queue, then leave */
export async function discardMqttSession(port: number, clientId: string): Promise<void> {
  const client = mqtt.connect({ ...mqttBase, port, clientId, clean: true, reconnectPeriod: 0 });
  client.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    client.once('connect', () => resolve());
    client.once('close', () => resolve());
  });
  await client.endAsync(true).catch(() => undefined);
}

// ---------------------------------------------------------------- STOMP

function stompClient(endpoint: Endpoint, obs: Observations): Client {
  const client = new Client({
    webSocketFactory: () => new TCPWrapper('127.0.0.1', endpoint.stompPort) as unknown as IStompSocket,
    connectHeaders: { login: 'guest', passcode: 'guest', host: '/' },
    reconnectDelay: 250,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
    // the gateway's frames are small and arrive whole; stompjs must not split ours
    splitLargeFrames: false,
  });
  client.onStompError = () => { obs.stompErrors++; };
  client.onWebSocketClose = () => { obs.stompCloses++; };
  client.onWebSocketError = () => undefined;
  return client;
}

/** SEND with a receipt per message; what has no receipt when the connection ends is sent again */
export class StompPublisher implements Publisher {
  readonly client: Client;
  private readonly pending = new Map<string, () => void>();
  private attempt = 0;

  constructor(readonly name: string, endpoint: Endpoint, private readonly destination: string, private readonly ledgers: readonly Ledger[], private readonly obs: Observations) {
    this.client = stompClient(endpoint, obs);
    this.client.onConnect = () => {
      for (const id of this.pending.keys()) this.transmit(id);
    };
    this.client.activate();
  }

  private transmit(id: string): void {
    if (!this.client.connected) return; // sent again from onConnect
    const receipt = `${id}#${++this.attempt}`;
    this.client.watchForReceipt(receipt, () => this.pending.get(id)?.());
    try {
      this.client.publish({ destination: this.destination, body: id, headers: { receipt, persistent: 'true' } });
      for (const l of this.ledgers) l.sent(id);
    } catch {
      // the connection went away between the check and the write: onConnect sends it again
    }
  }

  run(count: number, window: number, opts: { paceMs?: number } = {}): Promise<void> {
    return pool(count, window, (i) => new Promise<void>((resolve) => {
      const id = `${this.name}-${i}`;
      // a receipt that never comes on a connection that stays up is asked for again
      const retry = setInterval(() => this.transmit(id), 15_000);
      this.pending.set(id, () => {
        clearInterval(retry);
        if (!this.pending.delete(id)) return;
        this.obs.ackTimes.stomp.push(Date.now());
        for (const l of this.ledgers) l.acked(id);
        resolve();
      });
      this.transmit(id);
    }), opts.paceMs);
  }

  async close(): Promise<void> {
    await this.client.deactivate().catch(() => undefined);
  }
}

/** a durable topic subscription (named queue) with client-individual acks, resubscribed after every reconnect */
export class StompSubscriber {
  readonly client: Client;
  readonly ready: Promise<void>;

  constructor(readonly name: string, endpoint: Endpoint, destination: string, readonly queue: string, record: (id: string) => void, obs: Observations) {
    this.client = stompClient(endpoint, obs);
    let subscribed!: () => void;
    this.ready = new Promise<void>((r) => { subscribed = r; });
    this.client.onConnect = () => {
      const receipt = `sub-${Date.now()}-${Math.random()}`;
      this.client.watchForReceipt(receipt, () => subscribed());
      this.client.subscribe(destination, (m: IMessage) => {
        record(m.body);
        try {
          m.ack();
        } catch {
          // the connection is gone: the broker redelivers it
        }
      }, { id: 'durable-0', ack: 'client-individual', durable: 'true', 'auto-delete': 'false', 'x-queue-name': queue, 'prefetch-count': '50', receipt });
    };
    this.client.activate();
  }

  async close(): Promise<void> {
    await this.client.deactivate().catch(() => undefined);
  }
}

// ---------------------------------------------------------------- WAMP

/** acknowledged publishes (PUBLISHED only after the broker's confirm); an ERROR is retried */
export class WampPublisher implements Publisher {
  private opened: Promise<Opened> | null = null;

  constructor(readonly name: string, private readonly endpoint: Endpoint, private readonly topic: string, private readonly ledgers: readonly Ledger[], private readonly obs: Observations) {}

  private session(): Promise<Opened> {
    this.opened ??= openSession(this.endpoint.wsUrl).then((o) => {
      void o.closed.then(() => {
        this.obs.wampCloses++;
        this.opened = null;
      });
      return o;
    }, (err: unknown) => {
      this.opened = null;
      throw err;
    });
    return this.opened;
  }

  run(count: number, window: number, opts: { paceMs?: number } = {}): Promise<void> {
    return pool(count, window, async (i) => {
      const id = `${this.name}-${i}`;
      for (;;) {
        try {
          const { session, closed } = await this.session();
          for (const l of this.ledgers) l.sent(id);
          // autobahn leaves a publish pending forever when its connection is lost
          const lost = closed.then(() => { throw new Error('connection lost'); });
          await Promise.race([session.publish(this.topic, [id], {}, { acknowledge: true }), lost]);
          this.obs.ackTimes.wamp.push(Date.now());
          for (const l of this.ledgers) l.acked(id);
          return;
        } catch (err) {
          if (typeof (err as { error?: unknown }).error === 'string') this.obs.wampErrors++; // an ERROR message
          await sleep(200);
        }
      }
    }, opts.paceMs);
  }

  async close(): Promise<void> {
    const opened = this.opened;
    this.opened = null;
    if (opened) await opened.then((o) => o.close(), () => undefined);
  }
}
