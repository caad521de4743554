// Client DISCONNECT: the normal end, without the will (unless MQTT 5 reason 0x04 asks for it).

import type { IDisconnectPacket } from '../codec.js';
import { Reason } from '../reason-codes.js';
import type { MqttSession } from '../session.js';
import { protocolError } from '../wire-errors.js';

export async function handleDisconnect(s: MqttSession, p: IDisconnectPacket): Promise<void> {
  const expiry = p.properties?.sessionExpiryInterval;
  if (expiry !== undefined) {
    // [MQTT-3.14.2-2] a session that was to end with the connection cannot be made to outlive it now
    if (s.sessionExpiry === 0 && expiry !== 0) throw protocolError('Session Expiry Interval set on DISCONNECT after 0 on CONNECT');
    s.sessionExpiry = Math.min(expiry, s.config.mqtt.maxSessionExpirySeconds);
  }
  s.graceful = (p.reasonCode ?? Reason.SUCCESS) !== Reason.DISCONNECT_WITH_WILL; // [MQTT-3.14.4-3]
  await s.end({ publishWill: !s.graceful, reason: 'DISCONNECT' });
}
