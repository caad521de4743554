// TRIBUTARY_* environment variables → a config layer. "__" separates nesting levels and
// single underscores separate words: TRIBUTARY_STOMP__MAX_FRAME_BYTES → stomp.maxFrameBytes,
// TRIBUTARY_AMQP_URL → amqpUrl (the EMQX convention MQTT operators know).

import type { TSchema } from '@sinclair/typebox';
import { GatewayError, ErrorCode } from '../errors.js';
import { ConfigSchema } from './schema.js';
import { Layer } from './merge.js';
import { childKeys, childSchema, isRecordLike, leafPaths } from './schema-walk.js';
import { parseSettingText } from './text.js';

export const ENV_PREFIX = 'TRIBUTARY_';

/** variables of the test harness and tooling that share the prefix but are not settings */
const NOT_SETTINGS = [/^TRIBUTARY_TEST_/, /^TRIBUTARY_REQUIRE_(BROKER|BROWSER)$/];

const squash = (word: string) => word.replace(/_/g, '').toLowerCase();

/** stomp.maxFrameBytes → TRIBUTARY_STOMP__MAX_FRAME_BYTES */
export function envNameOf(path: readonly string[]): string {
  const words = path.map((key) => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase());
  return ENV_PREFIX + words.join('__');
}

export function envLayer(env: NodeJS.ProcessEnv | Record<string, string | undefined>): Layer {
  const layer = new Layer('environment');
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined) continue;
    if (NOT_SETTINGS.some((pattern) => pattern.test(name))) continue;
    const path = envPath(name);
    layer.set(path, parseSettingText(schemaFor(path), raw), name);
  }
  return layer;
}

function schemaFor(path: readonly string[]): TSchema | undefined {
  let schema: TSchema | undefined = ConfigSchema;
  for (const key of path) schema = schema && childSchema(schema, key);
  return schema;
}

/** Resolve a variable name onto the schema's key path, or throw naming the variable. */
function envPath(name: string): string[] {
  const segments = name.slice(ENV_PREFIX.length).split('__');
  const path: string[] = [];
  let schema: TSchema | undefined = ConfigSchema;
  for (const segment of segments) {
    const keys: string[] | undefined = schema && childKeys(schema);
    const key = keys ? keys.find((k) => squash(k) === squash(segment))
      : schema && isRecordLike(schema) ? segment.toLowerCase() : undefined;
    if (!key || !schema) throw unknownVariable(name);
    path.push(key);
    schema = childSchema(schema, key);
  }
  return path;
}

function unknownVariable(name: string): GatewayError {
  const wanted = squash(name.slice(ENV_PREFIX.length));
  const match = leafPaths(ConfigSchema).find((path) => squash(path.join('')) === wanted);
  const hint = match ? ` (did you mean ${envNameOf(match)}? nesting uses "__")` : '';
  return new GatewayError(ErrorCode.CONFIG, `${name}: not a setting${hint}`);
}
