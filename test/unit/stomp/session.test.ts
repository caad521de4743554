// SESSION: STOMP protocol mechanics over real loopback sockets on the embedded fabric: frames
// in, frames out, with our own codec on the client side (support/raw-client.ts).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../../src/auth/password.js';
import { createStompProtocol } from '../../../src/protocols/stomp/index.js';
import { startTestGateway, type TestGateway } from '../../support/gateway.js';
import { RawStompClient } from './support/raw-client.js';

let gw: TestGateway;
let port: number;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stomp-session-'));
  const usersFile = join(dir, 'users.yaml');
  writeFileSync(
    usersFile,
    JSON.stringify({
      users: [
        { name: 'alice', password_hash: await hashPassword('secret', { N: 1024, r: 8, p: 1 }), permissions: { '/': { configure: '.*', write: '.*', read: '.*' } } },
      ],
    }),
  );
  gw = await startTestGateway(
    { stomp: { heartbeatMs: 0, maxFrameBytes: 65536, maxHeaders: 16 }, limits: { connectTimeoutMs: 300, maxSubscriptionsPerSession: 3 }, auth: { usersFile } },
    { protocols: [createStompProtocol] },
  );
  port = gw.ports.stomp!;
});
afterAll(async () => {
  await gw?.stop();
});

async function expectErrorThenClose(c: RawStompClient, message: RegExp | string): Promise<void> {
  const f = await c.next();
  expect(f.command).toBe('ERROR');
  expect(f.headers['message']).toMatch(message);
  await c.closed;
  expect(c.isOpen).toBe(false);
}

describe('SESSION: STOMP CONNECT', () => {
  it('a telnet-style CONNECT (no headers, LF lines, NUL LF ending) gets CONNECTED 1.0', async () => {
    const c = await RawStompClient.open(port);
    c.write('CONNECT\n\n\0\n');
    const f = await c.next();
    expect(f.command).toBe('CONNECTED');
    expect(f.headers).toMatchObject({ version: '1.0', 'heart-beat': '0,0', 'user-name': 'guest' });
    expect(f.headers['server']).toMatch(/^Tributary\/\d+\.\d+\.\d+/);
    expect(f.headers['session']).toMatch(/^session-[\w-]+$/);
    c.destroy();
  });

  it.each([
    ['1.0,1.1,1.2', '1.2'],
    ['1.1', '1.1'],
    ['1.0,1.1', '1.1'],
    ['1.2,2.0', '1.2'],
  ])('accept-version %s negotiates %s; the STOMP command works as CONNECT', async (offered, expected) => {
    const c = await RawStompClient.open(port);
    const f = await c.request('STOMP', { 'accept-version': offered, host: 'some.hostname' });
    expect(f.command).toBe('CONNECTED');
    expect(f.headers['version']).toBe(expected);
    c.destroy();
  });

  it('an unsupported version is an ERROR listing the supported ones, then close', async () => {
    const c = await RawStompClient.open(port);
    c.send('CONNECT', { 'accept-version': '2.0' });
    const f = await c.next();
    expect(f.command).toBe('ERROR');
    expect(f.headers['version']).toBe('1.0,1.1,1.2');
    await c.closed;
  });

  it('a user from the users file logs in with login/passcode', async () => {
    const c = await RawStompClient.connect(port, { login: 'alice', passcode: 'secret' });
    await c.withReceipt('SUBSCRIBE', { id: '1', destination: '/topic/x' });
    await c.disconnect();
  });

  it.each([
    [{ login: 'alice', passcode: 'wrong' }],
    [{ login: 'nobody', passcode: 'x' }],
    [{ login: 'alice' }],
  ])('wrong credentials %j → ERROR "access refused", then close', async (creds) => {
    const c = await RawStompClient.open(port);
    c.send('CONNECT', { 'accept-version': '1.2', ...creds });
    await expectErrorThenClose(c, 'access refused');
  });

  it('a frame before CONNECT → ERROR, then close', async () => {
    const c = await RawStompClient.open(port);
    c.send('SEND', { destination: '/queue/x' }, 'too early');
    await expectErrorThenClose(c, 'not connected');
  });

  it('a second CONNECT → ERROR, then close', async () => {
    const c = await RawStompClient.connect(port);
    c.send('CONNECT', { 'accept-version': '1.2' });
    await expectErrorThenClose(c, 'already connected');
  });

  it('no CONNECT within limits.connectTimeoutMs → ERROR, then close', async () => {
    const c = await RawStompClient.open(port);
    await expectErrorThenClose(c, 'connect timeout');
  });

  it('frames pipelined behind CONNECT in one write are handled after CONNECTED', async () => {
    const c = await RawStompClient.open(port);
    c.parser.version = '1.2';
    c.write('CONNECT\naccept-version:1.2\n\n\0SUBSCRIBE\nid:p\ndestination:/topic/pipe\n\n\0SEND\ndestination:/topic/pipe\nk:a\\cb\nreceipt:sent\n\npiped\0');
    expect((await c.next()).command).toBe('CONNECTED');
    expect(await c.nextMatching((f) => f.command === 'RECEIPT')).toMatchObject({ headers: { 'receipt-id': 'sent' } });
    const [m] = await c.messages(1);
    expect(m!.body.toString()).toBe('piped');
    expect(m!.headers['k']).toBe('a:b');
    c.destroy();
  });

  it('1.0 frames pipelined behind CONNECT are decoded without 1.1 escapes', async () => {
    const c = await RawStompClient.open(port);
    c.parser.version = '1.0';
    c.write('CONNECT\n\n\0SUBSCRIBE\ndestination:/topic/esc10\n\n\0SEND\ndestination:/topic/esc10\nraw:a\\tb\n\nx\0');
    expect((await c.next()).headers['version']).toBe('1.0');
    const m = await c.next();
    expect(m.headers['raw']).toBe('a\\tb');
    c.destroy();
  });
});

