// SESSION: the STOMP session over real loopback sockets on the embedded fabric: frames in,
// frames out, with our own codec on the client side.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStompProtocol } from '../../../src/protocols/stomp/index.js';
import { startTestGateway, type TestGateway } from '../../support/gateway.js';
import { RawStompClient } from './support/raw-client.js';

let gw: TestGateway;
let port: number;

beforeAll(async () => {
  gw = await startTestGateway({ stomp: { heartbeatMs: 0 } }, { protocols: [createStompProtocol] });
  port = gw.ports.stomp!;
});
afterAll(async () => {
  await gw?.stop();
});

describe('SESSION: STOMP connect', () => {
  it('a telnet-style CONNECT with no headers gets CONNECTED 1.0', async () => {
    const c = await RawStompClient.open(port);
    c.write('CONNECT\n\n\0');
    const f = await c.next();
    expect(f.command).toBe('CONNECTED');
    expect(f.headers['version']).toBe('1.0');
    expect(f.headers['server']).toMatch(/^Tributary\/\d/);
    expect(f.headers['session']).toMatch(/^session-/);
    c.destroy();
  });

  it('SEND then SUBSCRIBE on a topic delivers a MESSAGE', async () => {
    const c = await RawStompClient.connect(port);
    await c.withReceipt('SUBSCRIBE', { id: 's1', destination: '/topic/a.b' });
    c.send('SEND', { destination: '/topic/a.b', 'content-type': 'text/plain', custom: 'x' }, 'hello');
    const [m] = await c.messages(1);
    expect(m!.headers).toMatchObject({ destination: '/topic/a.b', subscription: 's1', 'content-type': 'text/plain', custom: 'x', redelivered: 'false' });
    expect(m!.body.toString()).toBe('hello');
    await c.disconnect();
  });
});
