// WebSocket keep-alive pings are spread over the interval (src/transport/websocket.ts): one
// pass over every socket in one turn stalled the gateway ~40-90 µs per peer; lively peers are
// never cut, and a silent one still is (that case: test/unit/transport.test.ts).
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { echoProtocol } from '../support/echo-protocol.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

const gateways: TestGateway[] = [];
const clients: WebSocket[] = [];
afterEach(async () => {
  for (const ws of clients.splice(0)) ws.terminate();
  await Promise.all(gateways.splice(0).map((g) => g.stop()));
});

describe('WebSocket pings', () => {
  it('spreads one round of pings over the interval instead of one turn, and cuts no lively peer', async () => {
    const interval = 400;
    const peers = 40;
    const stomp = echoProtocol({ name: 'stomp', wsSubprotocols: ['v12.stomp'] });
    const gw = await startTestGateway({ websocket: { pingIntervalMs: interval } }, { protocols: [stomp.factory] });
    gateways.push(gw);
    const pings: number[][] = [];
    const closed: number[] = [];
    for (let i = 0; i < peers; i++) {
      const ws = new WebSocket(gw.wsUrl('/stomp'), ['v12.stomp']);
      clients.push(ws);
      const mine: number[] = [];
      pings.push(mine);
      ws.on('ping', () => mine.push(performance.now()));
      ws.on('close', () => closed.push(i));
      await once(ws, 'open');
    }
    // rounds that start once every peer is connected take all of them: wait for two pings each
    const after = performance.now() + 2 * interval;
    const later = (p: number[]) => p.filter((t) => t > after);
    const deadline = performance.now() + 15_000;
    while (pings.some((p) => later(p).length < 2) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(pings.map((p) => later(p).length).filter((n) => n < 2)).toEqual([]);
    expect(closed).toEqual([]);
    const first = pings.map((p) => later(p)[0]!);
    const spread = Math.max(...first) - Math.min(...first);
    // 20 slices of 2 peers, 20 ms apart: ~380 ms; all in one turn it was a few ms
    expect(spread).toBeGreaterThan(interval / 3);
    // and a peer is not pinged again before about an interval has passed
    for (const p of pings) expect(later(p)[1]! - later(p)[0]!).toBeGreaterThan(interval * 0.8);
  }, 20_000);
});
