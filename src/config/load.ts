// The effective configuration: config/default.yaml < --config file < TRIBUTARY_* environment
// < command-line flags, validated against the one schema. Any problem is a GatewayError
// CONFIG whose message names the key, what it expects, and where the bad value came from.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Value } from '@sinclair/typebox/value';
import { parse } from 'yaml';
import { ErrorCode, GatewayError } from '../errors.js';
import { parseArgs } from './cli-flags.js';
import { envLayer } from './env.js';
import { Layer, deepMerge, originOf, type Tree } from './merge.js';
import { ConfigSchema, type Config } from './schema.js';
import { findProblems, isPlainObject, normalizePorts, schemaAt } from './schema-walk.js';
import { parseSettingText } from './text.js';

export interface LoadConfigOptions {
  argv?: readonly string[];
  env?: Record<string, string | undefined>;
  /** relative paths (--config, the users file) resolve against this; default process.cwd() */
  cwd?: string;
}

/** config/default.yaml of this package, found from this module (src/config or dist/config), not the cwd */
export function defaultConfigPath(): string {
  return fileURLToPath(new URL('../../config/default.yaml', import.meta.url));
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const cwd = options.cwd ?? process.cwd();
  const args = parseArgs(options.argv ?? []);
  const layers = [Layer.fromTree('config/default.yaml', readYamlFile(defaultConfigPath(), 'config/default.yaml'))];
  if (args.configFile !== undefined) {
    const file = path.resolve(cwd, args.configFile);
    layers.push(Layer.fromTree(args.configFile, readYamlFile(file, `config file ${args.configFile}`)));
  }
  layers.push(envLayer(options.env ?? {}));
  const flags = new Layer('command line');
  for (const s of args.settings) flags.set(s.path, parseSettingText(schemaAt(ConfigSchema, s.path), s.raw), s.origin);
  layers.push(flags);
  const config = validateLayers(layers);
  return resolvePaths(config, cwd);
}

let defaultsCache: Config | undefined;

/** the shipped defaults, validated (for --help and test configs) */
export function defaultConfig(): Config {
  defaultsCache ??= validateLayers([Layer.fromTree('config/default.yaml', readYamlFile(defaultConfigPath(), 'config/default.yaml'))]);
  return structuredClone(defaultsCache);
}

/** Validate a complete config tree (for configs built in code). */
export function validateConfig(tree: unknown): Config {
  if (!isPlainObject(tree)) throw new GatewayError(ErrorCode.CONFIG, 'configuration must be a mapping');
  return validateLayers([Layer.fromTree('configuration', tree)]);
}

function validateLayers(layers: readonly Layer[]): Config {
  const merged = layers.reduce<Tree>((tree, layer) => deepMerge(tree, layer.tree), {});
  const candidate = Value.Default(ConfigSchema, normalizePorts(ConfigSchema, structuredClone(merged)));
  const problems = findProblems(ConfigSchema, candidate);
  const first = problems[0];
  if (!first) return candidate as Config;
  const origin = originOf(layers, first.path);
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
  const where = origin ? ` (from ${origin})` : '';
  throw new GatewayError(ErrorCode.CONFIG, `${first.path.join('.') || 'configuration'}: ${first.message}${where}${more}`);
}

function readYamlFile(file: string, label: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'not found' : code === 'EACCES' ? 'permission denied' : String((err as Error).message);
    throw new GatewayError(ErrorCode.CONFIG, `${label}: ${why} (${file})`);
  }
  let tree: unknown;
  try {
    tree = parse(text);
  } catch (err) {
    const firstLine = String((err as Error).message).split('\n')[0];
    throw new GatewayError(ErrorCode.CONFIG, `${label}: not valid YAML: ${firstLine}`);
  }
  if (tree === null || tree === undefined) return {};
  if (!isPlainObject(tree)) throw new GatewayError(ErrorCode.CONFIG, `${label}: expected a mapping of settings at the top level`);
  return tree;
}

function resolvePaths(config: Config, cwd: string): Config {
  if (config.auth.usersFile !== null) config.auth.usersFile = path.resolve(cwd, config.auth.usersFile);
  for (const key of ['certFile', 'keyFile', 'caFile'] as const) {
    const file = config.tls[key];
    if (file !== null) config.tls[key] = path.resolve(cwd, file);
  }
  return config;
}

/** The config with secrets (the password in amqpUrl) replaced, for --print-config and logs. */
export function redactConfig(config: Config): Config {
  const copy = structuredClone(config);
  if (copy.amqpUrl) copy.amqpUrl = redactUrl(copy.amqpUrl);
  return copy;
}

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '******';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:******@');
  }
}
