// The acks of one consumer channel, coalesced: acks made during one tick go out together,
// and the run of them below the oldest delivery still unsettled on the channel goes as ONE
// basic.ack with `multiple` (everything up to that tag). For the broker a multiple ack is one
// method for the channel process and one settle per queue instead of one each, which is most
// of what an acking consumer costs it beyond a no-ack one.
//
// `multiple` covers every delivery of the channel up to the tag, whichever consumer it went
// to, so it is only used below the lowest tag nobody has settled yet: every delivery below it
// is acked in this batch or was settled before. Acks above it go one by one (one slow
// consumer never holds back another's acks). Nacks go at once, after the acks waiting.

export interface AckSink {
  ack(deliveryTag: number, multiple: boolean): void;
  nack(deliveryTag: number, requeue: boolean): void;
}

export class AckBatch {
  /** delivery tags handed to consumers (that ack) and not settled yet, oldest first */
  private readonly unsettled = new Set<number>();
  private acked: number[] = [];
  private scheduled = false;

  constructor(private readonly sink: AckSink) {}

  /** tags delivered and not settled (acks waiting in the batch count as settled) */
  get outstanding(): number {
    return this.unsettled.size;
  }

  /** the broker delivered `tag` to a consumer that acks */
  delivered(tag: number): void {
    this.unsettled.add(tag);
  }

  ack(tag: number): void {
    if (!this.unsettled.delete(tag)) return;
    this.acked.push(tag);
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(() => this.flush());
    }
  }

  nack(tag: number, requeue: boolean): void {
    if (!this.unsettled.delete(tag)) return;
    this.flush();
    this.sink.nack(tag, requeue);
  }

  /** the broker will not want `tag` settled (its queue is gone): never wait for it */
  forget(tag: number): void {
    this.unsettled.delete(tag);
  }

  /** the channel is gone: the broker requeued everything unsettled */
  clear(): void {
    this.unsettled.clear();
    this.acked = [];
  }

  /** send the acks waiting now */
  flush(): void {
    this.scheduled = false;
    const acked = this.acked;
    if (acked.length === 0) return;
    this.acked = [];
    const floor = this.lowestUnsettled();
    let below = 0;
    let count = 0;
    for (const tag of acked) {
      if (tag > floor) continue;
      count += 1;
      if (tag > below) below = tag;
    }
    if (below > 0) this.sink.ack(below, count > 1);
    for (const tag of acked) if (tag > floor) this.sink.ack(tag, false);
  }

  private lowestUnsettled(): number {
    // a Set iterates in insertion order, and the broker numbers a channel's deliveries upwards
    for (const tag of this.unsettled) return tag;
    return Number.POSITIVE_INFINITY;
  }
}
