// The message scenarios: one publisher kind, one receiver kind, the flow driver between
// them; each pointed at Tributary and at its references.
import type { Endpoint } from '../clients/conn.js';
import { Flow, type FlowOptions, type FlowResult } from '../lib/flow.js';
import type { Measure, RunContext, Scenario } from '../lib/scenario.js';
import type { Target } from '../lib/targets.js';
import {
  amqpPublishers,
  amqpReceivers,
  amqpRpc,
  mqttPublishers,
  mqttReceivers,
  stompPublishers,
  stompReceivers,
  wampPublishers,
  wampReceivers,
  wampRpc,
  type OnReceive,
  type Publishers,
  type Receivers,
} from './wiring.js';

const PAYLOAD = Number(process.env.BENCH_PAYLOAD_BYTES ?? 64);

interface Shape {
  streams?: number;
  receivers?: number;
  /** at most this many publishes in the throughput phase… */
  messages: number;
  /** …and for at most this long (ms) */
  seconds?: number;
  window: number;
  latencyRate: number;
  latencyMessages: number;
}

function flowOptions(shape: Shape, scale: number): FlowOptions {
  return {
    streams: shape.streams ?? 1,
    receivers: shape.receivers ?? 1,
    payloadBytes: PAYLOAD,
    window: shape.window,
    messages: Math.max(100, Math.round(shape.messages * scale)),
    throughputMs: Math.max(500, Math.round((shape.seconds ?? THROUGHPUT_SECONDS) * 1000 * scale)),
    latency: { rate: shape.latencyRate, messages: Math.max(50, Math.round(shape.latencyMessages * scale)) },
    stallMs: 3_000,
    phaseTimeoutMs: 60_000,
    warmup: Math.max(50, Math.round(shape.messages * scale * 0.05)),
  };
}

/** receivers first (so the subscriptions exist), then publishers, then the flow */
async function runFlow(
  opts: FlowOptions,
  receivers: (onReceive: OnReceive) => Promise<Receivers | undefined>,
  publishers: (onReceive: OnReceive) => Promise<Publishers>,
): Promise<FlowResult> {
  let pub: Publishers | undefined;
  const flow = new Flow(opts, { send: (stream, payload) => pub!.send(stream, payload) });
  const onReceive: OnReceive = (r, data) => flow.received(r, data);
  const recv = await receivers(onReceive);
  try {
    pub = await publishers(onReceive);
    try {
      return await flow.run();
    } finally {
      await pub.close();
    }
  } finally {
    await recv?.close();
  }
}

function need<T>(value: T | undefined, what: string, target: Target): T {
  if (value === undefined) throw new Error(`${target.label} has no ${what} endpoint`);
  return value;
}

type Protocol = 'mqtt0' | 'mqtt1' | 'mqttWs' | 'stompAuto' | 'stompClientIndividual' | 'stompWs' | 'wamp';

/** the endpoint and client kind a protocol uses on a target; the `amqp` target speaks AMQP for all */
function pubSub(protocol: Protocol, shape: Shape, opts: { receiver?: 'amqp' } = {}) {
  return async (ctx: RunContext): Promise<Measure> => {
    const { target, tag } = ctx;
    const fo = flowOptions(shape, ctx.scale);
    const { streams, receivers } = fo;
    const url = target.endpoints.amqpUrl;
    if (target.name === 'amqp') {
      const flow = await runFlow(
        fo,
        (on) => amqpReceivers(url, tag, streams, receivers, on),
        () => amqpPublishers(url, tag, streams),
      );
      return { flow };
    }
    const mqtt = (ep: Endpoint | undefined, qos: 0 | 1) => ({
      recv: (on: OnReceive) =>
        opts.receiver === 'amqp' ? amqpReceivers(url, tag, streams, receivers, on) : mqttReceivers(need(ep, 'MQTT', target), tag, streams, receivers, qos, on),
      pub: () => mqttPublishers(need(ep, 'MQTT', target), tag, streams, qos),
    });
    const stomp = (ep: Endpoint | undefined, ack: 'auto' | 'client-individual') => ({
      recv: (on: OnReceive) => stompReceivers(need(ep, 'STOMP', target), tag, streams, receivers, ack, on, STOMP_PREFETCH),
      pub: () => stompPublishers(need(ep, 'STOMP', target), tag, streams),
    });
    const wiring = {
      mqtt0: () => mqtt(target.endpoints.mqtt, 0),
      mqtt1: () => mqtt(target.endpoints.mqtt, 1),
      mqttWs: () => mqtt(target.endpoints.mqttWs, 0),
      stompAuto: () => stomp(target.endpoints.stomp, 'auto'),
      stompClientIndividual: () => stomp(target.endpoints.stomp, 'client-individual'),
      stompWs: () => stomp(target.endpoints.stompWs, 'auto'),
      wamp: () => {
        const wampUrl = need(target.endpoints.wampUrl, 'WAMP', target);
        return { recv: (on: OnReceive) => wampReceivers(wampUrl, tag, streams, receivers, on), pub: () => wampPublishers(wampUrl, tag, streams) };
      },
    }[protocol]();
    const flow = await runFlow(fo, wiring.recv, wiring.pub);
    return { flow };
  };
}

