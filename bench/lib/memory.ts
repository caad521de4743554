// Memory as a server accounts for it, where RSS is blurred by allocator reuse in a
// long-running shared process:
// - Mosquitto: $SYS/broker/heap/current (its own malloc accounting; published every
//   sys_interval, 10 s by default);
// - RabbitMQ: erlang:memory(total), for the record only: it counts allocated binaries whose
//   pages were never touched, so RSS is the figure the connection scenarios use.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { MqttClient } from '../clients/mqtt.js';
import type { Endpoint } from '../clients/conn.js';

const run = promisify(execFile);

export async function beamMemory(): Promise<number | undefined> {
  try {
    const { stdout } = await run('rabbitmqctl', ['-q', 'eval', 'erlang:memory(total).'], { timeout: 15_000 });
    const n = Number(stdout.trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Mosquitto's heap as published on $SYS. `fresh` waits for a publication made after the
 * call (up to `timeoutMs`) instead of taking the retained, possibly older, value.
 */
export async function mosquittoHeap(endpoint: Endpoint, fresh: boolean, timeoutMs = 12_000): Promise<number | undefined> {
  let client: MqttClient | undefined;
  try {
    client = await MqttClient.connect(endpoint, { clientId: `bench_heap_${process.pid}_${Date.now()}` });
    const c = client;
    const value = new Promise<number | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      let first = true;
      c.onMessage((_topic, payload) => {
        // the first message is the retained one; with `fresh` wait for the next
        if (fresh && first) {
          first = false;
          return;
        }
        clearTimeout(timer);
        resolve(Number(payload.toString('utf8')));
      });
    });
    await c.subscribe('$SYS/broker/heap/current', 0);
    return await value;
  } catch {
    return undefined;
  } finally {
    client?.disconnect();
  }
}
