// PUBREL for an inbound QoS 2 PUBLISH: the packet id leaves the dedup set and PUBCOMP goes
// out (after the PUBREC, which waits for the broker's confirm) [MQTT-4.3.3-11].

import type { IPubrelPacket } from '../codec.js';
import { Reason } from '../reason-codes.js';
import type { MqttSession } from '../session.js';

export function handlePubrel(s: MqttSession, p: IPubrelPacket): void {
  const id = p.messageId as number;
  const known = s.awaitingRelease.release(id);
  const reasonCode = known ? Reason.SUCCESS : Reason.PACKET_IDENTIFIER_NOT_FOUND;
  s.acks.pushReady(undefined, () => {
    s.send(s.version === 5 ? { cmd: 'pubcomp', messageId: id, reasonCode } : { cmd: 'pubcomp', messageId: id });
  });
}
