// Command-line flags: the few that operators type every day map onto config keys, `--set`
// reaches every other key, and a handful are actions (--help, --print-config, --version).

import { ErrorCode, GatewayError } from '../errors.js';
import { envNameOf } from './env.js';
import { ConfigSchema, type Config } from './schema.js';
import { closest, leafPaths, schemaAt } from './schema-walk.js';

export interface SettingFlag {
  flag: string;
  path: readonly string[];
  arg: string;
  help: string;
}

export const SETTING_FLAGS: readonly SettingFlag[] = [
  { flag: '--amqp-url', path: ['amqpUrl'], arg: 'url', help: 'RabbitMQ to route through (amqp://user:pass@host:5672/); unset: embedded fabric' },
  { flag: '--host', path: ['host'], arg: 'address', help: 'address every listener binds to' },
  { flag: '--stomp-port', path: ['stomp', 'port'], arg: 'port|off', help: 'STOMP over TCP' },
  { flag: '--mqtt-port', path: ['mqtt', 'port'], arg: 'port|off', help: 'MQTT over TCP' },
  { flag: '--http-port', path: ['httpPort'], arg: 'port|off', help: 'health, metrics, management API and WebSocket' },
  { flag: '--log-level', path: ['logLevel'], arg: 'level', help: 'fatal, error, warn, info, debug, trace or silent' },
  { flag: '--users', path: ['auth', 'usersFile'], arg: 'file', help: 'users file (manage it with `tributary users`)' },
  { flag: '--workers', path: ['workers'], arg: 'n|auto', help: 'processes sharing the ports (auto: one per core; more than 1 needs --amqp-url)' },
];

const ACTION_FLAGS = {
  '--help': 'help',
  '-h': 'help',
  '--print-config': 'printConfig',
  '--version': 'version',
} as const;
type Action = (typeof ACTION_FLAGS)[keyof typeof ACTION_FLAGS];

export interface FlagSetting {
  path: string[];
  raw: string;
  /** how the user wrote it, for error messages */
  origin: string;
}

export interface ParsedArgs {
  configFile?: string;
  settings: FlagSetting[];
  actions: Set<Action>;
}

/** the flag that sets a key, for messages such as "... (--stomp-port)" */
export function flagFor(path: readonly string[]): string {
  const key = path.join('.');
  return SETTING_FLAGS.find((f) => f.path.join('.') === key)?.flag ?? `--set ${key}=...`;
}

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const parsed: ParsedArgs = { settings: [], actions: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    const eq = token.startsWith('--') ? token.indexOf('=') : -1;
    const name = eq > 0 ? token.slice(0, eq) : token;
    const inline = eq > 0 ? token.slice(eq + 1) : undefined;
    const takeValue = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined) throw configError(`${name} needs a value`);
      i++;
      return next;
    };
    if (name in ACTION_FLAGS && inline === undefined) {
      parsed.actions.add(ACTION_FLAGS[name as keyof typeof ACTION_FLAGS]);
    } else if (name === '--config') {
      parsed.configFile = takeValue();
    } else if (name === '--set') {
      parsed.settings.push(parseSet(takeValue()));
    } else {
      const flag = SETTING_FLAGS.find((f) => f.flag === name);
      if (!flag) throw unknownFlag(token);
      const raw = takeValue();
      parsed.settings.push({ path: [...flag.path], raw, origin: `${name} ${raw}` });
    }
  }
  return parsed;
}

function parseSet(assignment: string): FlagSetting {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw configError(`--set ${assignment}: expected key.path=value`);
  const key = assignment.slice(0, eq);
  const path = key.split('.');
  if (!schemaAt(ConfigSchema, path)) {
    const known = leafPaths(ConfigSchema).map((p) => p.join('.'));
    const guess = closest(key, known);
    throw configError(`--set ${key}: not a setting${guess ? ` (did you mean ${guess}?)` : ''}`);
  }
  return { path, raw: assignment.slice(eq + 1), origin: `--set ${assignment}` };
}

function unknownFlag(token: string): GatewayError {
  if (!token.startsWith('-')) return configError(`unexpected argument "${token}" (see --help)`);
  const known = [...SETTING_FLAGS.map((f) => f.flag), '--config', '--set', ...Object.keys(ACTION_FLAGS)];
  const guess = closest(token, known);
  return configError(`unknown option ${token}${guess ? ` (did you mean ${guess}?)` : ''} (see --help)`);
}

function configError(message: string): GatewayError {
  return new GatewayError(ErrorCode.CONFIG, message);
}

function valueAt(config: Config, path: readonly string[]): unknown {
  let node: unknown = config;
  for (const key of path) node = (node as Record<string, unknown> | undefined)?.[key];
  return node;
}

function showDefault(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function row(left: string, right: string, width: number): string {
  return left.length >= width ? `  ${left}\n  ${' '.repeat(width)}${right}` : `  ${left.padEnd(width)}${right}`;
}

/** --help, generated from the flag table, the schema and the shipped defaults. */
export function helpText(defaults: Config): string {
  const flagRows = SETTING_FLAGS.map((f) => {
    const value = valueAt(defaults, f.path);
    return row(`${f.flag} <${f.arg}>`, `${f.help} (default: ${value === null ? 'none' : showDefault(value)})`, 24);
  });
  const keyRows = leafPaths(ConfigSchema).map((path) =>
    row(path.join('.'), `${showDefault(valueAt(defaults, path)).padEnd(10)} ${envNameOf(path)}`, 38));
  return [
    'Usage: tributary [options]',
    '       tributary users <add|passwd|delete|list|...>   manage the users file (tributary users --help)',
    '',
    'A gateway from STOMP, MQTT and WAMP (TCP and WebSocket) onto RabbitMQ, or onto an embedded',
    'in-process fabric when no --amqp-url is given.',
    '',
    'Options:',
    row('--config <file>', 'YAML file layered over config/default.yaml (default: none)', 24),
    ...flagRows,
    row('--set <key>=<value>', 'set any configuration key below, e.g. --set stomp.maxFrameBytes=1048576', 24),
    row('--print-config', 'print the effective configuration (secrets redacted) and exit', 24),
    row('--version', 'print the version and exit', 24),
    row('-h, --help', 'print this help and exit', 24),
    '',
    'Ports take an integer (0 picks any free port) or "off" to disable the listener.',
    'Precedence, lowest first: config/default.yaml < --config file < TRIBUTARY_* environment < flags.',
    '',
    'Configuration keys, their defaults and environment variables (values are YAML: 0, true, null, [a, b]):',
    ...keyRows,
    '',
  ].join('\n');
}
