// Publishers and receivers per protocol, written once and pointed at any server. A scenario
// combines one publisher kind with one receiver kind (MQTT → MQTT, MQTT → AMQP, …) and
// hands both to the flow driver. Naming: publisher stream i publishes on
//   MQTT  bench/<tag>/<i>      STOMP /topic/bench.<tag>.<i>
//   AMQP  amq.topic, key bench.<tag>.<i>      WAMP  bench.<tag>.<i>
// and receivers subscribe to stream 0 exactly when there is one stream, else to all of them.
import { connect as amqpConnect, type Channel, type ChannelModel } from 'amqplib';
import type { Endpoint } from '../clients/conn.js';
import { MqttClient, topicBytes } from '../clients/mqtt.js';
import { StompClient, sendPrefix, type AckMode } from '../clients/stomp.js';
import { WampClient } from '../clients/wamp.js';

export type OnReceive = (receiver: number, data: Buffer | string) => void;

export interface Publishers {
  send(stream: number, payload: Buffer): void;
  close(): Promise<void>;
}

export interface Receivers {
  close(): Promise<void>;
}

/** open `count` things with at most `parallel` handshakes at a time */
export async function openMany<T>(count: number, parallel: number, open: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      out[i] = await open(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  return out;
}

// ---- MQTT ----------------------------------------------------------------------------

export async function mqttPublishers(endpoint: Endpoint, tag: string, streams: number, qos: 0 | 1): Promise<Publishers> {
  const clients = await openMany(streams, 20, (i) => MqttClient.connect(endpoint, { clientId: `${tag}_p${i}` }));
  const topics = clients.map((_, i) => topicBytes(`bench/${tag}/${i}`));
  return {
    send: (stream, payload) => clients[stream]!.publish(topics[stream]!, payload, qos),
    close: async () => {
      for (const c of clients) c.disconnect();
    },
  };
}

export async function mqttReceivers(endpoint: Endpoint, tag: string, streams: number, count: number, qos: 0 | 1, onReceive: OnReceive): Promise<Receivers> {
  const filter = streams === 1 ? `bench/${tag}/0` : `bench/${tag}/+`;
  const clients = await openMany(count, 20, async (i) => {
    const client = await MqttClient.connect(endpoint, { clientId: `${tag}_s${i}` });
    client.onMessage((_topic, payload) => onReceive(i, payload));
    await client.subscribe(filter, qos);
    return client;
  });
  return {
    close: async () => {
      for (const c of clients) c.disconnect();
    },
  };
}

// ---- STOMP ---------------------------------------------------------------------------

export async function stompPublishers(endpoint: Endpoint, tag: string, streams: number): Promise<Publishers> {
  const clients = await openMany(streams, 20, () => StompClient.connect(endpoint));
  const heads = clients.map((_, i) => sendPrefix(`/topic/bench.${tag}.${i}`));
  return {
    send: (stream, payload) => clients[stream]!.send(heads[stream]!, payload),
    close: async () => {
      for (const c of clients) c.disconnect();
    },
  };
}

export async function stompReceivers(
  endpoint: Endpoint,
  tag: string,
  streams: number,
  count: number,
  ack: AckMode,
  onReceive: OnReceive,
  prefetch?: number,
): Promise<Receivers> {
  const destination = streams === 1 ? `/topic/bench.${tag}.0` : `/topic/bench.${tag}.*`;
  const extra: Record<string, string> = prefetch === undefined ? {} : { 'prefetch-count': String(prefetch) };
  const clients = await openMany(count, 20, async (i) => {
    const client = await StompClient.connect(endpoint);
    await client.subscribe(destination, ack, (body) => onReceive(i, body), extra);
    return client;
  });
  return {
    close: async () => {
      for (const c of clients) c.disconnect();
    },
  };
}

// ---- AMQP (amqplib) ------------------------------------------------------------------

export async function amqpPublishers(url: string, tag: string, streams: number): Promise<Publishers> {
  const conn = await amqpConnect(url);
  const channels: Channel[] = [];
  for (let i = 0; i < streams; i++) channels.push(await conn.createChannel());
  const keys = channels.map((_, i) => `bench.${tag}.${i}`);
  return {
    send: (stream, payload) => {
      channels[stream]!.publish('amq.topic', keys[stream]!, payload);
    },
    close: () => closeQuietly(conn),
  };
}

export async function amqpReceivers(url: string, tag: string, streams: number, count: number, onReceive: OnReceive): Promise<Receivers> {
  const conn = await amqpConnect(url);
  const key = streams === 1 ? `bench.${tag}.0` : `bench.${tag}.*`;
  for (let i = 0; i < count; i++) {
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true });
    await ch.bindQueue(queue, 'amq.topic', key);
    await ch.consume(queue, (msg) => msg && onReceive(i, msg.content), { noAck: true });
  }
  return { close: () => closeQuietly(conn) };
}

