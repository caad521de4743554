// Deficit round robin (Shreedhar & Varghese, 1995), pure: no I/O, no clock. Flows with
// something queued take turns in the order they became active; on its turn a flow adds
// `weight × quantum` to its deficit and sends items while the head item's cost fits. A flow
// that runs dry leaves the round and loses its deficit, so idling never banks credit.
//
// In the dispatcher a flow is one publisher queue and an item one delivery (cost 1): a quiet
// publisher whose message arrives joins the round at its tail and is served within one round,
// however long the other flows' backlogs are.
import { Deque } from '../util/deque.js';

interface Flow<T> {
  readonly items: Deque<{ item: T; cost: number }>;
  weight: number;
  deficit: number;
  /** the quantum for the current turn has been added */
  inTurn: boolean;
  /** which of its entries in `round` is live; stale entries are skipped */
  generation: number;
  active: boolean;
}

export interface DrrOptions<F, T> {
  /** credit a weight-1 flow gets per turn, in cost units (default 1) */
  quantum?: number;
  /** a flow's items' order key (ascending), which returnFront() keeps */
  order?: (item: T) => number;
  /** a flow's turn ended with items left: it is backlogged (what fairness is measured among) */
  onCutOff?: (flow: F) => void;
}

export interface Scheduled<F, T> {
  flow: F;
  item: T;
}

export class DeficitRoundRobin<F, T> {
  private readonly flows = new Map<F, Flow<T>>();
  private readonly round = new Deque<{ flow: F; generation: number }>();
  private queued = 0;
  /** generations are unique across flows, so a flow removed and added again never matches an old entry */
  private generations = 0;

  private readonly quantum: number;
  private readonly order: ((item: T) => number) | undefined;
  private readonly onCutOff: ((flow: F) => void) | undefined;

  constructor(opts: DrrOptions<F, T> = {}) {
    this.quantum = opts.quantum ?? 1;
    this.order = opts.order;
    this.onCutOff = opts.onCutOff;
    if (!(this.quantum > 0)) throw new RangeError(`quantum must be > 0, got ${this.quantum}`);
  }

  /** items queued over all flows */
  get size(): number {
    return this.queued;
  }

  /** flows with something queued */
  get activeFlows(): number {
    let n = 0;
    for (const f of this.flows.values()) if (f.active) n++;
    return n;
  }

  backlog(flow: F): number {
    return this.flows.get(flow)?.items.length ?? 0;
  }

  weightOf(flow: F): number {
    return this.flows.get(flow)?.weight ?? 1;
  }

  /** weights are relative shares of the turns; > 0 */
  setWeight(flow: F, weight: number): void {
    if (!(weight > 0) || !Number.isFinite(weight)) throw new RangeError(`weight must be a positive number, got ${weight}`);
    this.flow(flow).weight = weight;
  }

  enqueue(flow: F, item: T, cost = 1): void {
    if (!(cost > 0)) throw new RangeError(`cost must be > 0, got ${cost}`);
    const f = this.flow(flow);
    f.items.push({ item, cost });
    this.queued++;
    if (!f.active) this.activate(flow, f);
  }

  /**
   * Give back an item dequeue() handed out but that could not be sent: it goes to the head of
   * its flow (in `order`, when given) without refunding the credit it used. A flow that had run
   * dry goes first in the round, since its turn was taken already.
   */
  returnFront(flow: F, item: T, cost = 1): void {
    const f = this.flow(flow);
    const entry = { item, cost };
    const order = this.order;
    if (order === undefined) f.items.unshift(entry);
    else f.items.insertOrdered(entry, (e) => order(e.item));
    this.queued++;
    if (f.active) return;
    f.active = true;
    f.generation = ++this.generations;
    f.deficit = 0;
    f.inTurn = false;
    this.round.unshift({ flow, generation: f.generation });
  }

  /** the next item to send, or undefined when nothing is queued */
  dequeue(): Scheduled<F, T> | undefined {
    while (this.round.length > 0) {
      const entry = this.round.peek() as { flow: F; generation: number };
      const f = this.flows.get(entry.flow);
      if (f === undefined || !f.active || f.generation !== entry.generation) {
        this.round.shift();
        continue;
      }
      if (!f.inTurn) {
        f.deficit += f.weight * this.quantum;
        f.inTurn = true;
      }
      const head = f.items.peek();
      if (head !== undefined && f.deficit >= head.cost) {
        f.items.shift();
        this.queued--;
        f.deficit -= head.cost;
        if (f.items.length === 0) this.deactivate(f);
        return { flow: entry.flow, item: head.item };
      }
      // the turn is over: to the back of the round with what is left of the deficit
      this.round.shift();
      f.inTurn = false;
      if (f.items.length > 0) {
        this.round.push(entry);
        this.onCutOff?.(entry.flow);
      } else {
        this.deactivate(f);
      }
    }
    return undefined;
  }

  /** drop a flow and everything queued for it; returns the items in order */
  remove(flow: F): T[] {
    const f = this.flows.get(flow);
    if (f === undefined) return [];
    this.flows.delete(flow);
    const out: T[] = [];
    for (let e = f.items.shift(); e !== undefined; e = f.items.shift()) out.push(e.item);
    this.queued -= out.length;
    return out;
  }

  /** forget a flow's weight and state when nothing is queued for it */
  forgetIfIdle(flow: F): void {
    const f = this.flows.get(flow);
    if (f !== undefined && f.items.length === 0) this.flows.delete(flow);
  }

  private flow(flow: F): Flow<T> {
    let f = this.flows.get(flow);
    if (f === undefined) {
      f = { items: new Deque(4), weight: 1, deficit: 0, inTurn: false, generation: 0, active: false };
      this.flows.set(flow, f);
    }
    return f;
  }

  private activate(flow: F, f: Flow<T>): void {
    f.active = true;
    f.generation = ++this.generations;
    f.deficit = 0;
    f.inTurn = false;
    this.round.push({ flow, generation: f.generation });
  }

  private deactivate(f: Flow<T>): void {
    f.active = false;
    f.deficit = 0;
    f.inTurn = false;
    f.generation = ++this.generations;
  }
}
