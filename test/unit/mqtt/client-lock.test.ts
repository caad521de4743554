// The client-id lock and the takeover requests on the embedded fabric (which refuses another
// session's declare of an exclusive queue as RabbitMQ does): two feeds on one fabric stand for
// two gateway processes on one RabbitMQ.
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, isGatewayError } from '../../../src/errors.js';
import { EmbeddedFabric } from '../../../src/fabric/embedded/index.js';
import type { FabricSession, QueueOptions } from '../../../src/fabric/types.js';
import { createLogger } from '../../../src/log.js';
import { ClientLock } from '../../../src/protocols/mqtt/client-lock.js';
import { TakeoverRequests, type TakeoverRequest } from '../../../src/protocols/mqtt/takeover-requests.js';

const log = createLogger('silent');
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const undo of cleanups.splice(0).reverse()) await undo();
});

async function fabric(): Promise<EmbeddedFabric> {
  const f = new EmbeddedFabric();
  await f.start();
  cleanups.push(() => f.close());
  return f;
}

function session(f: EmbeddedFabric): FabricSession {
  const s = f.openSession({ vhost: '/' });
  cleanups.push(() => s.close());
  return s;
}

/** one "process": its feed of takeover requests and the locks it holds */
async function node(f: EmbeddedFabric, id: string, obey = true) {
  const locks = new Set<ClientLock>();
  const heard: TakeoverRequest[] = [];
  const feed = new TakeoverRequests(f, '/', id, (r) => {
    heard.push(r);
    for (const lock of locks) if (obey && lock.shouldYieldTo(r)) void lock.release();
  }, log);
  await feed.start();
  cleanups.push(() => feed.close());
  const lock = (clientId: string, deadlineMs = 5_000) => {
    const l = new ClientLock(session(f), clientId, { deadlineMs, askHolderToLeave: (r, ttl) => feed.send(r, ttl) });
    locks.add(l);
    return l;
  };
  return { lock, heard };
}

describe('client-id lock', () => {
  it('every lock has its own token (a holder ignores only its own request)', async () => {
    const f = await fabric();
    const s = session(f);
    const locks = Array.from({ length: 1_000 }, () => new ClientLock(s, 'dev-t', { deadlineMs: 1_000, askHolderToLeave: async () => undefined }));
    expect(new Set(locks.map((l) => l.token)).size).toBe(1_000);
    const [holder, other] = locks as [ClientLock, ClientLock];
    await holder.acquire();
    expect(holder.shouldYieldTo({ clientId: 'dev-t', token: other.token })).toBe(true);
    expect(holder.shouldYieldTo({ clientId: 'dev-t', token: holder.token })).toBe(false);
    await holder.release();
  });

  it('a newcomer in another process asks the holder to leave and then holds the id', async () => {
    const f = await fabric();
    const a = await node(f, 'a');
    const b = await node(f, 'b');
    const first = a.lock('dev-1');
    await first.acquire();
    expect(first.held).toBe(true);
    const second = b.lock('dev-1');
    await second.acquire();
    expect(second.held).toBe(true);
    expect(first.held).toBe(false);
    // both processes heard the request; the newcomer ignored its own
    expect(a.heard.map((r) => r.clientId)).toContain('dev-1');
    expect(b.heard.some((r) => r.token === second.token)).toBe(true);
    expect(second.shouldYieldTo({ clientId: 'dev-1', token: second.token })).toBe(false);
  });

  it('other client ids are not disturbed by a request', async () => {
    const f = await fabric();
    const a = await node(f, 'a');
    const b = await node(f, 'b');
    const other = a.lock('dev-2');
    await other.acquire();
    const holder = a.lock('dev-1');
    await holder.acquire();
    await b.lock('dev-1').acquire();
    expect(other.held).toBe(true);
    expect(holder.held).toBe(false);
  });

  it('a holder that does not let go: the newcomer gives up with RESOURCE_LOCKED after its deadline', async () => {
    const f = await fabric();
    const stubborn = await node(f, 'a', false);
    const b = await node(f, 'b');
    await stubborn.lock('dev-3').acquire();
    const err = await b.lock('dev-3', 300).acquire().catch((e: unknown) => e);
    expect(isGatewayError(err, ErrorCode.RESOURCE_LOCKED)).toBe(true);
    expect(stubborn.heard.length).toBeGreaterThan(0);
  });

  it('release frees the id for the next connection; releasing while acquiring gives up', async () => {
    const f = await fabric();
    const a = await node(f, 'a', false);
    const first = a.lock('dev-4');
    await first.acquire();
    await first.release();
    const next = a.lock('dev-4');
    await next.acquire();
    expect(next.held).toBe(true);
    const waiting = a.lock('dev-4');
    const attempt = waiting.acquire().catch((e: unknown) => e);
    await waiting.release();
    expect(isGatewayError(await attempt, ErrorCode.BACKEND_UNAVAILABLE)).toBe(true);
    expect(next.held).toBe(true);
  });

  it('deleteOnClaim: the first attempt carries the deletes where the fabric can; a lock taken on a retry leaves them to the caller', async () => {
    const f = await fabric();
    const calls: { lock: string; deletes: readonly string[] }[] = [];
    /** the embedded session plus an AMQP-style declareQueueThenDelete (declare, then the deletes only if it succeeded) */
    const withClaim = () => {
      const s = session(f);
      return Object.assign(Object.create(s) as FabricSession, {
        declareQueue: s.declareQueue.bind(s),
        deleteQueue: s.deleteQueue.bind(s),
        async declareQueueThenDelete(name: string, opts: QueueOptions, deletes: readonly string[]) {
          calls.push({ lock: name, deletes });
          const info = await s.declareQueue(name, opts);
          return { ...info, deleted: Promise.all(deletes.map((q) => s.deleteQueue(q))) };
        },
      });
    };
    const setupSession = session(f);
    await setupSession.declareQueue('state-x', {});
    await setupSession.publish('', 'state-x', { body: Buffer.from('s'), properties: {} }, { confirm: true });
    const opts = { deadlineMs: 2_000, askHolderToLeave: async () => undefined, deleteOnClaim: ['will-x', 'state-x'] };
    const first = new ClientLock(withClaim(), 'dev-c', opts);
    await first.acquire();
    expect(calls).toHaveLength(1);
    expect(await first.deletedWithClaim).toEqual([0, 1]);
    // held: the next one's first attempt is refused, its deletes never run; it holds on a retry, without them
    await setupSession.declareQueue('state-x', {});
    await setupSession.publish('', 'state-x', { body: Buffer.from('s'), properties: {} }, { confirm: true });
    const second = new ClientLock(withClaim(), 'dev-c', opts);
    const taking = second.acquire();
    setTimeout(() => void first.release(), 50);
    await taking;
    expect(calls).toHaveLength(2);
    expect(second.deletedWithClaim).toBeUndefined();
    expect((await setupSession.checkQueue('state-x')).messageCount).toBe(1);
    // a fabric without it: plain declares, nothing deleted
    const plain = new ClientLock(session(f), 'dev-d', opts);
    await plain.acquire();
    expect(plain.deletedWithClaim).toBeUndefined();
  });
});