async function closeQuietly(conn: ChannelModel): Promise<void> {
  try {
    await conn.close();
  } catch {
    // already closed
  }
}

// ---- WAMP ----------------------------------------------------------------------------

export async function wampPublishers(url: string, tag: string, streams: number): Promise<Publishers> {
  const clients = await openMany(streams, 20, () => WampClient.connect(url, 'realm1'));
  const topics = clients.map((_, i) => `bench.${tag}.${i}`);
  return {
    send: (stream, payload) => clients[stream]!.publish(topics[stream]!, [payload.toString('latin1')]),
    close: async () => {
      for (const c of clients) c.close();
    },
  };
}

export async function wampReceivers(url: string, tag: string, streams: number, count: number, onReceive: OnReceive): Promise<Receivers> {
  if (streams !== 1) throw new Error('wampReceivers: one stream only');
  const clients = await openMany(count, 20, async (i) => {
    const client = await WampClient.connect(url, 'realm1');
    await client.subscribe(`bench.${tag}.0`, (args) => onReceive(i, String(args[0])));
    return client;
  });
  return {
    close: async () => {
      for (const c of clients) c.close();
    },
  };
}

// ---- request/reply -------------------------------------------------------------------

/** WAMP: one callee registered on bench.<tag>.echo, one caller; RESULTs are receptions */
export async function wampRpc(url: string, tag: string, onReceive: OnReceive): Promise<Publishers> {
  const procedure = `bench.${tag}.echo`;
  const callee = await WampClient.connect(url, 'realm1');
  await callee.register(procedure, (args) => args);
  const caller = await WampClient.connect(url, 'realm1');
  caller.onResult = (args) => onReceive(0, String(args[0]));
  return {
    send: (_stream, payload) => caller.callNoWait(procedure, [payload.toString('latin1')]),
    close: async () => {
      caller.close();
      callee.close();
    },
  };
}

/** AMQP request/reply: a server consuming bench_rpc_<tag> answers to reply-to with the correlation id */
export async function amqpRpc(url: string, tag: string, onReceive: OnReceive): Promise<Publishers> {
  const serverConn = await amqpConnect(url);
  const server = await serverConn.createChannel();
  const queue = `bench_rpc_${tag}`;
  await server.assertQueue(queue, { exclusive: true, autoDelete: true });
  await server.consume(
    queue,
    (msg) => {
      if (!msg) return;
      server.sendToQueue(msg.properties.replyTo as string, msg.content, { correlationId: msg.properties.correlationId as string });
    },
    { noAck: true },
  );
  const clientConn = await amqpConnect(url);
  const client = await clientConn.createChannel();
  const { queue: replyQueue } = await client.assertQueue('', { exclusive: true, autoDelete: true });
  await client.consume(replyQueue, (msg) => msg && onReceive(0, msg.content), { noAck: true });
  let id = 0;
  return {
    send: (_stream, payload) => {
      client.sendToQueue(queue, payload, { replyTo: replyQueue, correlationId: String(id++) });
    },
    close: async () => {
      await closeQuietly(clientConn);
      await closeQuietly(serverConn);
    },
  };
}
