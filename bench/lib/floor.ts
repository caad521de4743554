// Start the gateway floor (bench/floor/server.ts) as its own process, the way
// lib/tributary.ts starts Tributary: `node --import tsx`, free ports, ready when it prints its
// listening line, stopped with SIGTERM (SIGKILL after a deadline). Only the process started
// here is ever signalled.
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
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

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) if (child.exitCode === null && child.pid !== undefined) child.kill('SIGKILL');
});

export async function startFloor(opts: FloorOptions): Promise<FloorProcess> {
  // profiles in a floor/ subdirectory of --cpu-prof-dir, told apart from Tributary's (a fixed
  // --cpu-prof-name would not do: tsx's loader thread writes a profile of its own under the same name)
  const nodeArgs = (opts.nodeArgs ?? []).map((a, i, all) => (all[i - 1] === '--cpu-prof-dir' ? `${a.replace(/\/$/, '')}/floor` : a));
  const args = [
    ...nodeArgs,
    '--import',
    'tsx',
    'bench/floor/server.ts',
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
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const lines: string[] = [];
  let onLine: ((line: string) => void) | undefined;
  const keep = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      lines.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
      if (lines.length > 60) lines.shift();
      onLine?.(line);
    }
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.once('exit', () => live.delete(child));
  const output = (): string => lines.join('\n');
  const stop = async (): Promise<number | null> => {
    if (child.exitCode !== null) return child.exitCode;
    child.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(15_000).then(() => 'timeout' as const)]);
    if (code === 'timeout') {
      child.kill('SIGKILL');
      return exited;
    }
    return code;
  };
  const timeoutMs = opts.readyTimeoutMs ?? 30_000;
  const ports = await new Promise<{ mqtt: number; stomp: number } | string>((resolve) => {
    const timer = setTimeout(() => resolve(`not ready within ${timeoutMs} ms`), timeoutMs);
    onLine = (line) => {
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
  onLine = undefined;
  if (typeof ports === 'string') {
    await stop();
    throw new Error(`gateway floor ${ports}:\n${output()}`);
  }
  return { pid: child.pid!, ...ports, output, stop };
}
