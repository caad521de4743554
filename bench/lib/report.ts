// The results: a JSON file with every run, and a markdown table (what README includes).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MachineInfo } from './proc.js';
import type { ScenarioReport, TargetReport } from './runner.js';

export interface BenchReport {
  date: string;
  machine: MachineInfo;
  loadavgEnd: [number, number, number];
  command: string;
  options: Record<string, unknown>;
  references: Record<string, string>;
  scenarios: ScenarioReport[];
  extra: { name: string; title: string; markdown: string; data?: unknown }[];
  seconds: number;
}

export function writeJson(path: string, report: BenchReport): void {
  mkdirSync(dirname(path), { recursive: true });
  const text = JSON.stringify(report, (key, value: unknown) => (key === 'samples' ? undefined : typeof value === 'number' && !Number.isFinite(value) ? null : value), 2);
  writeFileSync(path, `${text}\n`);
}

export function writeMarkdown(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

const n0 = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '–' : Math.round(x).toLocaleString('en'));
const ms = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '–' : x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : Math.round(x).toString());
const s2 = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(2));
const times = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '–' : `${x.toFixed(2)}×`);
const kib = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '–' : (x / 1024).toFixed(1));

export function markdown(report: BenchReport): string {
  const m = report.machine;
  const out: string[] = [];
  out.push(`# Benchmarks: Tributary side by side with its references`);
  out.push('');
  out.push(`- Date: ${report.date} · \`${report.command}\` · ${Math.round(report.seconds)} s in all`);
  out.push(`- Machine: ${m.nproc} × ${m.model}, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}`);
  out.push(`- Load average (1/5/15 min) at start ${m.loadavg.join(' / ')}, at end ${report.loadavgEnd.join(' / ')} (the machine is shared: other work ran meanwhile)`);
  out.push(`- References: ${Object.entries(report.references).map(([k, v]) => `${k} ${v}`).join('; ')}`);
  out.push(`- Everything on one host over loopback: client, Tributary, RabbitMQ (and Mosquitto) share the cores. Tributary routes through the same RabbitMQ, so its CPU column is gateway + broker.`);
  out.push('');
  const messaging = report.scenarios.filter((s) => s.targets.some((t) => t.summary?.latency));
  const connections = report.scenarios.filter((s) => s.targets.some((t) => t.summary?.bytesPerConnection !== undefined));
  const gaps = messaging.map(gapRow).filter((row) => row !== undefined);
  const broken = report.scenarios.filter((s) => !messaging.includes(s) && !connections.includes(s));
  if (messaging.length > 0) {
    out.push('## Messaging');
    out.push('');
    out.push('Rate: median of the runs, throughput phase (bounded in-flight window). Latency: end to end (send timestamp in the payload), fixed-rate phase, all runs pooled. CPU: server seconds per run (median), and per delivered message. Ratio: Tributary ÷ that reference (rate: higher is better for Tributary; p99 and CPU: lower is better).');
    out.push('');
    out.push('| scenario | server | rate | p50 ms | p99 ms | max ms | CPU s (gw + broker) | CPU µs/msg | lost | Tributary ÷ this: rate · p99 · CPU/msg |');
    out.push('|---|---|--:|--:|--:|--:|--:|--:|--:|---|');
    for (const s of messaging) for (const t of s.targets) out.push(messagingRow(s, t));
    out.push('');
  }
  if (gaps.length > 0) {
    out.push('### The gap to the plugin: any external gateway vs Tributary\'s own');
    out.push('');
    out.push('The gateway floor (`bench/floor/`) is the thinnest gateway outside the broker on Tributary\'s stack (Node `net`, amqplib, only what the flow needs). Its distance from the RabbitMQ plugin is what every external gateway pays (two more TCP hops, AMQP framing, a Node event loop); Tributary\'s distance from the floor is its own. CPU columns: server µs per delivered message (gateway + broker), and the gateway process\'s own µs per message (which, unlike the broker\'s, no other client of a shared broker adds to). Inherent share: (floor − plugin) ÷ (Tributary − plugin) of the CPU per message.');
    out.push('');
    out.push('| scenario | plugin rate | floor rate | Tributary rate | Tributary ÷ floor (rate) | plugin µs/msg | floor µs/msg | Tributary µs/msg | inherent share of the CPU gap | gateway µs/msg: floor · Tributary |');
    out.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
    out.push(...gaps);
    out.push('');
  }
  if (connections.length > 0) {
    out.push('## Connection scale (idle MQTT connections)');
    out.push('');
    out.push('Memory growth with all connections open, divided by the connections opened; median of the runs. Tributary: its own RSS (a fresh process per run) plus the RabbitMQ processes its sessions created; rabbitmq_mqtt: the RabbitMQ processes its connections created (memory of the Erlang processes that appeared meanwhile: RabbitMQ\'s RSS moves by ±100 MB with other clients of the shared broker); Mosquitto: its $SYS heap (its RSS reuses memory freed by earlier clients). conn/s: 100 handshakes in flight from one client process. Raw RSS deltas are in the JSON.');
    out.push('');
    out.push('| scenario | server | connections | conn/s | KiB/conn total | gateway | broker | Tributary ÷ this: conn/s · KiB/conn |');
    out.push('|---|---|--:|--:|--:|--:|--:|---|');
    for (const s of connections) for (const t of s.targets) out.push(connectionRow(s, t));
    out.push('');
    const caps = connections.flatMap((s) => s.targets.filter((t) => t.summary?.capped).map((t) => `- ${s.name} ${t.label}: ${t.summary!.capped}`));
    if (caps.length > 0) out.push(...caps, '');
  }
  const notes = report.scenarios.flatMap((s) =>
    s.targets.flatMap((t) => [...new Set(t.runs.flatMap((r) => r.measure?.notes ?? []))].map((n) => `- ${s.name} ${t.label}: ${n}`)),
  );
  if (notes.length > 0) {
    out.push('## Notes from the runs');
    out.push('');
    out.push(...notes, '');
  }
  for (const e of report.extra) {
    out.push(`## ${e.title}`);
    out.push('');
    out.push(e.markdown.trim());
    out.push('');
  }
  const problems = [
    ...broken.map((s) => `- ${s.name}: ${oneLine(s.error ?? 'no successful run')}`),
    ...report.scenarios.flatMap((s) =>
      s.targets.flatMap((t) => [
        ...(t.skipped ? [`- ${s.name} ${t.label}: skipped (${oneLine(t.skipped)})`] : []),
        ...t.runs.filter((r) => !r.ok).map((r) => `- ${s.name} ${t.label} run ${r.run + 1}: ${oneLine(r.error)}`),
      ]),
    ),
  ];
  if (problems.length > 0) {
    out.push('## Failed or skipped');
    out.push('');
    out.push(...problems);
    out.push('');
  }
  out.push('## Scenarios');
  out.push('');
  for (const s of report.scenarios) out.push(`- **${s.name}** (${s.unit}): ${s.measures}`);
  out.push('');
  return out.join('\n');
}

