// Start the gateway floor (bench/floor/server.ts) as its own process, the way
// lib/tributary.ts starts Tributary: compiled (lib/build.ts), plain `node`, free ports, ready when it prints its
// listening line, stopped with SIGTERM (SIGKILL after a deadline). Only the process started
// here is ever signalled.
import { builtFloor } from './build.js';
import { startServerChild } from './child.js';
import { REPO_ROOT } from './tributary.js';

export interface FloorProcess {
  pid: number;
  mqtt: number;
  stomp: number;
  output(): string;
  stop(): Promise<number | null>;
}

export interface FloorOptions {
  amqpUrl: string;
  /** per-client (default, or BENCH_FLOOR_AMQP_CONNECTIONS) or shared AMQP connections, see bench/floor/common.ts */
  amqpConnections?: 'per-client' | 'shared';
  nodeArgs?: string[];
  readyTimeoutMs?: number;
}

export async function startFloor(opts: FloorOptions): Promise<FloorProcess> {
  // profiles in a floor/ subdirectory of --cpu-prof-dir, told apart from Tributary's
  const nodeArgs = (opts.nodeArgs ?? []).map((a, i, all) => (all[i - 1] === '--cpu-prof-dir' ? `${a.replace(/\/$/, '')}/floor` : a));
  const args = [
    ...nodeArgs,
    await builtFloor(REPO_ROOT),
    '--amqp-url',
    opts.amqpUrl,
    '--host',
    '127.0.0.1',
    '--mqtt-port',
    '0',
    '--stomp-port',
    '0',
    '--amqp-connections',
    opts.amqpConnections ?? process.env.BENCH_FLOOR_AMQP_CONNECTIONS ?? 'per-client',
  ];
  const server = startServerChild(args, REPO_ROOT);
  const { child, exited, output, stop } = server;
  const timeoutMs = opts.readyTimeoutMs ?? 30_000;
  const ports = await new Promise<{ mqtt: number; stomp: number } | string>((resolve) => {
    const timer = setTimeout(() => resolve(`not ready within ${timeoutMs} ms`), timeoutMs);
    server.onLine = (line) => {
      const m = /^floor listening mqtt=(\d+) stomp=(\d+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ mqtt: Number(m[1]), stomp: Number(m[2]) });
      }
    };
    void exited.then((code) => {
      clearTimeout(timer);
      resolve(`exited with ${code} before it was ready`);
    });
  });
  server.onLine = undefined;
  if (typeof ports === 'string') {
    await stop();
    throw new Error(`gateway floor ${ports}:\n${output()}`);
  }
  return { pid: child.pid!, ...ports, output, stop };
}
