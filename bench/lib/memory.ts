// Memory as a server accounts for it, where RSS is blurred by allocator reuse and by other
// clients of a long-running shared process:
// - Mosquitto: $SYS/broker/heap/current (its own malloc accounting; published every
//   sys_interval, 10 s by default);
// - RabbitMQ: the memory of the Erlang processes that appeared meanwhile (connection,
//   channel, queue processes…). Not erlang:memory(total): each rabbitmq_mqtt connection
//   allocates ~3.8 MB of binary whose pages are never touched; not RSS, nor processes/ets
//   totals: on this shared broker other test runs move them by ±100 MB within seconds.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { MqttClient } from '../clients/mqtt.js';
import type { Endpoint } from '../clients/conn.js';

const run = promisify(execFile);

/** the broker's process ids, to compare with later (see beamNewProcessMemory) */
export async function beamPids(): Promise<Set<string> | undefined> {
  try {
    const { stdout } = await run('rabbitmqctl', ['-q', 'eval', '[erlang:pid_to_list(P) || P <- erlang:processes()].'], { timeout: 30_000, maxBuffer: 64 << 20 });
    return new Set([...stdout.matchAll(/"(<[\d.]+>)"/g)].map((m) => m[1]!));
  } catch {
    return undefined;
  }
}

/** total memory (heap, stack, mailbox) of the broker processes not in `before`, and their count */
export async function beamNewProcessMemory(before: Set<string>): Promise<{ bytes: number; processes: number } | undefined> {
  try {
    const expr = '[{erlang:pid_to_list(P), M} || P <- erlang:processes(), {memory, M} <- [erlang:process_info(P, memory)]].';
    const { stdout } = await run('rabbitmqctl', ['-q', 'eval', expr], { timeout: 30_000, maxBuffer: 64 << 20 });
    let bytes = 0;
    let processes = 0;
    for (const m of stdout.matchAll(/\{"(<[\d.]+>)",(\d+)\}/g)) {
      if (before.has(m[1]!)) continue;
      bytes += Number(m[2]);
      processes++;
    }
    return { bytes, processes };
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
