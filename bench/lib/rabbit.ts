// Read-only questions to the local RabbitMQ: how many more sockets it can take, and
// whether the plugin listeners are up (setup-rabbitmq-plugins.sh enables them).
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { openFileCount, openFilesLimit } from './proc.js';

const run = promisify(execFile);

/** sockets RabbitMQ's file handle cache allows and uses (3.10 counts client sockets there) */
export async function beamSockets(): Promise<{ limit: number; used: number } | undefined> {
  try {
    const { stdout } = await run('rabbitmqctl', ['-q', 'eval', 'file_handle_cache:info([sockets_limit, sockets_used]).'], { timeout: 15_000 });
    const limit = /sockets_limit,(\d+)/.exec(stdout);
    const used = /sockets_used,(\d+)/.exec(stdout);
    if (!limit || !used) return undefined;
    return { limit: Number(limit[1]), used: Number(used[1]) };
  } catch {
    return undefined;
  }
}

/**
 * How many more client connections beam.smp can take while leaving `margin` sockets for
 * everyone else using the broker: the smaller of the OS open-files headroom and the file
 * handle cache's socket headroom.
 */
export async function beamHeadroom(pid: number, margin: number): Promise<{ headroom: number; why: string }> {
  const soft = openFilesLimit(pid) ?? 1024;
  const open = openFileCount(pid) ?? 0;
  const fds = Math.floor(soft) - open;
  const sockets = await beamSockets();
  const fhc = sockets ? sockets.limit - sockets.used : Number.POSITIVE_INFINITY;
  const headroom = Math.max(0, Math.min(fds, fhc) - margin);
  const why = `beam.smp open files ${open}/${soft}${sockets ? `, file_handle_cache sockets ${sockets.used}/${sockets.limit}` : ''}, ${margin} kept free for other clients`;
  return { headroom, why };
}

export function portOpen(port: number, host = '127.0.0.1', timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export const SETUP_SCRIPT = fileURLToPath(new URL('../setup-rabbitmq-plugins.sh', import.meta.url));

/** make sure the plugin listeners are up; runs the setup script when one is missing */
export async function ensurePlugins(ports: number[], log: (m: string) => void): Promise<{ ok: boolean; detail: string }> {
  const missing: number[] = [];
  for (const p of ports) if (!(await portOpen(p))) missing.push(p);
  if (missing.length === 0) return { ok: true, detail: `plugin ports ${ports.join(', ')} answer` };
  log(`plugin ports ${missing.join(', ')} closed: running ${SETUP_SCRIPT}`);
  try {
    const { stdout, stderr } = await run('bash', [SETUP_SCRIPT], { timeout: 120_000 });
    log((stdout + stderr).trim());
  } catch (err) {
    return { ok: false, detail: `setup failed: ${(err as Error).message}` };
  }
  const still: number[] = [];
  for (const p of ports) if (!(await portOpen(p))) still.push(p);
  return still.length === 0 ? { ok: true, detail: 'plugins enabled by setup-rabbitmq-plugins.sh' } : { ok: false, detail: `ports ${still.join(', ')} still closed` };
}
