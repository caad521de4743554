// SUBSCRIBE: check id, ack mode, prefetch and selector; ensure the source queue (endpoints.ts);
// start a consumer. Shared queues join the process-wide dispatch (message groups, selectors).
// Also the implicit subscription RabbitMQ makes for a /temp-queue/ used in reply-to.

import { ErrorCode, GatewayError } from '../../../errors.js';
import { compileSelector } from '../../shared/selector/index.js';
import { parseDestination } from '../destination.js';
import { durableSubscriptionQueue } from '../endpoints.js';
import { booleanHeader, type StompFrame } from '../frame.js';
import type { StompSession } from '../session.js';
import { Subscription, type AckMode, type JoinDispatch, type SubscriptionSpec } from '../subscription.js';

const ACK_MODES: readonly AckMode[] = ['auto', 'client', 'client-individual'];

export async function handleSubscribe(s: StompSession, frame: StompFrame): Promise<void> {
  const live = s.established;
  const h = frame.headers;
  const text = h['destination'];
  const dest = parseDestination(text);
  // STOMP 1.0 has no mandatory id: the destination stands in (RabbitMQ does the same)
  const id = h['id'] ?? (s.version === '1.0' ? text : undefined);
  if (id === undefined) throw new GatewayError(ErrorCode.MISSING_HEADER, 'missing id header', { detail: 'SUBSCRIBE needs an "id" header (STOMP 1.1+)', fatal: true });
  const ackMode = ackModeOf(h['ack']);
  // ack:auto consumes with a window of its own (stomp.autoAckPrefetch): RabbitMQ's plugin
  // consumes it with no-ack, where prefetch-count has no effect (the header is still checked)
  const clientPrefetch = prefetchOf(frame, s.ctx.config.stomp.defaultPrefetch, s.ctx.config.limits.maxInflightPerSession);
  const prefetch = ackMode === 'auto' ? s.ctx.config.stomp.autoAckPrefetch : clientPrefetch;
  const selector = h['selector'] === undefined ? undefined : compileSelector(h['selector']);
  const bindsQueue = dest.kind === 'topic' || dest.kind === 'exchange';
  const durableName = bindsQueue ? durableSubscriptionQueue(frame, text as string, id, live.clientId) : undefined;
  if (durableName !== undefined && h['id'] === undefined && h['activemq.subscriptionName'] === undefined) {
    throw new GatewayError(ErrorCode.MISSING_HEADER, 'missing id header', { detail: 'a durable subscription needs an "id" header', fatal: true });
  }
  if (dest.kind === 'temp-queue') await replaceImplicitTempSubscription(s, dest.name);
  checkRoom(s, id);
  const source = await live.endpoints.source(dest, frame, text as string, durableName);
  await start(s, {
    id,
    destinationText: text as string,
    destination: dest,
    ackMode,
    queue: source.queue,
    prefetch,
    exclusive: booleanHeader(frame, 'exclusive', false),
    selector,
    ownsQueue: source.ownsQueue,
    durable: source.durable,
    destinationOverride: source.destinationOverride,
  }, source.shared);
  s.receipt(frame);
}

/** RabbitMQ: a /temp-queue/<t> in reply-to is consumed by an implicit auto-ack subscription "/temp-queue/<t>". */
export async function ensureTempQueueSubscription(s: StompSession, name: string, queue: string): Promise<void> {
  const text = `/temp-queue/${name}`;
  for (const sub of s.subscriptions.values()) if (sub.spec.destinationText === text) return;
  checkRoom(s, text);
  await start(s, {
    id: text,
    destinationText: text,
    destination: { kind: 'temp-queue', name },
    ackMode: 'auto',
    queue,
    prefetch: s.ctx.config.stomp.autoAckPrefetch,
    exclusive: false,
    selector: undefined,
    ownsQueue: false,
    durable: false,
    destinationOverride: text,
  }, false);
}

async function start(s: StompSession, spec: SubscriptionSpec, shared: boolean): Promise<void> {
  const live = s.established;
  const join: JoinDispatch | undefined = shared ? (m) => s.shared.dispatch.join(live.vhost, spec.queue, m) : undefined;
  const sub = new Subscription(s, spec, join);
  s.subscriptions.set(spec.id, sub);
  s.ctx.metrics.subscriptions.inc({ protocol: 'stomp' });
  try {
    await sub.start(live.fabric);
  } catch (err) {
    s.subscriptions.delete(spec.id);
    s.ctx.metrics.subscriptions.dec({ protocol: 'stomp' });
    await sub.cancel(live.fabric, spec.ownsQueue);
    throw err;
  }
}

/** an explicit SUBSCRIBE to a temp queue (ActiveMQ style) takes over from the implicit one */
async function replaceImplicitTempSubscription(s: StompSession, name: string): Promise<void> {
  const implicit = s.subscriptions.get(`/temp-queue/${name}`);
  if (implicit === undefined || implicit.spec.destinationText !== implicit.id) return;
  s.subscriptions.delete(implicit.id);
  s.ctx.metrics.subscriptions.dec({ protocol: 'stomp' });
  await implicit.cancel(s.live?.fabric, false);
}

function checkRoom(s: StompSession, id: string): void {
  if (s.subscriptions.has(id)) throw new GatewayError(ErrorCode.PROTOCOL, 'duplicate subscription id', { detail: `subscription "${id}" already exists on this connection`, fatal: true });
  const max = s.ctx.config.limits.maxSubscriptionsPerSession;
  if (s.subscriptions.size >= max) throw new GatewayError(ErrorCode.LIMIT_EXCEEDED, 'too many subscriptions', { detail: `a connection may hold at most ${max} subscriptions`, fatal: true });
}

function ackModeOf(value: string | undefined): AckMode {
  if (value === undefined) return 'auto';
  if ((ACK_MODES as readonly string[]).includes(value)) return value as AckMode;
  throw new GatewayError(ErrorCode.PROTOCOL, 'invalid ack header', { detail: `ack must be one of ${ACK_MODES.join(', ')}`, fatal: true });
}

/** prefetch-count (RabbitMQ) or activemq.prefetchSize; 0 or absent is the default; capped. */
function prefetchOf(frame: StompFrame, fallback: number, cap: number): number {
  const text = frame.headers['prefetch-count'] ?? frame.headers['activemq.prefetchSize'];
  if (text === undefined) return Math.min(fallback || cap, cap);
  if (!/^\s*\d{1,9}\s*$/.test(text)) throw new GatewayError(ErrorCode.PROTOCOL, 'invalid prefetch', { detail: 'prefetch-count / activemq.prefetchSize must be a non-negative integer', fatal: true });
  const n = Number.parseInt(text, 10);
  return n === 0 ? cap : Math.min(n, cap);
}
