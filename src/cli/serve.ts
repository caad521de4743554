// `tributary [options]`: run the gateway until SIGTERM/SIGINT, then stop gracefully.
// The stop is bounded by shutdownTimeoutMs; a hard deadline just after it (or a second
// signal) exits 1. SIGHUP re-reads the users file.
import cluster from 'node:cluster';
import type { Config } from '../config/schema.js';
import { buildGateway, type BoundPorts, type Gateway } from '../gateway.js';
import { createLogger, type Logger } from '../log.js';
import { isStopMessage, type ListeningMessage } from './cluster.js';
import { reportError, type Output } from './report.js';

/** time beyond shutdownTimeoutMs before a stop that hangs is abandoned */
const HARD_DEADLINE_GRACE_MS = 1_000;

export interface ServeIO {
  stderr: Output;
  /** where the pino log goes (default stdout) */
  logDestination?: NodeJS.WritableStream;
}

export async function serve(config: Config, io: ServeIO): Promise<number> {
  const log = createLogger(config.logLevel, io.logDestination);
  watchProcess(log);
  const gateway = buildGateway(config, { log });
  let ports: BoundPorts;
  try {
    ports = await gateway.start();
  } catch (err) {
    log.error({ err }, 'start failed');
    return reportError(err, io.stderr);
  }
  const line = listeningLine(ports, gateway);
  if (cluster.isWorker) {
    // the primary prints the listening line once, when every worker has bound
    const message: ListeningMessage = { type: 'tributary:listening', line, ports, node: gateway.ctx.nodeId, fabric: gateway.ctx.fabric.kind };
    process.send?.(message);
    log.debug({ fabric: gateway.ctx.fabric.kind, ports, node: gateway.ctx.nodeId }, `worker ${line}`);
  } else {
    log.info({ fabric: gateway.ctx.fabric.kind, ports, node: gateway.ctx.nodeId }, line);
  }
  return waitForStop(gateway, config, log);
}

/** "listening stomp=61613 mqtt=1883 http=8080 [stomps=61614 mqtts=8883 https=8443] fabric=amqp"; TLS ports when tls.certFile is set */
export function listeningLine(ports: BoundPorts, gateway: Pick<Gateway, 'ctx'>): string {
  const show = (port: number | null) => (port === null ? 'off' : String(port));
  const tls = gateway.ctx.config.tls.certFile === null ? '' : ` stomps=${show(ports.stompTls)} mqtts=${show(ports.mqttTls)} https=${show(ports.httpTls)}`;
  return `listening stomp=${show(ports.stomp)} mqtt=${show(ports.mqtt)} http=${show(ports.http)}${tls} fabric=${gateway.ctx.fabric.kind}`;
}

function waitForStop(gateway: Gateway, config: Config, log: Logger): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.warn({ signal }, 'second signal while stopping: exiting now');
        resolve(1);
        return;
      }
      stopping = true;
      log.info({ signal }, 'graceful stop requested');
      const deadline = setTimeout(() => {
        log.error({ shutdownTimeoutMs: config.shutdownTimeoutMs }, 'graceful stop did not finish in time: exiting');
        resolve(1);
      }, config.shutdownTimeoutMs + HARD_DEADLINE_GRACE_MS);
      deadline.unref();
      gateway.stop(`server shutting down (${signal})`).then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err }, 'graceful stop failed');
          resolve(1);
        },
      ).finally(() => clearTimeout(deadline));
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // a cluster worker: the primary asks for a graceful stop over IPC; a Ctrl-C that reached
    // this process directly as well is then not a second signal
    process.on('message', (m: unknown) => {
      if (isStopMessage(m) && !stopping) onSignal('SIGTERM');
    });
    process.on('SIGHUP', () => {
      gateway.reloadUsers().then(
        () => log.info('users file reloaded'),
        (err: unknown) => log.warn({ err: (err as Error).message }, 'users file not reloaded; keeping the previous users'),
      );
    });
  });
}

/** a bug in one connection's code path must be visible; an uncaught exception ends the process */
function watchProcess(log: Logger): void {
  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason }, 'unhandled promise rejection');
  });
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception: exiting');
    process.exit(1);
  });
}
