// `tributary --workers N`: a node:cluster primary and N worker processes that each run the
// whole gateway. The workers share every listening port (the primary accepts and hands each
// new connection to the next worker, round robin); everything that must be unique across them
// (MQTT client ids, fair-stream dispatchers, retained messages, WAMP registrations) already
// goes through RabbitMQ, exactly as between gateways on different machines. So workers > 1
// needs amqpUrl: an embedded fabric is private to one process.
//
// The primary serves nothing itself. It starts one worker first (a bad port or an unreachable
// broker is reported once, and the command exits 1), then the rest; prints the listening line
// once, with the shared ports; restarts a worker that dies with a backoff (1 s doubling to
// 30 s, reset after a minute of running); on SIGTERM/SIGINT tells every worker to stop
// gracefully (an IPC message: a Ctrl-C that also reaches the workers is not a second signal)
// and exits once all have stopped, 0 when all stopped cleanly; a second signal or the hard
// deadline kills them. SIGHUP is passed on (users file reload). It also relays the workers'
// questions about the whole group (/metrics, /api/*: src/http/cluster-gather.ts), so that
// whichever worker serves an HTTP request answers for all of them.
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { BoundPorts } from '../gateway.js';
import type { Config } from '../config/schema.js';
import { ErrorCode, GatewayError } from '../errors.js';
import { GatherRelay } from '../http/cluster-gather.js';
import { createLogger, type Logger } from '../log.js';

/** worker → primary: started and bound */
export interface ListeningMessage {
  type: 'tributary:listening';
  line: string;
  ports: BoundPorts;
  node: string;
  fabric: string;
}

/** primary → worker: stop gracefully (as on SIGTERM) */
export const STOP_MESSAGE = { type: 'tributary:stop' } as const;

const RESTART_INITIAL_MS = 1_000;
const RESTART_MAX_MS = 30_000;
/** a worker that ran this long before dying restarts after the initial delay again */
const STABLE_AFTER_MS = 60_000;
const HARD_DEADLINE_GRACE_MS = 2_000;

/** how many worker processes `workers` asks for (auto: one per core) */
export function workerCount(config: Pick<Config, 'workers' | 'amqpUrl'>): number {
  const n = config.workers === 'auto' ? availableParallelism() : config.workers;
  if (n > 1 && config.amqpUrl === null) {
    throw new GatewayError(ErrorCode.CONFIG, `workers ${config.workers} (${n} processes) needs amqpUrl: the embedded fabric is private to one process (--amqp-url)`);
  }
  return n;
}

export function isListeningMessage(m: unknown): m is ListeningMessage {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'tributary:listening';
}

export function isStopMessage(m: unknown): boolean {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === STOP_MESSAGE.type;
}

interface Slot {
  index: number;
  worker: Worker | null;
  startedAt: number;
  crashes: number;
  listening: boolean;
  restartTimer: NodeJS.Timeout | null;
}

