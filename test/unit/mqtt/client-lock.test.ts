// The client-id lock and the takeover requests on the embedded fabric (which refuses another
// session's declare of an exclusive queue as RabbitMQ does): two feeds on one fabric stand for
// two gateway processes on one RabbitMQ.
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, isGatewayError } from '../../../src/errors.js';
import { EmbeddedFabric } from '../../../src/fabric/embedded/index.js';
import type { FabricSession } from '../../../src/fabric/types.js';
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
});