/** STOMP subscriptions ask for the same prefetch on every server (RabbitMQ's default is unbounded) */
const STOMP_PREFETCH = Number(process.env.BENCH_STOMP_PREFETCH ?? 100);

/** the throughput phase's time bound (s) unless a shape says otherwise; BENCH_SECONDS overrides */
const THROUGHPUT_SECONDS = Number(process.env.BENCH_SECONDS ?? 2.5);

// Latency rates are well below what every server sustains here, and the same for all of
// them, so that the percentiles compare servers rather than queue depths.
const POINT_TO_POINT: Shape = { messages: 50_000, window: 1_000, latencyRate: 500, latencyMessages: 750 };
const ACKED: Shape = { messages: 50_000, window: 1_000, latencyRate: 500, latencyMessages: 750 };
const RPC: Shape = { messages: 20_000, window: 100, latencyRate: 200, latencyMessages: 300 };
const FAN_IN: Shape = { streams: 100, messages: 50_000, window: 1_000, latencyRate: 500, latencyMessages: 750 };
const FAN_OUT: Shape = { receivers: 100, messages: 5_000, window: 20, latencyRate: 20, latencyMessages: 30 };

export const messagingScenarios: Scenario[] = [
  {
    name: 'amqp',
    title: 'Direct AMQP publish → consume (the ceiling)',
    measures: 'amqplib publisher → amq.topic → amqplib consumer (no-ack), no gateway: what the broker alone does on this machine.',
    unit: 'msg/s',
    targets: ['amqp'],
    labels: { amqp: 'amqplib → RabbitMQ → amqplib' },
    inAll: false,
    flow: (s) => flowOptions(POINT_TO_POINT, s),
    run: pubSub('mqtt0', POINT_TO_POINT),
  },
  {
    name: 'mqtt-qos0',
    title: 'MQTT QoS 0 publish → subscribe',
    measures: 'One MQTT 3.1.1 publisher, one subscriber, QoS 0 both ways, 64-byte payloads. Ceiling: the same flow over direct AMQP.',
    unit: 'msg/s',
    targets: ['tributary', 'rabbitmq', 'floor', 'mosquitto', 'amqp'],
    labels: { rabbitmq: 'rabbitmq_mqtt', amqp: 'direct AMQP (ceiling)' },
    flow: (s) => flowOptions(POINT_TO_POINT, s),
    run: pubSub('mqtt0', POINT_TO_POINT),
  },
  {
    name: 'mqtt-qos1',
    title: 'MQTT QoS 1 publish → subscribe',
    measures: 'QoS 1 publish (PUBACK after the broker confirm) and QoS 1 subscription (client PUBACK per message).',
    unit: 'msg/s',
    targets: ['tributary', 'rabbitmq', 'mosquitto'],
    labels: { rabbitmq: 'rabbitmq_mqtt' },
    flow: (s) => flowOptions(ACKED, s),
    run: pubSub('mqtt1', ACKED),
  },
  {
    name: 'mqtt-amqp',
    title: 'MQTT QoS 1 publish → AMQP consumer',
    measures: 'Device ingest: MQTT QoS 1 publisher, an amqplib consumer on a queue bound to amq.topic (no-ack).',
    unit: 'msg/s',
    targets: ['tributary', 'rabbitmq', 'floor'],
    labels: { rabbitmq: 'rabbitmq_mqtt' },
    flow: (s) => flowOptions(ACKED, s),
    run: pubSub('mqtt1', ACKED, { receiver: 'amqp' }),
  },
  {
    name: 'stomp-auto',
    title: 'STOMP SEND → SUBSCRIBE, ack:auto',
    measures: 'One STOMP 1.2 sender, one subscriber on /topic/… with ack:auto (prefetch-count 100 asked; neither server applies it to ack:auto: rabbitmq_stomp consumes auto no-ack, Tributary uses stomp.autoAckPrefetch).',
    unit: 'msg/s',
    targets: ['tributary', 'rabbitmq', 'floor'],
    labels: { rabbitmq: 'rabbitmq_stomp' },
    flow: (s) => flowOptions(POINT_TO_POINT, s),
    run: pubSub('stompAuto', POINT_TO_POINT),
  },
  {
    name: 'stomp-client-individual',
    title: 'STOMP SEND → SUBSCRIBE, ack:client-individual',
    measures: 'As stomp-auto, but the subscriber ACKs every MESSAGE (prefetch-count 100).',
    unit: 'msg/s',
    targets: ['tributary', 'rabbitmq'],
    labels: { rabbitmq: 'rabbitmq_stomp' },
    flow: (s) => flowOptions(ACKED, s),
    run: pubSub('stompClientIndividual', ACKED),
  },
  {
    name: 'stomp-ws',
    title: 'STOMP over WebSocket, ack:auto',
    measures: 'stomp-auto over WebSocket (v12.stomp, one frame per text message). Tributary: /stomp on its HTTP port.',
    unit: 'msg/s',
    targets: ['tributary', 'rabbitmq'],
    labels: { rabbitmq: 'rabbitmq_web_stomp' },
    flow: (s) => flowOptions(POINT_TO_POINT, s),
    run: pubSub('stompWs', POINT_TO_POINT),
  },
  {
    name: 'mqtt-ws',
    title: 'MQTT over WebSocket, QoS 0',
    measures: 'mqtt-qos0 over WebSocket (subprotocol mqtt, one packet per binary message). Tributary: /mqtt on its HTTP port.',
    unit: 'msg/s',
    targets: ['tributary', 'rabbitmq'],
    labels: { rabbitmq: 'rabbitmq_web_mqtt' },
    flow: (s) => flowOptions(POINT_TO_POINT, s),
    run: pubSub('mqttWs', POINT_TO_POINT),
  },
  {
    name: 'wamp-pubsub',
    title: 'WAMP publish → subscribe',
    measures: 'WAMP v2 JSON publisher and subscriber sessions over WebSocket (no acknowledge). No RabbitMQ plugin speaks WAMP: the reference is direct AMQP.',
    unit: 'msg/s',
    targets: ['tributary', 'amqp'],
    labels: { amqp: 'direct AMQP publish → consume' },
    flow: (s) => flowOptions(POINT_TO_POINT, s),
    run: pubSub('wamp', POINT_TO_POINT),
  },
  {
    name: 'wamp-rpc',
    title: 'WAMP RPC round trip',
    measures: 'A caller and a callee session; CALL → INVOCATION → YIELD → RESULT with at most 100 calls outstanding. Reference: AMQP request/reply (reply-to + correlation id).',
    unit: 'calls/s',
    targets: ['tributary', 'amqp'],
    labels: { amqp: 'AMQP request/reply' },
    flow: (s) => flowOptions(RPC, s),
    run: async (ctx) => {
      const fo = flowOptions(RPC, ctx.scale);
      const { target, tag } = ctx;
      const flow =
        target.name === 'amqp'
          ? await runFlow(fo, async () => undefined, (on) => amqpRpc(target.endpoints.amqpUrl, tag, on))
          : await runFlow(fo, async () => undefined, (on) => wampRpc(need(target.endpoints.wampUrl, 'WAMP', target), tag, on));
      return { flow };
    },
  },
  {
    name: 'fan-in',
    title: 'Fan-in: 100 MQTT publishers → 1 subscriber',
    measures: '100 QoS 0 publishers on their own topics, one subscriber on bench/<run>/+.',
    unit: 'msg/s',
    targets: ['tributary', 'rabbitmq', 'floor', 'mosquitto'],
    labels: { rabbitmq: 'rabbitmq_mqtt' },
    flow: (s) => flowOptions(FAN_IN, s),
    run: pubSub('mqtt0', FAN_IN),
  },
  {
    name: 'fan-out',
    title: 'Fan-out: 1 MQTT publisher → 100 subscribers',
    measures: 'One QoS 0 publisher, 100 QoS 0 subscribers on the same topic; the rate counts deliveries (publishes × 100).',
    unit: 'deliveries/s',
    targets: ['tributary', 'rabbitmq', 'floor', 'mosquitto'],
    labels: { rabbitmq: 'rabbitmq_mqtt' },
    flow: (s) => flowOptions(FAN_OUT, s),
    run: pubSub('mqtt0', FAN_OUT),
  },
];