describe('SESSION: STOMP errors and limits', () => {
  it('an unknown command → ERROR, then close', async () => {
    const c = await RawStompClient.connect(port);
    c.send('FROB', {});
    await expectErrorThenClose(c, 'unknown command');
  });

  it('a frame over stomp.maxFrameBytes → ERROR "frame too large", then close', async () => {
    const c = await RawStompClient.connect(port);
    c.send('SEND', { destination: '/queue/big' }, Buffer.alloc(70_000, 1));
    await expectErrorThenClose(c, 'frame too large');
  });

  it('more than stomp.maxHeaders headers → ERROR, then close', async () => {
    const c = await RawStompClient.connect(port);
    c.send('SEND', Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`h${i}`, 'v'])), '');
    await expectErrorThenClose(c, 'too many headers');
  });

  it('an undefined escape in 1.2 → ERROR, then close', async () => {
    const c = await RawStompClient.connect(port);
    c.write('SEND\ndestination:/queue/x\nbad:a\\tb\n\n\0');
    await expectErrorThenClose(c, 'malformed frame');
  });

  it('SEND without destination → ERROR with the receipt-id, then close', async () => {
    const c = await RawStompClient.connect(port);
    c.send('SEND', { receipt: 'r-1' }, 'x');
    const f = await c.next();
    expect(f).toMatchObject({ command: 'ERROR', headers: { message: 'missing destination', 'receipt-id': 'r-1' } });
    await c.closed;
  });

  it('an invalid destination → ERROR naming it, then close', async () => {
    const c = await RawStompClient.connect(port);
    c.send('SUBSCRIBE', { id: '1', destination: '/nowhere/x' });
    const f = await c.next();
    expect(f.headers['message']).toBe('invalid destination /nowhere/x');
    expect(f.body.toString()).toMatch(/start with \/topic\//);
    await c.closed;
  });

  it('a subscription id used twice → ERROR, then close', async () => {
    const c = await RawStompClient.connect(port);
    await c.withReceipt('SUBSCRIBE', { id: 'dup', destination: '/topic/d' });
    c.send('SUBSCRIBE', { id: 'dup', destination: '/topic/e' });
    await expectErrorThenClose(c, 'duplicate subscription id');
  });

  it('more than limits.maxSubscriptionsPerSession subscriptions → ERROR, then close', async () => {
    const c = await RawStompClient.connect(port);
    for (const id of ['1', '2', '3']) await c.withReceipt('SUBSCRIBE', { id, destination: `/topic/lim.${id}` });
    c.send('SUBSCRIBE', { id: '4', destination: '/topic/lim.4' });
    await expectErrorThenClose(c, 'too many subscriptions');
  });

  it('UNSUBSCRIBE of an unknown id → ERROR, then close', async () => {
    const c = await RawStompClient.connect(port);
    c.send('UNSUBSCRIBE', { id: 'nope' });
    await expectErrorThenClose(c, 'no such subscription');
  });

  it('ACK of a message id never issued → ERROR, then close', async () => {
    const c = await RawStompClient.connect(port);
    c.send('ACK', { id: 'made-up' });
    await expectErrorThenClose(c, 'unknown message id');
  });

  it('an invalid selector → ERROR explaining it, then close', async () => {
    const c = await RawStompClient.connect(port);
    c.send('SUBSCRIBE', { id: '1', destination: '/topic/sel', selector: "color = 'red' AND" });
    const f = await c.next();
    expect(f.headers['message']).toBe('invalid selector');
    expect(f.body.toString().length).toBeGreaterThan(5);
    await c.closed;
  });

  it('a transaction that was never begun → ERROR, then close', async () => {
    const c = await RawStompClient.connect(port);
    c.send('SEND', { destination: '/topic/t', transaction: 'tx-none' }, 'x');
    await expectErrorThenClose(c, 'no such transaction');
  });

  it('one client\'s bad frame does not disturb another connection', async () => {
    const good = await RawStompClient.connect(port);
    await good.withReceipt('SUBSCRIBE', { id: 'g', destination: '/topic/iso' });
    const bad = await RawStompClient.connect(port);
    bad.write('GARBAGE\n\n\0');
    await bad.closed;
    good.send('SEND', { destination: '/topic/iso' }, 'still here');
    expect((await good.messages(1))[0]!.body.toString()).toBe('still here');
    await good.disconnect();
  });
});

