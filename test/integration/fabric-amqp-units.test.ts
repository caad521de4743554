// UNIT: the AMQP fabric's pure parts (no broker): reconnect delays, error mapping, the
// exchange-existence cache, the topology record, and URL handling.

import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { DEFAULT_BACKOFF, reconnectDelay } from '../../src/fabric/amqp/backoff.js';
import { fromAmqpError, isCollateralChannelError } from '../../src/fabric/amqp/errors.js';
import { ExchangeCache } from '../../src/fabric/amqp/exchange-cache.js';
import { validatePublish } from '../../src/fabric/amqp/message.js';
import { TopologyRecord } from '../../src/fabric/amqp/topology-record.js';
import { redactUrl, urlForVhost, vhostOfUrl } from '../../src/fabric/amqp/urls.js';

function amqpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('backoff', () => {
  it('doubles from 100 ms and never exceeds 30 s, whatever the jitter draws', () => {
    const low = (a: number) => reconnectDelay(a, DEFAULT_BACKOFF, () => 0);
    const mid = (a: number) => reconnectDelay(a, DEFAULT_BACKOFF, () => 0.5);
    const high = (a: number) => reconnectDelay(a, DEFAULT_BACKOFF, () => 1);
    expect([1, 2, 3, 4].map(mid)).toEqual([100, 200, 400, 800]);
    expect(low(1)).toBe(80);
    expect(high(1)).toBe(120);
    for (let a = 1; a < 40; a++) expect(high(a)).toBeLessThanOrEqual(30_000);
    expect(high(30)).toBe(30_000);
    expect(low(30)).toBe(20_000);
  });
});

describe('error mapping', () => {
  it('maps reply codes onto the catalog, keeping the broker text as detail', () => {
    const cases: [number, ErrorCode][] = [
      [403, ErrorCode.NOT_AUTHORIZED],
      [404, ErrorCode.NOT_FOUND],
      [405, ErrorCode.RESOURCE_LOCKED],
      [406, ErrorCode.PRECONDITION_FAILED],
      [320, ErrorCode.BACKEND_UNAVAILABLE],
      [541, ErrorCode.BACKEND_UNAVAILABLE],
    ];
    for (const [code, expected] of cases) {
      const err = fromAmqpError(amqpError(code, `Operation failed: QueueDeclare; ${code} (X) with message "REASON - for ${code}"`));
      expect(err.code).toBe(expected);
      expect(err.detail).toBe(`REASON - for ${code}`);
    }
  });

  it('socket failures and dead channels are BACKEND_UNAVAILABLE; handshake refusals keep their code', () => {
    expect(fromAmqpError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })).code).toBe(ErrorCode.BACKEND_UNAVAILABLE);
    expect(fromAmqpError(new Error('Channel ended, no reply will be forthcoming')).code).toBe(ErrorCode.BACKEND_UNAVAILABLE);
    const refused = new Error('Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused"');
    expect(fromAmqpError(refused).code).toBe(ErrorCode.NOT_AUTHORIZED);
    expect(fromAmqpError(new Error('Expected ConnectionOpenOk; got <ConnectionClose channel:0>')).code).toBe(ErrorCode.NOT_AUTHORIZED);
    expect(fromAmqpError(new TypeError('boom')).code).toBe(ErrorCode.INTERNAL);
  });

  it('tells an operation that never left (collateral) from one the broker refused', () => {
    expect(isCollateralChannelError(new Error('Channel ended, no reply will be forthcoming'))).toBe(true);
    expect(isCollateralChannelError(Object.assign(new Error('Channel closed'), { name: 'IllegalOperationError' }))).toBe(true);
    expect(isCollateralChannelError(amqpError(404, 'Channel closed by server: 404'))).toBe(false);
  });
});

