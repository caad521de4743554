// The command line: `tributary [options]` serves; `tributary users ...` manages the users
// file; --help, --version and --print-config answer and exit. Returns the exit code.
import cluster from 'node:cluster';
import { stringify } from 'yaml';
import { helpText, parseArgs } from '../config/cli-flags.js';
import { defaultConfig, loadConfig, redactConfig } from '../config/load.js';
import { packageInfo } from '../config/package-info.js';
import { runPrimary, workerCount } from './cluster.js';
import { reportError, type Output } from './report.js';
import { serve } from './serve.js';

export interface CliIO {
  stdout: Output;
  stderr: Output;
  env: Record<string, string | undefined>;
  cwd?: string;
}

export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  if (argv[0] === 'users') {
    // loaded only when asked for: serving never pays for the users command
    const { runUsersCommand } = await import('./users.js');
    return runUsersCommand(argv.slice(1));
  }
  try {
    const { actions } = parseArgs(argv);
    if (actions.has('help')) {
      io.stdout.write(helpText(defaultConfig()));
      return 0;
    }
    if (actions.has('version')) {
      io.stdout.write(`${packageInfo().name} ${packageInfo().version}\n`);
      return 0;
    }
    const config = loadConfig({ argv, env: io.env, ...(io.cwd ? { cwd: io.cwd } : {}) });
    if (actions.has('printConfig')) {
      io.stdout.write(stringify(redactConfig(config)));
      return 0;
    }
    const workers = workerCount(config);
    if (workers > 1 && cluster.isPrimary) return await runPrimary(config, workers);
    return await serve(config, { stderr: io.stderr });
  } catch (err) {
    return reportError(err, io.stderr);
  }
}
