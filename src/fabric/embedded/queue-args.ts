// Queue arguments: validation (as RabbitMQ's rabbit_amqqueue:check_arguments does) and the
// equivalence rule for redeclaration (only the arguments RabbitMQ itself compares).
import { ErrorCode, GatewayError } from '../../errors.js';
import type { HeaderValue, Headers } from '../types.js';
import { sameValue } from './header-values.js';

export type Overflow = 'drop-head' | 'reject-publish' | 'reject-publish-dlx';

export interface QueuePolicy {
  messageTtl: number | undefined;
  expires: number | undefined;
  maxLength: number | undefined;
  overflow: Overflow;
  deadLetterExchange: string | undefined;
  deadLetterRoutingKey: string | undefined;
}

/** the x-arguments RabbitMQ 3.10 compares on redeclaration; others are ignored */
const COMPARED_ARGS = [
  'x-expires',
  'x-message-ttl',
  'x-dead-letter-exchange',
  'x-dead-letter-routing-key',
  'x-max-length',
  'x-max-length-bytes',
  'x-max-priority',
  'x-overflow',
  'x-queue-mode',
  'x-queue-type',
  'x-single-active-consumer',
];

export function argsEquivalent(existing: Headers, requested: Headers): string | undefined {
  for (const key of COMPARED_ARGS) {
    const a = existing[key];
    const b = requested[key];
    if (a === undefined && b === undefined) continue;
    if (a === undefined || b === undefined || !sameValue(a, b)) return key;
  }
  return undefined;
}

function fail(queue: string, text: string): never {
  throw new GatewayError(ErrorCode.PRECONDITION_FAILED, `invalid arg for queue '${queue}': ${text}`);
}

function nonNegativeInt(queue: string, key: string, v: HeaderValue, min = 0): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(queue, `'${key}' must be an integer >= ${min}`);
  return v;
}

function optionalString(queue: string, key: string, v: HeaderValue): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') fail(queue, `'${key}' must be a string`);
  return v;
}

export function parseQueueArgs(queue: string, args: Headers): QueuePolicy {
  const overflow = args['x-overflow'] ?? 'drop-head';
  if (overflow !== 'drop-head' && overflow !== 'reject-publish' && overflow !== 'reject-publish-dlx') {
    fail(queue, `'x-overflow' must be drop-head, reject-publish or reject-publish-dlx`);
  }
  const deadLetterRoutingKey = optionalString(queue, 'x-dead-letter-routing-key', args['x-dead-letter-routing-key']);
  const deadLetterExchange = optionalString(queue, 'x-dead-letter-exchange', args['x-dead-letter-exchange']);
  if (deadLetterRoutingKey !== undefined && deadLetterExchange === undefined) {
    fail(queue, `'x-dead-letter-routing-key' needs 'x-dead-letter-exchange'`);
  }
  return {
    messageTtl: nonNegativeInt(queue, 'x-message-ttl', args['x-message-ttl']),
    expires: nonNegativeInt(queue, 'x-expires', args['x-expires'], 1),
    maxLength: nonNegativeInt(queue, 'x-max-length', args['x-max-length']),
    overflow,
    deadLetterExchange,
    deadLetterRoutingKey,
  };
}

/** AMQP's `expiration` property: a non-negative integer of milliseconds, as a string */
export function parseExpiration(expiration: string | undefined): number | undefined {
  if (expiration === undefined) return undefined;
  if (!/^\d{1,15}$/.test(expiration)) {
    throw new GatewayError(ErrorCode.PRECONDITION_FAILED, `invalid expiration '${expiration}'`);
  }
  return Number(expiration);
}
