// npm run bench -- <scenario…>|all|list [--runs N] [--scale X] [--targets a,b] [--latest]
//
// Runs Tributary side by side with its references (RabbitMQ's own plugins, Mosquitto,
// direct AMQP) and writes bench/results/<date>.json plus a markdown table
// (bench/results/latest.md for `all`). `fairness` runs the fair-queue benchmark
// (bench/fairness.ts). See bench/README.md.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { machineInfo, openFilesLimit } from './lib/proc.js';
import { ensurePlugins, portOpen } from './lib/rabbit.js';
import { markdown, writeJson, writeMarkdown, type BenchReport } from './lib/report.js';
import { runScenario, type RunnerOptions } from './lib/runner.js';
import type { Scenario } from './lib/scenario.js';
import { MOSQUITTO_PORT, RABBIT_PORTS, type TargetName } from './lib/targets.js';
import { connectionScenario } from './scenarios/connections.js';
import { messagingScenarios } from './scenarios/messaging.js';

const BENCH_DIR = fileURLToPath(new URL('./', import.meta.url));
const RESULTS_DIR = `${BENCH_DIR}results/`;
const FAIRNESS_SCRIPT = `${BENCH_DIR}fairness.ts`;
/** `all` must finish within 15 minutes on the development machine */
const ALL_BUDGET_SECONDS = 14 * 60;
/** how long bench/fairness.ts takes without --quick (measured: about 3 minutes) */
const FAIRNESS_FULL_SECONDS = 200;

const scenarios: Scenario[] = [...messagingScenarios, connectionScenario(1_000), connectionScenario(5_000), connectionScenario(10_000, false)];

interface Cli {
  names: string[];
  runs?: number;
  scale: number;
  only?: TargetName[];
  latest: boolean;
  cpuProf?: boolean;
  rest: string[];
}

function parseArgs(argv: string[]): Cli {
  const cli: Cli = { names: [], scale: Number(process.env.BENCH_SCALE ?? 1), latest: false, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (cli.names[0] === 'fairness') cli.rest.push(a);
    else if (a === '--runs') cli.runs = Number(value());
    else if (a === '--scale') cli.scale = Number(value());
    else if (a === '--targets') cli.only = value().split(',') as TargetName[];
    else if (a === '--latest') cli.latest = true;
    else if (a === '--cpu-prof') cli.cpuProf = true;
    else if (a === '-h' || a === '--help') cli.names.push('help');
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else cli.names.push(a);
  }
  return cli;
}

function usage(): string {
  const lines = scenarios.map((s) => `  ${s.name.padEnd(26)} ${s.title}${s.inAll === false ? ' (not in all)' : ''}`);
  return [
    'usage: npm run bench -- <scenario…>|all|list [--runs N] [--scale X] [--targets tributary,rabbitmq,floor,mosquitto,amqp] [--latest] [--cpu-prof]',
    '       npm run bench -- fairness [its own arguments]',
    '',
    'scenarios:',
    ...lines,
    `  ${'fairness'.padEnd(26)} per-publisher fair queues (bench/fairness.ts)`,
    '',
    '--scale multiplies message counts and phase durations (0.1 for a quick try); --latest also writes',
    'results/latest.md; --cpu-prof starts Tributary and the gateway floor with node --cpu-prof (profiles in results/profiles/).',
  ].join('\n');
}

const log = (m: string): void => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}`);

async function main(): Promise<number> {
  const cli = parseArgs(process.argv.slice(2));
  if (cli.names.length === 0 || cli.names[0] === 'help' || cli.names[0] === 'list') {
    console.log(usage());
    return cli.names.length === 0 ? 2 : 0;
  }
  if (cli.names[0] === 'fairness' && cli.names.length === 1) return runFairness(cli.rest, 'inherit').then((r) => r.code);

  const all = cli.names.includes('all');
  const wanted = all ? scenarios.filter((s) => s.inAll !== false) : cli.names.filter((n) => n !== 'fairness').map(findScenario);
  const withFairness = all || cli.names.includes('fairness');
  const t0 = performance.now();
  const machine = machineInfo();
  log(`${machine.nproc} × ${machine.model}, ${machine.memoryGiB} GiB; load average ${machine.loadavg.join(' ')}`);

  const unavailable = await preflight(wanted);
  const opts: RunnerOptions = {
    scale: cli.scale,
    unavailable,
    tributarySet: { 'limits.maxConnectionsPerAddress': 100_000, 'limits.maxConnections': 100_000 },
    log,
    ...(cli.runs !== undefined ? { runs: cli.runs } : {}),
    ...(cli.only ? { only: cli.only } : {}),
    ...(cli.cpuProf ? { tributaryNodeArgs: ['--cpu-prof', '--cpu-prof-dir', `${RESULTS_DIR}profiles`] } : {}),
    ...(cli.cpuProf ? { floorNodeArgs: ['--cpu-prof', '--cpu-prof-dir', `${RESULTS_DIR}profiles`] } : {}),
  };
  const report: BenchReport = {
    date: new Date().toISOString(),
    machine,
    loadavgEnd: machine.loadavg,
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`,
    options: { runs: cli.runs ?? 3, scale: cli.scale, payloadBytes: Number(process.env.BENCH_PAYLOAD_BYTES ?? 64) },
    references: {
      rabbitmq: `RabbitMQ 3.10 plugins on ${RABBIT_PORTS.mqtt} (mqtt), ${RABBIT_PORTS.stomp} (stomp), ${RABBIT_PORTS.webStomp} (web_stomp), ${RABBIT_PORTS.webMqtt} (web_mqtt)`,
      mosquitto: `Mosquitto on ${MOSQUITTO_PORT}`,
      amqp: 'amqplib straight to RabbitMQ on 5672',
      floor: 'the gateway floor (bench/floor/server.ts: net + amqplib, only what the flows need; its own process, CPU counted as gateway)',
    },
    scenarios: [],
    extra: [],
    seconds: 0,
  };
  for (const s of wanted) {
    log(`== ${s.name}: ${s.title}`);
    const r = await runScenario(s, opts);
    report.scenarios.push(r);
    log(`== ${s.name} done in ${r.seconds.toFixed(0)} s (${((performance.now() - t0) / 1000).toFixed(0)} s so far)`);
  }
  if (withFairness) {
    // the full fairness run takes a few minutes; `all` must stay within 15 minutes
    const elapsed = (performance.now() - t0) / 1000;
    const quick = cli.rest.includes('--quick') || elapsed + FAIRNESS_FULL_SECONDS > ALL_BUDGET_SECONDS;
    log(`== fairness${quick ? ' (--quick: the full run would not fit in the time budget)' : ''}`);
    const f = await runFairness(quick ? ['--quick'] : [], 'capture');
    const title = `Fairness (per-publisher fair queues${quick ? ', bench/fairness.ts --quick' : ''})`;
    report.extra.push({ name: 'fairness', title, markdown: f.markdown, ...(f.data !== undefined ? { data: f.data } : {}) });
  }
  report.seconds = (performance.now() - t0) / 1000;
  report.loadavgEnd = machineInfo().loadavg;
  const day = report.date.slice(0, 10);
  const suffix = all ? '' : `-${wanted.map((s) => s.name).join('+') || 'fairness'}`.slice(0, 80);
  const jsonPath = `${RESULTS_DIR}${day}${suffix}.json`;
  writeJson(jsonPath, report);
  const md = markdown(report);
  console.log(`\n${md}`);
  log(`wrote ${jsonPath}`);
  if (all || cli.latest) {
    writeMarkdown(`${RESULTS_DIR}latest.md`, md);
    log(`wrote ${RESULTS_DIR}latest.md`);
  }
  log(`finished in ${report.seconds.toFixed(0)} s`);
  return 0;
}

