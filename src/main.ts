// Process entry (bin/tributary.js imports the compiled copy): run the command line, exit
// with its code.
import { runCli } from './cli/run.js';

const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
process.exit(code);
