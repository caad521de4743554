// /proc readings for the server processes: CPU seconds (utime + stime), RSS, and finding
// the broker processes by their command name (read-only: nothing here signals a process).
import { readFileSync, readdirSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';

/** clock ticks per second for /proc/<pid>/stat (getconf CLK_TCK; 100 on Linux x86-64) */
const CLK_TCK = 100;

export interface ProcSample {
  cpuSeconds: number;
  rssBytes: number;
}

/** utime + stime of a process in seconds, or NaN when it is gone */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name is in parentheses and may contain spaces: split after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime is field 14, stime field 15
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** resident set size in bytes (VmRSS), or NaN when the process is gone */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

export function sample(pid: number | undefined): ProcSample | undefined {
  if (pid === undefined) return undefined;
  return { cpuSeconds: cpuSeconds(pid), rssBytes: rssBytes(pid) };
}

/** pids whose /proc/<pid>/comm is exactly `name` (e.g. beam.smp, mosquitto) */
export function pidsByName(name: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** the one process with that name; the busiest by CPU if several (should not happen) */
export function findProcess(name: string): number | undefined {
  const pids = pidsByName(name);
  if (pids.length <= 1) return pids[0];
  return pids.sort((a, b) => cpuSeconds(b) - cpuSeconds(a))[0];
}

/** soft limit on open files of a process, from /proc/<pid>/limits */
export function openFilesLimit(pid: number): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    if (!m) return undefined;
    return m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
  } catch {
    return undefined;
  }
}

export function openFileCount(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

export interface MachineInfo {
  nproc: number;
  model: string;
  memoryGiB: number;
  node: string;
  kernel: string;
  loadavg: [number, number, number];
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  let kernel = '';
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    kernel = 'unknown';
  }
  const [l1, l5, l15] = loadavg();
  return {
    nproc: list.length,
    model: list[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel,
    loadavg: [round2(l1 ?? 0), round2(l5 ?? 0), round2(l15 ?? 0)],
  };
}

export function loadAverage1(): number {
  return round2(loadavg()[0] ?? 0);
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
