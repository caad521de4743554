// The servers the runner starts run as compiled JavaScript, the way production runs Tributary
// (`npm run build`, then `node bin/tributary.js` → dist/main.js), not under tsx: tsx compiles
// with esbuild's keepNames, which wraps every named function and class in `__name(...)`, an
// Object.defineProperty each time a named closure is created (a profile of 220k publishes showed
// 175 ms of it in one callback alone), and runs a loader thread beside the gateway.
// Compiled once per runner process, with the project's own TypeScript:
//   - Tributary: `tsc -p tsconfig.build.json` → dist/ (what `npm start` runs);
//   - the gateway floor: `tsc` of bench/floor/server.ts → .scratch/bench-floor/ (same options).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

let tributary: Promise<string> | undefined;
let floor: Promise<string> | undefined;

function tsc(root: string, args: string[]): Promise<unknown> {
  return run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), ...args], { cwd: root, maxBuffer: 16 * 1024 * 1024 }).catch((err: { stdout?: string; message: string }) => {
    throw new Error(`tsc ${args.join(' ')} failed:\n${err.stdout ?? err.message}`);
  });
}

/** dist/main.js, built from the current src/ once per runner process */
export function builtTributary(root: string): Promise<string> {
  tributary ??= tsc(root, ['-p', 'tsconfig.build.json']).then(() => {
    const main = path.join(root, 'dist/main.js');
    if (!existsSync(main)) throw new Error(`the build left no ${main}`);
    return main;
  });
  return tributary;
}

/** the gateway floor's server as JavaScript, built once per runner process */
export function builtFloor(root: string): Promise<string> {
  const outDir = path.join(root, '.scratch/bench-floor');
  floor ??= tsc(root, [
    '--outDir', outDir,
    '--rootDir', root,
    '--module', 'nodenext',
    '--moduleResolution', 'nodenext',
    '--target', 'es2022',
    '--strict',
    '--esModuleInterop',
    '--skipLibCheck',
    '--types', 'node',
    'bench/floor/server.ts',
  ]).then(() => {
    const server = path.join(outDir, 'bench/floor/server.js');
    if (!existsSync(server)) throw new Error(`the build left no ${server}`);
    return server;
  });
  return floor;
}
