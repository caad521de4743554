import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bindingKeyFor, isReservedUri, isValidPattern, isValidUri, matcherFor, type MatchPolicy } from '../../../src/protocols/wamp/uri.js';

// a tiny amq.topic matcher (words, * one, # zero or more) to check bindings are wide enough
function amqpTopicMatches(binding: string, key: string): boolean {
  const b = binding.split('.');
  const k = key.split('.');
  const go = (i: number, j: number): boolean => {
    if (i === b.length) return j === k.length;
    if (b[i] === '#') return go(i + 1, j) || (j < k.length && go(i, j + 1));
    return j < k.length && (b[i] === '*' || b[i] === k[j]) && go(i + 1, j + 1);
  };
  return go(0, 0);
}

describe('UNIT: wamp uri - validity', () => {
  it.each(['a', 'com.myapp.topic1', 'com.my-app.x_y', 'a.*.b', 'ä.ö'])('%s is a valid URI', (uri) => {
    expect(isValidUri(uri)).toBe(true);
  });
  it.each(['', 'a..b', '.a', 'a.', 'a b', 'a.#', 'a\tb', 'x'.repeat(256)])('%j is not a valid URI', (uri) => {
    expect(isValidUri(uri)).toBe(false);
  });
  it('wildcard patterns may have empty components, exact ones may not', () => {
    expect(isValidPattern('com..x', 'wildcard')).toBe(true);
    expect(isValidPattern('com..x', 'exact')).toBe(false);
    expect(isValidPattern('', 'wildcard')).toBe(false);
    expect(isValidPattern('', 'prefix')).toBe(true);
    expect(isValidPattern('com.myapp.', 'prefix')).toBe(true);
    expect(isValidPattern('com.a b', 'prefix')).toBe(false);
  });
  it('wamp.* is reserved', () => {
    expect(isReservedUri('wamp.session.count')).toBe(true);
    expect(isReservedUri('wampy.x')).toBe(false);
  });
});

describe('UNIT: wamp uri - bindings and matching', () => {
  const table: Array<[string, MatchPolicy, string, string[], string[]]> = [
    ['com.a.temp', 'exact', 'com.a.temp', ['com.a.temp'], ['com.a.temp2', 'com.a', 'com.a.temp.x']],
    ['com..temp', 'wildcard', 'com.*.temp', ['com.a.temp', 'com.b.temp'], ['com.temp', 'com.a.b.temp', 'com.a.temp2']],
    ['com.a.*', 'exact', 'com.a.*', ['com.a.*'], ['com.a.b']],
    // WAMP prefix is a string prefix (Crossbar: com.myapp matches com.myapp2.foobar)
    ['com.myapp', 'prefix', 'com.#', ['com.myapp', 'com.myapp2.foobar', 'com.myapp.x.y'], ['com.other', 'com', 'org.myapp']],
    ['com.myapp.', 'prefix', 'com.myapp.#', ['com.myapp.x', 'com.myapp.x.y'], ['com.myapp', 'com.myapp2']],
    ['com', 'prefix', '#', ['com', 'community.x', 'com.a'], ['org']],
    ['', 'prefix', '#', ['anything.at.all'], []],
  ];
  it.each(table)('%s (%s) binds %s and filters', (uri, match, binding, yes, no) => {
    expect(bindingKeyFor(uri, match)).toBe(binding);
    const matches = matcherFor(uri, match);
    for (const topic of yes) {
      expect(matches(topic), topic).toBe(true);
      expect(amqpTopicMatches(binding, topic), `binding ${binding} receives ${topic}`).toBe(true);
    }
    for (const topic of no) expect(matches(topic), topic).toBe(false);
  });

  it('property: the binding receives every topic the pattern matches', () => {
    const component = fc.stringMatching(/^[a-z*]{1,3}$/);
    const topic = fc.array(component, { minLength: 1, maxLength: 4 }).map((c) => c.join('.'));
    const pattern = fc.tuple(fc.array(fc.oneof(component, fc.constant('')), { minLength: 1, maxLength: 4 }), fc.constantFrom<MatchPolicy>('exact', 'prefix', 'wildcard'));
    fc.assert(fc.property(pattern, topic, ([parts, match], t) => {
      const uri = parts.join('.');
      if (!isValidPattern(uri, match)) return;
      if (matcherFor(uri, match)(t)) expect(amqpTopicMatches(bindingKeyFor(uri, match), t)).toBe(true);
    }), { numRuns: 5000 });
  });
});
