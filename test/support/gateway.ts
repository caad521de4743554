// A real gateway for integration tests: every listener on port 0 of 127.0.0.1, silent logs
// (set TRIBUTARY_TEST_LOG_LEVEL=debug to see them on stderr), the embedded fabric unless
// { fabric: 'amqp' } asks for RabbitMQ at the test broker URL.
//
//   const gw = await startTestGateway({ stomp: { heartbeatMs: 0 } });
//   net.connect(gw.ports.stomp!, '127.0.0.1'); fetch(gw.url('/readyz')); new WebSocket(gw.wsUrl('/ws'), 'mqtt');
//   await gw.stop();
import type { Config } from '../../src/config/schema.js';
import { buildGateway, type BoundPorts, type Gateway, type GatewayOptions } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';
import { amqpUrl } from './broker.js';
import { testConfig, type DeepPartial } from './config.js';

export interface TestGateway {
  gateway: Gateway;
  config: Config;
  ports: BoundPorts;
  /** http://127.0.0.1:<http port><path> */
  url(path: string): string;
  /** ws://127.0.0.1:<http port><path> */
  wsUrl(path: string): string;
  /** graceful stop; safe to call more than once */
  stop(reason?: string): Promise<void>;
}

export interface TestGatewayOptions extends Omit<GatewayOptions, 'fabric'> {
  fabric?: 'embedded' | 'amqp' | GatewayOptions['fabric'];
}

export async function startTestGateway(overrides: DeepPartial<Config> = {}, opts: TestGatewayOptions = {}): Promise<TestGateway> {
  const { fabric, ...rest } = opts;
  const fabricOverride = fabric === 'amqp' ? { amqpUrl } : {};
  const config = testConfig({ ...fabricOverride, ...overrides } as DeepPartial<Config>);
  const level = process.env.TRIBUTARY_TEST_LOG_LEVEL;
  const log = rest.log ?? createLogger(level ?? 'silent', level ? process.stderr : undefined);
  const gateway = buildGateway(config, { ...rest, log, ...(typeof fabric === 'object' ? { fabric } : {}) });
  const ports = await gateway.start();
  const base = `127.0.0.1:${ports.http ?? 0}`;
  return {
    gateway,
    config,
    ports,
    url: (path) => `http://${base}${path}`,
    wsUrl: (path) => `ws://${base}${path}`,
    stop: (reason) => gateway.stop(reason),
  };
}
