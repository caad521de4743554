// The client's answers to our QoS 1/2 PUBLISHes: PUBACK, PUBREC (→ PUBREL), PUBCOMP.
// The AMQP delivery behind the PUBLISH is acked only here (PUBACK, PUBCOMP), so a message
// the client never confirmed goes back to its queue when the connection ends.

import type { IPubackPacket, IPubcompPacket, IPubrecPacket } from '../codec.js';
import { Reason } from '../reason-codes.js';
import type { MqttSession } from '../session.js';

export function handlePuback(s: MqttSession, p: IPubackPacket): void {
  if (s.outbound?.puback(p.messageId as number)) s.metrics.messagesAcknowledged.inc({ protocol: 'mqtt' });
}

export function handlePubrec(s: MqttSession, p: IPubrecPacket): void {
  const id = p.messageId as number;
  const failed = (p.reasonCode ?? 0) >= 0x80;
  const known = s.outbound?.pubrec(id, failed) ?? false;
  if (failed) return; // the flow ends with a failed PUBREC [MQTT-4.3.3-4]
  const reasonCode = known ? Reason.SUCCESS : Reason.PACKET_IDENTIFIER_NOT_FOUND;
  s.send(s.version === 5 ? { cmd: 'pubrel', messageId: id, reasonCode } : { cmd: 'pubrel', messageId: id });
}

export function handlePubcomp(s: MqttSession, p: IPubcompPacket): void {
  if (s.outbound?.pubcomp(p.messageId as number)) s.metrics.messagesAcknowledged.inc({ protocol: 'mqtt' });
}
