// UNIT: selector evaluation — a table of selectors × messages → TRUE / FALSE / UNKNOWN.
import { describe, expect, it } from 'vitest';
import { compileSelector } from '../../../src/protocols/shared/selector/index.js';
import { evaluate, type Outcome } from './support.js';

type Row = [selector: string, headers: Record<string, unknown>, expected: Outcome];

const TYPICAL = "type = 'car' AND price > 1000";

const table: Record<string, Row[]> = {
  'equality and the typical selector': [
    ["type = 'car'", { type: 'car' }, 'T'],
    ["type = 'car'", { type: 'Car' }, 'F'],
    ["type = 'car'", {}, 'U'],
    ["type <> 'car'", { type: 'bike' }, 'T'],
    ["type <> 'car'", { type: 'car' }, 'F'],
    ["type <> 'car'", {}, 'U'],
    ["'car' = type", { type: 'car' }, 'T'],
    [TYPICAL, { type: 'car', price: '1500' }, 'T'],
    [TYPICAL, { type: 'car', price: '1000' }, 'F'],
    [TYPICAL, { type: 'bike', price: '1500' }, 'F'],
    [TYPICAL, { type: 'car' }, 'U'],
    [TYPICAL, { price: '1500' }, 'U'],
    [TYPICAL, { price: '5' }, 'F'],
  ],
  'three-valued logic (JMS 1.1 §3.8.1.2 truth tables)': [
    ['a = 1 OR b = 2', { b: '2' }, 'T'],
    ['a = 1 OR b = 2', { b: '3' }, 'U'],
    ['a = 1 OR b = 2', { a: '2', b: '3' }, 'F'],
    ['a = 1 OR b = 2', {}, 'U'],
    ['a = 1 AND b = 2', { b: '3' }, 'F'],
    ['a = 1 AND b = 2', { b: '2' }, 'U'],
    ['a = 1 AND b = 2', { a: '1', b: '2' }, 'T'],
    ['NOT a = 1', {}, 'U'],
    ['NOT a = 1', { a: '1' }, 'F'],
    ['NOT a = 1', { a: '2' }, 'T'],
    ['NOT (a = 1 OR b = 2)', { b: '3' }, 'U'],
    ['NOT (a = 1 OR b = 2)', { a: '3', b: '3' }, 'T'],
    ['NOT NOT a = 1', { a: '1' }, 'T'],
    ['a = 1 OR b = 2 AND c = 3', { a: '1' }, 'T'], // AND binds tighter than OR
    ['(a = 1 OR b = 2) AND c = 3', { a: '1' }, 'U'],
    ['a = 1 AND b = 2 AND c = 3 AND d = 4', { a: '1', b: '2', c: '3' }, 'U'],
    ['a = 1 AND b = 2 AND c = 3 AND d = 4', { a: '1', b: '2', c: '0' }, 'F'],
    ['a = 1 OR b = 2 OR c = 3 OR d = 4', { d: '4' }, 'T'],
    ['TRUE', {}, 'T'],
    ['FALSE', {}, 'F'],
    ['TRUE AND NOT FALSE', {}, 'T'],
    ['a IS NULL', {}, 'T'],
    ['a IS NULL', { a: '' }, 'F'],
    ['a IS NOT NULL', { a: '' }, 'T'],
    ['a IS NOT NULL', {}, 'F'],
    ['a IS NULL', { a: null }, 'T'],
    ['a IS NULL', { a: undefined }, 'T'],
    ['a IS NULL', { a: { nested: 1 } }, 'T'],
    ['(a + 1) IS NULL', { a: 'x' }, 'T'],
  ],
  'STOMP string headers compared with numbers (ActiveMQ convert_string_expressions)': [
    ['price > 1000', { price: '1500' }, 'T'],
    ['price > 1000', { price: '1000.5' }, 'T'], // ActiveMQ: FALSE (Integer.valueOf fails); see values.ts
    ['price > 1000', { price: '1e4' }, 'T'],
    ['price > 1000', { price: '+1500' }, 'T'],
    ['price > 1000', { price: '-1500' }, 'F'],
    ['price > 1000', { price: 'abc' }, 'F'],
    ['price > 1000', { price: '' }, 'F'],
    ['price > 1000', { price: ' 1500' }, 'F'],
    ['price > 1000', { price: '0x5DC' }, 'F'],
    ['price > 1000', { price: '1500abc' }, 'F'],
    ['price >= 1000', { price: '1000' }, 'T'],
    ['price < 1000', { price: '999.999' }, 'T'],
    ['price <= 1000', { price: '1000.0' }, 'T'],
    ['1000 < price', { price: '1500' }, 'T'],
    ['price = 1000', { price: '1000' }, 'T'],
    ['price = 1000', { price: '1000.0' }, 'T'],
    ['price = 1000', { price: '01000' }, 'T'],
    ['price = 1000', { price: 'abc' }, 'F'],
    ['price <> 1000', { price: 'abc' }, 'T'], // <> is NOT (=), as in ActiveMQ
    ['price <> 1000', { price: '1000' }, 'F'],
    ["price = '1000'", { price: '1000.0' }, 'F'], // two strings: string equality
    ["price = '1000'", { price: '1000' }, 'T'],
    ["'1000' = 1000", {}, 'T'],
    ['price = 2.5', { price: '2.50' }, 'T'],
    ['price > 2.5', { price: '3' }, 'T'],
    ['id = 9007199254740993', { id: '9007199254740993' }, 'T'],
    ['id = 9007199254740993', { id: '9007199254740992' }, 'F'],
    ['id > 9007199254740992', { id: '9007199254740993' }, 'T'],
    ['id < 9223372036854775807', { id: '9223372036854775806' }, 'T'],
    // against a double, the string is read as a double (ActiveMQ: Double.valueOf)
    ['id = 9007199254740993.0', { id: '9007199254740993' }, 'T'],
    ['id = -9223372036854786000', { id: '-9223372036854786000' }, 'T'],
    ['a > b', { a: '10', b: '9' }, 'T'], // two string headers order as numbers, not lexicographically
    ['a > b', { a: 'b', b: 'a' }, 'F'],
    ['a = b', { a: '10', b: '10.0' }, 'F'],
    ['a = b', { a: 'x', b: 'x' }, 'T'],
    ['a = b', { a: 'x' }, 'U'],
    ['a <> b', { a: 'x', b: 'y' }, 'T'],
    ['a <> b', { a: 'x', b: 'x' }, 'F'],
    ['a <> b', { b: 'x' }, 'U'],
    ['a <> b + 0', { a: 'abc', b: '1' }, 'T'],
    ['a + 0 <> b', { a: '1', b: '1.0' }, 'F'],
  ],
  'booleans and type mismatches': [
    ['flag = TRUE', { flag: 'true' }, 'T'],
    ['flag = TRUE', { flag: 'TRUE' }, 'T'],
    ['flag = TRUE', { flag: true }, 'T'],
    ['flag = TRUE', { flag: 'yes' }, 'F'],
    ['flag = FALSE', { flag: 'yes' }, 'F'], // ActiveMQ's Boolean.valueOf would say TRUE
    ['flag = FALSE', { flag: 'False' }, 'T'],
    ['flag <> TRUE', { flag: 'false' }, 'T'],
    ['flag', { flag: 'true' }, 'T'],
    ['flag', { flag: 'no' }, 'F'],
    ['flag', { flag: '1' }, 'F'],
    ['flag', {}, 'U'],
    ['NOT flag', { flag: 'false' }, 'T'],
    ['flag AND a = 1', { flag: 'true', a: '1' }, 'T'],
    ['(flag)', { flag: 'true' }, 'T'],
    ['a = TRUE', { a: '1' }, 'F'],
    ['a > 1', { a: true }, 'F'],
    ['a = 1', { a: true }, 'F'],
    ['a = 1', { a: false }, 'F'],
    ['(a = 1) = TRUE', { a: '1' }, 'T'],
    ['(a = 1) = (b = 2)', { a: '0', b: '0' }, 'T'],
    ['(a = 1) = TRUE', {}, 'U'],
  ],
  'arithmetic (Java long/double semantics)': [
    ['a + b = 5', { a: '2', b: '3' }, 'T'],
    ['a * 2 > 5', { a: '2.6' }, 'T'],
    ['a - 1 = 0', { a: '1' }, 'T'],
    ['7 / 2 = 3', {}, 'T'],
    ['7 / 2.0 = 3.5', {}, 'T'],
    ['-7 / 2 = -3', {}, 'T'],
    ['a / 2 = 3', { a: '7' }, 'T'],
    ['a / 2 = 3.5', { a: '7.0' }, 'T'],
    ['a / 0 = 1', { a: '1' }, 'U'],
    ['a / 0.0 > 1000', { a: '1' }, 'T'],
    ['a % 0 = 1', { a: '1' }, 'U'],
    ['7 % 3 = 1', {}, 'T'],
    ['-7 % 3 = -1', {}, 'T'],
    ['a + 1 = 2', { a: 'x' }, 'U'],
    ['a + 1 = 2', { a: true }, 'U'],
    ['a + 1 = 2', {}, 'U'],
    ['-a = -5', { a: '5' }, 'T'],
    ['-a = -5', { a: 'x' }, 'U'],
    ['+a = 5', { a: '5' }, 'T'],
    ['+a > 1', { a: 'x' }, 'U'],
    ['- - 3 = 3', {}, 'T'],
    ['2 + 3 * 4 = 14', {}, 'T'],
    ['(2 + 3) * 4 = 20', {}, 'T'],
    ['10 - 2 - 3 = 5', {}, 'T'],
    ['16 / 4 / 2 = 2', {}, 'T'],
    ['-2 * -3 = 6', {}, 'T'],
    ['9223372036854775807 + 1 < 0', {}, 'T'], // wraps like a Java long
    ['-9223372036854775808 - 1 > 0', {}, 'T'],
    ['-9223372036854775808 < 0', {}, 'T'],
    ['9223372036854775808 - 1 > 9223372036854775806', {}, 'T'], // beyond a long: approximate
    ['a = 100000000000000000000', { a: '1e20' }, 'T'],
    ['a = 100000000000000000000', { a: '100000000000000000000' }, 'T'],
    ['a * 1000000000000 = 9223372036854775807', { a: '9223372' }, 'F'],
    ['a + 0.5 = 1.5', { a: 1 }, 'T'],
    ['a / 2 = 2', { a: 5 }, 'T'], // a JS integer header is exact
    ['a > 2', { a: 2.5 }, 'T'],
    ['a = 5', { a: 5n }, 'T'],
  ],
  'BETWEEN (JMS: NOT BETWEEN is a < x OR a > y)': [
    ['age BETWEEN 15 AND 19', { age: '15' }, 'T'],
    ['age BETWEEN 15 AND 19', { age: '19' }, 'T'],
    ['age BETWEEN 15 AND 19', { age: '17.5' }, 'T'],
    ['age BETWEEN 15 AND 19', { age: '20' }, 'F'],
    ['age BETWEEN 15 AND 19', { age: 'x' }, 'F'],
    ['age BETWEEN 15 AND 19', {}, 'U'],
    ['age NOT BETWEEN 15 AND 19', { age: '20' }, 'T'],
    ['age NOT BETWEEN 15 AND 19', { age: '14' }, 'T'],
    ['age NOT BETWEEN 15 AND 19', { age: '17' }, 'F'],
    ['age NOT BETWEEN 15 AND 19', {}, 'U'],
    ['age NOT BETWEEN 15 AND 19', { age: 'x' }, 'F'],
    ['age BETWEEN lo AND hi', { age: '5', lo: '1', hi: '9' }, 'T'],
    ['age BETWEEN lo AND hi', { age: '5', hi: '9' }, 'U'],
    ['age BETWEEN lo AND hi', { age: '5', hi: '4' }, 'F'], // UNKNOWN AND FALSE
    ['age BETWEEN 1 + 1 AND 2 * 3 AND x = 1', { age: '4', x: '1' }, 'T'],
  ],
  'IN': [
    ["country IN ('UK', 'US', 'France')", { country: 'UK' }, 'T'],
    ["country IN ('UK', 'US', 'France')", { country: 'Peru' }, 'F'],
    ["country IN ('UK', 'US', 'France')", {}, 'U'],
    ["country IN ('UK', 'US', 'France')", { country: 'uk' }, 'F'],
    ["country NOT IN ('UK', 'US', 'France')", { country: 'UK' }, 'F'],
    ["country NOT IN ('UK', 'US', 'France')", { country: 'Peru' }, 'T'],
    ["country NOT IN ('UK', 'US', 'France')", {}, 'U'],
    ["country IN ('it''s')", { country: "it's" }, 'T'],
    ["JMSPriority IN ('4')", {}, 'U'], // ActiveMQ: IN on a non-string value is UNKNOWN
    ["n IN ('1', '2')", { n: 1 }, 'U'],
    ["(country) IN ('UK')", { country: 'UK' }, 'T'],
  ],
  'LIKE': [
    ["phone LIKE '12%3'", { phone: '123' }, 'T'],
    ["phone LIKE '12%3'", { phone: '12993' }, 'T'],
    ["phone LIKE '12%3'", { phone: '1234' }, 'F'],
    ["phone NOT LIKE '12%3'", { phone: '123' }, 'F'],
    ["phone NOT LIKE '12%3'", { phone: '1234' }, 'T'],
    ["phone LIKE '12%3'", {}, 'U'],
    ["phone NOT LIKE '12%3'", {}, 'U'],
    ["word LIKE 'l_se'", { word: 'lose' }, 'T'],
    ["word LIKE 'l_se'", { word: 'loose' }, 'F'],
    ["u LIKE '\\_%' ESCAPE '\\'", { u: '_foo' }, 'T'],
    ["u LIKE '\\_%' ESCAPE '\\'", { u: 'bar' }, 'F'],
    ["u LIKE 'a!%b' ESCAPE '!'", { u: 'a%b' }, 'T'],
    ["u LIKE 'a!%b' ESCAPE '!'", { u: 'axb' }, 'F'],
    ["u LIKE 'a!b' ESCAPE '!'", { u: 'a!b' }, 'T'], // escape before an ordinary character is literal
    ["u LIKE 'a!!b' ESCAPE '!'", { u: 'a!b' }, 'T'],
    ["u LIKE 'a!!b' ESCAPE '!'", { u: 'a!!b' }, 'F'],
    ["u LIKE '%!' ESCAPE '!'", { u: 'x!' }, 'T'],
    ["name LIKE 'a.b*c'", { name: 'a.b*c' }, 'T'],
    ["name LIKE 'a.b*c'", { name: 'axb*c' }, 'F'],
    ["name LIKE 'a.b*c'", { name: 'a.bbc' }, 'F'],
    ["name LIKE 'a.b*c'", { name: 'a.b*cc' }, 'F'],
    ["name LIKE '(x)+[y]?^$|{2}\\d'", { name: '(x)+[y]?^$|{2}\\d' }, 'T'],
    ["name LIKE '(x)+[y]?^$|{2}\\d'", { name: 'xxy2d' }, 'F'],
    ["name LIKE '%.%'", { name: 'a.b' }, 'T'],
    ["name LIKE '%.%'", { name: 'ab' }, 'F'],
    ["x LIKE '%'", { x: '' }, 'T'],
    ["x LIKE ''", { x: '' }, 'T'],
    ["x LIKE ''", { x: 'a' }, 'F'],
    ["x LIKE '_'", { x: '😀' }, 'T'], // one character, two UTF-16 units
    ["x LIKE '__'", { x: '😀' }, 'F'],
    ["x LIKE 'a_c'", { x: 'a😀c' }, 'T'],
    ["x LIKE '%_😀'", { x: 'a😀' }, 'T'],
    ["x LIKE 'a%b%c'", { x: 'abc' }, 'T'],
    ["x LIKE 'a%b%c'", { x: 'aXbYc' }, 'T'],
    ["x LIKE 'a%b%c'", { x: 'acb' }, 'F'],
    ["x LIKE 'ab%ba'", { x: 'aba' }, 'F'], // prefix and suffix may not overlap
    ["x LIKE 'a%b'", { x: 'a\nb' }, 'T'],
    ["x LIKE 'a_b'", { x: 'a\nb' }, 'T'],
    ["x LIKE '%a_a%'", { x: 'bbaxabb' }, 'T'],
    ["x LIKE '%a__a'", { x: 'aaaa' }, 'T'],
    ["x LIKE 'A%'", { x: 'abc' }, 'F'], // case-sensitive
    ["JMSPriority LIKE '4'", {}, 'F'], // LIKE on a non-string is FALSE
    ["JMSPriority NOT LIKE '4'", {}, 'T'],
    ["'abc' LIKE 'a%'", {}, 'T'],
  ],
  'JMS header identifiers mapped from STOMP headers': [
    ["JMSDeliveryMode = 'PERSISTENT'", { persistent: 'true' }, 'T'],
    ["JMSDeliveryMode = 'PERSISTENT'", { persistent: true }, 'T'],
    ["JMSDeliveryMode = 'PERSISTENT'", {}, 'F'],
    ["JMSDeliveryMode = 'NON_PERSISTENT'", { persistent: 'false' }, 'T'],
    ['JMSPriority = 4', {}, 'T'],
    ['JMSPriority > 5', { priority: '9' }, 'T'],
    ['JMSPriority > 5', { priority: 9 }, 'T'],
    ['JMSPriority > 5', { priority: 'high' }, 'U'],
    ["JMSCorrelationID = 'abc'", { 'correlation-id': 'abc' }, 'T'],
    ['JMSCorrelationID IS NULL', {}, 'T'],
    ["JMSMessageID = 'ID:1'", { 'message-id': 'ID:1' }, 'T'],
    ["JMSType = 'car'", { type: 'car' }, 'T'],
    ['JMSType IS NULL', {}, 'T'],
    ['JMSTimestamp > 1000', { timestamp: '1700000000000' }, 'T'],
    ['JMSTimestamp = 0', {}, 'T'],
    ['JMSExpiration = 0', {}, 'T'],
    ['JMSExpiration > 0', { expires: '1700000000000' }, 'T'],
    ['JMSExpiration / 1000 = 1700000000', { expires: '1700000000999' }, 'T'],
    ['JMSPriority = 4', { JMSPriority: '9' }, 'T'], // the JMS name reads the STOMP header
    ["JMSXGroupID = 'g1'", { JMSXGroupID: 'g1' }, 'T'], // other JMS* names are plain headers
  ],
  'identifiers and literals': [
    ["Type = 'car'", { type: 'car' }, 'U'], // identifiers are case-sensitive
    ["type = 'car' and not price is null", { type: 'car', price: '1' }, 'T'], // keywords are not
    ["type = 'car' aNd price BeTwEeN 1 AnD 2", { type: 'car', price: '1' }, 'T'],
    ['constructor IS NULL', {}, 'T'], // Object.prototype members are not headers
    ["toString = 'x'", {}, 'U'],
    ['__proto__ IS NULL', {}, 'T'],
    ['hasOwnProperty IS NULL', {}, 'T'],
    ["constructor = 'x'", { constructor: 'x' }, 'T'],
    ["größe = 'L'", { größe: 'L' }, 'T'],
    ['$x = 1 AND _y = 2 AND x$1_ = 3', { $x: '1', _y: '2', x$1_: '3' }, 'T'],
    ["name = 'it''s'", { name: "it's" }, 'T'],
    ["name = ''''", { name: "'" }, 'T'],
    ["name = ''", { name: '' }, 'T'],
    ["name = 'a\nb'", { name: 'a\nb' }, 'T'],
    ['a = 0x1F', { a: '31' }, 'T'],
    ['a = 0X1f', { a: '31' }, 'T'],
    ['a = 010', { a: '8' }, 'T'],
    ['a = 0', { a: '0' }, 'T'],
    ['a = 10L', { a: '10' }, 'T'],
    ['a = 0x7FFFFFFFFFFFFFFF', { a: '9223372036854775807' }, 'T'],
    ['.5 = 0.5', {}, 'T'],
    ['5. = 5', {}, 'T'],
    ['1E3 = 1000', {}, 'T'],
    ['1e-3 = 0.001', {}, 'T'],
    ['1.5e+2 = 150', {}, 'T'],
    ['\t\na\r\n=\f1 ', { a: '1' }, 'T'],
    ['a=1 AND b=2', { a: '1', b: '2' }, 'T'],
    ["a='x'AND b='y'", { a: 'x', b: 'y' }, 'T'],
  ],
};

