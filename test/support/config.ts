// A config for tests: the shipped defaults with every listener on port 0 of 127.0.0.1,
// no logging and no failed-auth delay, plus whatever a test overrides.
import { defaultConfig, validateConfig } from '../../src/config/load.js';
import { deepMerge, type DeepPartial, type Tree } from '../../src/config/merge.js';
import type { Config } from '../../src/config/schema.js';

export type { DeepPartial };

export function testConfig(overrides: DeepPartial<Config> = {}): Config {
  const base = deepMerge(defaultConfig() as unknown as Tree, {
    host: '127.0.0.1',
    httpPort: 0,
    logLevel: 'silent',
    stomp: { port: 0 },
    mqtt: { port: 0 },
    auth: { failedAuthDelayMs: 0 },
  });
  return validateConfig(deepMerge(base, overrides as Tree));
}
