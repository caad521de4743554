import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { helpText, SETTING_FLAGS } from '../../src/config/cli-flags.js';
import { envNameOf } from '../../src/config/env.js';
import { defaultConfig, defaultConfigPath, loadConfig, redactConfig } from '../../src/config/load.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { leafPaths } from '../../src/config/schema-walk.js';
import { ErrorCode, GatewayError } from '../../src/errors.js';
import { testConfig } from '../support/config.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tributary-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, yaml: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, yaml);
  return p;
}

function configError(run: () => unknown): GatewayError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe(ErrorCode.CONFIG);
    return err as GatewayError;
  }
  throw new Error('expected a GW_ERR_CONFIG error, but the config loaded');
}

describe('config - defaults', () => {
  it('loads config/default.yaml unchanged when nothing overrides it', () => {
    const shipped = parse(readFileSync(defaultConfigPath(), 'utf8'));
    const config = loadConfig({ argv: [], env: {} });
    expect(config).toEqual({ ...shipped, fair: { streams: [] } });
    expect(config.stomp.port).toBe(61613);
    expect(config.amqpUrl).toBeNull();
  });

  it('finds the package defaults whatever the working directory is', () => {
    expect(loadConfig({ argv: [], env: {}, cwd: tmpdir() }).mqtt.port).toBe(1883);
  });

  it('testConfig puts every listener on port 0 of loopback, silences logs, removes the auth delay', () => {
    const config = testConfig({ stomp: { maxFrameBytes: 1024 } });
    expect(config).toMatchObject({ host: '127.0.0.1', httpPort: 0, logLevel: 'silent' });
    expect(config.stomp).toMatchObject({ port: 0, maxFrameBytes: 1024, maxHeaders: 64 });
    expect(config.mqtt.port).toBe(0);
    expect(config.auth.failedAuthDelayMs).toBe(0);
  });
});

describe('config - precedence: default.yaml < --config file < environment < flags', () => {
  const yaml = file('precedence.yaml', 'stomp:\n  port: 1000\n  maxFrameBytes: 2048\n');

  it('a --config file overrides the defaults key by key (deep merge)', () => {
    const config = loadConfig({ argv: ['--config', yaml], env: {} });
    expect(config.stomp.port).toBe(1000);
    expect(config.stomp.maxFrameBytes).toBe(2048);
    expect(config.stomp.maxHeaders).toBe(64);
  });

  it('the environment overrides the file', () => {
    const config = loadConfig({ argv: ['--config', yaml], env: { TRIBUTARY_STOMP__PORT: '2000' } });
    expect(config.stomp.port).toBe(2000);
    expect(config.stomp.maxFrameBytes).toBe(2048);
  });

  it('flags override the environment, in --flag value and --flag=value forms', () => {
    const env = { TRIBUTARY_STOMP__PORT: '2000' };
    expect(loadConfig({ argv: ['--config', yaml, '--stomp-port', '3000'], env }).stomp.port).toBe(3000);
    expect(loadConfig({ argv: [`--config=${yaml}`, '--stomp-port=3001'], env }).stomp.port).toBe(3001);
  });

  it('--set reaches any key and beats the named flag before it', () => {
    const config = loadConfig({ argv: ['--stomp-port', '5', '--set', 'stomp.port=6', '--set', 'limits.drainTimeoutMs=500'], env: {} });
    expect(config.stomp.port).toBe(6);
    expect(config.limits.drainTimeoutMs).toBe(500);
  });

  it('a relative --config path and users file resolve against cwd', () => {
    file('relative.yaml', 'httpPort: 9999\n');
    const config = loadConfig({ argv: ['--config', 'relative.yaml', '--users', 'users.yaml'], env: {}, cwd: dir });
    expect(config.httpPort).toBe(9999);
    expect(config.auth.usersFile).toBe(path.join(dir, 'users.yaml'));
  });

  it('every named flag sets the key it documents', () => {
    const values: Record<string, string> = {
      '--amqp-url': 'amqp://u:p@h:5672/', '--host': '::1', '--stomp-port': '1', '--mqtt-port': '2',
      '--http-port': '3', '--log-level': 'debug', '--users': '/etc/users.yaml', '--workers': 'auto',
    };
    const argv = SETTING_FLAGS.flatMap((f) => [f.flag, values[f.flag] as string]);
    expect(argv).not.toContain(undefined);
    const config = loadConfig({ argv, env: {} });
    expect(config).toMatchObject({ amqpUrl: 'amqp://u:p@h:5672/', host: '::1', httpPort: 3, logLevel: 'debug' });
    expect(config.stomp.port).toBe(1);
    expect(config.mqtt.port).toBe(2);
    expect(config.auth.usersFile).toBe('/etc/users.yaml');
    expect(config.workers).toBe('auto');
  });
});

