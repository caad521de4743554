// A persistent session writes its subscriptions to the broker after each change, before the
// SUBACK/UNSUBACK, so a gateway restart right after the acknowledgement loses nothing.

import type { MqttSession } from '../session.js';
import type { StoredSubscription } from '../session-store.js';
import type { Subscription } from '../subscriptions.js';

export async function saveSession(s: MqttSession): Promise<void> {
  if (s.stateStore === undefined || s.subscriptions === undefined || s.sessionExpiry === 0) return;
  await s.stateStore.save(s.subscriptions.all().map(toStored));
}

export function toStored(sub: Subscription): StoredSubscription {
  const out: StoredSubscription = {
    filter: sub.raw,
    qos: sub.qos,
    noLocal: sub.noLocal,
    retainAsPublished: sub.retainAsPublished,
    retainHandling: sub.retainHandling,
  };
  if (sub.identifier !== undefined) out.identifier = sub.identifier;
  return out;
}
