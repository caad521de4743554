// TLS for every listener that has one (STOMP, MQTT, HTTPS/WSS), from the one `tls:` section:
// - loadTls() reads the PEM files once at build time; a missing or unreadable file, or a
//   combination that cannot work, is a CONFIG error naming the key;
// - client certificates: `none` asks for none; `request` asks, lets a client without one in
//   and refuses one whose certificate fails verification (RabbitMQ's verify_peer without
//   fail_if_no_peer_cert); `require` fails the handshake without a valid one;
// - clientIdentity() turns a verified certificate into `certificateCN` (when certificateUser
//   is on): the subject CN, used as the user by a client that gives no username.
// A handshake is bounded by limits.connectTimeoutMs (Node's default is 120 s).

import { readFileSync } from 'node:fs';
import { createSecureContext, type TLSSocket, type TlsOptions } from 'node:tls';
import type { TlsConfig } from '../config/schema.js';
import { ErrorCode, GatewayError } from '../errors.js';

export interface TlsSettings {
  /** options for tls.createServer / https.createServer */
  readonly serverOptions: TlsOptions;
  readonly clientCertificates: TlsConfig['clientCertificates'];
  readonly certificateUser: boolean;
}

export type ClientIdentity = { refused: string } | { certificateCN: string | undefined };

/** null when no certificate is configured (TLS off) */
export function loadTls(config: TlsConfig, handshakeTimeoutMs: number): TlsSettings | null {
  if (config.certFile === null) {
    if (config.keyFile !== null) throw configError('tls.certFile', 'is needed with tls.keyFile (the certificate the key belongs to)');
    return null;
  }
  if (config.keyFile === null) throw configError('tls.keyFile', 'is needed with tls.certFile');
  if (config.clientCertificates !== 'none' && config.caFile === null) {
    throw configError('tls.caFile', `is needed to verify client certificates (tls.clientCertificates is ${config.clientCertificates})`);
  }
  if (config.certificateUser && config.clientCertificates === 'none') {
    throw configError('tls.certificateUser', 'needs tls.clientCertificates request or require (no certificate is asked for)');
  }
  const serverOptions: TlsOptions = {
    cert: readPem('tls.certFile', config.certFile),
    key: readPem('tls.keyFile', config.keyFile),
    ...(config.caFile === null ? {} : { ca: readPem('tls.caFile', config.caFile) }),
    requestCert: config.clientCertificates !== 'none',
    rejectUnauthorized: config.clientCertificates === 'require',
    minVersion: config.minVersion,
    handshakeTimeout: handshakeTimeoutMs,
  };
  try {
    createSecureContext(serverOptions);
  } catch (err) {
    throw configError('tls.certFile/tls.keyFile/tls.caFile:', `not usable: ${(err as Error).message}`);
  }
  return { serverOptions, clientCertificates: config.clientCertificates, certificateUser: config.certificateUser };
}

/** Who a client is by its certificate, or why it is refused (a presented certificate that failed verification). */
export function clientIdentity(socket: TLSSocket, settings: TlsSettings): ClientIdentity {
  if (settings.clientCertificates === 'none') return { certificateCN: undefined };
  if (!socket.authorized) {
    if (!presentedCertificate(socket)) return { certificateCN: undefined };
    return { refused: `client certificate not accepted: ${String(socket.authorizationError ?? 'not verified')}` };
  }
  if (!settings.certificateUser) return { certificateCN: undefined };
  return { certificateCN: commonName(socket) };
}

/** the subject CN of the peer's certificate when it has exactly one, non-empty */
function commonName(socket: TLSSocket): string | undefined {
  const cn: unknown = socket.getPeerCertificate()?.subject?.CN;
  return typeof cn === 'string' && cn !== '' ? cn : undefined;
}

function presentedCertificate(socket: TLSSocket): boolean {
  const cert = socket.getPeerCertificate();
  return cert !== null && cert !== undefined && Object.keys(cert).length > 0;
}

function readPem(key: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'not found' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw configError(key, `${why} (${file})`);
  }
}

function configError(key: string, message: string): GatewayError {
  return new GatewayError(ErrorCode.CONFIG, `${key} ${message}`);
}
