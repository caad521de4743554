import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeficitRoundRobin } from '../../../src/fair/drr.js';

function fill(drr: DeficitRoundRobin<string, string>, backlogs: Record<string, number>): void {
  for (const [flow, n] of Object.entries(backlogs)) for (let i = 1; i <= n; i++) drr.enqueue(flow, `${flow}${i}`);
}

function drain(drr: DeficitRoundRobin<string, string>, limit = Infinity): string[] {
  const out: string[] = [];
  for (let next = drr.dequeue(); next !== undefined && out.length < limit; next = out.length < limit ? drr.dequeue() : undefined) out.push(next.item);
  return out;
}

describe('UNIT: DeficitRoundRobin', () => {
  it('serves equal-weight backlogs one item per flow per round, in activation order', () => {
    const drr = new DeficitRoundRobin<string, string>();
    fill(drr, { a: 5, b: 2, c: 3 });
    expect(drr.size).toBe(10);
    expect(drain(drr)).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'c2', 'a3', 'c3', 'a4', 'a5']);
    expect(drr.size).toBe(0);
    expect(drr.dequeue()).toBeUndefined();
  });

  it('a FIFO would put the quiet flow behind the whole backlog; DRR serves it in the next round', () => {
    const drr = new DeficitRoundRobin<string, string>();
    fill(drr, { flood: 1000 });
    expect(drain(drr, 3)).toEqual(['flood1', 'flood2', 'flood3']);
    // the flood has used its turn's credit: the quiet flow goes next
    drr.enqueue('quiet', 'q1');
    expect(drain(drr, 3)).toEqual(['q1', 'flood4', 'flood5']);
  });

  it('honours weights: 3:1 gives three items per turn against one', () => {
    const drr = new DeficitRoundRobin<string, string>();
    drr.setWeight('a', 3);
    fill(drr, { a: 9, b: 3 });
    expect(drain(drr)).toEqual(['a1', 'a2', 'a3', 'b1', 'a4', 'a5', 'a6', 'b2', 'a7', 'a8', 'a9', 'b3']);
  });

  it('fractional weights: a 0.5 flow is served every other round', () => {
    const drr = new DeficitRoundRobin<string, string>();
    drr.setWeight('slow', 0.5);
    fill(drr, { fast: 4, slow: 2 });
    expect(drain(drr)).toEqual(['fast1', 'fast2', 'slow1', 'fast3', 'fast4', 'slow2']);
  });

  it('a flow that runs dry leaves the round and banks no credit', () => {
    const drr = new DeficitRoundRobin<string, string>();
    drr.setWeight('a', 4);
    fill(drr, { a: 1, b: 3 });
    expect(drain(drr, 2)).toEqual(['a1', 'b1']);
    // a comes back with 5 items: it joins behind b and starts from zero deficit, so one turn
    // (quantum 4) serves 4 items, not 4 plus the 3 it did not use last time
    for (const i of [2, 3, 4, 5, 6]) drr.enqueue('a', `a${i}`);
    expect(drain(drr)).toEqual(['a2', 'a3', 'a4', 'a5', 'b2', 'a6', 'b3']);
  });

  it('costs: a flow of cost-2 items gets half the items of a cost-1 flow at equal weight', () => {
    const drr = new DeficitRoundRobin<string, string>({ quantum: 2 });
    for (let i = 1; i <= 4; i++) drr.enqueue('big', `big${i}`, 2);
    for (let i = 1; i <= 8; i++) drr.enqueue('small', `small${i}`, 1);
    expect(drain(drr, 6)).toEqual(['big1', 'small1', 'small2', 'big2', 'small3', 'small4']);
  });

  it('remove() drops a flow with its items, and a stale round entry is skipped', () => {
    const drr = new DeficitRoundRobin<string, string>();
    fill(drr, { a: 3, b: 3 });
    expect(drr.remove('a')).toEqual(['a1', 'a2', 'a3']);
    expect(drr.size).toBe(3);
    drr.enqueue('a', 'a9');
    expect(drain(drr)).toEqual(['b1', 'a9', 'b2', 'b3']);
  });

  it('reports backlog, active flows and weights; rejects bad weights and costs', () => {
    const drr = new DeficitRoundRobin<string, string>();
    fill(drr, { a: 2, b: 1 });
    expect(drr.backlog('a')).toBe(2);
    expect(drr.activeFlows).toBe(2);
    expect(drr.weightOf('zzz')).toBe(1);
    expect(() => drr.setWeight('a', 0)).toThrow(RangeError);
    expect(() => drr.setWeight('a', Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => drr.enqueue('a', 'x', 0)).toThrow(RangeError);
    expect(() => new DeficitRoundRobin({ quantum: 0 })).toThrow(RangeError);
    drain(drr);
    drr.forgetIfIdle('a');
    expect(drr.weightOf('a')).toBe(1);
  });

  it('returnFront puts a refused item back at its place and reports cut-off (backlogged) flows', () => {
    const cut: string[] = [];
    const drr = new DeficitRoundRobin<string, string>({ order: (s) => Number(s.slice(1)), onCutOff: (f) => cut.push(f) });
    fill(drr, { a: 3, b: 1 });
    const a1 = drr.dequeue();
    const b1 = drr.dequeue();
    expect([a1?.item, b1?.item]).toEqual(['a1', 'b1']);
    expect(cut).toEqual(['a']); // a's turn ended with a2, a3 waiting
    // b1 refused: b had run dry, so it goes first again; a2 refused after a3 was taken: back before a3's successors
    drr.returnFront('b', 'b1');
    expect(drr.dequeue()?.item).toBe('b1');
    const a2 = drr.dequeue();
    expect(a2?.item).toBe('a2');
    drr.returnFront('a', 'a2');
    expect(drain(drr)).toEqual(['a2', 'a3']);
    expect(cut).toContain('a');
    expect(cut).not.toContain('b');
  });

  it('property: backlogged flows get service proportional to weight within one item per flow', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 2, maxLength: 6 }),
        fc.integer({ min: 10, max: 400 }),
        (weights, take) => {
          const drr = new DeficitRoundRobin<number, number>();
          weights.forEach((w, flow) => {
            drr.setWeight(flow, w);
            for (let i = 0; i < 10_000; i++) drr.enqueue(flow, i);
          });
          const served = weights.map(() => 0);
          for (let i = 0; i < take; i++) {
            const next = drr.dequeue();
            if (next === undefined) throw new Error('ran dry');
            served[next.flow] = (served[next.flow] as number) + 1;
          }
          // after any prefix, normalised service differs by at most one quantum + one item
          const norm = served.map((s, i) => s / (weights[i] as number));
          const spread = Math.max(...norm) - Math.min(...norm);
          return spread <= 1 + 1 / Math.min(...weights) + 1e-9;
        },
      ),
    );
  });
});
