// UNSUBSCRIBE: remove each filter (its binding goes with the last filter that needed it),
// then UNSUBACK; MQTT 5 says per filter whether there was such a subscription.

import type { IUnsubscribePacket } from '../codec.js';
import { Reason } from '../reason-codes.js';
import type { MqttSession } from '../session.js';
import { saveSession } from './session-state.js';

export async function handleUnsubscribe(s: MqttSession, p: IUnsubscribePacket): Promise<void> {
  const codes: number[] = [];
  let changed = false;
  for (const raw of p.unsubscriptions) {
    const removed = (await s.subscriptions?.remove(raw)) ?? false;
    if (removed) {
      changed = true;
      s.metrics.subscriptions.dec({ protocol: 'mqtt' });
    }
    codes.push(removed ? Reason.SUCCESS : Reason.NO_SUBSCRIPTION_EXISTED);
  }
  if (changed) await saveSession(s);
  const messageId = p.messageId as number;
  s.send(s.version === 5 ? { cmd: 'unsuback', messageId, granted: codes } : { cmd: 'unsuback', messageId, granted: [] });
}
