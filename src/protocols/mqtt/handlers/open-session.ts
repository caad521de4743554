// After authentication: take the client id (closing whoever held it, in this process or
// another), cancel a will still waiting from an earlier connection, resume or discard the stored
// session, and answer CONNACK.

import { ErrorCode, isGatewayError } from '../../../errors.js';
import { AuthorizationCache } from '../../shared/authorization-cache.js';
import { ConfirmedPublisher } from '../../shared/confirmed-publisher.js';
import { ClientLock } from '../client-lock.js';
import type { IConnackPacket } from '../codec.js';
import { sessionQueueName, sessionStateQueueName, willQueueName } from '../names.js';
import { Outbound } from '../outbound.js';
import { Reason } from '../reason-codes.js';
import type { MqttSession } from '../session.js';
import { SessionStateStore, type StoredSubscription } from '../session-store.js';
import { Subscriptions, type Subscription } from '../subscriptions.js';
import { parseSharedFilter } from '../topic.js';
import { cancelDelayedWill } from '../will.js';
import { publishWindow } from './publish.js';

export interface OpenOptions {
  cleanStart: boolean;
  assignedClientId: string | undefined;
  /** what an MQTT 5 client asked for, to tell it when the server chose otherwise */
  requestedExpiry: number | undefined;
}

export async function openSession(s: MqttSession, opts: OpenOptions): Promise<void> {
  const { ctx } = s.mod;
  const vhost = s.vhost as string;
  const clientId = s.clientId as string;
  const limits = ctx.config.limits;
  const publisher = { clientId, username: s.principal?.username, protocol: 'mqtt' };
  const fabric = ctx.fabric.openSession({ vhost, label: `mqtt:${clientId}`, publisher });
  s.fabric = fabric;
  await s.mod.claimClientId(s, vhost, clientId);
  if (s.closing) return;
  // the embedded fabric lives in this one process, where the client-id table already decided
  if (ctx.fabric.kind !== 'embedded') {
    const takeover = await s.mod.takeoverRequests(vhost);
    if (s.closing) return;
    s.lock = new ClientLock(fabric, clientId, {
      deadlineMs: Math.max(1_000, Math.floor(limits.connectTimeoutMs / 2)),
      askHolderToLeave: (request, ttlMs) => takeover.send(request, ttlMs),
      // what must go once the id is ours, sent right behind the lock's declare where the fabric can
      deleteOnClaim: opts.cleanStart ? [willQueueName(clientId), sessionStateQueueName(clientId)] : [willQueueName(clientId)],
    });
    try {
      await s.lock.acquire();
    } catch (err) {
      if (!isGatewayError(err, ErrorCode.RESOURCE_LOCKED)) throw err;
      return s.refuseConnect(Reason.SERVER_UNAVAILABLE, 'client id held by a connection that does not let go');
    }
    if (s.closing) return;
  }
  const expiryMs = s.sessionExpiry * 1000;
  const store = new SessionStateStore(fabric, clientId, Math.max(1, expiryMs));
  s.stateStore = store;
  // deleted with the lock's declare (the will, and on Clean Start the stored state), or not yet
  const withClaim = s.lock?.deletedWithClaim;
  if (s.lock !== undefined) s.lock.deletedWithClaim = undefined; // not kept for the connection's lifetime
  // the will and the stored session are independent: both requests go out at once
  const willCancelled = withClaim ?? cancelDelayedWill(fabric, clientId);
  let stored: StoredSubscription[] | undefined;
  if (opts.cleanStart) {
    // [MQTT-3.1.2-4] an earlier session of this client id ends here
    const hadSession = withClaim !== undefined ? ((await withClaim)[1] ?? 0) > 0 : (await Promise.all([willCancelled, store.discardIfPresent()]))[1];
    if (hadSession) await fabric.deleteQueue(sessionQueueName(clientId));
  } else {
    [, stored] = await Promise.all([willCancelled, store.open(s.sessionExpiry > 0)]);
  }
  s.persistentAtConnect = stored !== undefined || s.sessionExpiry > 0;

  const window = Math.min(limits.maxInflightPerSession, s.client.receiveMaximum);
  s.publisher = new ConfirmedPublisher(fabric, s.metrics, 'mqtt', publishWindow(s.version, limits.maxInflightPerSession));
  s.authz = new AuthorizationCache(ctx.auth, s.principal as NonNullable<typeof s.principal>);
  s.subscriptions = new Subscriptions({
    fabric,
    clientId,
    expiryMs: s.persistentAtConnect ? Math.max(1, expiryMs) : undefined,
    maxQueuedMessages: ctx.config.mqtt.maxQueuedMessages,
    sharedExpiryMs: Math.max(1, ctx.config.mqtt.maxSessionExpirySeconds * 1000),
    prefetch: Math.max(window, ctx.config.mqtt.prefetch),
    noAckWhileQos0: !s.persistentAtConnect && ctx.config.mqtt.qos0BacklogBytes > 0,
    onDelivery: (d, consumer, shared) => s.onDelivery(d, consumer, shared),
  });
  const delivered = s.metrics.deliveredCounts.child({ protocol: 'mqtt' });
  s.outbound = new Outbound({
    version: s.version,
    window,
    maxPacketBytes: s.client.maximumPacketSize,
    topicAliasMaximum: s.client.topicAliasMaximum,
    write: (bytes, afterFlush) => s.writeEncoded(bytes, afterFlush),
    onDropped: (reason) => s.metrics.messagesDropped.inc({ protocol: 'mqtt', reason }),
    onDelivered: () => delivered.inc(),
  });
  if (stored !== undefined && stored.length > 0) {
    await s.subscriptions.restore(stored.map(fromStored));
    s.metrics.subscriptions.inc({ protocol: 'mqtt' }, s.subscriptions.size); // what was restored: a $fair/ stream removed meanwhile is dropped
  }
  if (stored === undefined && s.sessionExpiry > 0) await store.save([]); // the session exists from now on
  if (s.closing) return;
  s.send(connack(s, stored !== undefined, opts));
  s.logOnce({ version: s.version, clean: opts.cleanStart, expiry: s.sessionExpiry, sessionPresent: stored !== undefined }, 'mqtt client connected');
  s.connected();
}

