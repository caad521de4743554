// A message as it sits in an embedded queue.
import type { MessageProperties } from '../types.js';

/** what an exchange hands to a queue */
export interface RoutedMessage {
  exchange: string;
  routingKey: string;
  body: Buffer;
  properties: MessageProperties;
}

export interface QueuedMessage extends RoutedMessage {
  /** position in its queue; requeued messages go back in this order */
  readonly seq: number;
  /** epoch ms after which it must not be delivered; Infinity when it never expires */
  readonly expiresAt: number;
  redelivered: boolean;
}

export type DeathReason = 'rejected' | 'expired' | 'maxlen';
