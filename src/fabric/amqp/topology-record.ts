// What one session declared, in the order it declared it, so that the fabric can declare it
// all again after a broker connection is lost. Declaring the same thing twice keeps one entry
// (in its first position), so the record never grows past what the session currently holds.

import type { ExchangeOptions, ExchangeType, Headers, QueueOptions } from '../types.js';

export type TopologyStep =
  | { kind: 'exchange'; name: string; type: ExchangeType; opts: ExchangeOptions }
  /** serverNamed: declared with '' (RabbitMQ named it amq.gen-…, a name no client may declare again) */
  | { kind: 'queue'; name: string; opts: QueueOptions; serverNamed?: boolean }
  | { kind: 'queueBinding'; queue: string; exchange: string; routingKey: string; args: Headers | undefined }
  | { kind: 'exchangeBinding'; destination: string; source: string; routingKey: string; args: Headers | undefined };

export class TopologyRecord {
  private readonly steps = new Map<string, TopologyStep>();

  add(step: TopologyStep): void {
    this.steps.set(keyOf(step), step);
  }

  remove(step: TopologyStep): void {
    this.steps.delete(keyOf(step));
  }

  /** the queue and every binding of it */
  forgetQueue(name: string): void {
    for (const [key, step] of this.steps) {
      if ((step.kind === 'queue' && step.name === name) || (step.kind === 'queueBinding' && step.queue === name)) this.steps.delete(key);
    }
  }

  /** the exchange and every binding from or to it */
  forgetExchange(name: string): void {
    for (const [key, step] of this.steps) {
      const gone =
        (step.kind === 'exchange' && step.name === name) ||
        (step.kind === 'queueBinding' && step.exchange === name) ||
        (step.kind === 'exchangeBinding' && (step.source === name || step.destination === name));
      if (gone) this.steps.delete(key);
    }
  }

  /** a server-named queue came back under a new name: every step that named it follows */
  renameQueue(from: string, to: string): void {
    const steps = [...this.steps.values()].map((step) => withQueueRenamed(step, from, to));
    this.steps.clear();
    for (const step of steps) this.add(step);
  }

  queue(name: string): QueueOptions | undefined {
    const step = this.steps.get(`q:${name}`);
    return step?.kind === 'queue' ? step.opts : undefined;
  }

  queues(): { name: string; opts: QueueOptions }[] {
    const out: { name: string; opts: QueueOptions }[] = [];
    for (const step of this.steps.values()) if (step.kind === 'queue') out.push({ name: step.name, opts: step.opts });
    return out;
  }

  all(): TopologyStep[] {
    return [...this.steps.values()];
  }

  get size(): number {
    return this.steps.size;
  }

  clear(): void {
    this.steps.clear();
  }
}

export function withQueueRenamed(step: TopologyStep, from: string, to: string): TopologyStep {
  if (step.kind === 'queue' && step.name === from) return { ...step, name: to };
  if (step.kind === 'queueBinding' && step.queue === from) return { ...step, queue: to };
  return step;
}

function keyOf(step: TopologyStep): string {
  switch (step.kind) {
    case 'exchange':
      return `x:${step.name}`;
    case 'queue':
      return `q:${step.name}`;
    case 'queueBinding':
      return `qb:${JSON.stringify([step.queue, step.exchange, step.routingKey, canonical(step.args)])}`;
    case 'exchangeBinding':
      return `xb:${JSON.stringify([step.destination, step.source, step.routingKey, canonical(step.args)])}`;
  }
}

/** binding arguments with sorted keys, so {a,b} and {b,a} are one binding */
function canonical(args: Headers | undefined): unknown {
  if (!args) return null;
  return Object.keys(args)
    .sort()
    .map((k) => [k, args[k]]);
}
