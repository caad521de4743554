// What a scenario is: a name, the targets it runs against (Tributary and its references),
// and one run function that is written once and pointed at any target.
import type { FlowOptions, FlowResult } from './flow.js';
import type { Target, TargetName } from './targets.js';

export interface RunContext {
  target: Target;
  /** 0-based run number */
  run: number;
  /** unique per run: use it in topic names, client ids, queue names */
  tag: string;
  /** message counts are multiplied by this (BENCH_SCALE or --scale) */
  scale: number;
  log(message: string): void;
}

export interface ConnectionMeasure {
  requested: number;
  opened: number;
  failed: number;
  seconds: number;
  perSecond: number;
  /**
   * memory growth with every connection open, as each server accounts for it: Tributary's
   * RSS (fresh process), RabbitMQ's erlang:memory(total), Mosquitto's $SYS heap
   */
  memoryDelta: { gateway?: number; broker?: number };
  /** raw RSS growth of the same processes, for comparison */
  rssDelta: { gateway?: number; broker?: number };
  /** (gateway + broker memory growth) / opened */
  bytesPerConnection: number;
  /** when the reference had to be measured with fewer connections than asked */
  capped?: string;
}

export interface Measure {
  flow?: FlowResult;
  connections?: ConnectionMeasure;
  notes?: string[];
}

export interface Scenario {
  name: string;
  title: string;
  /** one or two sentences for the README and the table */
  measures: string;
  /** the unit of `rate` */
  unit: 'msg/s' | 'deliveries/s' | 'calls/s' | 'conn/s';
  /** run order within a round; the first reference listed is the primary one */
  targets: TargetName[];
  /** labels per target for this scenario (e.g. the plugin name) */
  labels?: Partial<Record<TargetName, string>>;
  /** Tributary settings this scenario needs (`--set`) */
  tributarySet?: Record<string, string | number | boolean>;
  /** the flow shape, for the report (message scenarios) */
  flow?: (scale: number) => FlowOptions;
  /** part of `all` (default true) */
  inAll?: boolean;
  /** start a new Tributary process before every run (memory measurements) */
  freshTributary?: boolean;
  /** runs per target; default 3 */
  runs?: number;
  /** a bound on one run */
  runTimeoutMs?: number;
  run(ctx: RunContext): Promise<Measure>;
}
