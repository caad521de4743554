import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitTopic, TopicTrie } from '../../../src/fabric/embedded/topic-trie.js';

/** reference matcher: plain recursion over word arrays, no trie */
function matches(pattern: string[], key: string[]): boolean {
  if (pattern.length === 0) return key.length === 0;
  const [p, ...rest] = pattern;
  if (p === '#') {
    for (let i = 0; i <= key.length; i++) if (matches(rest, key.slice(i))) return true;
    return false;
  }
  if (key.length === 0) return false;
  return (p === '*' || p === key[0]) && matches(rest, key.slice(1));
}

const word = fc.constantFrom('a', 'b', 'c', '');
const patternWord = fc.constantFrom('a', 'b', 'c', '', '*', '#');
const key = fc.array(word, { maxLength: 5 }).map((ws) => ws.join('.'));
const pattern = fc.array(patternWord, { maxLength: 5 }).map((ws) => ws.join('.'));

function trieMatch(trie: TopicTrie<number>, k: string): number[] {
  const out = new Set<number>();
  trie.match(k, out);
  return [...out].sort((x, y) => x - y);
}

describe('UNIT: embedded topic trie', () => {
  it('matches exactly what the reference matcher matches', () => {
    fc.assert(
      fc.property(fc.array(pattern, { maxLength: 12 }), fc.array(key, { maxLength: 12 }), (patterns, keys) => {
        const trie = new TopicTrie<number>();
        patterns.forEach((p, i) => trie.add(p, i));
        for (const k of keys) {
          const expected = patterns.flatMap((p, i) => (matches(splitTopic(p), splitTopic(k)) ? [i] : []));
          expect(trieMatch(trie, k)).toEqual(expected);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('removing bindings leaves exactly the remaining ones, and prunes to empty', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(pattern, fc.integer({ min: 0, max: 3 })), { maxLength: 15 }), fc.array(fc.nat(), { maxLength: 15 }), key, (adds, removeIdx, k) => {
        const trie = new TopicTrie<number>();
        const live = [...adds];
        for (const [p, v] of adds) trie.add(p, v);
        for (const r of removeIdx) {
          if (live.length === 0) break;
          const [p, v] = live.splice(r % live.length, 1)[0] as [string, number];
          expect(trie.remove(p, v)).toBe(true);
        }
        const expected = [...new Set(live.filter(([p]) => matches(splitTopic(p), splitTopic(k))).map(([, v]) => v))].sort((x, y) => x - y);
        expect(trieMatch(trie, k)).toEqual(expected);
        expect(trie.size).toBe(live.length);
      }),
      { numRuns: 500 },
    );
  });

  it('removing a binding that is not there changes nothing', () => {
    const trie = new TopicTrie<string>();
    trie.add('a.*', 'q');
    expect(trie.remove('a.#', 'q')).toBe(false);
    expect(trie.remove('a.*', 'other')).toBe(false);
    expect(trieMatch(trie as unknown as TopicTrie<number>, 'a.b')).toEqual(['q']);
  });

  it('stays fast with many bindings and repeated #', () => {
    const trie = new TopicTrie<number>();
    for (let i = 0; i < 50_000; i++) trie.add(`devices.d${i}.${i % 3 === 0 ? '#' : '*'}`, i);
    trie.add('#.#.#.#.#.#.#.#', -1);
    const longKey = Array.from({ length: 40 }, (_, i) => `w${i}`).join('.');
    const t0 = performance.now();
    for (let i = 0; i < 20_000; i++) trieMatch(trie, `devices.d${i}.temp`);
    trieMatch(trie, longKey);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(trieMatch(trie, 'devices.d3.x.y')).toEqual([-1, 3]);
  });
});
