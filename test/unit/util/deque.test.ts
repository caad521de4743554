import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Deque } from '../../../src/util/deque.js';

type Op = { op: 'push' | 'unshift'; v: number } | { op: 'shift' } | { op: 'drain' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constantFrom('push' as const, 'unshift' as const), v: fc.integer({ min: 0, max: 100 }) }),
  fc.constant({ op: 'shift' as const }),
  fc.constant({ op: 'drain' as const }),
);

describe('UNIT: deque', () => {
  it('behaves like an array model under any sequence of operations', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200 }), (ops) => {
        const d = new Deque<number>(4);
        let model: number[] = [];
        for (const o of ops) {
          switch (o.op) {
            case 'push':
              d.push(o.v);
              model.push(o.v);
              break;
            case 'unshift':
              d.unshift(o.v);
              model.unshift(o.v);
              break;
            case 'shift':
              expect(d.shift()).toBe(model.shift());
              break;
            case 'drain':
              expect(d.drain()).toEqual(model);
              model = [];
              break;
          }
          expect(d.length).toBe(model.length);
          expect(d.peek()).toBe(model[0]);
        }
        expect([...d]).toEqual(model);
        model.forEach((v, i) => expect(d.at(i)).toBe(v));
      }),
      { numRuns: 300 },
    );
  });

  it('insertOrdered keeps a sorted deque sorted, wrapped or not', () => {
    const sortedOp = fc.oneof(
      fc.record({ op: fc.constantFrom('append' as const, 'insert' as const), v: fc.integer({ min: 0, max: 50 }) }),
      fc.constant({ op: 'shift' as const, v: 0 }),
    );
    fc.assert(
      fc.property(fc.array(sortedOp, { maxLength: 200 }), (ops) => {
        const d = new Deque<number>(4);
        const model: number[] = [];
        for (const { op, v } of ops) {
          if (op === 'shift') {
            expect(d.shift()).toBe(model.shift());
          } else if (op === 'append') {
            const next = (model[model.length - 1] ?? 0) + v;
            d.push(next);
            model.push(next);
          } else {
            d.insertOrdered(v, (x) => x);
            const i = model.findIndex((x) => x >= v);
            model.splice(i < 0 ? model.length : i, 0, v);
          }
          expect([...d]).toEqual(model);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('inserts near the head of a wrapped buffer', () => {
    const d = new Deque<number>(4);
    for (const v of [5, 6, 7, 8]) d.push(v);
    d.shift();
    d.shift();
    d.push(9);
    d.push(10); // wrapped
    d.insertOrdered(1, (x) => x);
    d.insertOrdered(8, (x) => x);
    d.insertOrdered(11, (x) => x);
    expect([...d]).toEqual([1, 7, 8, 8, 9, 10, 11]);
  });
});