function messagingRow(s: ScenarioReport, t: TargetReport): string {
  const x = t.summary;
  const name = t.name === 'tributary' ? `**${s.name}**` : s.name;
  const label = t.name === 'tributary' ? `**${t.label}**` : t.label;
  if (!x) return `| ${name} | ${label} | ${t.skipped ? 'skipped' : 'failed'} | | | | | | | |`;
  const lat = x.latency;
  const cpu = x.cpuGatewaySeconds !== undefined ? `${s2(x.cpuSeconds)} (${s2(x.cpuGatewaySeconds)} + ${s2(x.cpuBrokerSeconds)})` : s2(x.cpuSeconds);
  const r = t.tributaryRatio;
  const ratioText = r ? `${times(r.rate)} · ${times(r.p99)} · ${times(r.cpu)}` : '';
  return `| ${name} | ${label} | ${n0(x.rate)} ${s.unit} | ${ms(lat?.p50)} | ${ms(lat?.p99)} | ${ms(lat?.max)} | ${cpu} | ${n0(x.cpuMicrosPerMessage)} | ${x.lost} | ${ratioText} |`;
}

/** plugin / floor / Tributary side by side, for the scenarios that ran all three */
function gapRow(s: ScenarioReport): string | undefined {
  const get = (name: string) => s.targets.find((t) => t.name === name)?.summary;
  const [trib, plugin, floor] = [get('tributary'), get('rabbitmq'), get('floor')];
  if (!trib || !plugin || !floor) return undefined;
  const [c0, c1, c2] = [plugin.cpuMicrosPerMessage, floor.cpuMicrosPerMessage, trib.cpuMicrosPerMessage];
  let share = '–';
  if (c0 !== undefined && c1 !== undefined && c2 !== undefined) {
    if (c2 <= c0) share = 'no gap';
    else if (c1 <= c0) share = '0 % (floor ≤ plugin)';
    else if (c1 >= c2) share = '100 % (floor ≥ Tributary)';
    else share = `${Math.round(((c1 - c0) / (c2 - c0)) * 100)} %`;
  }
  return `| ${s.name} | ${n0(plugin.rate)} | ${n0(floor.rate)} | ${n0(trib.rate)} | ${times(trib.rate / floor.rate)} | ${n0(c0)} | ${n0(c1)} | ${n0(c2)} | ${share} | ${n0(floor.cpuGatewayMicrosPerMessage)} · ${n0(trib.cpuGatewayMicrosPerMessage)} |`;
}

function connectionRow(s: ScenarioReport, t: TargetReport): string {
  const x = t.summary;
  const name = t.name === 'tributary' ? `**${s.name}**` : s.name;
  const label = t.name === 'tributary' ? `**${t.label}**` : t.label;
  if (!x) return `| ${name} | ${label} | ${t.skipped ? 'skipped' : 'failed'} | | | | | |`;
  const r = t.tributaryRatio;
  const ratioText = r ? `${times(r.rate)} · ${times(r.bytesPerConnection)}` : '';
  const conns = `${n0(x.connections)}${x.capped ? ' (capped)' : ''}`;
  return `| ${name} | ${label} | ${conns} | ${n0(x.rate)} | ${kib(x.bytesPerConnection)} | ${kib(x.gatewayBytesPerConnection)} | ${kib(x.brokerBytesPerConnection)} | ${ratioText} |`;
}

function oneLine(text: string | undefined): string {
  const flat = (text ?? 'failed')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join(' / ');
  return flat.length > 400 ? `${flat.slice(0, 400)}…` : flat;
}
