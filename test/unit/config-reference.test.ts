// docs/configuration.md is generated from the schema and config/default.yaml: it must be up to
// date, and every key must say what it does.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { envNameOf } from '../../src/config/env.js';
import { configReference, REFERENCE_PATH, REGENERATE_COMMAND, renderConfigReference } from '../../src/config/reference.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { leafPaths } from '../../src/config/schema-walk.js';
import { leavesOf } from '../../src/config/merge.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'tributary-reference-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const entries = () => configReference().flatMap((s) => s.entries);

describe('config reference (docs/configuration.md)', () => {
  it('is up to date with the schema and config/default.yaml', () => {
    const current = readFileSync(path.join(root, REFERENCE_PATH), 'utf8');
    // compare as text so the diff shows which line moved; the message says how to fix it
    expect(current, `${REFERENCE_PATH} is stale: run ${REGENERATE_COMMAND}`).toBe(renderConfigReference());
  });

  it('lists every key of the schema, each with a description, a type and where to set it', () => {
    const keys = entries().map((e) => e.key);
    for (const leaf of leafPaths(ConfigSchema)) expect(keys).toContain(leaf.join('.'));
    const undocumented = entries().filter((e) => e.description.trim() === '').map((e) => e.key);
    expect(undocumented, 'keys without a comment in config/default.yaml or a schema description').toEqual([]);
    for (const e of entries()) {
      expect(e.type, e.key).not.toBe('');
      if (!e.key.includes('[]')) expect(e.env).toBe(envNameOf(e.key.split('.')));
    }
  });

  it('shows the shipped defaults, and every key in config/default.yaml is in it', () => {
    const shipped = parse(readFileSync(path.join(root, 'config/default.yaml'), 'utf8')) as Record<string, unknown>;
    const byKey = new Map(entries().map((e) => [e.key, e]));
    for (const leaf of leavesOf(shipped)) expect(byKey.has(leaf.join('.')), leaf.join('.')).toBe(true);
    expect(byKey.get('stomp.tlsPort')?.default).toBe('61614');
    expect(byKey.get('limits.maxConnectionRatePerAddress')).toMatchObject({ default: '1000', env: 'TRIBUTARY_LIMITS__MAX_CONNECTION_RATE_PER_ADDRESS' });
    expect(byKey.get('stomp.port')?.flag).toBe('--stomp-port');
    expect(byKey.get('fair.streams[].name')).toMatchObject({ note: 'required', env: undefined });
  });

  it('the script writes it, and --check fails on a stale copy naming the command', () => {
    const out = path.join(dir, 'configuration.md');
    const write = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/gen-config-reference.ts', '--out', out], { cwd: root, encoding: 'utf8' });
    expect(write.status, write.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(renderConfigReference());
    const stale = path.join(dir, 'stale.md');
    const check = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/gen-config-reference.ts', '--check', '--out', stale], { cwd: root, encoding: 'utf8' });
    expect(check.status).toBe(1);
    expect(check.stderr).toContain(REGENERATE_COMMAND);
  });
});
