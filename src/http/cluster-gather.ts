// Asking every process of the group a question, over the node:cluster IPC channel. A worker that
// serves an HTTP request about the whole group (/metrics, /api/*) sends one gather request to
// the primary; the primary asks every worker (the asker too) or just the one named, waits at
// most the request's timeout for each, and replies with the answers it got and the workers that
// did not answer. A worker that hangs is reported as missing, never waited for beyond that.
// Without a cluster, gather() answers from this process alone.
//
//   worker ─gather─► primary ─query─► every worker ─answer─► primary ─gathered─► worker
//
// The questions are named handlers of the worker (QueryHandlers); what they mean and how the
// answers merge is process-group.ts's business, not this module's.
import cluster, { type Worker } from 'node:cluster';

export type QueryHandler = (arg: unknown) => unknown;
export type QueryHandlers = Readonly<Record<string, QueryHandler>>;

export interface Answer {
  worker: number;
  pid: number;
  value: unknown;
}

export interface MissingWorker {
  worker: number;
  pid: number | null;
  reason: string;
}

export interface Gathered {
  /** the worker id of the process that asked (0 without a cluster) */
  self: number;
  /** by worker id */
  answers: Answer[];
  missing: MissingWorker[];
}

export interface GatherOptions {
  /** ask only this worker (cluster worker id); default every worker */
  worker?: number;
  /** how long the primary waits for each worker; default GATHER_TIMEOUT_MS */
  timeoutMs?: number;
}

export interface Gatherer {
  readonly clustered: boolean;
  readonly self: number;
  gather(query: string, arg?: unknown, opts?: GatherOptions): Promise<Gathered>;
  close(): void;
}

/** how long the primary waits for a worker's answer unless the question says otherwise */
export const GATHER_TIMEOUT_MS = 2_000;
/** the longest any question may wait (closing a connection waits for its goodbye) */
export const MAX_GATHER_TIMEOUT_MS = 60_000;
/** gathers one worker may have outstanding; more are refused (503) rather than queued */
export const MAX_PENDING_GATHERS = 32;
/** gathers the primary relays at once, over all workers */
export const MAX_RELAYED_GATHERS = 128;
/** beyond the primary's own timeout, how long a worker waits before giving up on the primary */
const PRIMARY_GRACE_MS = 1_000;

interface GatherRequest { type: 'tributary:gather'; id: number; query: string; arg: unknown; worker: number | null; timeoutMs: number }
interface GatherReply { type: 'tributary:gathered'; id: number; answers: Answer[]; missing: MissingWorker[] }
interface QueryMessage { type: 'tributary:query'; id: number; query: string; arg: unknown }
interface AnswerMessage { type: 'tributary:answer'; id: number; value?: unknown; error?: string }

const typed = <T extends { type: string }>(type: T['type']) => (m: unknown): m is T =>
  typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type;
export const isGatherRequest = typed<GatherRequest>('tributary:gather');
const isGatherReply = typed<GatherReply>('tributary:gathered');
const isQuery = typed<QueryMessage>('tributary:query');
const isAnswer = typed<AnswerMessage>('tributary:answer');

/** an error fastify answers with its statusCode */
export class GroupUnavailable extends Error {
  readonly statusCode = 503;
}

/** this process alone: a cluster worker asks the group, anything else answers itself */
export function createGatherer(handlers: QueryHandlers): Gatherer {
  return cluster.isWorker && cluster.worker !== undefined && process.send !== undefined
    ? new WorkerGatherer(handlers, cluster.worker.id)
    : new LocalGatherer(handlers);
}

async function answerLocally(handlers: QueryHandlers, query: string, arg: unknown): Promise<unknown> {
  const handler = handlers[query];
  if (handler === undefined) throw new Error(`unknown query ${query}`);
  return handler(arg);
}

class LocalGatherer implements Gatherer {
  readonly clustered = false;
  readonly self = 0;
  constructor(private readonly handlers: QueryHandlers) {}

  async gather(query: string, arg?: unknown, opts: GatherOptions = {}): Promise<Gathered> {
    if (opts.worker !== undefined && opts.worker !== this.self) return { self: this.self, answers: [], missing: [] };
    const value = await answerLocally(this.handlers, query, arg);
    return { self: this.self, answers: [{ worker: this.self, pid: process.pid, value }], missing: [] };
  }

  close(): void {}
}

