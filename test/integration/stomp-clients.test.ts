// E2E: real STOMP clients against the gateway, on both fabrics: @stomp/stompjs over TCP (with
// @stomp/tcp-wrapper) and over WebSocket (subprotocol v12.stomp), and a person at a terminal
// (`nc host 61613`: LF lines, frames ended with NUL) — replayed byte for byte on a raw socket.
import net from 'node:net';
import { Client, type IMessage, type IStompSocket } from '@stomp/stompjs';
import { TCPWrapper } from '@stomp/tcp-wrapper';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStompProtocol } from '../../src/protocols/stomp/index.js';
import { uniqueName } from '../support/broker.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { BrokerCleanup, FABRICS } from '../unit/stomp/support/fabrics.js';

const name = (prefix: string) => uniqueName(prefix).replace(/[^\w-]/g, '');

function stompClient(factory: () => IStompSocket, headers: Record<string, string> = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client({
      webSocketFactory: factory,
      connectHeaders: { login: 'guest', passcode: 'guest', ...headers },
      reconnectDelay: 0,
      heartbeatIncoming: 1000,
      heartbeatOutgoing: 1000,
      onConnect: () => resolve(client),
      onStompError: (f) => reject(new Error(`${f.headers['message']}: ${f.body}`)),
      onWebSocketError: () => reject(new Error('socket error')),
    });
    client.activate();
  });
}

function nextMessages(client: Client, destination: string, n: number, headers: Record<string, string> = {}): Promise<IMessage[]> {
  return new Promise((resolve) => {
    const got: IMessage[] = [];
    client.subscribe(destination, (m) => {
      got.push(m);
      if (got.length === n) resolve(got);
    }, headers);
  });
}

/** what a person types into nc: each line ends in LF, each frame in ^@ (NUL) and the Enter after it */
function typed(lines: string[]): string {
  return lines.map((l) => (l === '^@' ? '\0\n' : `${l}\n`)).join('');
}

for (const [label, fabric, enabled] of FABRICS) {
  describe.runIf(enabled)(`E2E: STOMP clients on the ${label}`, () => {
    let gw: TestGateway;
    const cleanup = new BrokerCleanup(fabric);
    beforeAll(async () => {
      gw = await startTestGateway({ stomp: { heartbeatMs: 1000 } }, { fabric, protocols: [createStompProtocol] });
    });
    afterAll(async () => {
      await gw?.stop();
      await cleanup.run();
    });

    it('@stomp/stompjs over TCP: subscribe, publish with receipt, client ack', async () => {
      const client = await stompClient(() => new TCPWrapper('127.0.0.1', gw.ports.stomp!) as unknown as IStompSocket);
      const topic = `/topic/${name('js')}`;
      const received = nextMessages(client, topic, 2, { ack: 'client-individual' });
      await new Promise<void>((resolve) => {
        const receipt = 'sub-ready';
        client.watchForReceipt(receipt, () => resolve());
        client.publish({ destination: '/topic/warmup', headers: { receipt } });
      });
      const confirmed = new Promise<void>((resolve) => client.watchForReceipt('p2', () => resolve()));
      client.publish({ destination: topic, body: 'one', headers: { 'content-type': 'text/plain' } });
      client.publish({ destination: topic, binaryBody: new Uint8Array([0, 1, 0]), headers: { receipt: 'p2' } });
      await confirmed;
      const [a, b] = await received;
      expect(a!.body).toBe('one');
      expect(a!.headers['content-type']).toBe('text/plain');
      expect([...b!.binaryBody]).toEqual([0, 1, 0]);
      a!.ack();
      b!.ack();
      await client.deactivate();
    });

    it('@stomp/stompjs over WebSocket (v12.stomp on /ws): request/reply through a temp queue', async () => {
      const factory = () => new WebSocket(gw.wsUrl('/ws'), ['v12.stomp', 'v11.stomp']) as unknown as IStompSocket;
      const responder = await stompClient(factory);
      const service = `/queue/${cleanup.queue(name('ws-svc'))}`;
      responder.subscribe(service, (m) => {
        responder.publish({ destination: m.headers['reply-to']!, body: `echo ${m.body}`, headers: { 'correlation-id': m.headers['correlation-id']! } });
      });
      await new Promise<void>((resolve) => {
        responder.watchForReceipt('ready', () => resolve());
        responder.publish({ destination: '/topic/warmup', headers: { receipt: 'ready' } });
      });
      const requester = await stompClient(factory);
      const reply = new Promise<IMessage>((resolve) => {
        requester.onUnhandledMessage = resolve;
      });
      requester.publish({ destination: service, body: 'hi', headers: { 'reply-to': '/temp-queue/r', 'correlation-id': '7' } });
      const m = await reply;
      expect(m.body).toBe('echo hi');
      expect(m.headers['correlation-id']).toBe('7');
      await Promise.all([requester.deactivate(), responder.deactivate()]);
    });

    it('a telnet session: CONNECT, SUBSCRIBE, SEND and read the MESSAGE', async () => {
      const socket = net.connect(gw.ports.stomp!, '127.0.0.1');
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => {
        text += d;
      });
      const waitFor = (pattern: RegExp) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no ${pattern} in ${JSON.stringify(text)}`)), 5000);
          const check = () => {
            if (!pattern.test(text)) return;
            clearTimeout(timer);
            socket.off('data', check);
            resolve();
          };
          socket.on('data', check);
          check();
        });
      const key = name('telnet');
      socket.write(typed(['CONNECT', 'login:guest', 'passcode:guest', '', '^@']));
      await waitFor(/^CONNECTED\n(.+\n)*\n\0\n/);
      expect(text).toMatch(/\nversion:1\.0\n/);
      socket.write(typed(['SUBSCRIBE', `destination:/topic/${key}`, 'receipt:s', '', '^@']));
      await waitFor(/RECEIPT\nreceipt-id:s\n\n\0\n/);
      socket.write(typed(['SEND', `destination:/topic/${key}`, '', 'hello from a terminal', '^@']));
      await waitFor(/MESSAGE\n(.+\n)*\nhello from a terminal\n\0\n/);
      expect(text).toMatch(new RegExp(`MESSAGE\\ndestination:/topic/${key}\\nmessage-id:[^\\n]+\\nsubscription:/topic/${key}\\n`));
      socket.write(typed(['DISCONNECT', 'receipt:bye', '', '^@']));
      await waitFor(/receipt-id:bye\n\n\0\n$/);
      await new Promise((resolve) => socket.on('close', resolve));
    });
  });
}
