// E2E: a live STOMP listener fed random and mutated frames by fast-check. Whatever arrives, the
// bad client gets at most an ERROR as its last frame and then a closed connection (or, for
// bytes that are still a valid prefix, an open one), the process throws nothing, and a healthy
// connection opened beforehand keeps working after every case.
import fc from 'fast-check';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeFrame, type StompFrame } from '../../src/protocols/stomp/frame.js';
import { createStompProtocol } from '../../src/protocols/stomp/index.js';
import { StompParser } from '../../src/protocols/stomp/parser.js';
import { byteMutation, cutPoints, garbage, mutate, splitAt, stompFrame } from '../support/fuzz-arbitraries.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { RawStompClient } from '../unit/stomp/support/raw-client.js';

interface Outcome {
  frames: StompFrame[];
  closedByServer: boolean;
}

/** write `chunks`, then wait (bounded) for the server to close; report what came back */
function feed(port: number, chunks: Buffer[], waitMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const parser = new StompParser({ maxFrameBytes: 1 << 20, maxHeaders: 1000, maxHeaderBytes: 1 << 16 });
    parser.version = '1.0'; // decode leniently: we only look at commands and order
    const frames: StompFrame[] = [];
    let closedByServer = false;
    socket.on('data', (d: Buffer) => {
      for (const e of parser.push(d)) if (e.kind === 'frame') frames.push(e.frame);
    });
    socket.on('error', () => undefined);
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ frames, closedByServer });
    });
    socket.on('end', () => {
      closedByServer = true;
    });
    socket.on('connect', () => {
      for (const c of chunks) socket.write(c);
    });
  });
}

const arbInput = fc.oneof(
  garbage(600),
  fc.tuple(fc.boolean(), fc.array(stompFrame, { minLength: 1, maxLength: 4 }), fc.array(byteMutation, { maxLength: 4 })).map(([withConnect, frames, muts]) =>
    mutate(Buffer.concat([
      ...(withConnect ? [Buffer.from('CONNECT\naccept-version:1.2\n\n\0')] : []),
      ...frames.map((f) => serializeFrame({ command: f.command, headers: f.headers, body: Buffer.from(f.body) }, '1.2')),
    ]), muts)),
);

describe('E2E: STOMP listener under fuzzed input', () => {
  let gw: TestGateway;
  let healthy: RawStompClient;

  beforeAll(async () => {
    gw = await startTestGateway(
      { stomp: { heartbeatMs: 0, maxFrameBytes: 4096, maxHeaders: 16, maxHeaderBytes: 512 }, limits: { connectTimeoutMs: 250 } },
      { protocols: [createStompProtocol] },
    );
    healthy = await RawStompClient.connect(gw.ports.stomp!);
    await healthy.withReceipt('SUBSCRIBE', { id: 'h', destination: '/topic/healthy' });
  });
  afterAll(async () => {
    healthy?.destroy();
    await gw?.stop();
  });

  it('random and mutated frames: ERROR is always last and followed by a close; others are unaffected', async () => {
    let errors = 0;
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(arbInput, cutPoints, async (input, cuts) => {
        runs++;
        const outcome = await feed(gw.ports.stomp!, splitAt(input, cuts), 600);
        const errorAt = outcome.frames.findIndex((f) => f.command === 'ERROR');
        if (errorAt >= 0) {
          errors++;
          expect(errorAt, 'nothing follows an ERROR').toBe(outcome.frames.length - 1);
          expect(outcome.closedByServer, 'the server closes after an ERROR').toBe(true);
        }
        for (const f of outcome.frames) expect(['CONNECTED', 'RECEIPT', 'MESSAGE', 'ERROR']).toContain(f.command);
        healthy.send('SEND', { destination: '/topic/healthy' }, `alive ${runs}`);
        expect((await healthy.messages(1))[0]!.body.toString()).toBe(`alive ${runs}`);
      }),
      { numRuns: 60 },
    );
    // the generators must actually reach the error paths
    expect(errors).toBeGreaterThan(runs / 3);
  }, 120_000);
});
