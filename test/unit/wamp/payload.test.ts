import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodePayload, encodePayload, ENVELOPE_CONTENT_TYPE } from '../../../src/protocols/wamp/payload.js';

describe('UNIT: wamp payload - WAMP → AMQP body', () => {
  it.each([
    ['no payload', {}, '', undefined],
    ['one object', { args: [{ t: 21.5 }] }, '{"t":21.5}', 'application/json'],
    ['one number', { args: [42] }, '42', 'application/json'],
    ['one string', { args: ['on'] }, 'on', 'text/plain; charset=utf-8'],
    ['one null', { args: [null] }, 'null', 'application/json'],
    ['two args', { args: [1, 2] }, '{"args":[1,2]}', ENVELOPE_CONTENT_TYPE],
    ['kwargs', { args: [], kwargs: { a: 1 } }, '{"args":[],"kwargs":{"a":1}}', ENVELOPE_CONTENT_TYPE],
  ])('%s', (_name, payload, body, contentType) => {
    const encoded = encodePayload(payload);
    expect(encoded.body.toString()).toBe(body);
    expect(encoded.contentType).toBe(contentType);
  });

  it('one binary argument is the raw bytes', () => {
    const encoded = encodePayload({ args: [Buffer.from([0, 255, 1])] });
    expect(encoded.body).toEqual(Buffer.from([0, 255, 1]));
    expect(encoded.contentType).toBe('application/octet-stream');
  });
});

describe('UNIT: wamp payload - AMQP body → WAMP', () => {
  it.each([
    ['JSON without content type (MQTT 3.1.1)', '{"t":1}', undefined, { args: [{ t: 1 }] }],
    ['number without content type', '42', undefined, { args: [42] }],
    ['text without content type', 'hello world', undefined, { args: ['hello world'] }],
    ['JSON with content type', '[1,2]', 'application/json', { args: [[1, 2]] }],
    ['JSON that is not JSON', 'nope', 'application/json', { args: ['nope'] }],
    ['text/plain that looks like JSON', '42', 'text/plain', { args: ['42'] }],
    ['vendor +json', '{"a":1}', 'application/vnd.x+json; charset=utf-8', { args: [{ a: 1 }] }],
    ['envelope', '{"args":[1],"kwargs":{"k":"v"}}', ENVELOPE_CONTENT_TYPE, { args: [1], kwargs: { k: 'v' } }],
    ['broken envelope', '{"args":5}', ENVELOPE_CONTENT_TYPE, { args: ['{"args":5}'] }],
    ['empty body', '', 'application/json', {}],
    ['empty text', '', 'text/plain', { args: [''] }],
  ])('%s', (_name, body, contentType, payload) => {
    expect(decodePayload(Buffer.from(body), contentType)).toEqual(payload);
  });

  it('bytes that are not UTF-8 arrive as binary', () => {
    expect(decodePayload(Buffer.from([0xff, 0xfe]), undefined)).toEqual({ args: [Buffer.from([0xff, 0xfe])] });
    expect(decodePayload(Buffer.from('abc'), 'application/octet-stream')).toEqual({ args: [Buffer.from('abc')] });
  });

  it('property: WAMP → AMQP → WAMP keeps JSON payloads', () => {
    const json = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown);
    const payload = fc.record({ args: fc.array(json, { maxLength: 3 }), kwargs: fc.option(fc.dictionary(fc.string(), json, { minKeys: 1 }), { nil: undefined }) });
    fc.assert(fc.property(payload, (p) => {
      const { body, contentType } = encodePayload(p);
      const back = decodePayload(body, contentType);
      expect(back.args ?? []).toEqual(p.args);
      expect(back.kwargs).toEqual(p.kwargs);
    }), { numRuns: 2000 });
  });

  it('property: any body decodes without throwing', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), fc.option(fc.string(), { nil: undefined }), (bytes, ct) => {
      decodePayload(Buffer.from(bytes), ct);
    }));
  });
});
