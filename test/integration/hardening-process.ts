// A gateway in a process of its own, for memory tests: the command line's configuration
// (loadConfig, the same flags as `tributary`), buildGateway and start, as serve does, with the
// bound ports sent to the parent over IPC (so it can run with logging off), and one hook: on
// the IPC message 'gc' it runs full garbage collections (node --expose-gc) and answers
// with its process.memoryUsage(), so the parent reads a settled VmRSS.
//   spawn(node, ['--expose-gc', '--import', 'tsx', 'test/integration/hardening-process.ts', ...flags], { stdio: [..., 'ipc'] })
import { loadConfig } from '../../src/config/load.js';
import { buildGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';

const config = loadConfig({ argv: process.argv.slice(2), env: process.env });
const gateway = buildGateway(config, { log: createLogger(config.logLevel) });
const ports = await gateway.start();
const gc = (globalThis as { gc?: () => void }).gc;
process.on('message', (message) => {
  if (message !== 'gc') return;
  gc?.();
  gc?.();
  process.send?.({ gc: process.memoryUsage() });
});
process.on('disconnect', () => {
  void gateway.stop().finally(() => process.exit(0));
});
process.send?.({ ports });
