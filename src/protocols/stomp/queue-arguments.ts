// Queue arguments given as SEND/SUBSCRIBE headers (RabbitMQ's rabbit_stomp_headers.hrl):
// typed here once, so a bad value is a clear STOMP ERROR rather than a broker 406.

import { ErrorCode, GatewayError } from '../../errors.js';
import type { Headers, QueueArguments } from '../../fabric/types.js';
import type { FrameHeaders } from './frame.js';

const NUMERIC = ['x-max-length', 'x-max-length-bytes', 'x-message-ttl', 'x-expires', 'x-max-priority'] as const;
const TEXT = ['x-dead-letter-exchange', 'x-dead-letter-routing-key', 'x-queue-type', 'x-max-age', 'x-queue-mode', 'x-single-active-consumer'] as const;
const OVERFLOW = ['drop-head', 'reject-publish', 'reject-publish-dlx'] as const;

export const QUEUE_ARGUMENT_HEADERS: readonly string[] = [...NUMERIC, ...TEXT, 'x-overflow'];

export function queueArgumentsFrom(headers: FrameHeaders): QueueArguments {
  const args: QueueArguments = {};
  for (const name of NUMERIC) {
    const v = headers[name];
    if (v === undefined) continue;
    if (!/^\d{1,15}$/.test(v)) throw badArgument(name, 'a non-negative integer');
    // x-expires 0 is refused by RabbitMQ (it must be positive)
    if (name === 'x-expires' && v === '0') throw badArgument(name, 'a positive integer');
    args[name] = Number.parseInt(v, 10);
  }
  for (const name of TEXT) {
    const v = headers[name];
    if (v === undefined) continue;
    (args as Headers)[name] = name === 'x-single-active-consumer' ? booleanArgument(name, v) : v;
  }
  const overflow = headers['x-overflow'];
  if (overflow !== undefined) {
    if (!(OVERFLOW as readonly string[]).includes(overflow)) throw badArgument('x-overflow', OVERFLOW.join(', '));
    args['x-overflow'] = overflow as QueueArguments['x-overflow'];
  }
  return args;
}

function booleanArgument(name: string, v: string): boolean {
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw badArgument(name, '"true" or "false"');
}

function badArgument(name: string, expected: string): GatewayError {
  return new GatewayError(ErrorCode.PROTOCOL, `invalid ${name} header`, { detail: `the "${name}" header must be ${expected}` });
}