describe('config - ports', () => {
  it('"off" turns a listener off from a flag, the environment or a file', () => {
    const offFile = file('off.yaml', 'mqtt:\n  port: off\n');
    const config = loadConfig({ argv: ['--config', offFile, '--stomp-port', 'off'], env: { TRIBUTARY_HTTP_PORT: 'OFF' } });
    expect(config.stomp.port).toBeNull();
    expect(config.mqtt.port).toBeNull();
    expect(config.httpPort).toBeNull();
  });

  it('0 means any free port and stays 0', () => {
    expect(loadConfig({ argv: ['--http-port', '0'], env: {} }).httpPort).toBe(0);
  });

  it('any port 0..65535 is taken; anything outside names the key and the range', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 65535 }), (port) => {
      expect(loadConfig({ argv: ['--mqtt-port', String(port)], env: {} }).mqtt.port).toBe(port);
    }), { numRuns: 50 });
    fc.assert(fc.property(fc.oneof(fc.integer({ max: -1 }), fc.integer({ min: 65536 })), (port) => {
      const err = configError(() => loadConfig({ argv: ['--mqtt-port', String(port)], env: {} }));
      expect(err.message).toContain('mqtt.port: expected integer 0..65535 or "off"');
    }), { numRuns: 50 });
  });
});

describe('config - environment', () => {
  it('nests with "__" and joins words with "_"', () => {
    const config = loadConfig({
      argv: [],
      env: {
        TRIBUTARY_AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
        TRIBUTARY_STOMP__MAX_FRAME_BYTES: '65536',
        TRIBUTARY_AUTH__GUEST_LOOPBACK_ONLY: 'false',
        TRIBUTARY_AUTH__VHOSTS: '[a, b]',
        TRIBUTARY_WAMP__REALMS__REALM1: 'iot',
        PATH: '/usr/bin',
      },
    });
    expect(config.amqpUrl).toBe('amqp://guest:guest@127.0.0.1:5672');
    expect(config.stomp.maxFrameBytes).toBe(65536);
    expect(config.auth.guestLoopbackOnly).toBe(false);
    expect(config.auth.vhosts).toEqual(['a', 'b']);
    expect(config.wamp.realms).toEqual({ realm1: 'iot' });
  });

  it('values are YAML scalars, but text that only fits the key as text stays text', () => {
    const config = loadConfig({ argv: [], env: { TRIBUTARY_AUTH__DEFAULT_VHOST: '123', TRIBUTARY_AMQP_URL: 'null' } });
    expect(config.auth.defaultVhost).toBe('123');
    expect(config.amqpUrl).toBeNull();
  });

  it('an unknown variable is an error that suggests the right name', () => {
    const err = configError(() => loadConfig({ argv: [], env: { TRIBUTARY_STOMP_PORT: '1' } }));
    expect(err.message).toBe('TRIBUTARY_STOMP_PORT: not a setting (did you mean TRIBUTARY_STOMP__PORT? nesting uses "__")');
    configError(() => loadConfig({ argv: [], env: { TRIBUTARY_NOPE: '1' } }));
  });

  it('the test harness variables are not settings', () => {
    expect(() => loadConfig({ argv: [], env: { TRIBUTARY_TEST_BROKER: '1', TRIBUTARY_REQUIRE_BROKER: '1', TRIBUTARY_REQUIRE_BROWSER: '1' } })).not.toThrow();
  });

  it('every key has an environment name that maps back to it', () => {
    for (const keyPath of leafPaths(ConfigSchema)) {
      expect(() => loadConfig({ argv: [], env: { [envNameOf(keyPath)]: 'x' } }), keyPath.join('.'))
        .not.toThrow(/not a setting/);
    }
  });
});

