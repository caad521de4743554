import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { jsonSerializer, msgpackSerializer, serializerFor } from '../../../src/protocols/wamp/serializer.js';

// msgpack5 is what autobahn (the reference client) serializes with: plain MessagePack
const msgpack5 = createRequire(import.meta.url)('msgpack5')({ forceFloat64: true }) as {
  encode(v: unknown): Buffer;
  decode(b: Buffer): unknown;
};

describe('UNIT: wamp serializers', () => {
  it('picks by subprotocol', () => {
    expect(serializerFor('wamp.2.msgpack')).toBe(msgpackSerializer);
    expect(serializerFor('wamp.2.json')).toBe(jsonSerializer);
    expect(jsonSerializer.binary).toBe(false);
    expect(msgpackSerializer.binary).toBe(true);
  });

  it('JSON carries binary as "\\0" + base64, both ways', () => {
    const text = jsonSerializer.encode([36, 1, 2, {}, [Buffer.from([1, 2, 3])]]);
    expect(text).toBe('[36,1,2,{},["\\u0000AQID"]]');
    const back = jsonSerializer.decode(Buffer.from(text));
    expect(back).toEqual({ ok: true, value: [36, 1, 2, {}, [Buffer.from([1, 2, 3])]] });
  });

  it('JSON finds binary wherever it is nested (plain values skip the replacer)', () => {
    const nested = [50, 7, {}, [1, { deep: [[new Uint8Array([255])]] }], { k: { b: Buffer.from('hi') } }];
    expect(jsonSerializer.encode(nested)).toBe('[50,7,{},[1,{"deep":[["\\u0000/w=="]]}],{"k":{"b":"\\u0000aGk="}}]');
    expect(jsonSerializer.encode([36, 1, 2, { topic: 'a.b' }, ['text', 1.5, null, true]])).toBe('[36,1,2,{"topic":"a.b"},["text",1.5,null,true]]');
    expect(jsonSerializer.encode([8, 48, 1, { at: new Date(0) }, 'e'])).toBe('[8,48,1,{"at":"1970-01-01T00:00:00.000Z"},"e"]');
  });

  it('JSON refuses text that is not UTF-8 or not JSON', () => {
    expect(jsonSerializer.decode(Buffer.from([0x5b, 0xff, 0x5d])).ok).toBe(false);
    expect(jsonSerializer.decode(Buffer.from('[1,')).ok).toBe(false);
  });

  it('MessagePack interoperates with a plain MessagePack peer (msgpack5)', () => {
    const message = [36, 2 ** 40, 2 ** 53, { topic: 'a.b', n: -1.5 }, [Buffer.from('bin'), 'str', null, true], { k: [1, 2] }];
    expect(msgpack5.decode(msgpackSerializer.encode(message) as Buffer)).toEqual(message);
    expect(msgpackSerializer.decode(msgpack5.encode(message))).toEqual({ ok: true, value: message });
  });

  it('MessagePack 64-bit integers decode as numbers, never BigInt', () => {
    const u64 = Buffer.from([0xcf, 0, 0x20, 0, 0, 0, 0, 0, 0]); // 2^53 as uint64
    expect(msgpackSerializer.decode(u64)).toEqual({ ok: true, value: 2 ** 53 });
  });

  it('MessagePack refuses truncated input', () => {
    expect(msgpackSerializer.decode(Buffer.from([0x93, 0x01])).ok).toBe(false);
  });
});