describe('SESSION: STOMP graceful stop', () => {
  it('a stopping gateway tells its clients with an ERROR, after their receipts', async () => {
    const g = await startTestGateway({ stomp: { heartbeatMs: 0 } }, { protocols: [createStompProtocol] });
    const c = await RawStompClient.connect(g.ports.stomp!);
    await c.withReceipt('SUBSCRIBE', { id: '1', destination: '/topic/bye' });
    const stopped = g.stop('maintenance');
    const f = await c.next();
    expect(f).toMatchObject({ command: 'ERROR', headers: { message: 'server shutting down' } });
    expect(f.body.toString()).toMatch(/maintenance/);
    await c.closed;
    await stopped;
  });
});

describe('SESSION: STOMP heart-beats', () => {
  let hb: TestGateway;
  beforeAll(async () => {
    hb = await startTestGateway({ stomp: { heartbeatMs: 200 } }, { protocols: [createStompProtocol] });
  });
  afterAll(async () => {
    await hb?.stop();
  });

  it('CONNECTED offers the server interval; the server beats at the negotiated rate', async () => {
    const c = await RawStompClient.open(hb.ports.stomp!);
    const f = await c.request('CONNECT', { 'accept-version': '1.2', 'heart-beat': '0,50' });
    expect(f.headers['heart-beat']).toBe('200,200');
    await c.nextMatching(() => false, 1000).catch(() => undefined);
    // max(200, 50) = every 200 ms: about 5 beats in 1 s (wide bounds: timers slip on a loaded machine,
    // while a server beating at the client's 50 ms would send about 20)
    expect(c.beats).toBeGreaterThanOrEqual(2);
    expect(c.beats).toBeLessThanOrEqual(10);
    c.destroy();
  });

  it('a client silent past 1.5× its promise is disconnected; one that beats stays', async () => {
    const silent = await RawStompClient.open(hb.ports.stomp!);
    await silent.request('CONNECT', { 'accept-version': '1.2', 'heart-beat': '200,0' });
    const beating = await RawStompClient.open(hb.ports.stomp!);
    await beating.request('CONNECT', { 'accept-version': '1.2', 'heart-beat': '200,0' });
    // beats 7× faster than promised, so a slipping timer on a loaded machine cannot miss the 300 ms grace
    const timer = setInterval(() => beating.write('\n'), 40);
    const started = Date.now();
    await silent.closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(beating.isOpen).toBe(true);
    clearInterval(timer);
    beating.destroy();
  });

  it('STOMP 1.0 gets no heart-beats', async () => {
    const c = await RawStompClient.open(hb.ports.stomp!);
    const f = await c.request('CONNECT', { 'heart-beat': '100,100' });
    expect(f.headers).toMatchObject({ version: '1.0', 'heart-beat': '0,0' });
    await c.noMessageFor(300);
    expect(c.beats).toBe(0);
    expect(c.isOpen).toBe(true);
    c.destroy();
  });
});
