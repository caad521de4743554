import { describe, expect, it } from 'vitest';
import { DispatchStats, jainIndex } from '../../../src/fair/stats.js';

describe('UNIT: Jain fairness index', () => {
  it('is 1 for equal shares and 1/n when one takes everything', () => {
    expect(jainIndex([5, 5, 5, 5])).toBe(1);
    expect(jainIndex([10, 0, 0, 0])).toBeCloseTo(0.25);
    expect(jainIndex([3, 1])).toBeCloseTo(16 / 20);
    expect(jainIndex([])).toBeNull();
    expect(jainIndex([0, 0])).toBeNull();
  });
});

describe('UNIT: DispatchStats', () => {
  it('counts per second and Jain among publishers backlogged in each bucket, normalised by weight', () => {
    let now = 100_000;
    const stats = new DispatchStats(10_000, 1_000, () => now);
    // second 1: a (weight 2) gets 20, b (weight 1) gets 10: fair by weight
    for (let i = 0; i < 20; i++) stats.dispatched('a', 2);
    for (let i = 0; i < 10; i++) stats.dispatched('b', 1);
    stats.cutOff('a');
    stats.cutOff('b');
    // quiet was never cut off (it had nothing waiting): not counted for fairness
    stats.dispatched('quiet', 1);
    now += 1_000;
    // second 2: unfair, a 30 vs b 10 at equal weights
    for (let i = 0; i < 30; i++) stats.dispatched('a', 1);
    for (let i = 0; i < 10; i++) stats.dispatched('b', 1);
    stats.cutOff('a');
    stats.cutOff('b');
    now += 500;
    const s = stats.summary();
    expect(s.dispatched).toBe(71);
    expect(s.backloggedPublishers).toBe(2);
    // bucket 1: J=1 over 30 messages; bucket 2: J=(40²)/(2·1000)=0.8 over 40
    expect(s.jain).toBeCloseTo((1 * 30 + 0.8 * 40) / 70, 6);
    expect(s.dispatchedPerSecond).toBeCloseTo(71 / 1.5, 1);
    now += 20_000;
    expect(stats.summary()).toMatchObject({ dispatched: 0, jain: null });
    expect(stats.dispatchedTotal).toBe(71);
  });
});
