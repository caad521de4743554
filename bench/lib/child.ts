// A server process the runner started (Tributary, the gateway floor): keeps its recent output
// for error reports, stops it with SIGTERM (SIGKILL after a deadline), and kills whatever is
// still running when the runner exits. Only processes started through here are ever signalled.
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) if (child.exitCode === null && child.pid !== undefined) child.kill('SIGKILL');
});

export interface ServerChild {
  child: ChildProcess;
  /** settles with the exit code once the process is gone */
  exited: Promise<number | null>;
  /** recent output lines (at most 60, each cut at 400 characters) */
  lines: string[];
  output(): string;
  /** called with every output line while set (e.g. to find a listening line) */
  onLine: ((line: string) => void) | undefined;
  stop(): Promise<number | null>;
}

export function startServerChild(args: string[], cwd: string, stopDeadlineMs = 15_000): ServerChild {
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.once('exit', () => live.delete(child));
  const server: ServerChild = {
    child,
    exited,
    lines: [],
    output: () => server.lines.join('\n'),
    onLine: undefined,
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const code = await Promise.race([exited, sleep(stopDeadlineMs).then(() => 'timeout' as const)]);
      if (code !== 'timeout') return code;
      child.kill('SIGKILL');
      return exited;
    },
  };
  const keep = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      server.lines.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
      if (server.lines.length > 60) server.lines.shift();
      server.onLine?.(line);
    }
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return server;
}
