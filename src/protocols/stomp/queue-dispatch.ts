// Gateway-side dispatch among the subscriptions of one shared queue on this process, for the
// two ActiveMQ features AMQP has no notion of:
// - message groups: all messages with the same JMSXGroupID go to one subscription while it
//   lives (JMSXGroupSeq -1 closes the group). The broker hands a message to whichever consumer
//   it likes; if another live subscription owns the group, the message is passed to it and
//   settled later through the consumer that received it.
// - selectors on queues: a message the receiving subscription's selector refuses is passed to
//   another subscription of the queue here whose selector accepts it; when none does, it is
//   requeued after `requeueDelayMs` (so the broker can offer it elsewhere, without a hot loop).
// Limits (documented in docs/stomp.md): ownership is per gateway process — consumers of the
// same queue on other processes do not see it; a process remembers at most `maxGroups` groups
// per queue (the least recently used is forgotten, as ActiveMQ's default group map does).

import type { Delivery } from '../../fabric/types.js';

export interface Settler {
  ack(): void;
  nack(requeue: boolean): void;
}

export interface DispatchMember {
  readonly live: boolean;
  matches(delivery: Delivery): boolean;
  deliver(delivery: Delivery, settler: Settler, foreign: boolean): void;
}

export interface DispatchOptions {
  maxGroups: number;
  requeueDelayMs: number;
}

const GROUP_HEADER = 'JMSXGroupID';
const GROUP_SEQ_HEADER = 'JMSXGroupSeq';

export class QueueDispatch {
  private readonly members = new Set<DispatchMember>();
  /** group id → owner, in least-recently-used order */
  private readonly groups = new Map<string, DispatchMember>();

  constructor(
    private readonly opts: DispatchOptions,
    private readonly onEmpty: () => void,
  ) {}

  get size(): number {
    return this.members.size;
  }

  get groupCount(): number {
    return this.groups.size;
  }

  join(member: DispatchMember): void {
    this.members.add(member);
  }

  leave(member: DispatchMember): void {
    this.members.delete(member);
    for (const [group, owner] of this.groups) if (owner === member) this.groups.delete(group);
    if (this.members.size === 0) this.onEmpty();
  }

  route(receiver: DispatchMember, delivery: Delivery, settler: Settler): void {
    const group = groupOf(delivery);
    const target = group === undefined ? this.pick(receiver, delivery) : this.groupOwner(group, receiver, delivery);
    if (target === undefined) return this.requeueLater(settler);
    target.deliver(delivery, settler, target !== receiver);
    if (group !== undefined && String(delivery.properties.headers?.[GROUP_SEQ_HEADER]) === '-1') this.groups.delete(group);
  }

  private groupOwner(group: string, receiver: DispatchMember, delivery: Delivery): DispatchMember | undefined {
    const owner = this.groups.get(group);
    if (owner !== undefined && owner.live) {
      this.groups.delete(group); // re-insert: most recently used
      this.groups.set(group, owner);
      return owner;
    }
    const chosen = this.pick(receiver, delivery);
    if (chosen === undefined) return undefined;
    this.groups.delete(group);
    if (this.groups.size >= this.opts.maxGroups) this.groups.delete(this.groups.keys().next().value as string);
    this.groups.set(group, chosen);
    return chosen;
  }

  /** the receiver if it wants the message, else another live member that does */
  private pick(receiver: DispatchMember, delivery: Delivery): DispatchMember | undefined {
    if (receiver.live && receiver.matches(delivery)) return receiver;
    for (const m of this.members) if (m !== receiver && m.live && m.matches(delivery)) return m;
    return undefined;
  }

  private requeueLater(settler: Settler): void {
    const timer = setTimeout(() => settler.nack(true), this.opts.requeueDelayMs);
    timer.unref();
  }
}

function groupOf(delivery: Delivery): string | undefined {
  const v = delivery.properties.headers?.[GROUP_HEADER];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Dispatch state per (vhost, queue), shared by every STOMP session of the process. */
export class DispatchRegistry {
  private readonly queues = new Map<string, QueueDispatch>();

  constructor(private readonly opts: DispatchOptions = { maxGroups: 1024, requeueDelayMs: 1000 }) {}

  get size(): number {
    return this.queues.size;
  }

  /** add a member to its queue's dispatch (created on first join, dropped when the last leaves) */
  join(vhost: string, queue: string, member: DispatchMember): QueueDispatch {
    const key = `${vhost}\u0000${queue}`;
    let d = this.queues.get(key);
    if (d === undefined) {
      const created: QueueDispatch = new QueueDispatch(this.opts, () => {
        if (this.queues.get(key) === created) this.queues.delete(key);
      });
      this.queues.set(key, (d = created));
    }
    d.join(member);
    return d;
  }
}
