// One error catalog for the whole gateway (fastify style). Protocols map these codes onto
// their own wire errors in their wire-errors.ts; the fabric maps AMQP reply codes onto them
// in one place (src/fabric/amqp/errors.ts).

export const ErrorCode = {
  CONFIG: 'GW_ERR_CONFIG',
  PROTOCOL: 'GW_ERR_PROTOCOL',
  FRAME_TOO_LARGE: 'GW_ERR_FRAME_TOO_LARGE',
  NOT_CONNECTED: 'GW_ERR_NOT_CONNECTED',
  AUTH_FAILED: 'GW_ERR_AUTH_FAILED',
  NOT_AUTHORIZED: 'GW_ERR_NOT_AUTHORIZED',
  INVALID_DESTINATION: 'GW_ERR_INVALID_DESTINATION',
  UNKNOWN_DESTINATION: 'GW_ERR_UNKNOWN_DESTINATION',
  NOT_FOUND: 'GW_ERR_NOT_FOUND',
  MISSING_HEADER: 'GW_ERR_MISSING_HEADER',
  NO_SUCH_SUBSCRIPTION: 'GW_ERR_NO_SUCH_SUBSCRIPTION',
  PRECONDITION_FAILED: 'GW_ERR_PRECONDITION_FAILED',
  RESOURCE_LOCKED: 'GW_ERR_RESOURCE_LOCKED',
  UNROUTABLE: 'GW_ERR_UNROUTABLE',
  PUBLISH_NACKED: 'GW_ERR_PUBLISH_NACKED',
  BACKEND_UNAVAILABLE: 'GW_ERR_BACKEND_UNAVAILABLE',
  SLOW_CONSUMER: 'GW_ERR_SLOW_CONSUMER',
  LIMIT_EXCEEDED: 'GW_ERR_LIMIT_EXCEEDED',
  QUOTA_EXCEEDED: 'GW_ERR_QUOTA_EXCEEDED',
  SESSION_TAKEN_OVER: 'GW_ERR_SESSION_TAKEN_OVER',
  SHUTTING_DOWN: 'GW_ERR_SHUTTING_DOWN',
  INTERNAL: 'GW_ERR_INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Short, client-safe descriptions (the `message` a client sees when none is given). */
export const ErrorText: Record<ErrorCode, string> = {
  GW_ERR_CONFIG: 'invalid configuration',
  GW_ERR_PROTOCOL: 'protocol error',
  GW_ERR_FRAME_TOO_LARGE: 'frame too large',
  GW_ERR_NOT_CONNECTED: 'not connected',
  GW_ERR_AUTH_FAILED: 'access refused',
  GW_ERR_NOT_AUTHORIZED: 'access refused',
  GW_ERR_INVALID_DESTINATION: 'invalid destination',
  GW_ERR_UNKNOWN_DESTINATION: 'unknown destination',
  GW_ERR_NOT_FOUND: 'not found',
  GW_ERR_MISSING_HEADER: 'missing header',
  GW_ERR_NO_SUCH_SUBSCRIPTION: 'no such subscription',
  GW_ERR_PRECONDITION_FAILED: 'precondition failed',
  GW_ERR_RESOURCE_LOCKED: 'resource locked',
  GW_ERR_UNROUTABLE: 'message unroutable',
  GW_ERR_PUBLISH_NACKED: 'message refused by the broker',
  GW_ERR_BACKEND_UNAVAILABLE: 'broker unavailable',
  GW_ERR_SLOW_CONSUMER: 'slow consumer',
  GW_ERR_LIMIT_EXCEEDED: 'limit exceeded',
  GW_ERR_QUOTA_EXCEEDED: 'quota exceeded',
  GW_ERR_SESSION_TAKEN_OVER: 'session taken over',
  GW_ERR_SHUTTING_DOWN: 'server shutting down',
  GW_ERR_INTERNAL: 'internal error',
};

export interface GatewayErrorInfo {
  /** longer text that may go to the client (STOMP ERROR body, MQTT 5 reason string) */
  detail?: string;
  /** the connection must close after this error */
  fatal?: boolean;
  /** server-private cause: logged, never put on the wire */
  cause?: unknown;
}

export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  readonly detail: string | undefined;
  readonly fatal: boolean;

  constructor(
    readonly code: ErrorCode,
    message: string = ErrorText[code],
    info: GatewayErrorInfo = {},
  ) {
    super(message, info.cause === undefined ? undefined : { cause: info.cause });
    this.detail = info.detail;
    this.fatal = info.fatal ?? false;
  }
}

export function isGatewayError(err: unknown, code?: ErrorCode): err is GatewayError {
  return err instanceof GatewayError && (code === undefined || err.code === code);
}

/** Wrap anything thrown into a GatewayError without losing it. */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError(ErrorCode.INTERNAL, ErrorText.GW_ERR_INTERNAL, { cause: err });
}