/** a cluster worker: answers the primary's queries, and sends its own gathers to the primary */
class WorkerGatherer implements Gatherer {
  readonly clustered = true;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve(g: Gathered): void; reject(e: Error): void; timer: NodeJS.Timeout }>();
  private readonly onMessage = (m: unknown): void => {
    if (isQuery(m)) void this.answer(m);
    else if (isGatherReply(m)) this.settle(m);
  };

  constructor(private readonly handlers: QueryHandlers, readonly self: number) {
    process.on('message', this.onMessage);
  }

  gather(query: string, arg?: unknown, opts: GatherOptions = {}): Promise<Gathered> {
    if (this.pending.size >= MAX_PENDING_GATHERS) return Promise.reject(new GroupUnavailable(`${MAX_PENDING_GATHERS} requests to the other workers are outstanding: try again`));
    const id = ++this.nextId;
    const timeoutMs = Math.min(opts.timeoutMs ?? GATHER_TIMEOUT_MS, MAX_GATHER_TIMEOUT_MS);
    return new Promise<Gathered>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new GroupUnavailable(`the cluster primary did not answer within ${timeoutMs + PRIMARY_GRACE_MS} ms`));
      }, timeoutMs + PRIMARY_GRACE_MS);
      this.pending.set(id, { resolve, reject, timer });
      const request: GatherRequest = { type: 'tributary:gather', id, query, arg: arg ?? null, worker: opts.worker ?? null, timeoutMs };
      process.send?.(request, (err: Error | null) => {
        if (err === null) return;
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new GroupUnavailable(`cannot reach the cluster primary: ${err.message}`));
      });
    });
  }

  close(): void {
    process.off('message', this.onMessage);
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new GroupUnavailable('stopping'));
      this.pending.delete(id);
    }
  }

  private settle(reply: GatherReply): void {
    const p = this.pending.get(reply.id);
    if (p === undefined) return; // timed out already
    this.pending.delete(reply.id);
    clearTimeout(p.timer);
    p.resolve({ self: this.self, answers: reply.answers, missing: reply.missing });
  }

  private async answer(query: QueryMessage): Promise<void> {
    let message: AnswerMessage;
    try {
      message = { type: 'tributary:answer', id: query.id, value: await answerLocally(this.handlers, query.query, query.arg) };
    } catch (err) {
      message = { type: 'tributary:answer', id: query.id, error: (err as Error).message };
    }
    process.send?.(message, () => undefined);
  }
}

/** what the relay needs of a cluster worker */
export type RelayWorker = Pick<Worker, 'id' | 'send' | 'isConnected'> & { process: { pid?: number | undefined } };

interface Relayed {
  asker: RelayWorker;
  askerId: number;
  waiting: Map<number, RelayWorker>;
  answers: Answer[];
  missing: MissingWorker[];
  timer: NodeJS.Timeout | null;
}

/** the primary's side: fans a worker's gather out to the workers and the answers back in */
export class GatherRelay {
  private nextId = 0;
  private readonly relayed = new Map<number, Relayed>();

  constructor(private readonly workers: () => readonly RelayWorker[]) {}

  /** true when the message was part of a gather (and has been handled) */
  onMessage(from: RelayWorker, m: unknown): boolean {
    if (isGatherRequest(m)) this.start(from, m);
    else if (isAnswer(m)) this.collect(from, m);
    else return false;
    return true;
  }

  /** a worker exited or lost its channel: nothing more will come from it */
  workerGone(worker: RelayWorker): void {
    for (const [id, r] of this.relayed) {
      if (!r.waiting.delete(worker.id)) continue;
      r.missing.push({ worker: worker.id, pid: worker.process.pid ?? null, reason: 'exited' });
      if (r.waiting.size === 0) this.finish(id);
    }
  }

  get outstanding(): number {
    return this.relayed.size;
  }

  private start(asker: RelayWorker, request: GatherRequest): void {
    const targets = this.workers().filter((w) => request.worker === null || w.id === request.worker);
    const r: Relayed = { asker, askerId: request.id, waiting: new Map(), answers: [], missing: [], timer: null };
    const id = ++this.nextId;
    this.relayed.set(id, r);
    if (this.relayed.size > MAX_RELAYED_GATHERS) {
      for (const w of targets) r.missing.push({ worker: w.id, pid: w.process.pid ?? null, reason: 'busy' });
      this.finish(id);
      return;
    }
    const query: QueryMessage = { type: 'tributary:query', id, query: request.query, arg: request.arg };
    for (const w of targets) {
      if (!w.isConnected()) {
        r.missing.push({ worker: w.id, pid: w.process.pid ?? null, reason: 'not connected' });
        continue;
      }
      r.waiting.set(w.id, w);
      w.send(query, (err: Error | null) => {
        if (err !== null) this.workerGone(w);
      });
    }
    if (r.waiting.size === 0) {
      this.finish(id);
      return;
    }
    const timeoutMs = Math.min(Math.max(0, request.timeoutMs), MAX_GATHER_TIMEOUT_MS);
    r.timer = setTimeout(() => {
      for (const w of r.waiting.values()) r.missing.push({ worker: w.id, pid: w.process.pid ?? null, reason: `no answer within ${timeoutMs} ms` });
      r.waiting.clear();
      this.finish(id);
    }, timeoutMs);
  }

  private collect(from: RelayWorker, answer: AnswerMessage): void {
    const r = this.relayed.get(answer.id);
    if (r === undefined || !r.waiting.delete(from.id)) return; // late: already reported missing
    const pid = from.process.pid ?? 0;
    if (answer.error !== undefined) r.missing.push({ worker: from.id, pid, reason: `failed: ${answer.error}` });
    else r.answers.push({ worker: from.id, pid, value: answer.value });
    if (r.waiting.size === 0) this.finish(answer.id);
  }

  private finish(id: number): void {
    const r = this.relayed.get(id);
    if (r === undefined) return;
    this.relayed.delete(id);
    if (r.timer !== null) clearTimeout(r.timer);
    const reply: GatherReply = {
      type: 'tributary:gathered',
      id: r.askerId,
      answers: r.answers.sort((a, b) => a.worker - b.worker),
      missing: r.missing.sort((a, b) => a.worker - b.worker),
    };
    if (r.asker.isConnected()) r.asker.send(reply, () => undefined);
  }
}
