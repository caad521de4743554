// LIKE patterns (JMS 1.1 §3.8.1.2): '_' is any one character, '%' any sequence (also empty),
// everything else (regex metacharacters included) is itself; matching is case-sensitive and
// covers the whole value. ESCAPE c: c before '%', '_' or c makes that character literal; before
// anything else (or at the end) c is itself literal, as in ActiveMQ's LikeExpression.
//
// No regex: a pattern is split at '%' into segments of literals and '_'. The first segment must
// match at the start, the last at the end, and each middle one is found leftmost after the
// previous (with fixed-width segments, leftmost is always right). Time is O(value × pattern)
// at worst, with no backtracking blow-up whatever the pattern. Characters are code points:
// '_' takes a surrogate pair as one character, like Java's regex '.'.

const ANY_ONE = -1;

/** A segment: UTF-16 units to match, with ANY_ONE for '_'. */
type Segment = number[];

function isHigh(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}
function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Width in units of the character at i (2 for a surrogate pair). */
function width(s: string, i: number): number {
  return isHigh(s.charCodeAt(i)) && isLow(s.charCodeAt(i + 1)) ? 2 : 1;
}

/** Matches seg forwards from i; the end offset, or -1. */
function matchForward(s: string, i: number, seg: Segment, limit: number): number {
  for (let k = 0; k < seg.length; k++) {
    if (i >= limit) return -1;
    const u = seg[k] as number;
    if (u === ANY_ONE) {
      i += width(s, i);
      if (i > limit) return -1;
    } else if (s.charCodeAt(i) === u) {
      i++;
    } else {
      return -1;
    }
  }
  return i;
}

/** Matches seg backwards so that it ends at `end`; the start offset, or -1. */
function matchBackward(s: string, end: number, seg: Segment, floor: number): number {
  let i = end;
  for (let k = seg.length - 1; k >= 0; k--) {
    if (i <= floor) return -1;
    const u = seg[k] as number;
    if (u === ANY_ONE) {
      i -= i - 2 >= floor && isLow(s.charCodeAt(i - 1)) && isHigh(s.charCodeAt(i - 2)) ? 2 : 1;
    } else if (s.charCodeAt(i - 1) === u) {
      i--;
    } else {
      return -1;
    }
  }
  return i;
}

function parsePattern(pattern: string, escape: string | undefined): Segment[] {
  const segments: Segment[] = [[]];
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    const current = segments[segments.length - 1] as Segment;
    if (escape !== undefined && ch === escape) {
      const next = chars[i + 1];
      if (next === '%' || next === '_' || next === escape) {
        for (let k = 0; k < next.length; k++) current.push(next.charCodeAt(k));
        i++;
        continue;
      }
    }
    if (ch === '%') {
      segments.push([]);
      continue;
    }
    if (ch === '_') {
      current.push(ANY_ONE);
      continue;
    }
    for (let k = 0; k < ch.length; k++) current.push(ch.charCodeAt(k));
  }
  return segments;
}

function literalOf(seg: Segment): string | undefined {
  if (seg.includes(ANY_ONE)) return undefined;
  return String.fromCharCode(...seg);
}

/** Compiles a LIKE pattern to a matcher (linear in the value for a given pattern). */
export function compileLike(pattern: string, escape?: string): (value: string) => boolean {
  const segments = parsePattern(pattern, escape);
  const first = segments[0] as Segment;

  if (segments.length === 1) {
    const lit = literalOf(first);
    if (lit !== undefined) return (s) => s === lit;
    return (s) => matchForward(s, 0, first, s.length) === s.length;
  }

  const last = segments[segments.length - 1] as Segment;
  const middle = segments.slice(1, -1).filter((seg) => seg.length > 0);

  // fast paths: 'abc%', '%abc', '%abc%' with plain literals
  const firstLit = literalOf(first);
  const lastLit = literalOf(last);
  if (middle.length === 0 && firstLit !== undefined && lastLit !== undefined) {
    return (s) => s.length >= firstLit.length + lastLit.length && s.startsWith(firstLit) && s.endsWith(lastLit);
  }
  if (middle.length === 1 && first.length === 0 && last.length === 0) {
    const midLit = literalOf(middle[0] as Segment);
    if (midLit !== undefined) return (s) => s.includes(midLit);
  }

  return (s) => {
    const n = s.length;
    let pos = matchForward(s, 0, first, n);
    if (pos < 0) return false;
    const limit = matchBackward(s, n, last, pos); // start of the last segment
    if (limit < 0) return false;
    for (const seg of middle) {
      let found = -1;
      for (let i = pos; i < limit; i += width(s, i)) {
        const end = matchForward(s, i, seg, limit);
        if (end >= 0) {
          found = end;
          break;
        }
      }
      if (found < 0) return false;
      pos = found;
    }
    return true;
  };
}
