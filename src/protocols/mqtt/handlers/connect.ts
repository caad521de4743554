// CONNECT: check the packet, authenticate, then open the session (open-session.ts).
// Each refusal gets its CONNACK code: 3.1.1 return codes 1–5, MQTT 5 reason codes.

import { randomBytes } from 'node:crypto';
import { ErrorCode, isGatewayError, toGatewayError } from '../../../errors.js';
import type { IConnectPacket } from '../codec.js';
import { TOPIC_EXCHANGE } from '../names.js';
import { Reason } from '../reason-codes.js';
import type { MqttSession } from '../session.js';
import { TopicError, toRoutingKey, validateTopicName } from '../topic.js';
import { connackReasonFor, protocolError } from '../wire-errors.js';
import { willFromConnect } from '../will.js';
import { openSession } from './open-session.js';

export async function handleConnect(s: MqttSession, p: IConnectPacket): Promise<void> {
  s.state = 'connecting';
  s.throttle.block('connect');
  s.version = p.protocolVersion ?? 4;
  readClientLimits(s, p);
  const refusal = checkConnect(s, p);
  if (refusal !== undefined) return s.refuseConnect(refusal.reason, refusal.detail);

  const assigned = p.clientId === '';
  const clientId = assigned ? `tributary-${randomBytes(12).toString('base64url')}` : p.clientId;
  const { vhost, username } = splitVhost(s, p.username);
  const credentials = { ...(username === undefined ? {} : { username }), ...(p.password === undefined ? {} : { password: p.password.toString('utf8') }) };
  try {
    s.principal = await s.mod.ctx.auth.authenticate({ ...credentials, certificateCN: s.link.certificateCN }, s.link.peer, vhost);
  } catch (err) {
    const g = toGatewayError(err);
    s.metrics.authFailures.inc({ protocol: 'mqtt', reason: g.code });
    return s.refuseConnect(connackReasonFor(g), g.message);
  }
  if (s.closing) return;
  s.vhost = vhost;
  s.clientId = clientId;
  s.addLogContext({ clientId, vhost, user: s.principal.username });

  s.will = willFromConnect(p);
  if (s.will !== undefined) {
    try {
      await s.mod.ctx.auth.authorize(s.principal, { vhost, kind: 'topic', name: TOPIC_EXCHANGE, permission: 'write', routingKey: toRoutingKey(s.will.message.topic), context: { clientId } });
    } catch (err) {
      if (!isGatewayError(err, ErrorCode.NOT_AUTHORIZED)) throw err;
      return s.refuseConnect(Reason.NOT_AUTHORIZED, 'not allowed to publish the will topic');
    }
  }
  const maxExpiry = s.config.mqtt.maxSessionExpirySeconds;
  s.sessionExpiry = s.version === 5 ? Math.min(p.properties?.sessionExpiryInterval ?? 0, maxExpiry) : p.clean ? 0 : maxExpiry;
  s.keepaliveSeconds = p.keepalive ?? 0;
  await openSession(s, { cleanStart: p.clean ?? true, assignedClientId: assigned ? clientId : undefined, requestedExpiry: p.properties?.sessionExpiryInterval });
}

function readClientLimits(s: MqttSession, p: IConnectPacket): void {
  const props = p.properties;
  if (s.version !== 5 || props === undefined) return;
  s.client = {
    receiveMaximum: props.receiveMaximum ?? 65535,
    maximumPacketSize: props.maximumPacketSize,
    topicAliasMaximum: props.topicAliasMaximum ?? 0,
    requestProblemInformation: props.requestProblemInformation ?? true,
  };
}

function checkConnect(s: MqttSession, p: IConnectPacket): { reason: Reason; detail: string } | undefined {
  // 'MQIsdp' is 3.1's protocol name, 'MQTT' 3.1.1's and 5's [MQTT-3.1.2-1]
  if ((p.protocolId === 'MQIsdp') !== (s.version === 3)) return { reason: Reason.UNSUPPORTED_PROTOCOL_VERSION, detail: 'protocol name and level disagree' };
  if (p.properties?.authenticationMethod !== undefined) return { reason: Reason.BAD_AUTHENTICATION_METHOD, detail: 'enhanced authentication is not supported' };
  // [MQTT-3.1.2-22] 3.1.1: a password needs a user name
  if (s.version < 5 && p.password !== undefined && p.username === undefined) throw protocolError('password without user name');
  if (p.properties?.receiveMaximum === 0 || p.properties?.maximumPacketSize === 0) throw protocolError('Receive Maximum or Maximum Packet Size of 0'); // [MQTT-3.1.2-...]
  if (p.clientId === '' && s.version < 5 && !p.clean) return { reason: Reason.CLIENT_IDENTIFIER_NOT_VALID, detail: 'empty client id needs a clean session' }; // [MQTT-3.1.3-8]
  if (Buffer.byteLength(p.clientId, 'utf8') > s.config.mqtt.maxClientIdLength) return { reason: Reason.CLIENT_IDENTIFIER_NOT_VALID, detail: 'client id too long' };
  if (p.clientId.includes('\u0000')) return { reason: Reason.CLIENT_IDENTIFIER_NOT_VALID, detail: 'client id contains U+0000' };
  if (p.will !== undefined) {
    try {
      validateTopicName(p.will.topic, s.config.mqtt);
    } catch (err) {
      const problem = err instanceof TopicError ? err.problem : 'invalid';
      return { reason: Reason.TOPIC_NAME_INVALID, detail: `invalid will topic (${problem})` };
    }
  }
  return undefined;
}

/**
 * `vhost:user` picks the vhost, as with RabbitMQ's plugin — when the part before the first
 * colon names a vhost this gateway knows; otherwise the whole string is the user name (so user
 * names with colons keep working) and the default vhost applies.
 */
function splitVhost(s: MqttSession, raw: string | undefined): { vhost: string; username: string | undefined } {
  const auth = s.mod.ctx.auth;
  if (raw !== undefined) {
    const colon = raw.indexOf(':');
    if (colon > 0) {
      const candidate = raw.slice(0, colon);
      if (auth.resolveVhost(candidate) === candidate) return { vhost: candidate, username: raw.slice(colon + 1) };
    }
  }
  return { vhost: auth.resolveVhost(undefined), username: raw };
}
