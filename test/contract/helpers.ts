// Helpers for the Fabric contract suite: waiting on conditions, collecting deliveries,
// asserting GatewayError codes. No sleeps where an event can be awaited.
import { expect } from 'vitest';
import { isGatewayError, type ErrorCode } from '../../src/errors.js';
import type { Delivery, FabricMessage, MessageProperties } from '../../src/fabric/types.js';

export function msg(text: string, properties: MessageProperties = {}): FabricMessage {
  return { body: Buffer.from(text), properties };
}

export function text(d: { body: Buffer }): string {
  return d.body.toString();
}

/** poll `check` until it stops throwing (assertions inside) or the time runs out */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 5000, everyMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
}

/** a short quiet period, used only to assert that something does NOT happen */
export function quiet(ms = 150): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function expectCode(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected a GatewayError ${code}`).toBeDefined();
  expect(isGatewayError(caught), `expected a GatewayError, got ${String(caught)}`).toBe(true);
  expect((caught as { code: string }).code).toBe(code);
}

/** records deliveries; `next(n)` waits until at least n have arrived */
export class Collector {
  readonly items: Delivery[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];

  readonly handler = (d: Delivery): void => {
    this.items.push(d);
    this.waiters = this.waiters.filter((w) => {
      if (this.items.length < w.n) return true;
      w.resolve();
      return false;
    });
  };

  get texts(): string[] {
    return this.items.map(text);
  }

  async count(n: number, timeoutMs = 5000): Promise<Delivery[]> {
    if (this.items.length < n) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${n} deliveries, got ${this.items.length}`)), timeoutMs);
        this.waiters.push({ n, resolve: () => { clearTimeout(timer); resolve(); } });
      });
    }
    return this.items.slice(0, n);
  }
}

export async function expectOneOf(p: Promise<unknown>, codes: ErrorCode[]): Promise<void> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(isGatewayError(caught), `expected a GatewayError, got ${String(caught)}`).toBe(true);
  expect(codes).toContain((caught as { code: ErrorCode }).code);
}
