// The configuration reference (docs/configuration.md), generated from the one schema: every
// key with its type, default, environment variable and flag, described by its comment in
// config/default.yaml, or by the schema's `description` for keys that file cannot show
// (the fields of auth.http and of a fair.streams entry). A group of settings inside a section
// (auth.failedLoginThrottle) gets a row and one per field. scripts/gen-config-reference.ts writes
// it; a unit test fails when the file is stale or a key has no description.

import { readFileSync } from 'node:fs';
import type { TSchema } from '@sinclair/typebox';
import { OptionalKind } from '@sinclair/typebox';
import { isMap, parseDocument, type Node, type Pair, type YAMLMap } from 'yaml';
import { SETTING_FLAGS } from './cli-flags.js';
import { envNameOf } from './env.js';
import { defaultConfig, defaultConfigPath } from './load.js';
import { ConfigSchema } from './schema.js';
import { childSchema, describeSchema, kindOf } from './schema-walk.js';

export const REFERENCE_PATH = 'docs/configuration.md';
export const REGENERATE_COMMAND = 'npx tsx scripts/gen-config-reference.ts';

export interface ReferenceEntry {
  /** e.g. "stomp.port", "fair.streams[].name" */
  key: string;
  type: string;
  /** the shipped default as YAML text */
  default: string | undefined;
  /** instead of a default: "required" or "not set" (fields of list entries and optional sections) */
  note?: string | undefined;
  /** TRIBUTARY_* variable, or undefined where the key is only set as part of its list */
  env: string | undefined;
  flag: string | undefined;
  description: string;
  /** a YAML example from the comment (the lines after "Example:") */
  example: string | undefined;
}

export interface ReferenceSection {
  title: string;
  entries: ReferenceEntry[];
}

type Schema = TSchema & Record<string | symbol, unknown>;

interface Comment {
  text: string;
  example: string | undefined;
}

/** key path ("stomp.port") → its comment in config/default.yaml */
function yamlComments(file = defaultConfigPath()): Map<string, Comment> {
  const doc = parseDocument(readFileSync(file, 'utf8'));
  const comments = new Map<string, Comment>();
  const walk = (map: YAMLMap, path: string[]): void => {
    map.items.forEach((item, index) => {
      const pair = item as Pair<Node, Node>;
      const key = String((pair.key as { value?: unknown }).value);
      let raw = (pair.key as { commentBefore?: string | null }).commentBefore ?? (index === 0 ? map.commentBefore : undefined);
      // the file's own header sits before the first key, separated by a blank comment line
      if (path.length === 0 && index === 0 && raw) raw = raw.split(/\n\s*\n/).pop();
      if (raw) comments.set([...path, key].join('.'), parseComment(raw));
      if (isMap(pair.value)) walk(pair.value, [...path, key]);
    });
  };
  if (isMap(doc.contents)) walk(doc.contents, []);
  return comments;
}

function parseComment(raw: string): Comment {
  const lines = raw.split('\n').map((l) => (l.startsWith(' ') ? l.slice(1) : l));
  const at = lines.findIndex((l) => /Example:\s*$/.test(l));
  const prose = at === -1 ? lines : [...lines.slice(0, at), lines[at]!.replace(/\s*Example:\s*$/, '')];
  const example = at === -1 ? undefined : lines.slice(at + 1).join('\n').trimEnd();
  return { text: prose.map((l) => l.trim()).filter(Boolean).join(' '), example };
}

function valueAt(tree: unknown, path: readonly string[]): unknown {
  let node = tree;
  for (const key of path) node = (node as Record<string, unknown> | null | undefined)?.[key];
  return node;
}

function yamlText(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return value === '' ? '""' : value;
  return JSON.stringify(value);
}

function flagOf(path: readonly string[]): string | undefined {
  return SETTING_FLAGS.find((f) => f.path.join('.') === path.join('.'))?.flag;
}

function description(schema: TSchema): string | undefined {
  const text = (schema as Schema).description;
  return typeof text === 'string' ? text : undefined;
}

function properties(schema: TSchema): [string, TSchema][] {
  return Object.entries(((schema as Schema).properties as Record<string, TSchema> | undefined) ?? {});
}

/** the object inside `null | { ... }` (auth.http) or inside a list of objects (fair.streams) */
function nestedObject(schema: TSchema): TSchema | undefined {
  const s = schema as Schema;
  if (kindOf(schema) === 'Array' && kindOf(s.items as TSchema) === 'Object') return s.items as TSchema;
  if (kindOf(schema) !== 'Union') return undefined;
  const objects = ((s.anyOf as TSchema[] | undefined) ?? []).filter((m) => kindOf(m) === 'Object');
  return objects.length === 1 ? objects[0] : undefined;
}

