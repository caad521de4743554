// Settings written as text (environment variables, command-line flags) are read as YAML
// scalars, so `0`, `true`, `null` and `[a, b]` mean what they mean in the config file.
// When the YAML reading does not fit the key but the raw text does (a host name such as
// `::1`, a password that looks like a number), the raw text wins.

import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse } from 'yaml';

export function parseSettingText(schema: TSchema | undefined, raw: string): unknown {
  let parsed: unknown;
  try {
    parsed = parse(raw);
  } catch {
    return raw;
  }
  if (!schema || Value.Check(schema, parsed)) return parsed;
  if (Value.Check(schema, raw)) return raw;
  return parsed ?? raw;
}