describe('ExchangeCache', () => {
  it('knows the built-ins, remembers positives for a while, and probes a name once at a time', async () => {
    let now = 0;
    const cache = new ExchangeCache(1000, 2, () => now);
    expect(cache.knownToExist('')).toBe(true);
    expect(cache.knownToExist('amq.topic')).toBe(true);
    let probes = 0;
    const probe = () => {
      probes++;
      return Promise.resolve();
    };
    const a = cache.ensure('x', probe);
    const b = cache.ensure('x', probe);
    expect(a).toBe(b);
    await a;
    expect(probes).toBe(1);
    expect(cache.ensure('x', probe)).toBeUndefined();
    now = 1001;
    expect(cache.knownToExist('x')).toBe(false);
    await cache.ensure('x', () => Promise.reject(new Error('404')))?.catch(() => undefined);
    expect(cache.knownToExist('x')).toBe(false);
    cache.remember('p');
    cache.remember('q');
    cache.remember('r'); // bounded: the oldest goes
    expect(cache.knownToExist('p')).toBe(false);
    expect(cache.knownToExist('r')).toBe(true);
  });
});

describe('TopologyRecord', () => {
  it('keeps declaration order, one entry per thing, and forgets a queue with its bindings', () => {
    const r = new TopologyRecord();
    r.add({ kind: 'exchange', name: 'x', type: 'topic', opts: {} });
    r.add({ kind: 'queue', name: 'q', opts: {} });
    r.add({ kind: 'queueBinding', queue: 'q', exchange: 'x', routingKey: 'a', args: { b: 1, a: 2 } });
    r.add({ kind: 'queueBinding', queue: 'q', exchange: 'x', routingKey: 'a', args: { a: 2, b: 1 } });
    r.add({ kind: 'queue', name: 'q', opts: { durable: false } });
    expect(r.size).toBe(3);
    expect(r.all().map((s) => s.kind)).toEqual(['exchange', 'queue', 'queueBinding']);
    r.renameQueue('q', 'q2');
    expect(r.queue('q2')).toEqual({ durable: false });
    expect(r.all()[2]).toMatchObject({ queue: 'q2' });
    r.forgetQueue('q2');
    expect(r.all().map((s) => s.kind)).toEqual(['exchange']);
    r.add({ kind: 'exchangeBinding', destination: 'y', source: 'x', routingKey: '#', args: undefined });
    r.forgetExchange('x');
    expect(r.size).toBe(0);
  });
});

describe('publish checks and URLs', () => {
  it('refuses what RabbitMQ would answer with a channel error', () => {
    const m = (properties = {}) => ({ body: Buffer.from('x'), properties });
    expect(validatePublish('', 'k', m(), 'guest')).toBeUndefined();
    expect(validatePublish('', 'k', m({ expiration: '-1' }), 'guest')?.code).toBe(ErrorCode.PRECONDITION_FAILED);
    expect(validatePublish('', 'k', m({ priority: 256 }), 'guest')?.code).toBe(ErrorCode.PRECONDITION_FAILED);
    expect(validatePublish('', 'k', m({ userId: 'eve' }), 'guest')?.code).toBe(ErrorCode.PRECONDITION_FAILED);
    expect(validatePublish('é'.repeat(128), 'k', m(), 'guest')?.code).toBe(ErrorCode.INVALID_DESTINATION);
  });

  it('swaps the vhost into the URL and hides the password', () => {
    expect(vhostOfUrl('amqp://u:p@h:5672')).toBe('/');
    expect(vhostOfUrl('amqp://u:p@h:5672/%2F')).toBe('/');
    expect(vhostOfUrl('amqp://u:p@h:5672/tenant')).toBe('tenant');
    expect(urlForVhost('amqp://u:p@h:5672/?heartbeat=10', '/')).toBe('amqp://u:p@h:5672/%2F?heartbeat=10');
    expect(urlForVhost('amqp://u:p@h:5672', 'a/b')).toBe('amqp://u:p@h:5672/a%2Fb');
    expect(urlForVhost('amqp://u:p@h:5672', 'v', 15)).toBe('amqp://u:p@h:5672/v?heartbeat=15');
    expect(urlForVhost('amqp://u:p@h:5672/?heartbeat=5', 'v', 15)).toBe('amqp://u:p@h:5672/v?heartbeat=5');
    expect(redactUrl('amqp://u:secret@h:5672/v')).toBe('amqp://u:***@h:5672/v');
  });
});