describe('config - errors name the key, what it expects, and where the value came from', () => {
  it('an invalid flag value', () => {
    const err = configError(() => loadConfig({ argv: ['--stomp-port', 'abc'], env: {} }));
    expect(err.message).toBe('stomp.port: expected integer 0..65535 or "off", got "abc" (from --stomp-port abc)');
  });

  it('an invalid environment value', () => {
    const err = configError(() => loadConfig({ argv: [], env: { TRIBUTARY_LOG_LEVEL: 'loud' } }));
    expect(err.message).toBe('logLevel: expected one of fatal, error, warn, info, debug, trace, silent, got "loud" (from TRIBUTARY_LOG_LEVEL)');
  });

  it('an invalid value in the file', () => {
    const bad = file('bad.yaml', 'limits:\n  maxConnections: 0\n');
    expect(configError(() => loadConfig({ argv: ['--config', bad], env: {} })).message)
      .toBe(`limits.maxConnections: expected integer >= 1, got 0 (from ${bad})`);
  });

  it('an unknown key in the file, with a suggestion', () => {
    const bad = file('typo.yaml', 'stomp:\n  prot: 61613\n');
    expect(configError(() => loadConfig({ argv: ['--config', bad], env: {} })).message)
      .toBe(`stomp.prot: unknown key (did you mean "port"?) (from ${bad})`);
  });

  it('a missing nested key when an optional section is switched on', () => {
    const err = configError(() => loadConfig({ argv: ['--set', 'auth.http={userPath: /u}'], env: {} }));
    expect(err.message).toMatch(/^auth\.http\.vhostPath: missing \(expected string\) \(from --set auth\.http=.*\) \(and 3 more problems\)$/);
  });

  it('a bad amqpUrl scheme', () => {
    expect(configError(() => loadConfig({ argv: ['--amqp-url', 'http://x'], env: {} })).message)
      .toContain('amqpUrl: expected string matching ^amqps?:// or null, got "http://x"');
  });

  it('unknown options, missing values, stray arguments and unknown --set keys', () => {
    expect(configError(() => loadConfig({ argv: ['--stomp-prot', '1'] })).message).toContain('unknown option --stomp-prot (did you mean --stomp-port?)');
    expect(configError(() => loadConfig({ argv: ['--stomp-port'] })).message).toBe('--stomp-port needs a value');
    expect(configError(() => loadConfig({ argv: ['start'] })).message).toContain('unexpected argument "start"');
    expect(configError(() => loadConfig({ argv: ['--set', 'stomp.prot=1'] })).message).toBe('--set stomp.prot: not a setting (did you mean stomp.port?)');
    expect(configError(() => loadConfig({ argv: ['--set', 'novalue'] })).message).toContain('expected key.path=value');
  });

  it('a missing file, a YAML syntax error, a file that is not a mapping', () => {
    expect(configError(() => loadConfig({ argv: ['--config', path.join(dir, 'absent.yaml')] })).message).toContain('not found');
    const broken = file('broken.yaml', 'stomp: [port: 1\n');
    expect(configError(() => loadConfig({ argv: ['--config', broken] })).message).toContain('not valid YAML');
    const list = file('list.yaml', '- a\n- b\n');
    expect(configError(() => loadConfig({ argv: ['--config', list] })).message).toContain('expected a mapping');
  });

  it('an empty file changes nothing', () => {
    expect(loadConfig({ argv: ['--config', file('empty.yaml', '')] }).stomp.port).toBe(61613);
  });
});

describe('config - help and printing', () => {
  it('--help lists every flag and every key with its default', () => {
    const text = helpText(defaultConfig());
    for (const f of SETTING_FLAGS) expect(text).toContain(f.flag);
    for (const flag of ['--config', '--set', '--print-config', '--help']) expect(text).toContain(flag);
    expect(text).toMatch(/--stomp-port <port\|off>.*\(default: 61613\)/);
    for (const keyPath of leafPaths(ConfigSchema)) {
      expect(text).toContain(keyPath.join('.'));
      expect(text).toContain(envNameOf(keyPath));
    }
    expect(text).toMatch(/limits\.drainTimeoutMs\s+30000/);
  });

  it('redactConfig hides the broker password and nothing else', () => {
    const config = loadConfig({ argv: ['--amqp-url', 'amqp://app:s3cret@rabbit:5672/prod'], env: {} });
    const redacted = redactConfig(config);
    expect(redacted.amqpUrl).toBe('amqp://app:******@rabbit:5672/prod');
    expect(JSON.stringify(redacted)).not.toContain('s3cret');
    expect(config.amqpUrl).toContain('s3cret');
  });
});
