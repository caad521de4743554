// A listener that cannot bind says which option to change: "stomp.port 61613 is already in
// use (--stomp-port)".
import { ErrorCode, GatewayError } from '../errors.js';

export interface ListenerOption {
  /** config key, e.g. "stomp.port" */
  key: string;
  /** the command-line flag that sets it, e.g. "--stomp-port" */
  flag: string;
  host: string;
  port: number;
}

export function bindError(err: unknown, option: ListenerOption): GatewayError {
  const { key, flag, host, port } = option;
  const code = (err as NodeJS.ErrnoException).code;
  const message =
    code === 'EADDRINUSE' ? `${key} ${port} is already in use (${flag})`
    : code === 'EACCES' ? `${key} ${port}: permission denied; ports below 1024 need privileges (${flag})`
    : code === 'EADDRNOTAVAIL' ? `host ${host} is not an address of this machine (--host)`
    : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? `host ${host} does not resolve (--host)`
    : `${key} ${port} on ${host}: ${(err as Error).message} (${flag})`;
  return new GatewayError(ErrorCode.CONFIG, message, { cause: err });
}
