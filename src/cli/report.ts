// How the command line reports a failure: a GatewayError (bad config, port in use, broker
// unreachable) is one line on stderr, no stack; anything else is a bug and keeps its stack.
import { isGatewayError } from '../errors.js';

export interface Output {
  write(text: string): unknown;
}

export function reportError(err: unknown, stderr: Output): number {
  if (isGatewayError(err)) stderr.write(`tributary: ${err.message}\n`);
  else stderr.write(`tributary: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}