function show(headers: Record<string, unknown>): string {
  return JSON.stringify(headers, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}

describe('selector - evaluation table', () => {
  for (const [group, rows] of Object.entries(table)) {
    describe(group, () => {
      for (const [selector, headers, expected] of rows) {
        it(`${selector} on ${show(headers)} → ${expected}`, () => {
          expect(evaluate(selector, headers)).toBe(expected);
          expect(compileSelector(selector).matches({ headers })).toBe(expected === 'T');
        });
      }
    });
  }
});

describe('selector - API', () => {
  it('keeps the source text and is reusable across messages', () => {
    const s = compileSelector(TYPICAL);
    expect(s.source).toBe(TYPICAL);
    expect(s.matches({ headers: { type: 'car', price: '2000' } })).toBe(true);
    expect(s.matches({ headers: { type: 'car', price: '20' } })).toBe(false);
    expect(s.matches({ headers: { type: 'car', price: '2000' } })).toBe(true);
  });

  it('an empty or blank selector is no selector (JMS) and matches everything', () => {
    for (const text of ['', '   ', '\t\r\n']) {
      const s = compileSelector(text);
      expect(s.source).toBe(text);
      expect(s.matches({ headers: {} })).toBe(true);
    }
  });

  it('works on headers objects without a prototype', () => {
    const headers = Object.assign(Object.create(null) as Record<string, unknown>, { type: 'car', price: '2000' });
    expect(compileSelector(TYPICAL).matches({ headers })).toBe(true);
    expect(compileSelector('constructor IS NULL').matches({ headers })).toBe(true);
  });
});
