// --workers: how many processes a config asks for, and the messages between primary and workers.
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { STOP_MESSAGE, isListeningMessage, isStopMessage, workerCount } from '../../src/cli/cluster.js';
import { ErrorCode, GatewayError } from '../../src/errors.js';
import { loadConfig } from '../../src/config/load.js';

describe('cli - workers', () => {
  it('defaults to one process', () => {
    expect(loadConfig({ argv: [], env: {} }).workers).toBe(1);
    expect(workerCount({ workers: 1, amqpUrl: null })).toBe(1);
  });

  it('takes a number or auto (one per core) from the flag, the environment or --set', () => {
    expect(loadConfig({ argv: ['--workers', '3'], env: {} }).workers).toBe(3);
    expect(loadConfig({ argv: [], env: { TRIBUTARY_WORKERS: 'auto' } }).workers).toBe('auto');
    expect(loadConfig({ argv: ['--set', 'workers=2'], env: {} }).workers).toBe(2);
    expect(workerCount({ workers: 'auto', amqpUrl: 'amqp://h' })).toBe(availableParallelism());
    expect(workerCount({ workers: 4, amqpUrl: 'amqp://h' })).toBe(4);
  });

  it('refuses 0, other words, and more than one process on the embedded fabric', () => {
    expect(() => loadConfig({ argv: ['--workers', '0'], env: {} })).toThrow(/workers/);
    expect(() => loadConfig({ argv: ['--workers', 'many'], env: {} })).toThrow(/workers/);
    let err: unknown;
    try {
      workerCount({ workers: 2, amqpUrl: null });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe(ErrorCode.CONFIG);
    expect((err as GatewayError).message).toMatch(/needs amqpUrl.*--amqp-url/);
  });

  it('recognises its IPC messages and nothing else', () => {
    expect(isStopMessage(STOP_MESSAGE)).toBe(true);
    expect(isStopMessage({ type: 'other' })).toBe(false);
    expect(isStopMessage('tributary:stop')).toBe(false);
    expect(isListeningMessage({ type: 'tributary:listening', line: 'listening …', ports: {}, node: 'n', fabric: 'amqp' })).toBe(true);
    expect(isListeningMessage(null)).toBe(false);
  });
});
