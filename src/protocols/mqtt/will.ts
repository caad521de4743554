// Last Will: published when a connection ends without a normal DISCONNECT (network loss,
// keepalive timeout, protocol error, takeover) [MQTT-3.1.2-8], never after DISCONNECT 0x00
// [MQTT-3.1.2-10]. MQTT 5's Will Delay Interval is handed to the broker, as RabbitMQ's plugin
// does: the will waits in the queue `mqtt-will-<clientid>` with a per-message TTL of the delay
// and that queue dead-letters into amq.topic under the will topic's routing key. A connection
// that takes the client id before the delay ends deletes the queue, and the will with it
// [MQTT-3.1.3-9]. The delayed will survives the gateway process, but (as with RabbitMQ's plugin)
// it reaches subscribers only, not the retained store.

import type { FabricSession } from '../../fabric/types.js';
import type { IConnectPacket } from './codec.js';
import { TOPIC_EXCHANGE, willQueueName } from './names.js';
import { toFabricMessage, type MqttMessage, type QoS } from './properties.js';
import { toRoutingKey } from './topic.js';

/** queue outlives the delay by this much, so the TTL (not x-expires) decides */
const WILL_QUEUE_GRACE_MS = 60_000;

export interface Will {
  message: MqttMessage;
  /** seconds; 0 = publish at once */
  delaySeconds: number;
}

export function willFromConnect(packet: IConnectPacket): Will | undefined {
  const w = packet.will;
  if (w === undefined) return undefined;
  const p = w.properties ?? {};
  const message: MqttMessage = {
    topic: w.topic,
    qos: (w.qos ?? 0) as QoS,
    retain: w.retain ?? false,
    payload: typeof w.payload === 'string' ? Buffer.from(w.payload) : Buffer.from(w.payload),
  };
  const props: NonNullable<MqttMessage['properties']> = {};
  if (p.contentType !== undefined) props.contentType = p.contentType;
  if (p.payloadFormatIndicator !== undefined) props.payloadFormatIndicator = p.payloadFormatIndicator;
  if (p.messageExpiryInterval !== undefined) props.messageExpiryInterval = p.messageExpiryInterval;
  if (p.responseTopic !== undefined) props.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) props.correlationData = p.correlationData;
  if (p.userProperties !== undefined) props.userProperties = p.userProperties;
  if (Object.keys(props).length > 0) message.properties = props;
  return { message, delaySeconds: p.willDelayInterval ?? 0 };
}

/** Park a will in the broker until `delaySeconds` have passed. */
export async function stageDelayedWill(fabric: Pick<FabricSession, 'declareQueue' | 'publish' | 'deleteQueue'>, clientId: string, will: Will): Promise<void> {
  const delayMs = will.delaySeconds * 1000;
  const queue = willQueueName(clientId);
  await fabric.deleteQueue(queue); // an older will of this client id is replaced, not queued behind
  await fabric.declareQueue(queue, {
    durable: true,
    arguments: {
      'x-dead-letter-exchange': TOPIC_EXCHANGE,
      'x-dead-letter-routing-key': toRoutingKey(will.message.topic),
      'x-expires': delayMs + WILL_QUEUE_GRACE_MS,
      'x-max-length': 1,
    },
  });
  const message = toFabricMessage(will.message, { clientId });
  message.properties.expiration = String(delayMs);
  // the delay is not the message's expiry: carry the real one on after dead-lettering
  delete message.properties.timestamp;
  await fabric.publish('', queue, message, { confirm: true });
}

/** A new connection with this client id cancels a will that is still waiting. */
export async function cancelDelayedWill(fabric: Pick<FabricSession, 'deleteQueue'>, clientId: string): Promise<void> {
  await fabric.deleteQueue(willQueueName(clientId));
}
