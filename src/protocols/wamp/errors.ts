// Error and close URIs (wamp-proto "Basic Profile URIs", "Advanced Profile URIs"), and the
// one place a GatewayError becomes a WAMP error URI.

import { ErrorCode, type GatewayError } from '../../errors.js';

export const WampError = {
  INVALID_URI: 'wamp.error.invalid_uri',
  INVALID_ARGUMENT: 'wamp.error.invalid_argument',
  NO_SUCH_PROCEDURE: 'wamp.error.no_such_procedure',
  PROCEDURE_ALREADY_EXISTS: 'wamp.error.procedure_already_exists',
  NO_SUCH_REGISTRATION: 'wamp.error.no_such_registration',
  NO_SUCH_SUBSCRIPTION: 'wamp.error.no_such_subscription',
  NOT_AUTHORIZED: 'wamp.error.not_authorized',
  AUTHORIZATION_FAILED: 'wamp.error.authorization_failed',
  AUTHENTICATION_FAILED: 'wamp.error.authentication_failed',
  NO_MATCHING_AUTH_METHOD: 'wamp.error.no_matching_auth_method',
  NO_SUCH_REALM: 'wamp.error.no_such_realm',
  PROTOCOL_VIOLATION: 'wamp.error.protocol_violation',
  CANCELED: 'wamp.error.canceled',
  TIMEOUT: 'wamp.error.timeout',
  OPTION_NOT_ALLOWED: 'wamp.error.option_not_allowed',
  NETWORK_FAILURE: 'wamp.error.network_failure',
  /** what autobahn and Crossbar use for an unexpected failure */
  RUNTIME_ERROR: 'wamp.error.runtime_error',
  /** not a spec URI: the session reached a configured limit (subscriptions, pending calls) */
  LIMIT_EXCEEDED: 'tributary.error.limit_exceeded',
} as const;

export const WampClose = {
  SYSTEM_SHUTDOWN: 'wamp.close.system_shutdown',
  CLOSE_REALM: 'wamp.close.close_realm',
  GOODBYE_AND_OUT: 'wamp.close.goodbye_and_out',
} as const;

/** the ERROR URI a client sees for a failed request */
export function errorUriFor(err: GatewayError): string {
  switch (err.code) {
    case ErrorCode.NOT_AUTHORIZED:
      return WampError.NOT_AUTHORIZED;
    case ErrorCode.INVALID_DESTINATION:
      return WampError.INVALID_URI;
    case ErrorCode.UNROUTABLE:
    case ErrorCode.NOT_FOUND:
    case ErrorCode.UNKNOWN_DESTINATION:
      return WampError.NO_SUCH_PROCEDURE;
    case ErrorCode.LIMIT_EXCEEDED:
    case ErrorCode.QUOTA_EXCEEDED:
      return WampError.LIMIT_EXCEEDED;
    case ErrorCode.BACKEND_UNAVAILABLE:
    case ErrorCode.PUBLISH_NACKED:
      return WampError.NETWORK_FAILURE;
    default:
      return WampError.RUNTIME_ERROR;
  }
}

/** a request the router refuses with a specific ERROR URI (thrown by handlers, caught by the session) */
export class WampRequestError extends Error {
  constructor(
    readonly uri: string,
    message?: string,
  ) {
    super(message ?? uri);
  }
}

/** the client broke the protocol: ABORT wamp.error.protocol_violation and close */
export class ProtocolViolation extends Error {}
