// TCP and TLS listeners for one protocol: each socket becomes a Link handed to the protocol.
// A new socket first knocks (connection limits and rate per address): a refused one is
// closed before a byte is read and, on TLS, before the handshake costs any CPU. On TLS the
// client certificate is checked once the handshake is done (see tls.ts) and its CN travels
// on the link as `certificateCN`.
import cluster from 'node:cluster';
import net from 'node:net';
import tls from 'node:tls';
import type { Peer } from '../auth/types.js';
import type { Logger } from '../log.js';
import type { ProtocolModule } from '../protocols/types.js';
import type { Acceptor } from './acceptor.js';
import { bindError, type ListenerOption } from './bind-error.js';
import type { Link, LinkIo } from './link.js';
import { peerOf } from './peer.js';
import { clientIdentity, type TlsSettings } from './tls.js';

/** a client that does not close its end after ours is cut off after this long */
const END_GRACE_MS = 5_000;

const SOCKET_OPTIONS: net.ServerOpts = { noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 };

export interface TcpListenerOptions {
  module: ProtocolModule;
  acceptor: Acceptor;
  option: ListenerOption;
  log: Logger;
  /** serve TLS with these settings (a TLS listener); absent: plain TCP */
  tls?: TlsSettings | undefined;
}

export class TcpListener {
  private readonly server: net.Server;
  private boundPort: number | undefined;
  /** raw sockets of a TLS listener, with their peer, until the handshake ends */
  private readonly knocked = new WeakMap<net.Socket, { peer: Peer; refused: boolean }>();

  constructor(private readonly opts: TcpListenerOptions) {
    this.server = opts.tls ? this.createTlsServer(opts.tls) : net.createServer(SOCKET_OPTIONS, (socket) => this.acceptPlain(socket));
  }

  /** the config key of this listener's port, e.g. "stomp.tlsPort" */
  get key(): string {
    return this.opts.option.key;
  }

  get port(): number | undefined {
    return this.boundPort;
  }

  get listening(): boolean {
    return this.server.listening;
  }

  private get transport(): 'tcp' | 'tls' {
    return this.opts.tls ? 'tls' : 'tcp';
  }

  listen(): Promise<number> {
    const { host, port } = this.opts.option;
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(bindError(err, this.opts.option));
      this.server.once('error', onError);
      // exclusive outside a cluster; the workers of `--workers N` share the port through the primary
      this.server.listen({ host, port, exclusive: !cluster.isWorker }, () => {
        this.server.off('error', onError);
        this.server.on('error', (err) => this.opts.log.error({ err, listener: this.opts.option.key }, 'listener error'));
        this.boundPort = (this.server.address() as net.AddressInfo).port;
        resolve(this.boundPort);
      });
    });
  }

  /** stop accepting; resolves when the server is closed and every connection it accepted is gone */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
    });
  }

  private acceptPlain(socket: net.Socket): void {
    const peer = peerOf(socket);
    if (this.opts.acceptor.knock(this.opts.module.name, 'tcp', peer) !== undefined) {
      socket.destroy();
      return;
    }
    this.open(socket, peer, undefined);
  }

  private createTlsServer(settings: TlsSettings): tls.Server {
    const server = tls.createServer({ ...SOCKET_OPTIONS, ...settings.serverOptions });
    // before tls.Server wraps the socket: a refused client never gets a handshake
    server.prependListener('connection', (raw: net.Socket) => {
      const peer = peerOf(raw);
      const refused = this.opts.acceptor.knock(this.opts.module.name, 'tls', peer) !== undefined;
      this.knocked.set(raw, { peer, refused });
      if (refused) raw.destroy();
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => this.acceptSecure(socket, settings));
    server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
      const knocked = this.knocked.get(rawOf(socket));
      if (knocked?.refused) return; // already counted when it knocked
      const peer = knocked?.peer ?? peerOf(socket);
      this.opts.acceptor.refused(this.opts.module.name, 'tls', peer, 'tls_handshake', `TLS handshake failed: ${err.message}`);
      socket.destroy();
    });
    return server;
  }

  private acceptSecure(socket: tls.TLSSocket, settings: TlsSettings): void {
    const peer = this.knocked.get(rawOf(socket))?.peer ?? peerOf(socket);
    const identity = clientIdentity(socket, settings);
    if ('refused' in identity) {
      this.opts.acceptor.refused(this.opts.module.name, 'tls', peer, 'client_certificate', identity.refused);
      socket.destroy();
      return;
    }
    this.open(socket, peer, identity.certificateCN);
  }

  private open(socket: net.Socket, peer: Peer, certificateCN: string | undefined): void {
    const client = { transport: this.transport, peer, ...(certificateCN === undefined ? {} : { certificateCN }) };
    const result = this.opts.acceptor.open(this.opts.module, socketIo(socket), client);
    if ('refused' in result) {
      socket.destroy();
      return;
    }
    wireSocket(socket, result.link);
  }
}

/** the plain socket under a TLS socket (Node keeps it as `_parent`), to find what it knocked with */
function rawOf(socket: tls.TLSSocket): net.Socket {
  return ((socket as unknown as { _parent?: net.Socket })._parent ?? socket) as net.Socket;
}

function wireSocket(socket: net.Socket, link: Link): void {
  let error: Error | undefined;
  socket.on('data', (chunk: Buffer) => link.receive(chunk));
  socket.on('error', (err) => {
    error = err;
  });
  socket.on('close', () => link.handleClose(error));
}

function socketIo(socket: net.Socket): LinkIo {
  return {
    write: (data, done) => {
      socket.write(data, done);
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    end: () => {
      socket.end();
      // cleared on close: a pending timer would keep the closed socket (and what it read) alive
      const grace = setTimeout(() => socket.destroy(), END_GRACE_MS).unref();
      socket.once('close', () => clearTimeout(grace));
    },
    destroy: () => socket.destroy(),
  };
}
