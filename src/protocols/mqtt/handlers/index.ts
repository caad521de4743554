// Packet type → handler. A Record over every packet type, so a missing one is a compile error.

import type { Packet } from '../codec.js';
import type { MqttSession } from '../session.js';
import { handlePuback, handlePubcomp, handlePubrec } from './acks.js';
import { handleConnect } from './connect.js';
import { handleDisconnect } from './disconnect.js';
import { handleAuth, handleSecondConnect, handleServerOnly } from './invalid.js';
import { handlePingreq } from './ping.js';
import { handlePublish } from './publish.js';
import { handlePubrel } from './pubrel.js';
import { handleSubscribe } from './subscribe.js';
import { handleUnsubscribe } from './unsubscribe.js';

type HandlerFor<C extends Packet['cmd']> = (s: MqttSession, packet: Extract<Packet, { cmd: C }>) => void | Promise<void>;

export const HANDLERS: { [C in Packet['cmd']]: HandlerFor<C> } = {
  connect: (s, p) => (s.state === 'awaiting-connect' ? handleConnect(s, p) : handleSecondConnect()),
  publish: handlePublish,
  puback: handlePuback,
  pubrec: handlePubrec,
  pubrel: handlePubrel,
  pubcomp: handlePubcomp,
  subscribe: handleSubscribe,
  unsubscribe: handleUnsubscribe,
  pingreq: handlePingreq,
  disconnect: handleDisconnect,
  auth: handleAuth,
  connack: handleServerOnly,
  suback: handleServerOnly,
  unsuback: handleServerOnly,
  pingresp: handleServerOnly,
};