export function configReference(): ReferenceSection[] {
  const comments = yamlComments();
  const defaults = defaultConfig();
  const entry = (path: string[], schema: TSchema): ReferenceEntry => {
    const comment = comments.get(path.join('.'));
    return {
      key: path.join('.'),
      type: describeSchema(schema),
      default: yamlText(valueAt(defaults, path)),
      env: envNameOf(path),
      flag: flagOf(path),
      description: comment?.text ?? description(schema) ?? '',
      example: comment?.example,
    };
  };
  /** the fields of an object that is not in default.yaml: described by the schema */
  const nested = (prefix: string, object: TSchema, settable: string[] | undefined): ReferenceEntry[] =>
    properties(object).map(([name, schema]) => {
      const optional = (schema as Schema)[OptionalKind] === 'Optional';
      const fallback = (schema as Schema).default;
      return {
        key: `${prefix}.${name}`,
        type: describeSchema(schema),
        default: fallback === undefined ? undefined : yamlText(fallback),
        note: fallback !== undefined ? undefined : optional ? 'not set' : 'required',
        env: settable ? envNameOf([...settable, name]) : undefined,
        flag: undefined,
        description: description(schema) ?? '',
        example: undefined,
      };
    });
  const entriesOf = (path: string[], schema: TSchema): ReferenceEntry[] => {
    const out = [entry(path, schema)];
    // a group of settings inside a section (auth.failedLoginThrottle): each field in default.yaml
    if (kindOf(schema) === 'Object') return [...out, ...properties(schema).flatMap(([child]) => entriesOf([...path, child], childSchema(schema, child) as TSchema))];
    const object = nestedObject(schema);
    if (!object) return out;
    const isList = kindOf(schema) === 'Array';
    return [...out, ...nested(isList ? `${path.join('.')}[]` : path.join('.'), object, isList ? undefined : path)];
  };
  const general: ReferenceSection = { title: 'General', entries: [] };
  const sections: ReferenceSection[] = [general];
  for (const [key, schema] of properties(ConfigSchema)) {
    if (kindOf(schema) !== 'Object') {
      general.entries.push(...entriesOf([key], schema));
      continue;
    }
    sections.push({ title: key, entries: properties(schema).flatMap(([child]) => entriesOf([key, child], childSchema(schema, child) as TSchema)) });
  }
  return sections;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/\n/g, ' ');
}

function code(text: string | undefined): string {
  return text === undefined ? '—' : `\`${text.replace(/`/g, "'")}\``;
}

export function renderConfigReference(): string {
  const sections = configReference();
  const out: string[] = [
    '# Configuration reference',
    '',
    `<!-- Generated from src/config/schema.ts and the comments in config/default.yaml by \`${REGENERATE_COMMAND}\`. Do not edit by hand. -->`,
    '',
    'Every key, its type, its default, and the environment variable that sets it. Precedence, lowest',
    'first: `config/default.yaml` < the file given with `--config` < `TRIBUTARY_*` environment variables <',
    'command-line flags (a named flag, or `--set key.path=value` for any key). Values given as text',
    '(environment, flags) are read as YAML scalars: `0`, `true`, `null`, `[a, b]`. Ports take an integer',
    '(0: any free port) or `off`. Nesting in variable names uses `__`: `TRIBUTARY_STOMP__MAX_FRAME_BYTES`.',
    'The effective configuration, secrets redacted: `tributary --print-config`.',
    '',
    ...sections.map((s) => `- [${s.title}](#${s.title.toLowerCase()})`),
    '',
  ];
  for (const section of sections) {
    out.push(`## ${section.title}`, '', '| Key | Type | Default | Environment / flag | Description |', '|---|---|---|---|---|');
    for (const e of section.entries) {
      const where = [e.env ? code(e.env) : 'in the list', e.flag ? code(e.flag) : undefined].filter(Boolean).join('<br>');
      const value = e.default === undefined ? (e.note ?? '') : code(e.default);
      out.push(`| \`${e.key}\` | ${cell(e.type)} | ${cell(value)} | ${where} | ${cell(e.description)} |`);
    }
    out.push('');
    for (const e of section.entries.filter((x) => x.example)) {
      out.push(`Example for \`${e.key}\`:`, '', '```yaml', e.example as string, '```', '');
    }
  }
  return `${out.join('\n').trimEnd()}\n`;
}
