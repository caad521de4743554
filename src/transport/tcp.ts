// Plain TCP listener for one protocol: each socket becomes a Link handed to the protocol.
import net from 'node:net';
import type { Logger } from '../log.js';
import type { ProtocolModule } from '../protocols/types.js';
import type { Acceptor } from './acceptor.js';
import { bindError, type ListenerOption } from './bind-error.js';
import type { Link, LinkIo } from './link.js';
import { peerOf } from './peer.js';

/** a client that does not close its end after ours is cut off after this long */
const END_GRACE_MS = 5_000;

export interface TcpListenerOptions {
  module: ProtocolModule;
  acceptor: Acceptor;
  option: ListenerOption;
  log: Logger;
}

export class TcpListener {
  private readonly server: net.Server;
  private boundPort: number | undefined;

  constructor(private readonly opts: TcpListenerOptions) {
    this.server = net.createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 }, (socket) => this.accept(socket));
  }

  get port(): number | undefined {
    return this.boundPort;
  }

  get listening(): boolean {
    return this.server.listening;
  }

  listen(): Promise<number> {
    const { host, port } = this.opts.option;
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(bindError(err, this.opts.option));
      this.server.once('error', onError);
      this.server.listen({ host, port, exclusive: true }, () => {
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

  private accept(socket: net.Socket): void {
    const result = this.opts.acceptor.open(this.opts.module, socketIo(socket), { transport: 'tcp', peer: peerOf(socket) });
    if ('refused' in result) {
      socket.destroy();
      return;
    }
    wireSocket(socket, result.link);
  }
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
      setTimeout(() => socket.destroy(), END_GRACE_MS).unref();
    },
    destroy: () => socket.destroy(),
  };
}
