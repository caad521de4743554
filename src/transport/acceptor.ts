// What every listener (TCP, TLS, WebSocket) does with a new client, in one place: admission
// (connection limits and rate, refusals counted), the link, the protocol connection, the registry, metrics, and the
// one info log line when a connection opens and when it closes. Graceful shutdown of
// every live connection lives here too.

import { ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ProtocolModule } from '../protocols/types.js';
import type { ConnectionTable } from '../registry.js';
import { describeSafely } from '../registry.js';
import type { Peer } from '../auth/types.js';
import type { ConnectionAdmission, Refusal, RefusalKind } from './admission.js';
import { Link, type LinkCloseInfo, type LinkIo } from './link.js';
import { formatPeer } from './peer.js';
import type { ProtocolConnection, TransportKind } from './types.js';

export interface AcceptorDeps {
  log: Logger;
  metrics: Metrics;
  registry: ConnectionTable;
  admission: ConnectionAdmission;
  limits: { maxPendingBytesPerConnection: number; drainTimeoutMs: number };
}

export interface NewClient {
  transport: TransportKind;
  peer: Peer;
  subprotocol?: string | undefined;
  certificateCN?: string | undefined;
}

export type OpenResult = { link: Link } | { refused: string };

export class Acceptor {
  private counter = 0;
  private readonly live = new Map<Link, ProtocolConnection | undefined>();
  private readonly allClosedWaiters: (() => void)[] = [];

  constructor(private readonly deps: AcceptorDeps) {}

  get size(): number {
    return this.live.size;
  }

  /** refuse every new client from now on (graceful stop) */
  refuseNew(reason: string): void {
    this.deps.admission.close(reason);
  }

  /**
   * The first look at a new client, before a TLS handshake or WebSocket upgrade: the count
   * limits and one token of the address's connection rate. A refusal is counted and logged
   * here; the transport closes the socket (or refuses the upgrade).
   */
  knock(protocol: string, transport: TransportKind, peer: Peer): Refusal | undefined {
    const refusal = this.deps.admission.knock(peer.address);
    if (refusal !== undefined) this.refused(protocol, transport, peer, refusal.kind, refusal.reason);
    return refusal;
  }

  /** a client the transport turned away itself (failed TLS handshake, bad client certificate) */
  refused(protocol: string, transport: TransportKind, peer: Peer, kind: RefusalKind | 'tls_handshake' | 'client_certificate', reason: string): void {
    const { log, metrics } = this.deps;
    metrics.connectionsRefused.inc({ protocol, transport, reason: kind });
    if (kind !== 'tls_handshake' && kind !== 'client_certificate') metrics.errors.inc({ protocol, code: ErrorCode.LIMIT_EXCEEDED });
    log.debug({ protocol, transport, peer: formatPeer(peer), reason }, 'connection refused');
  }

  open(module: ProtocolModule, io: LinkIo, client: NewClient): OpenResult {
    const { log, metrics, registry, admission, limits } = this.deps;
    const admission_ = admission.admit(client.peer.address);
    if (!admission_.admitted) {
      this.refused(module.name, client.transport, client.peer, admission_.refusal.kind, admission_.refusal.reason);
      return { refused: admission_.refusal.reason };
    }
    const link = new Link(io, {
      id: `${module.name}-${++this.counter}`,
      protocol: module.name,
      ...client,
      maxPendingBytes: limits.maxPendingBytesPerConnection,
      drainTimeoutMs: limits.drainTimeoutMs,
      metrics,
    });
    const labels = { protocol: module.name, transport: client.transport };
    this.live.set(link, undefined);
    metrics.connections.inc(labels);
    metrics.connectionsOpened.inc(labels);
    log.info({ conn: link.id, protocol: module.name, transport: client.transport, peer: formatPeer(client.peer), subprotocol: client.subprotocol }, 'connection opened');
    link.onClosed((info) => {
      admission_.release();
      this.closed(link, info);
    });
    try {
      const conn = module.accept(link);
      link.bind(conn);
      this.live.set(link, conn);
      if (!registry.get(link.id)) registry.add(link.id, conn, link);
    } catch (err) {
      log.error({ conn: link.id, err }, 'protocol refused the connection');
      link.fail('error', 'internal error');
    }
    return { link };
  }

  private closed(link: Link, info: LinkCloseInfo): void {
    const { log, metrics, registry } = this.deps;
    const conn = this.live.get(link);
    this.live.delete(link);
    registry.remove(link.id);
    const labels = { protocol: link.protocol, transport: link.transport };
    metrics.connections.dec(labels);
    metrics.connectionsClosed.inc({ ...labels, reason: info.kind });
    const described = conn ? describeSafely(conn, link) : undefined;
    const fields = {
      conn: link.id, protocol: link.protocol, transport: link.transport, peer: formatPeer(link.peer),
      user: described?.user, vhost: described?.vhost, clientId: described?.clientId,
      durationMs: Date.now() - link.openedAt.getTime(), bytesIn: link.bytesIn, bytesOut: link.bytesOut, reason: info.reason,
    };
    if (info.protocolError) log.error({ ...fields, err: info.protocolError }, 'connection closed; the protocol failed to clean up');
    else if (info.reason === 'internal error') log.error({ ...fields, err: info.error }, 'connection closed');
    else log.info(fields, 'connection closed');
    if (this.live.size === 0) for (const resolve of this.allClosedWaiters.splice(0)) resolve();
  }

  /**
   * Graceful stop: every connection says its protocol's goodbye (in parallel, bounded by
   * timeoutMs); whatever is still open then is closed hard. Resolves once all are gone.
   */
  async shutdownAll(reason: string, timeoutMs: number): Promise<void> {
    const goodbyes = [...this.live].map(([link, conn]) => sayGoodbye(link, conn, reason, this.deps.log));
    await withTimeout(Promise.all(goodbyes), timeoutMs);
    for (const link of this.live.keys()) link.fail('shutdown', reason);
    await withTimeout(this.allClosed(), 2_000);
  }

  allClosed(): Promise<void> {
    if (this.live.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.allClosedWaiters.push(resolve));
  }
}

async function sayGoodbye(link: Link, conn: ProtocolConnection | undefined, reason: string, log: Logger): Promise<void> {
  if (!conn) return link.fail('shutdown', reason);
  try {
    await conn.shutdown(reason);
  } catch (err) {
    log.debug({ conn: link.id, err }, 'shutdown of connection failed; closing it');
    link.fail('shutdown', reason);
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
