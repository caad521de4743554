// Reading the TypeBox config schema as data: what a key expects (for error messages and
// --help), which keys exist (unknown keys are errors), where the ports are ("off" → null).

import { Kind, OptionalKind, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

type Schema = TSchema & Record<string | symbol, unknown>;

export function kindOf(schema: TSchema): string {
  return String((schema as Schema)[Kind]);
}

function members(schema: TSchema): TSchema[] {
  return ((schema as Schema).anyOf as TSchema[] | undefined) ?? [];
}

function properties(schema: TSchema): Record<string, TSchema> {
  return ((schema as Schema).properties as Record<string, TSchema> | undefined) ?? {};
}

function isOptional(schema: TSchema): boolean {
  return (schema as Schema)[OptionalKind] === 'Optional';
}

/** the value schema of a TypeBox Record (`patternProperties`), or undefined */
function recordValue(schema: TSchema): TSchema | undefined {
  if (kindOf(schema) !== 'Record') return undefined;
  const patterns = (schema as Schema).patternProperties as Record<string, TSchema> | undefined;
  return patterns ? Object.values(patterns)[0] : undefined;
}

/** a listener port: integer 0..65535 or null (written "off" on the command line) */
export function isPortSchema(schema: TSchema): boolean {
  if (kindOf(schema) !== 'Union') return false;
  const kinds = members(schema).map(kindOf).sort();
  return kinds.length === 2 && kinds[0] === 'Integer' && kinds[1] === 'Null'
    && members(schema).some((m) => (m as Schema).maximum === 65535);
}

/** the object member of a union such as `null | { ... }`, when there is exactly one */
function objectMember(schema: TSchema): TSchema | undefined {
  const objects = members(schema).filter((m) => kindOf(m) === 'Object' || kindOf(m) === 'Record');
  return objects.length === 1 ? objects[0] : undefined;
}

/** The schema of a child key, or undefined when the key does not exist. */
export function childSchema(schema: TSchema, key: string): TSchema | undefined {
  const kind = kindOf(schema);
  if (kind === 'Object') return properties(schema)[key];
  if (kind === 'Record') return recordValue(schema);
  if (kind === 'Union') {
    const object = objectMember(schema);
    return object ? childSchema(object, key) : undefined;
  }
  return undefined;
}

/** the property names of an object schema (or of the object member of a union) */
export function childKeys(schema: TSchema): string[] | undefined {
  if (kindOf(schema) === 'Object') return Object.keys(properties(schema));
  if (kindOf(schema) === 'Union') {
    const object = objectMember(schema);
    return object && kindOf(object) === 'Object' ? Object.keys(properties(object)) : undefined;
  }
  return undefined;
}

export function isRecordLike(schema: TSchema): boolean {
  return kindOf(schema) === 'Record' || (kindOf(schema) === 'Union' && objectMember(schema) !== undefined);
}

export function schemaAt(schema: TSchema, path: readonly string[]): TSchema | undefined {
  let current: TSchema | undefined = schema;
  for (const key of path) {
    if (!current) return undefined;
    current = childSchema(current, key);
  }
  return current;
}

/** Human text for what a schema accepts, e.g. `integer 0..65535 or "off"`. */
export function describeSchema(schema: TSchema): string {
  const s = schema as Schema;
  if (isPortSchema(schema)) return 'integer 0..65535 or "off"';
  switch (kindOf(schema)) {
    case 'Integer':
    case 'Number':
      return describeNumber(kindOf(schema) === 'Integer' ? 'integer' : 'number', s);
    case 'String':
      if (typeof s.pattern === 'string') return `string matching ${s.pattern}`;
      return typeof s.minLength === 'number' && s.minLength > 0 ? 'non-empty string' : 'string';
    case 'Boolean':
      return 'true or false';
    case 'Null':
      return 'null';
    case 'Literal':
      return JSON.stringify(s.const);
    case 'Array':
      return `list of ${describeSchema(s.items as TSchema)}`;
    case 'Record':
      return `mapping of name to ${describeSchema(recordValue(schema) as TSchema)}`;
    case 'Object':
      return `mapping with keys ${Object.keys(properties(schema)).join(', ')}`;
    case 'Union':
      return describeUnion(members(schema));
    default:
      return kindOf(schema).toLowerCase();
  }
}

function describeNumber(type: string, s: Schema): string {
  const min = typeof s.minimum === 'number' ? s.minimum : undefined;
  const max = typeof s.maximum === 'number' ? s.maximum : undefined;
  if (min !== undefined && max !== undefined) return `${type} ${min}..${max}`;
  if (min !== undefined) return `${type} >= ${min}`;
  if (typeof s.exclusiveMinimum === 'number') return `${type} > ${s.exclusiveMinimum}`;
  if (max !== undefined) return `${type} <= ${max}`;
  return type;
}

function describeUnion(options: TSchema[]): string {
  if (options.length > 0 && options.every((m) => kindOf(m) === 'Literal')) {
    return `one of ${options.map((m) => String((m as Schema).const)).join(', ')}`;
  }
  return options.map(describeSchema).join(' or ');
}

export interface SchemaProblem {
  path: string[];
  message: string;
}

function show(value: unknown): string {
  const text = value === undefined ? 'nothing' : JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * Every place where `value` does not fit `schema`, deepest first within a branch, with
 * unknown keys reported as errors (the schema's objects are open; our config is not).
 */
export function findProblems(schema: TSchema, value: unknown, path: string[] = []): SchemaProblem[] {
  const kind = kindOf(schema);
  if (kind === 'Union') return unionProblems(schema, value, path);
  if (kind === 'Object' && isPlainObject(value)) return objectProblems(schema, value, path);
  if (kind === 'Record' && isPlainObject(value)) {
    const inner = recordValue(schema) as TSchema;
    return Object.entries(value).flatMap(([k, v]) => findProblems(inner, v, [...path, k]));
  }
  if (fits(schema, value)) return [];
  if (kind === 'Array' && Array.isArray(value)) {
    const items = (schema as Schema).items as TSchema;
    const inner = (value as unknown[]).flatMap((v, i) => findProblems(items, v, [...path, String(i)]));
    if (inner.length > 0) return inner;
  }
  return [{ path, message: `expected ${describeSchema(schema)}, got ${show(value)}` }];
}

function fits(schema: TSchema, value: unknown): boolean {
  return Value.Check(schema, value);
}

function unionProblems(schema: TSchema, value: unknown, path: string[]): SchemaProblem[] {
  if (fits(schema, value)) return [];
  const object = objectMember(schema);
  if (object && isPlainObject(value)) return findProblems(object, value, path);
  return [{ path, message: `expected ${describeSchema(schema)}, got ${show(value)}` }];
}

function objectProblems(schema: TSchema, value: Record<string, unknown>, path: string[]): SchemaProblem[] {
  const props = properties(schema);
  const problems: SchemaProblem[] = [];
  for (const key of Object.keys(value)) {
    if (!(key in props)) problems.push({ path: [...path, key], message: unknownKeyMessage(key, Object.keys(props)) });
  }
  for (const [key, child] of Object.entries(props)) {
    if (value[key] === undefined) {
      if (!isOptional(child)) problems.push({ path: [...path, key], message: `missing (expected ${describeSchema(child)})` });
      continue;
    }
    problems.push(...findProblems(child, value[key], [...path, key]));
  }
  if (problems.length === 0 && !fits(schema, value)) {
    problems.push({ path, message: `expected ${describeSchema(schema)}, got ${show(value)}` });
  }
  return problems;
}

export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const guess = closest(key, known);
  return guess ? `unknown key (did you mean "${guess}"?)` : `unknown key (known: ${known.join(', ')})`;
}

/** the known name nearest to `name` by edit distance, when it is near enough to be a typo */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost));
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

/** Every leaf key path of the schema (records and arrays count as leaves), for --help. */
export function leafPaths(schema: TSchema, path: string[] = []): string[][] {
  if (kindOf(schema) !== 'Object') return [path];
  return Object.entries(properties(schema)).flatMap(([key, child]) => leafPaths(child, [...path, key]));
}

/** Replace "off" with null wherever the schema has a port. */
export function normalizePorts(schema: TSchema, value: unknown): unknown {
  if (isPortSchema(schema) && typeof value === 'string' && value.toLowerCase() === 'off') return null;
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const childSch = childSchema(schema, key);
    out[key] = childSch ? normalizePorts(childSch, child) : child;
  }
  return out;
}
