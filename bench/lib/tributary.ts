// Start Tributary as its own process, the way it runs in production: compiled (lib/build.ts)
// and started as `node dist/main.js`; find its ports, wait for /readyz, stop it with SIGTERM (SIGKILL after a
// deadline). Only the process started here is ever signalled.
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { builtTributary } from './build.js';
import { startServerChild } from './child.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface TributaryProcess {
  pid: number;
  stomp: number;
  mqtt: number;
  http: number;
  /** recent output lines, for error reports */
  output(): string;
  stop(): Promise<number | null>;
}

export interface StartOptions {
  amqpUrl: string;
  /** extra `--set key=value` pairs */
  set?: Record<string, string | number | boolean>;
  logLevel?: string;
  readyTimeoutMs?: number;
  nodeArgs?: string[];
}

/** a currently free TCP port on 127.0.0.1 (bound and released) */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startTributary(opts: StartOptions): Promise<TributaryProcess> {
  const [stomp, mqtt, http] = [await freePort(), await freePort(), await freePort()];
  const main = await builtTributary(REPO_ROOT);
  const args = [
    ...(opts.nodeArgs ?? []),
    main,
    '--amqp-url',
    opts.amqpUrl,
    '--host',
    '127.0.0.1',
    '--stomp-port',
    String(stomp),
    '--mqtt-port',
    String(mqtt),
    '--http-port',
    String(http),
    '--log-level',
    opts.logLevel ?? 'warn',
  ];
  for (const [key, value] of Object.entries(opts.set ?? {})) args.push('--set', `${key}=${String(value)}`);
  const { child, lines, output, stop } = startServerChild(args, REPO_ROOT);

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Tributary exited with ${child.exitCode} before it was ready:\n${output()}`);
    if (await ready(http)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`Tributary not ready within ${opts.readyTimeoutMs ?? 30_000} ms:\n${output()}`);
    }
    await sleep(100);
  }
  // the listening line, when the log level shows it, must agree with the ports given
  const line = lines.find((l) => l.includes('listening stomp='));
  const m = line ? /listening stomp=(\S+) mqtt=(\S+) http=(\S+)/.exec(line) : null;
  if (m && (m[1] !== String(stomp) || m[2] !== String(mqtt) || m[3] !== String(http))) {
    await stop();
    throw new Error(`Tributary listens elsewhere than asked: ${line}`);
  }
  return { pid: child.pid!, stomp, mqtt, http, output, stop };
}

async function ready(httpPort: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`, { signal: AbortSignal.timeout(1_000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}
