// What the gateway floor's MQTT and STOMP loops share: the AMQP side (one connection per
// client connection, or two shared ones), and a socket writer that coalesces the writes of
// one tick into one syscall.
//
// AMQP connections. Default `per-client`: every client connection gets its own AMQP
// connection, as rabbitmq_mqtt/rabbitmq_stomp 3.10 give every client its own (in-VM, direct)
// connection and channel processes in the broker. So the broker does the same per-client work
// for the floor as for the plugin, a slow or blocked client holds back only its own socket,
// and the floor has no multiplexing code of its own. `shared` (one publish and one consume
// connection for all clients, channels per client: Tributary's layout) is there to measure the
// difference (`--amqp-connections shared`).
import type { Socket } from 'node:net';
import amqplib, { type Channel, type ChannelModel, type ConfirmChannel } from 'amqplib';

export type ConnectionMode = 'per-client' | 'shared';

export class Backend {
  private shared: { pub: ChannelModel; sub: ChannelModel } | undefined;

  constructor(
    readonly url: string,
    readonly mode: ConnectionMode,
  ) {}

  /** shared: open the two connections; per-client: check that the broker answers */
  async start(): Promise<void> {
    if (this.mode === 'shared') {
      const pub = await amqplib.connect(this.url, { clientProperties: { connection_name: 'floor-publish' } });
      const sub = await amqplib.connect(this.url, { clientProperties: { connection_name: 'floor-consume' } });
      for (const c of [pub, sub]) {
        corkMuxWrites(c);
        c.on('error', (err: Error) => console.error(`floor: shared AMQP connection error: ${err.message}`));
        c.on('close', () => {
          console.error('floor: shared AMQP connection closed');
          process.exit(1);
        });
      }
      this.shared = { pub, sub };
    } else {
      const probe = await amqplib.connect(this.url);
      await probe.close();
    }
  }

  /** the AMQP side of one client connection */
  async link(name: string, onLost: (why: string) => void): Promise<Link> {
    if (this.shared) return new Link(this.shared.pub, this.shared.sub, false, onLost);
    const conn = await amqplib.connect(this.url, { clientProperties: { connection_name: name } });
    corkMuxWrites(conn);
    conn.on('error', (err: Error) => onLost(`AMQP connection: ${err.message}`));
    conn.on('close', () => onLost('AMQP connection closed'));
    return new Link(conn, conn, true, onLost);
  }

  async stop(): Promise<void> {
    if (!this.shared) return;
    const { pub, sub } = this.shared;
    pub.removeAllListeners('close');
    sub.removeAllListeners('close');
    await Promise.allSettled([pub.close(), sub.close()]);
  }
}

/**
 * amqplib's Mux writes every frame with its own socket.write (a syscall each, TCP_NODELAY);
 * corking the socket for one pass of the Mux sends a pass's frames in one writev. Tributary does
 * the same (src/fabric/amqp/connection.ts, corkMuxWrites): the floor must not pay a cost that a
 * known two-line fix removes. Nothing changes if amqplib's internals are not as expected.
 */
function corkMuxWrites(model: ChannelModel): void {
  type Writable = { cork(): void; uncork(): void };
  const muxer = (model as unknown as { connection?: { muxer?: { out?: Partial<Writable>; _readIncoming?: () => void } } }).connection?.muxer;
  const out = muxer?.out;
  const readIncoming = muxer?._readIncoming;
  if (!muxer || typeof readIncoming !== 'function' || typeof out?.cork !== 'function' || typeof out.uncork !== 'function') return;
  const socket = out as Writable;
  muxer._readIncoming = function corkedReadIncoming(this: unknown) {
    socket.cork();
    try {
      readIncoming.call(muxer);
    } finally {
      socket.uncork();
    }
  };
}

/** one client connection's channels, opened when first needed */
export class Link {
  pub: Channel | undefined;
  confirm: ConfirmChannel | undefined;
  sub: Channel | undefined;
  private closed = false;

  constructor(
    private readonly pubConn: ChannelModel,
    private readonly subConn: ChannelModel,
    private readonly owned: boolean,
    private readonly onLost: (why: string) => void,
  ) {}

  async openPub(): Promise<Channel> {
    this.pub ??= this.watch(await this.pubConn.createChannel());
    return this.pub;
  }

  async openConfirm(): Promise<ConfirmChannel> {
    this.confirm ??= this.watch(await this.pubConn.createConfirmChannel());
    return this.confirm;
  }

  async openSub(): Promise<Channel> {
    this.sub ??= this.watch(await this.subConn.createChannel());
    return this.sub;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.owned) {
      this.pubConn.removeAllListeners('close');
      this.pubConn.close().catch(() => undefined);
      return;
    }
    for (const ch of [this.pub, this.confirm, this.sub]) ch?.close().catch(() => undefined);
  }

  private watch<T extends Channel>(ch: T): T {
    ch.on('error', (err: Error) => this.onLost(`AMQP channel: ${err.message}`));
    ch.on('close', () => {
      if (!this.closed) this.onLost('AMQP channel closed');
    });
    return ch;
  }
}

/** writes made in one tick leave in one syscall (cork until the next tick) */
export class Out {
  private corked = false;

  constructor(private readonly socket: Socket) {}

  write(chunk: Buffer): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    this.socket.write(chunk);
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };
}

/**
 * Packets are handled one after the other: while one waits for the broker (CONNECT,
 * SUBSCRIBE, a full AMQP write buffer), later ones wait in order and the socket is paused.
 */
export class Serial<P> {
  private busy = false;
  private readonly backlog: P[] = [];

  constructor(
    private readonly socket: Socket,
    private readonly handle: (packet: P) => void,
    private readonly fail: (why: string) => void,
  ) {}

  push(packet: P): void {
    if (this.busy) this.backlog.push(packet);
    else this.handle(packet);
  }

  /** hold later packets until `done` settles; then `next` (it may wait again), then the held ones */
  wait(done: Promise<unknown>, next?: () => void): void {
    this.busy = true;
    this.socket.pause();
    done.then(
      () => {
        this.busy = false;
        next?.();
        while (!this.busy && this.backlog.length > 0) this.handle(this.backlog.shift()!);
        if (!this.busy) this.socket.resume();
      },
      (err: unknown) => this.fail(err instanceof Error ? err.message : String(err)),
    );
  }

  /** hold later packets until the channel has written its buffer out */
  drain(ch: Channel): void {
    this.wait(new Promise((resolve) => ch.once('drain', resolve)));
  }
}
