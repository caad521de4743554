// Packets a client must never send, or that this server does not take.

import type { Packet } from '../codec.js';
import { Reason } from '../reason-codes.js';
import { protocolError } from '../wire-errors.js';

/** [MQTT-3.1.0-2] a second CONNECT is a protocol violation */
export function handleSecondConnect(): never {
  throw protocolError('second CONNECT on one connection');
}

/** CONNACK, SUBACK, UNSUBACK, PINGRESP go server → client only (mosquitto CVE-2021-28166) */
export function handleServerOnly(_s: unknown, packet: Packet): never {
  throw protocolError(`${packet.cmd.toUpperCase()} is sent by servers only`);
}

/** Enhanced authentication is not offered (CONNACK refuses an Authentication Method), so AUTH is out of place [MQTT-4.12.0-1] */
export function handleAuth(): never {
  throw protocolError('AUTH without an authentication method', Reason.PROTOCOL_ERROR);
}