/** Run the primary until every worker has stopped; returns the exit code. */
export function runPrimary(config: Config, count: number, log: Logger = createLogger(config.logLevel)): Promise<number> {
  return new Promise((resolve) => {
    const slots: Slot[] = Array.from({ length: count }, (_, index) => ({ index, worker: null, startedAt: 0, crashes: 0, listening: false, restartTimer: null }));
    let stopping = false;
    let announced = false;
    let exitCode = 0;
    let firstLine: ListeningMessage | null = null;
    const relay = new GatherRelay(() => slots.flatMap((s) => (s.worker === null ? [] : [s.worker])));

    const fork = (slot: Slot): void => {
      slot.restartTimer = null;
      const worker = cluster.fork();
      slot.worker = worker;
      slot.startedAt = Date.now();
      slot.listening = false;
      worker.on('message', (m: unknown) => {
        if (relay.onMessage(worker, m) || !isListeningMessage(m)) return;
        slot.listening = true;
        log.info({ worker: slot.index, pid: worker.process.pid, node: m.node }, 'worker listening');
        if (stopping) {
          // asked to stop while it was starting: it listens for the stop message only now
          worker.send(STOP_MESSAGE);
          return;
        }
        if (firstLine === null) {
          firstLine = m;
          for (const other of slots) if (other.worker === null && !stopping) fork(other); // the rest, once the first has bound
        }
        if (!announced && slots.every((s) => s.listening)) {
          announced = true;
          log.info({ fabric: m.fabric, ports: m.ports, workers: count, pids: slots.map((s) => s.worker?.process.pid) }, `${m.line} workers=${count}`);
        }
      });
      worker.on('disconnect', () => relay.workerGone(worker));
      worker.on('exit', (code, signal) => {
        relay.workerGone(worker);
        onExit(slot, worker, code, signal);
      });
    };

    const onExit = (slot: Slot, worker: Worker, code: number | null, signal: string | null): void => {
      if (slot.worker !== worker) return;
      slot.worker = null;
      const clean = code === 0 && signal === null;
      if (stopping) {
        if (!clean) exitCode = 1;
        log.info({ worker: slot.index, pid: worker.process.pid, code, signal }, 'worker stopped');
        if (slots.every((s) => s.worker === null)) finish(exitCode);
        return;
      }
      if (!slot.listening && !announced) {
        // it never started (bad port, broker unreachable, bad config): it has said why on stderr
        log.error({ worker: slot.index, code, signal }, 'worker failed to start: stopping');
        exitCode = 1;
        stopAll();
        return;
      }
      const ranMs = Date.now() - slot.startedAt;
      slot.crashes = ranMs >= STABLE_AFTER_MS ? 1 : slot.crashes + 1;
      const delay = Math.min(RESTART_MAX_MS, RESTART_INITIAL_MS * 2 ** (slot.crashes - 1));
      log.error({ worker: slot.index, pid: worker.process.pid, code, signal, ranMs, restartInMs: delay }, 'worker died: restarting');
      slot.restartTimer = setTimeout(() => { if (!stopping) fork(slot); }, delay);
    };

    let hardDeadline: NodeJS.Timeout | null = null;
    const stopAll = (): void => {
      if (stopping) return;
      stopping = true;
      for (const slot of slots) {
        if (slot.restartTimer) clearTimeout(slot.restartTimer);
        slot.restartTimer = null;
        const worker = slot.worker;
        if (worker === null) continue;
        if (!worker.isConnected()) worker.process.kill('SIGTERM');
        else if (slot.listening) worker.send(STOP_MESSAGE);
        // else: still starting; the stop message goes out with its listening message
      }
      if (slots.every((s) => s.worker === null)) {
        finish(exitCode);
        return;
      }
      hardDeadline = setTimeout(() => {
        log.error({ shutdownTimeoutMs: config.shutdownTimeoutMs }, 'workers did not stop in time: killing them');
        killAll();
        finish(1);
      }, config.shutdownTimeoutMs + HARD_DEADLINE_GRACE_MS);
      hardDeadline.unref();
    };

    const killAll = (): void => {
      for (const slot of slots) slot.worker?.process.kill('SIGKILL');
    };

    let finished = false;
    const finish = (code: number): void => {
      if (finished) return;
      finished = true;
      if (hardDeadline) clearTimeout(hardDeadline);
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.off('SIGHUP', onHup);
      log.info({ code }, 'stopped');
      resolve(code);
    };

    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.warn({ signal }, 'second signal while stopping: killing the workers');
        killAll();
        finish(1);
        return;
      }
      log.info({ signal, workers: count }, 'graceful stop requested: stopping the workers');
      stopAll();
    };
    const onHup = (): void => {
      for (const slot of slots) slot.worker?.process.kill('SIGHUP');
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', onHup);

    log.info({ workers: count }, 'starting workers');
    fork(slots[0] as Slot);
  });
}
