// CONNECT negotiation: protocol version (STOMP 1.2 §Protocol Negotiation) and heart-beats
// (STOMP 1.2 §Heart-beating). Pure functions of the CONNECT headers and the server's settings.

import { ErrorCode, GatewayError } from '../../errors.js';
import { STOMP_VERSIONS, type StompVersion } from './frame.js';

export const SUPPORTED_VERSIONS = STOMP_VERSIONS.join(',');

/** The highest version both sides speak; no accept-version header means 1.0. */
export function negotiateVersion(acceptVersion: string | undefined): StompVersion {
  if (acceptVersion === undefined) return '1.0';
  const offered = new Set(acceptVersion.split(',').map((v) => v.trim()));
  for (const v of [...STOMP_VERSIONS].reverse()) if (offered.has(v)) return v;
  throw new GatewayError(ErrorCode.PROTOCOL, 'unsupported protocol version', {
    detail: `Supported protocol versions are ${SUPPORTED_VERSIONS}`,
    fatal: true,
  });
}

export interface HeartbeatPlan {
  /** the server sends a beat at least this often (0: never) */
  sendEveryMs: number;
  /** the client must send something at least this often (0: not checked) */
  expectEveryMs: number;
  /** the CONNECTED heart-beat header: what the server can send, what it wants */
  header: string;
}

/**
 * Client `heart-beat: cx,cy` against the server's interval `s` (offered and wanted):
 * server→client every max(s, cy) unless either is 0; client→server every max(cx, s) unless
 * either is 0. STOMP 1.0 has no heart-beats.
 */
export function negotiateHeartbeat(clientHeader: string | undefined, serverMs: number, version: StompVersion): HeartbeatPlan {
  if (version === '1.0') return { sendEveryMs: 0, expectEveryMs: 0, header: '0,0' };
  const [cx, cy] = parseHeartbeat(clientHeader);
  return {
    sendEveryMs: serverMs === 0 || cy === 0 ? 0 : Math.max(serverMs, cy),
    expectEveryMs: serverMs === 0 || cx === 0 ? 0 : Math.max(serverMs, cx),
    header: `${serverMs},${serverMs}`,
  };
}

function parseHeartbeat(text: string | undefined): [number, number] {
  if (text === undefined) return [0, 0];
  const match = /^\s*(\d{1,9})\s*,\s*(\d{1,9})\s*$/.exec(text);
  if (match === null) {
    throw new GatewayError(ErrorCode.PROTOCOL, 'invalid heart-beat header', { detail: 'heart-beat must be two non-negative integers, e.g. "10000,10000"', fatal: true });
  }
  return [Number(match[1]), Number(match[2])];
}