function fromStored(st: StoredSubscription): Subscription {
  const shared = safeShared(st.filter);
  const sub: Subscription = {
    raw: st.filter,
    filter: shared?.filter ?? st.filter,
    qos: st.qos,
    noLocal: st.noLocal,
    retainAsPublished: st.retainAsPublished,
    retainHandling: st.retainHandling,
  };
  if (shared !== undefined) sub.group = shared.group;
  if (st.identifier !== undefined) sub.identifier = st.identifier;
  return sub;
}

function safeShared(raw: string): ReturnType<typeof parseSharedFilter> {
  try {
    return parseSharedFilter(raw);
  } catch {
    return undefined;
  }
}

function connack(s: MqttSession, sessionPresent: boolean, opts: OpenOptions): IConnackPacket {
  if (s.version !== 5) return { cmd: 'connack', sessionPresent, returnCode: 0 };
  const { mqtt, limits } = s.config;
  const properties: NonNullable<IConnackPacket['properties']> = {
    receiveMaximum: limits.maxInflightPerSession,
    maximumPacketSize: mqtt.maxPacketBytes,
    topicAliasMaximum: mqtt.topicAliasMaximum,
    retainAvailable: true,
    wildcardSubscriptionAvailable: true,
    subscriptionIdentifiersAvailable: true,
    sharedSubscriptionAvailable: true,
  };
  if (opts.assignedClientId !== undefined) properties.assignedClientIdentifier = opts.assignedClientId;
  // [MQTT-3.2.2-...] tell the client when its Session Expiry Interval was not taken as asked
  if (opts.requestedExpiry !== undefined && opts.requestedExpiry !== s.sessionExpiry) properties.sessionExpiryInterval = s.sessionExpiry;
  return { cmd: 'connack', sessionPresent, reasonCode: Reason.SUCCESS, properties };
}
