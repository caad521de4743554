import { ErrorCode, GatewayError } from '../../../errors.js';

/** Every problem with a selector's text (syntax, types, limits) is one of these. */
export function selectorError(detail: string): GatewayError {
  return new GatewayError(ErrorCode.PROTOCOL, 'invalid selector', { detail });
}

/** 1-based column of a 0-based offset into the selector text. */
export function at(pos: number): string {
  return `at column ${pos + 1}`;
}

/** A short, printable rendering of user text for error details (which may reach the client). */
export function quote(text: string, max = 24): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(cut);
}
