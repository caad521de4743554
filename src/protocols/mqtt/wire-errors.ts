// GatewayError → what an MQTT client is told. MQTT 5 gets reason codes (and the detail as a
// Reason String); MQTT 3.1/3.1.1 has only CONNACK return codes and SUBACK 0x80, so anything
// else closes the connection.

import { ErrorCode, GatewayError, type GatewayErrorInfo } from '../../errors.js';
import { Reason } from './reason-codes.js';

/** A GatewayError that names the exact MQTT 5 reason code to send. */
export class MqttError extends GatewayError {
  constructor(readonly reason: Reason, code: ErrorCode, detail: string, info: GatewayErrorInfo = {}) {
    super(code, undefined, { detail, ...info });
  }
}

export function protocolError(detail: string, reason: Reason = Reason.PROTOCOL_ERROR): MqttError {
  return new MqttError(reason, ErrorCode.PROTOCOL, detail, { fatal: true });
}

export function malformed(detail: string): MqttError {
  return new MqttError(Reason.MALFORMED_PACKET, ErrorCode.PROTOCOL, detail, { fatal: true });
}

/** DISCONNECT reason code for an error that ends the connection */
export function disconnectReasonFor(err: GatewayError): Reason {
  if (err instanceof MqttError) return err.reason;
  switch (err.code) {
    case ErrorCode.PROTOCOL:
    case ErrorCode.NOT_CONNECTED:
      return Reason.PROTOCOL_ERROR;
    case ErrorCode.FRAME_TOO_LARGE:
      return Reason.PACKET_TOO_LARGE;
    case ErrorCode.NOT_AUTHORIZED:
    case ErrorCode.AUTH_FAILED:
      return Reason.NOT_AUTHORIZED;
    case ErrorCode.SESSION_TAKEN_OVER:
      return Reason.SESSION_TAKEN_OVER;
    case ErrorCode.SHUTTING_DOWN:
      return Reason.SERVER_SHUTTING_DOWN;
    case ErrorCode.QUOTA_EXCEEDED:
      return Reason.QUOTA_EXCEEDED;
    case ErrorCode.LIMIT_EXCEEDED:
      return Reason.QUOTA_EXCEEDED;
    case ErrorCode.INVALID_DESTINATION:
      return Reason.TOPIC_NAME_INVALID;
    case ErrorCode.SLOW_CONSUMER:
    case ErrorCode.BACKEND_UNAVAILABLE:
      return Reason.SERVER_BUSY;
    default:
      return Reason.UNSPECIFIED_ERROR;
  }
}

/** CONNACK reason code (MQTT 5) for a refused CONNECT */
export function connackReasonFor(err: GatewayError): Reason {
  if (err instanceof MqttError) return err.reason;
  switch (err.code) {
    case ErrorCode.AUTH_FAILED:
      return Reason.BAD_USER_NAME_OR_PASSWORD;
    case ErrorCode.NOT_AUTHORIZED:
      return Reason.NOT_AUTHORIZED;
    case ErrorCode.PROTOCOL:
      return Reason.PROTOCOL_ERROR;
    case ErrorCode.LIMIT_EXCEEDED:
      return Reason.QUOTA_EXCEEDED;
    case ErrorCode.SHUTTING_DOWN:
      return Reason.SERVER_UNAVAILABLE;
    default:
      return Reason.SERVER_UNAVAILABLE;
  }
}

/** PUBACK/PUBREC reason code (MQTT 5) for a publish the broker did not take */
export function publishReasonFor(err: GatewayError): Reason {
  if (err instanceof MqttError) return err.reason;
  switch (err.code) {
    case ErrorCode.NOT_AUTHORIZED:
      return Reason.NOT_AUTHORIZED;
    case ErrorCode.PUBLISH_NACKED:
    case ErrorCode.QUOTA_EXCEEDED:
      return Reason.QUOTA_EXCEEDED;
    case ErrorCode.INVALID_DESTINATION:
      return Reason.TOPIC_NAME_INVALID;
    default:
      return Reason.UNSPECIFIED_ERROR;
  }
}

/** SUBACK reason code (MQTT 5) for a refused subscription */
export function subscribeReasonFor(err: GatewayError): Reason {
  if (err instanceof MqttError) return err.reason;
  switch (err.code) {
    case ErrorCode.NOT_AUTHORIZED:
      return Reason.NOT_AUTHORIZED;
    case ErrorCode.INVALID_DESTINATION:
      return Reason.TOPIC_FILTER_INVALID;
    case ErrorCode.LIMIT_EXCEEDED:
    case ErrorCode.QUOTA_EXCEEDED:
      return Reason.QUOTA_EXCEEDED;
    default:
      return Reason.UNSPECIFIED_ERROR;
  }
}
