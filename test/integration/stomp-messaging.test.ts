// E2E: STOMP messaging through a real gateway over TCP, on the embedded fabric and on RabbitMQ:
// every destination kind, every ack mode, NACK to a dead-letter exchange, transactions,
// receipts after confirms, authorization, header mapping.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStompProtocol } from '../../src/protocols/stomp/index.js';
import { uniqueName } from '../support/broker.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { BrokerCleanup, FABRICS, restrictedUsersFile } from '../unit/stomp/support/fabrics.js';
import { RawStompClient } from '../unit/stomp/support/raw-client.js';

for (const [label, fabric, enabled] of FABRICS) {
  describe.runIf(enabled)(`E2E: STOMP messaging on the ${label}`, () => {
    let gw: TestGateway;
    const cleanup = new BrokerCleanup(fabric);
    const open: RawStompClient[] = [];
    const connect = async (headers: Record<string, string> = {}) => {
      const c = await RawStompClient.connect(gw.ports.stomp!, headers);
      open.push(c);
      return c;
    };
    const name = (prefix: string) => uniqueName(prefix).replace(/[^\w-]/g, '');

    beforeAll(async () => {
      gw = await startTestGateway({ stomp: { heartbeatMs: 0 }, auth: { usersFile: await restrictedUsersFile() } }, { fabric, protocols: [createStompProtocol] });
    });
    afterAll(async () => {
      for (const c of open) c.destroy();
      await gw?.stop();
      await cleanup.run();
    });

    describe('destinations', () => {
      it('/topic/: a wildcard subscription sees the concrete destination; headers map both ways', async () => {
        const key = name('t');
        const c = await connect();
        await c.withReceipt('SUBSCRIBE', { id: 'w', destination: `/topic/${key}.*` });
        await c.withReceipt('SEND', {
          destination: `/topic/${key}.x`, 'content-type': 'application/json', persistent: 'true', priority: '5', 'correlation-id': 'c1',
          'reply-to': '/queue/answers', 'amqp-message-id': 'm1', type: 't1', 'app-id': 'app', 'user-id': 'guest', custom: 'v',
        }, '{"a":1}');
        const [m] = await c.messages(1);
        expect(m!.headers).toMatchObject({
          destination: `/topic/${key}.x`, subscription: 'w', 'content-type': 'application/json', persistent: 'true', priority: '5',
          'correlation-id': 'c1', 'reply-to': '/queue/answers', 'amqp-message-id': 'm1', type: 't1', 'app-id': 'app', 'user-id': 'guest', custom: 'v',
        });
        expect(m!.body.toString()).toBe('{"a":1}');
      });

      it('/topic/: a message to a key nobody subscribed is gone; subscribers each get a copy', async () => {
        const key = name('fan');
        const a = await connect();
        const b = await connect();
        a.send('SEND', { destination: `/topic/${key}` }, 'lost');
        await a.withReceipt('SUBSCRIBE', { id: '1', destination: `/topic/${key}` });
        await b.withReceipt('SUBSCRIBE', { id: '1', destination: `/topic/${key}` });
        await a.withReceipt('SEND', { destination: `/topic/${key}` }, 'both');
        expect((await a.messages(1))[0]!.body.toString()).toBe('both');
        expect((await b.messages(1))[0]!.body.toString()).toBe('both');
      });

      it('/queue/: declared on SEND, waits for a consumer; consumers compete', async () => {
        const q = cleanup.queue(name('q'));
        const p = await connect();
        await p.withReceipt('SEND', { destination: `/queue/${q}` }, 'waiting');
        const c1 = await connect();
        await c1.withReceipt('SUBSCRIBE', { id: 's', destination: `/queue/${q}`, ack: 'client-individual', 'prefetch-count': '1' });
        const [first] = await c1.messages(1);
        expect(first!.body.toString()).toBe('waiting');
        expect(first!.headers['destination']).toBe(`/queue/${q}`);
        const c2 = await connect();
        await c2.withReceipt('SUBSCRIBE', { id: 's', destination: `/queue/${q}` });
        await p.withReceipt('SEND', { destination: `/queue/${q}` }, 'second');
        // c1 holds its one unacked message (prefetch 1): the next goes to c2
        expect((await c2.messages(1))[0]!.body.toString()).toBe('second');
      });

      it('/queue/ with x- arguments: x-max-length keeps the newest', async () => {
        const q = cleanup.queue(name('maxlen'));
        const p = await connect();
        for (const n of ['1', '2', '3']) await p.withReceipt('SEND', { destination: `/queue/${q}`, 'x-max-length': '2' }, n);
        const c = await connect();
        await c.withReceipt('SUBSCRIBE', { id: 's', destination: `/queue/${q}`, 'x-max-length': '2' });
        expect((await c.messages(2)).map((m) => m.body.toString())).toEqual(['2', '3']);
      });

      it('/queue/ declared again with other arguments is an ERROR (RabbitMQ 406), then close', async () => {
        const q = cleanup.queue(name('args'));
        const c = await connect();
        await c.withReceipt('SEND', { destination: `/queue/${q}`, 'x-max-length': '1' }, 'x');
        const other = await connect();
        other.send('SUBSCRIBE', { id: 's', destination: `/queue/${q}`, 'x-max-length': '2' });
        const f = await other.next();
        expect(f.command).toBe('ERROR');
        expect(f.headers['message']).toMatch(/precondition failed|inequivalent/i);
        await other.closed;
      });

      it('x-queue-name names a topic subscription\'s queue', async () => {
        const key = name('named');
        const q = cleanup.queue(name('stomp-named'));
        const c = await connect();
        await c.withReceipt('SUBSCRIBE', { id: 's', destination: `/topic/${key}`, 'x-queue-name': q });
        await c.withReceipt('SEND', { destination: `/topic/${key}` }, 'into the named queue');
        const [m] = await c.messages(1);
        expect(m!.body.toString()).toBe('into the named queue');
        // the queue is there by that name, exclusive to the subscriber's connection
        const peek = await connect();
        peek.send('SUBSCRIBE', { id: 'p', destination: `/amq/queue/${q}` });
        const f = await peek.next();
        expect(f.command).toBe('ERROR');
        expect(`${f.headers['message']} ${f.body.toString()}`).toMatch(/exclusive/);
        await peek.closed;
      });

      it('/exchange/<x>/<key>: binds and publishes on that exchange; an unknown exchange is an ERROR', async () => {
        const key = name('dx');
        const c = await connect();
        await c.withReceipt('SUBSCRIBE', { id: 'x', destination: `/exchange/amq.direct/${key}` });
        await c.withReceipt('SEND', { destination: `/exchange/amq.direct/${key}` }, 'direct');
        const [m] = await c.messages(1);
        expect(m!.headers['destination']).toBe(`/exchange/amq.direct/${key}`);
        const bad = await connect();
        bad.send('SEND', { destination: `/exchange/${name('nope')}/k` }, 'x');
        const err = await bad.next();
        expect(err.command).toBe('ERROR');
        expect(err.headers['message']).toMatch(/^unknown destination \/exchange\//);
        await bad.closed;
      });

      it('/amq/queue/: an existing queue is used as is; an unknown one is an ERROR', async () => {
        const q = cleanup.queue(name('amq'));
        const c = await connect();
        await c.withReceipt('SEND', { destination: `/queue/${q}` }, 'via default exchange');
        await c.withReceipt('SUBSCRIBE', { id: 'a', destination: `/amq/queue/${q}` });
        expect((await c.messages(1))[0]!.body.toString()).toBe('via default exchange');
        await c.withReceipt('SEND', { destination: `/amq/queue/${q}` }, 'again');
        expect((await c.messages(1))[0]!.body.toString()).toBe('again');
        const bad = await connect();
        bad.send('SUBSCRIBE', { id: 'a', destination: `/amq/queue/${name('missing')}` });
        expect((await bad.next()).headers['message']).toMatch(/^unknown destination \/amq\/queue\//);
        await bad.closed;
      });

      it('/temp-queue/ in reply-to: the responder answers /reply-queue/… and the requester receives it', async () => {
        const svc = cleanup.queue(name('svc'));
        const responder = await connect();
        await responder.withReceipt('SUBSCRIBE', { id: 'svc', destination: `/queue/${svc}` });
        const requester = await connect();
        await requester.withReceipt('SEND', { destination: `/queue/${svc}`, 'reply-to': '/temp-queue/answers', 'correlation-id': 'q1' }, 'question');
        const [request] = await responder.messages(1);
        const replyTo = request!.headers['reply-to']!;
        expect(replyTo).toMatch(/^\/reply-queue\/.+/);
        await responder.withReceipt('SEND', { destination: replyTo, 'correlation-id': 'q1' }, 'answer');
        const [reply] = await requester.messages(1);
        expect(reply!.headers).toMatchObject({ subscription: '/temp-queue/answers', destination: '/temp-queue/answers', 'correlation-id': 'q1' });
        expect(reply!.body.toString()).toBe('answer');
      });
    });

    describe('ack modes', () => {
      async function queueWith(bodies: string[]): Promise<string> {
        const q = cleanup.queue(name('ack'));
        const p = await connect();
        for (const b of bodies) await p.withReceipt('SEND', { destination: `/queue/${q}` }, b);
        return q;
      }

      it('auto: delivered once, nothing comes back after a disconnect', async () => {
        const q = await queueWith(['a', 'b']);
        const c = await connect();
        await c.withReceipt('SUBSCRIBE', { id: 's', destination: `/queue/${q}` });
        const got = await c.messages(2);
        expect(got.map((m) => m.headers['ack'])).toEqual([undefined, undefined]);
        await c.disconnect();
        const again = await connect();
        await again.withReceipt('SUBSCRIBE', { id: 's', destination: `/queue/${q}` });
        await again.withReceipt('SEND', { destination: `/queue/${q}` }, 'marker');
        expect((await again.messages(1))[0]!.body.toString()).toBe('marker');
      });

      it('client: ACK is cumulative; what was not acked comes back redelivered', async () => {
        const q = await queueWith(['1', '2', '3']);
        const c = await connect();
        await c.withReceipt('SUBSCRIBE', { id: 's', destination: `/queue/${q}`, ack: 'client' });
        const got = await c.messages(3);
        expect(got[1]!.headers['ack']).toBe(got[1]!.headers['message-id']);
        await c.withReceipt('ACK', { id: got[1]!.headers['ack']! });
        // an id already covered by the cumulative ACK is not an error
        await c.withReceipt('ACK', { id: got[0]!.headers['ack']! });
        await c.disconnect();
        const again = await connect();
        await again.withReceipt('SUBSCRIBE', { id: 's', destination: `/queue/${q}` });
        const [m] = await again.messages(1);
        expect(m!.body.toString()).toBe('3');
        expect(m!.headers['redelivered']).toBe('true');
        await again.noMessageFor(100);
      });

      it('client-individual: only the ACKed message is settled', async () => {
        const q = await queueWith(['1', '2', '3']);
        const c = await connect();
        await c.withReceipt('SUBSCRIBE', { id: 's', destination: `/queue/${q}`, ack: 'client-individual' });
        const got = await c.messages(3);
        await c.withReceipt('ACK', { id: got[1]!.headers['ack']! });
        await c.disconnect();
        const again = await connect();
        await again.withReceipt('SUBSCRIBE', { id: 's', destination: `/queue/${q}` });
        expect((await again.messages(2)).map((m) => m.body.toString()).sort()).toEqual(['1', '3']);
      });

      it('prefetch-count bounds unacked messages in flight', async () => {
        const q = await queueWith(['1', '2', '3']);
        const c = await connect();
        await c.withReceipt('SUBSCRIBE', { id: 's', destination: `/queue/${q}`, ack: 'client-individual', 'prefetch-count': '2' });
        const first = await c.messages(2);
        await c.noMessageFor(150);
        await c.withReceipt('ACK', { id: first[0]!.headers['ack']! });
        expect((await c.messages(1))[0]!.body.toString()).toBe('3');
      });

      it('1.1: ACK takes message-id and subscription', async () => {
        const q = await queueWith(['x']);
        const c = await connect({ 'accept-version': '1.1' });
        await c.withReceipt('SUBSCRIBE', { id: 's', destination: `/queue/${q}`, ack: 'client' });
        const [m] = await c.messages(1);
        expect(m!.headers['ack']).toBeUndefined();
        await c.withReceipt('ACK', { 'message-id': m!.headers['message-id']!, subscription: 's' });
        await c.disconnect();
        const again = await connect();
        await again.withReceipt('SUBSCRIBE', { id: 's', destination: `/queue/${q}` });
        await again.noMessageFor(150);
      });
    });

    describe('NACK', () => {
      it('requeue (the default) redelivers', async () => {
        const q = cleanup.queue(name('nack'));
        const c = await connect();
        await c.withReceipt('SEND', { destination: `/queue/${q}` }, 'again');
        await c.withReceipt('SUBSCRIBE', { id: 's', destination: `/queue/${q}`, ack: 'client-individual' });
        const [m] = await c.messages(1);
        await c.withReceipt('NACK', { id: m!.headers['ack']! });
        const [back] = await c.messages(1);
        expect(back!.body.toString()).toBe('again');
        expect(back!.headers['redelivered']).toBe('true');
      });

      it('requeue:false dead-letters into the queue\'s dead-letter exchange', async () => {
        const q = cleanup.queue(name('work'));
        const dlq = cleanup.queue(name('dead'));
        const args = { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dlq };
        const c = await connect();
        await c.withReceipt('SUBSCRIBE', { id: 'dead', destination: `/queue/${dlq}` });
        await c.withReceipt('SUBSCRIBE', { id: 'work', destination: `/queue/${q}`, ack: 'client', ...args });
        await c.withReceipt('SEND', { destination: `/queue/${q}`, ...args }, 'poison');
        const [m] = await c.messages(1);
        expect(m!.headers['subscription']).toBe('work');
        await c.withReceipt('NACK', { id: m!.headers['ack']!, requeue: 'false' });
        const [dead] = await c.messages(1);
        expect(dead!.headers['subscription']).toBe('dead');
        expect(dead!.body.toString()).toBe('poison');
      });
    });

    describe('transactions', () => {
      it('SENDs take effect on COMMIT, not before, and not at all on ABORT', async () => {
        const key = name('tx');
        const sub = await connect();
        await sub.withReceipt('SUBSCRIBE', { id: 's', destination: `/topic/${key}` });
        const c = await connect();
        await c.withReceipt('BEGIN', { transaction: 't1' });
        await c.withReceipt('SEND', { destination: `/topic/${key}`, transaction: 't1' }, 'one');
        await c.withReceipt('SEND', { destination: `/topic/${key}`, transaction: 't1' }, 'two');
        await c.withReceipt('BEGIN', { transaction: 't2' });
        await c.withReceipt('SEND', { destination: `/topic/${key}`, transaction: 't2' }, 'aborted');
        await c.withReceipt('ABORT', { transaction: 't2' });
        await sub.noMessageFor(100);
        await c.withReceipt('COMMIT', { transaction: 't1' });
        expect((await sub.messages(2)).map((m) => m.body.toString())).toEqual(['one', 'two']);
        await sub.noMessageFor(100);
      });

      it('ACKs inside an aborted transaction do not happen; a disconnect drops an open transaction', async () => {
        const q = cleanup.queue(name('txack'));
        const key = name('txdrop');
        const watcher = await connect();
        await watcher.withReceipt('SUBSCRIBE', { id: 'w', destination: `/topic/${key}` });
        const c = await connect();
        await c.withReceipt('SEND', { destination: `/queue/${q}` }, 'keep me');
        await c.withReceipt('SUBSCRIBE', { id: 's', destination: `/queue/${q}`, ack: 'client' });
        const [m] = await c.messages(1);
        await c.withReceipt('BEGIN', { transaction: 'a' });
        await c.withReceipt('ACK', { id: m!.headers['ack']!, transaction: 'a' });
        await c.withReceipt('ABORT', { transaction: 'a' });
        await c.withReceipt('BEGIN', { transaction: 'b' });
        await c.withReceipt('SEND', { destination: `/topic/${key}`, transaction: 'b' }, 'never');
        await c.disconnect();
        const again = await connect();
        await again.withReceipt('SUBSCRIBE', { id: 's', destination: `/queue/${q}` });
        expect((await again.messages(1))[0]!.body.toString()).toBe('keep me');
        await watcher.noMessageFor(100);
      });

      it('ACKs inside a committed transaction happen on COMMIT', async () => {
        const q = cleanup.queue(name('txok'));
        const c = await connect();
        await c.withReceipt('SEND', { destination: `/queue/${q}` }, 'done');
        await c.withReceipt('SUBSCRIBE', { id: 's', destination: `/queue/${q}`, ack: 'client' });
        const [m] = await c.messages(1);
        await c.withReceipt('BEGIN', { transaction: 'c' });
        await c.withReceipt('ACK', { id: m!.headers['ack']!, transaction: 'c' });
        await c.withReceipt('COMMIT', { transaction: 'c' });
        await c.disconnect();
        const again = await connect();
        await again.withReceipt('SUBSCRIBE', { id: 's', destination: `/queue/${q}` });
        await again.noMessageFor(150);
      });
    });

    describe('receipts', () => {
      it('a RECEIPT means the message is held by the fabric', async () => {
        const q = cleanup.queue(name('rcpt'));
        const p = await connect();
        await p.withReceipt('SEND', { destination: `/queue/${q}`, persistent: 'true' }, 'safe');
        p.destroy();
        const c = await connect();
        await c.withReceipt('SUBSCRIBE', { id: 's', destination: `/queue/${q}` });
        expect((await c.messages(1))[0]!.body.toString()).toBe('safe');
      });

      it('a publish the queue refuses (x-overflow reject-publish) gets an ERROR instead of a RECEIPT', async () => {
        const q = cleanup.queue(name('full'));
        const args = { 'x-max-length': '1', 'x-overflow': 'reject-publish' };
        const p = await connect();
        await p.withReceipt('SEND', { destination: `/queue/${q}`, ...args }, 'fits');
        p.send('SEND', { destination: `/queue/${q}`, receipt: 'r2', ...args }, 'refused');
        const f = await p.next();
        expect(f).toMatchObject({ command: 'ERROR', headers: { 'receipt-id': 'r2' } });
        await p.closed;
      });

      it('receipts come in frame order, DISCONNECT\'s last', async () => {
        const key = name('order');
        const c = await connect();
        for (let i = 0; i < 20; i++) c.send('SEND', { destination: `/topic/${key}`, receipt: `s${i}` }, String(i));
        c.send('DISCONNECT', { receipt: 'bye' });
        const ids: string[] = [];
        for (let i = 0; i < 21; i++) ids.push((await c.next()).headers['receipt-id']!);
        expect(ids).toEqual([...Array.from({ length: 20 }, (_, i) => `s${i}`), 'bye']);
        await c.closed;
      });
    });

    describe('authorization', () => {
      it('a forbidden SEND is an ERROR naming the destination and the permission', async () => {
        const c = await connect({ login: 'carol', passcode: 'carol' });
        await c.withReceipt('SEND', { destination: '/topic/public.news' }, 'allowed');
        c.send('SEND', { destination: '/topic/secret.plans' }, 'x');
        const f = await c.next();
        expect(f.command).toBe('ERROR');
        expect(f.headers['message']).toBe('access refused to /topic/secret.plans: write permission required');
        expect(f.body.toString()).toMatch(/topic 'secret\.plans' in exchange 'amq\.topic'/);
        await c.closed;
      });

      it('a forbidden SUBSCRIBE is an ERROR naming the destination and the permission', async () => {
        const c = await connect({ login: 'carol', passcode: 'carol' });
        c.send('SUBSCRIBE', { id: '1', destination: '/queue/orders' });
        const f = await c.next();
        expect(f.headers['message']).toBe('access refused to /queue/orders: configure permission required');
        await c.closed;
      });

      it('a user-id other than the login is refused', async () => {
        const c = await connect({ login: 'carol', passcode: 'carol' });
        c.send('SEND', { destination: '/topic/public.x', 'user-id': 'guest' }, 'spoof');
        expect((await c.next()).headers['message']).toBe('user-id mismatch');
        await c.closed;
      });
    });
  });
}