function findScenario(name: string): Scenario {
  const s = scenarios.find((x) => x.name === name);
  if (!s) throw new Error(`no scenario "${name}"\n\n${usage()}`);
  return s;
}

/** which references can run here; RabbitMQ's plugins are enabled when their ports are closed */
async function preflight(wanted: Scenario[]): Promise<Partial<Record<TargetName, string>>> {
  const unavailable: Partial<Record<TargetName, string>> = {};
  const names = new Set(wanted.flatMap((s) => s.targets));
  if (!(await portOpen(RABBIT_PORTS.amqp))) {
    const why = `RabbitMQ does not answer on ${RABBIT_PORTS.amqp}`;
    for (const n of ['tributary', 'rabbitmq', 'floor', 'amqp'] as const) unavailable[n] = why;
  } else if (names.has('rabbitmq')) {
    const plugins = await ensurePlugins([RABBIT_PORTS.mqtt, RABBIT_PORTS.stomp, RABBIT_PORTS.webStomp, RABBIT_PORTS.webMqtt], log);
    log(plugins.detail);
    if (!plugins.ok) unavailable.rabbitmq = plugins.detail;
  }
  if (names.has('mosquitto') && !(await portOpen(MOSQUITTO_PORT))) unavailable.mosquitto = `Mosquitto does not answer on ${MOSQUITTO_PORT}`;
  const biggest = Math.max(0, ...wanted.filter((s) => s.name.startsWith('conn-')).map((s) => Number(/conn-(\d+)k/.exec(s.name)?.[1] ?? 0) * 1000));
  const mine = openFilesLimit(process.pid) ?? 1024;
  if (biggest > 0 && mine < biggest + 500) log(`warning: this process may open ${mine} files (ulimit -n); ${biggest} connections need more: raise it with \`ulimit -n ${biggest * 2}\``);
  return unavailable;
}

/** bench/fairness.ts belongs to the fair-queue work; run it as its own process */
async function runFairness(args: string[], stdio: 'inherit' | 'capture'): Promise<{ code: number; markdown: string; data?: unknown }> {
  if (!existsSync(FAIRNESS_SCRIPT)) {
    const text = 'bench/fairness.ts is not there yet (fair-queue work in progress): nothing measured.';
    if (stdio === 'inherit') console.error(text);
    return { code: stdio === 'inherit' ? 1 : 0, markdown: text };
  }
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', FAIRNESS_SCRIPT, ...args], {
      cwd: fileURLToPath(new URL('../', import.meta.url)),
      stdio: stdio === 'inherit' ? 'inherit' : ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr?.on('data', (c: Buffer) => (err += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGTERM'), Number(process.env.BENCH_FAIRNESS_TIMEOUT_MS ?? 240_000));
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (stdio === 'inherit') return resolve({ code: code ?? 1, markdown: '' });
      const data = lastJson(out);
      // its report: everything but the progress lines and the closing JSON line
      const report = out
        .split('\n')
        .filter((l) => !l.startsWith('[fairness') && !l.startsWith('{'))
        .join('\n')
        .trim();
      const tail = `${out}\n${err}`.trim().split('\n').slice(-30).join('\n');
      const markdown = code === 0 && report !== '' ? report : `bench/fairness.ts exited with ${code}:\n\n\`\`\`\n${tail}\n\`\`\``;
      resolve({ code: code ?? 1, markdown, ...(data !== undefined ? { data } : {}) });
    });
  });
}

function lastJson(text: string): unknown {
  const start = text.lastIndexOf('\n{');
  const candidate = start >= 0 ? text.slice(start + 1) : text.trimStart().startsWith('{') ? text : '';
  try {
    return candidate ? JSON.parse(candidate) : undefined;
  } catch {
    return undefined;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
