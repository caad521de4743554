// Writes docs/configuration.md from the config schema and the comments in config/default.yaml.
//   npx tsx scripts/gen-config-reference.ts           write it
//   npx tsx scripts/gen-config-reference.ts --check   exit 1 when it is stale (CI)
//   npx tsx scripts/gen-config-reference.ts --out f   write it somewhere else
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REFERENCE_PATH, REGENERATE_COMMAND, renderConfigReference } from '../src/config/reference.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const args = process.argv.slice(2);
const outIndex = args.indexOf('--out');
const target = outIndex >= 0 && args[outIndex + 1] ? path.resolve(args[outIndex + 1] as string) : path.join(root, REFERENCE_PATH);
const text = renderConfigReference();

if (args.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // missing counts as stale
  }
  if (current !== text) {
    process.stderr.write(`${path.relative(root, target)} is stale: run ${REGENERATE_COMMAND}\n`);
    process.exit(1);
  }
  process.stdout.write(`${path.relative(root, target)} is up to date\n`);
} else {
  writeFileSync(target, text);
  process.stdout.write(`wrote ${path.relative(root, target) || target}\n`);
}
