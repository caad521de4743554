// Server → client PUBLISH: packet ids, the in-flight window, topic aliases, the client's
// Maximum Packet Size, and when the source (an AMQP delivery) is acknowledged:
//   QoS 0: once the bytes are handed to the socket (after 'drain' when the socket is backed
//          up), so a slow reader slows its queue (prefetch) instead of growing memory here;
//   QoS 1: on PUBACK;  QoS 2: on PUBCOMP (after PUBREC → PUBREL).
// Deliveries beyond the window wait in `pending`, which the consumers' prefetch bounds.

import type { IPublishPacket, ProtocolVersion } from './codec.js';
import { encode } from './codec.js';
import { OutboundInflight } from './inflight.js';
import type { MqttMessageProperties, QoS } from './properties.js';

export interface OutboundMessage {
  topic: string;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  payload: Buffer;
  properties?: MqttMessageProperties;
  subscriptionIds?: number[];
  /** settle the source: 'ack' when delivered (or dropped for good); absent: nothing to settle (no-ack) */
  settle?: () => void;
}

export interface OutboundOptions {
  version: ProtocolVersion;
  window: number;
  /** the client's Maximum Packet Size (MQTT 5), or undefined */
  maxPacketBytes: number | undefined;
  /** the client's Topic Alias Maximum (MQTT 5), 0 = none */
  topicAliasMaximum: number;
  /** write bytes; `afterFlush` once they went to the socket (after 'drain' if it is backed up) */
  write(bytes: Buffer, afterFlush?: () => void): void;
  /** a message dropped without being sent (too large for the client) */
  onDropped(reason: string): void;
  onDelivered(): void;
}

export class Outbound {
  private readonly inflight: OutboundInflight;
  private readonly pending: OutboundMessage[] = [];
  private readonly aliases = new Map<string, number>();
  private closed = false;

  constructor(private readonly opts: OutboundOptions) {
    this.inflight = new OutboundInflight(opts.window);
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  send(m: OutboundMessage): void {
    if (this.closed) return;
    if (m.qos > 0 && (this.inflight.full || this.pending.length > 0)) {
      this.pending.push(m);
      return;
    }
    this.transmit(m);
  }

  puback(packetId: number): boolean {
    const known = this.inflight.puback(packetId);
    this.pump();
    return known;
  }

  /** false: no such flow; the caller answers PUBREL anyway only when it was known */
  pubrec(packetId: number, failed: boolean): boolean {
    const known = this.inflight.pubrec(packetId, failed);
    if (failed) this.pump();
    return known;
  }

  pubcomp(packetId: number): boolean {
    const known = this.inflight.pubcomp(packetId);
    this.pump();
    return known;
  }

  close(): void {
    this.closed = true;
    this.pending.length = 0;
    this.inflight.clear();
  }

  private pump(): void {
    while (!this.closed && this.pending.length > 0 && !this.inflight.full) this.transmit(this.pending.shift() as OutboundMessage);
  }

  private transmit(m: OutboundMessage): void {
    const flight = m.qos > 0 ? this.inflight.start(m.qos as 1 | 2, m.settle ?? noop) : undefined;
    const bytes = encode(this.packetFor(m, flight?.packetId), this.opts.version);
    if (this.opts.maxPacketBytes !== undefined && bytes.length > this.opts.maxPacketBytes) {
      // [MQTT-3.1.2-25]: discard as if it had been sent
      if (flight !== undefined) this.inflight.abort(flight.packetId);
      this.opts.onDropped('packet_too_large');
      m.settle?.();
      return;
    }
    this.opts.write(bytes, m.qos === 0 ? m.settle : undefined);
    this.opts.onDelivered();
  }

  private packetFor(m: OutboundMessage, packetId: number | undefined): IPublishPacket {
    const packet: IPublishPacket = { cmd: 'publish', topic: m.topic, qos: m.qos, dup: m.dup, retain: m.retain, payload: m.payload };
    if (packetId !== undefined) packet.messageId = packetId;
    if (this.opts.version === 5) {
      const props: NonNullable<typeof packet.properties> = { ...m.properties };
      if (m.subscriptionIds !== undefined && m.subscriptionIds.length > 0) {
        props.subscriptionIdentifier = m.subscriptionIds.length === 1 ? (m.subscriptionIds[0] as number) : m.subscriptionIds;
      }
      this.applyAlias(packet, props);
      if (Object.keys(props).length > 0) packet.properties = props;
    }
    return packet;
  }

  /** the first message on a topic carries topic + alias, later ones only the alias */
  private applyAlias(packet: IPublishPacket, props: NonNullable<IPublishPacket['properties']>): void {
    if (this.opts.topicAliasMaximum === 0) return;
    const known = this.aliases.get(packet.topic);
    if (known !== undefined) {
      props.topicAlias = known;
      packet.topic = '';
      return;
    }
    if (this.aliases.size >= this.opts.topicAliasMaximum) return;
    const alias = this.aliases.size + 1;
    this.aliases.set(packet.topic, alias);
    props.topicAlias = alias;
  }
}

function noop(): void {}
