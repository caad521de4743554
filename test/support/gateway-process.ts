// The gateway as a separate OS process (`node --import tsx src/main.ts …`), for tests that
// SIGKILL it, read its RSS from /proc, or run several processes on one broker.
//
//   const gw = await spawnGateway(['--amqp-url', amqpUrl]);
//   net.connect(gw.ports.mqtt!, '127.0.0.1'); gw.rssBytes(); gw.kill('SIGKILL'); await gw.stop();
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BoundPorts } from '../../src/gateway.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** every listener on a free port of loopback */
export const FREE_PORTS = ['--host', '127.0.0.1', '--stomp-port', '0', '--mqtt-port', '0', '--http-port', '0'];

/** the most output kept per stream (the process may log one line per connection) */
const KEEP_CHARS = 256 * 1024;

export interface GatewayProcess {
  child: ChildProcess;
  pid: number;
  ports: BoundPorts;
  /** the listening line's message, e.g. "listening stomp=… mqtt=… http=… fabric=amqp" */
  listening: string;
  /** node id from the listening line (host-pid-random) */
  node: string;
  url(path: string): string;
  wsUrl(path: string): string;
  /** the last KEEP_CHARS of stdout (pino JSON lines) and stderr */
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** resident set size of the process (not its children), from /proc/<pid>/status */
  rssBytes(): number;
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, and SIGKILL if it has not exited within `graceMs` */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  env?: Record<string, string>;
  /** how long to wait for the listening line (default 60 s: tsx compiles on a loaded machine) */
  startTimeoutMs?: number;
  /** extra node flags, e.g. --expose-gc */
  nodeArgs?: string[];
}

const running = new Set<GatewayProcess>();

/** SIGKILL every gateway process still running (afterAll safety net) */
export function killAllGatewayProcesses(): void {
  for (const gw of running) if (gw.child.exitCode === null && gw.child.signalCode === null) gw.child.kill('SIGKILL');
  running.clear();
}

export async function spawnGateway(args: string[], opts: SpawnOptions = {}): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', 'src/main.ts', ...FREE_PORTS, ...args], {
    cwd: root,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let partial = '';
  let listeningLine: Record<string, unknown> | undefined;
  let onListening: (() => void) | undefined;
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (d: string) => {
    stdout = keep(stdout + d);
    if (listeningLine) return;
    partial += d;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.includes('"listening ')) continue;
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (String(parsed.msg).startsWith('listening ')) {
          listeningLine = parsed;
          partial = '';
          onListening?.();
          return;
        }
      } catch {
        // not JSON: ignore
      }
    }
  });
  child.stderr?.on('data', (d: string) => { stderr = keep(stderr + d); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gateway process did not print its listening line within ${opts.startTimeoutMs ?? 60_000} ms\n${stderr}\n${stdout.slice(-4000)}`));
    }, opts.startTimeoutMs ?? 60_000);
    onListening = () => {
      clearTimeout(timer);
      resolve();
    };
    if (listeningLine) onListening();
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      if (!listeningLine) reject(new Error(`gateway process exited (${code ?? signal}) before listening: ${stderr}${stdout.slice(-4000)}`));
    });
  });

  const line = listeningLine as unknown as { msg: string; ports: BoundPorts; node?: string };
  const pid = child.pid as number;
  const base = `127.0.0.1:${line.ports.http ?? 0}`;
  const gw: GatewayProcess = {
    child,
    pid,
    ports: line.ports,
    listening: line.msg,
    node: line.node ?? '',
    url: (path) => `http://${base}${path}`,
    wsUrl: (path) => `ws://${base}${path}`,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    rssBytes: () => rssOf(pid),
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    stop: async (graceMs = 15_000) => {
      running.delete(gw);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  running.add(gw);
  return gw;
}

/** VmRSS of a process in bytes (0 once it has gone) */
export function rssOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? 0 : Number(kb) * 1024;
  } catch {
    return 0;
  }
}

function keep(text: string): string {
  return text.length > KEEP_CHARS ? text.slice(text.length - KEEP_CHARS) : text;
}

export const MiB = 1024 * 1024;
export const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;
