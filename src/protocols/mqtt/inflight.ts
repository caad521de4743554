// Per-connection bookkeeping of QoS 1/2 flows, bounded by the in-flight window.
//
//  outbound (server → client): packet id → the fabric delivery to ack on PUBACK / PUBCOMP
//  inbound QoS 2 (client → server): packet ids published and awaiting PUBREL (dedup)

export type OutboundStage = 'awaiting-puback' | 'awaiting-pubrec' | 'awaiting-pubcomp';

export interface OutboundFlight {
  readonly packetId: number;
  stage: OutboundStage;
  /** settle the source (ack the AMQP delivery); called once when the flow completes */
  readonly done: () => void;
}

const MAX_PACKET_ID = 0xffff;

/** Packet ids for server-initiated QoS 1/2 PUBLISH, and the flights they belong to. */
export class OutboundInflight {
  private readonly flights = new Map<number, OutboundFlight>();
  private nextId = 1;

  constructor(private limit: number) {}

  get size(): number {
    return this.flights.size;
  }

  get full(): boolean {
    return this.flights.size >= this.limit;
  }

  /** the client's Receive Maximum may lower the window */
  setLimit(limit: number): void {
    this.limit = limit;
  }

  /** a free packet id, or undefined when the window is full */
  start(qos: 1 | 2, done: () => void): OutboundFlight | undefined {
    if (this.full) return undefined;
    while (this.flights.has(this.nextId)) this.advance();
    const flight: OutboundFlight = { packetId: this.nextId, stage: qos === 1 ? 'awaiting-puback' : 'awaiting-pubrec', done };
    this.flights.set(flight.packetId, flight);
    this.advance();
    return flight;
  }

  private advance(): void {
    this.nextId = this.nextId >= MAX_PACKET_ID ? 1 : this.nextId + 1;
  }

  /** PUBACK: QoS 1 done. False when the id is unknown or in another stage. */
  puback(packetId: number): boolean {
    return this.finish(packetId, 'awaiting-puback');
  }

  /** PUBREC: QoS 2 moves on to PUBREL. With an error reason the flow ends here [MQTT-4.3.3]. */
  pubrec(packetId: number, failed: boolean): boolean {
    const f = this.flights.get(packetId);
    if (f === undefined || f.stage !== 'awaiting-pubrec') return f?.stage === 'awaiting-pubcomp';
    if (failed) return this.finish(packetId, 'awaiting-pubrec');
    f.stage = 'awaiting-pubcomp';
    return true;
  }

  pubcomp(packetId: number): boolean {
    return this.finish(packetId, 'awaiting-pubcomp');
  }

  private finish(packetId: number, stage: OutboundStage): boolean {
    const f = this.flights.get(packetId);
    if (f === undefined || f.stage !== stage) return false;
    this.flights.delete(packetId);
    f.done();
    return true;
  }

  /** forget a flight without completing it (the message was never sent) */
  abort(packetId: number): void {
    this.flights.delete(packetId);
  }

  /** connection gone: the fabric requeues the deliveries; forget the flights */
  clear(): void {
    this.flights.clear();
  }
}

/**
 * Inbound QoS 2: a packet id stays here from the first PUBLISH until PUBREL, so a
 * retransmitted PUBLISH (DUP) is answered without publishing again [MQTT-4.3.3-10].
 * The value is the outcome of the one publish, so a retransmission that arrives before the
 * confirm gets its PUBREC after the same confirm.
 */
export class AwaitingRelease {
  private readonly pending = new Map<number, Promise<number>>();

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.pending.size;
  }

  get full(): boolean {
    return this.pending.size >= this.limit;
  }

  get(packetId: number): Promise<number> | undefined {
    return this.pending.get(packetId);
  }

  /** `outcome` resolves to the PUBREC reason code */
  add(packetId: number, outcome: Promise<number>): void {
    this.pending.set(packetId, outcome);
  }

  release(packetId: number): boolean {
    return this.pending.delete(packetId);
  }

  ids(): number[] {
    return [...this.pending.keys()];
  }
}

/**
 * Acknowledgements to inbound publishes leave in the order the PUBLISHes came in
 * [MQTT-4.6.0-2], even though confirms for different queues may come back in another order.
 * A plain queue, no promise chain: one entry per unanswered PUBLISH (bounded by the window).
 */
export class OrderedAcks {
  private readonly queue: Array<{ done: boolean; failed: boolean; outcome: unknown; send: (outcome: never) => void }> = [];
  private idle: (() => void)[] = [];

  get pending(): number {
    return this.queue.length;
  }

  /** `send` runs once `ready` resolves and every earlier entry has been sent; a rejected `ready` sends nothing */
  push<T>(ready: Promise<T>, send: (outcome: T) => void): void {
    const entry = { done: false, failed: false, outcome: undefined as unknown, send: send as (outcome: never) => void };
    this.queue.push(entry);
    ready.then(
      (outcome) => {
        entry.done = true;
        entry.outcome = outcome;
        this.flush();
      },
      () => {
        entry.done = entry.failed = true;
        this.flush();
      },
    );
  }

  /** an answer that needs nothing but its turn (PUBCOMP) */
  pushReady<T>(outcome: T, send: (outcome: T) => void): void {
    if (this.queue.length === 0) send(outcome);
    else this.queue.push({ done: true, failed: false, outcome, send: send as (outcome: never) => void });
  }

  /** resolves once everything pushed so far has been sent */
  drained(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private flush(): void {
    while (this.queue.length > 0 && this.queue[0]?.done) {
      const entry = this.queue.shift() as (typeof this.queue)[number];
      if (entry.failed) continue;
      try {
        entry.send(entry.outcome as never);
      } catch {
        // a send that throws (connection gone) must not stop the ones behind it
      }
    }
    if (this.queue.length > 0) return;
    const idle = this.idle;
    this.idle = [];
    for (const resolve of idle) resolve();
  }
}
