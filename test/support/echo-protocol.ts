// A tiny line protocol for transport and gateway tests, so they exercise the real
// listeners, links and shutdown without depending on STOMP/MQTT/WAMP. Over TCP each line ends
// with "\n"; over WebSocket each message is one line.
//   !blast <bytes>   send that many bytes at once, ignoring backpressure
//   !stream <bytes>  send that many bytes, waiting for drain whenever send() returns false
//   !text <words>    reply with a string (a WebSocket text frame)
//   !end             flush and close
//   !throw           throw from onData (a protocol bug)
//   !throw-on-close  make onClose throw later (a protocol bug in cleanup)
//   anything else    echoed back (as bytes: a WebSocket binary frame)
import type { ClientLink, ConnectionDescription, ProtocolConnection } from '../../src/transport/types.js';
import type { GatewayContext, ProtocolFactory, ProtocolName } from '../../src/protocols/types.js';

export interface EchoConnection extends ProtocolConnection {
  readonly link: ClientLink;
  readonly lines: string[];
  readonly shutdownReasons: string[];
  /** resolves with the error given to onClose (undefined for a clean close) */
  readonly closed: Promise<Error | undefined>;
  onCloseCalls: number;
}

export interface EchoOptions {
  name?: ProtocolName;
  wsSubprotocols?: string[];
  /** how a connection says goodbye on shutdown (default: "bye" then end) */
  shutdown?: (conn: EchoConnection, reason: string) => Promise<void>;
  /** register in ctx.registry itself (as real protocols do) */
  registerSelf?: boolean;
}

export interface EchoProtocol {
  factory: ProtocolFactory;
  connections: EchoConnection[];
  /** the next connection accepted (or an already accepted one not yet taken) */
  nextConnection(): Promise<EchoConnection>;
  moduleClosed: boolean;
}

const CHUNK = 64 * 1024;

export function echoProtocol(opts: EchoOptions = {}): EchoProtocol {
  const name = opts.name ?? 'stomp';
  const waiting: ((c: EchoConnection) => void)[] = [];
  let taken = 0;
  const protocol: EchoProtocol = {
    connections: [],
    moduleClosed: false,
    nextConnection() {
      const ready = protocol.connections[taken];
      if (ready) {
        taken++;
        return Promise.resolve(ready);
      }
      return new Promise((resolve) => waiting.push((c) => { taken++; resolve(c); }));
    },
    factory: (ctx: GatewayContext) => ({
      name,
      wsSubprotocols: opts.wsSubprotocols ?? [`echo.${name}`],
      accept(link: ClientLink) {
        const conn = createConnection(link, name, opts, ctx);
        protocol.connections.push(conn);
        waiting.shift()?.(conn);
        return conn;
      },
      async close() {
        protocol.moduleClosed = true;
      },
    }),
  };
  return protocol;
}

function createConnection(link: ClientLink, name: ProtocolName, opts: EchoOptions, ctx: GatewayContext): EchoConnection {
  let resolveClosed!: (err: Error | undefined) => void;
  const closed = new Promise<Error | undefined>((resolve) => { resolveClosed = resolve; });
  let pending = '';
  const newline = link.transport === 'ws' ? '' : '\n';
  const connectedAt = new Date().toISOString();

  const stream = (bytes: number): void => {
    while (bytes > 0) {
      const size = Math.min(CHUNK, bytes);
      bytes -= size;
      if (!link.send(Buffer.alloc(size, 0x61))) {
        link.onDrain(() => stream(bytes));
        return;
      }
    }
  };

  const handleLine = (line: string, raw: Buffer): void => {
    conn.lines.push(line);
    const [command, ...args] = line.split(' ');
    if (command === '!blast') {
      for (let left = Number(args[0]); left > 0 && !link.closed; left -= CHUNK) link.send(Buffer.alloc(Math.min(CHUNK, left), 0x62));
    } else if (command === '!stream') {
      stream(Number(args[0]));
    } else if (command === '!text') {
      link.send(args.join(' ') + newline);
    } else if (command === '!throw') {
      throw new Error(`protocol bug on ${link.id}`);
    } else if (command === '!end') {
      link.end();
    } else {
      link.send(link.transport === 'ws' ? raw : Buffer.from(line + newline));
    }
  };

  const conn: EchoConnection = {
    link,
    lines: [],
    shutdownReasons: [],
    closed,
    onCloseCalls: 0,
    onData(data: Buffer) {
      if (link.transport === 'ws') return handleLine(data.toString(), data);
      pending += data.toString();
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        handleLine(line, Buffer.from(line));
      }
    },
    onClose(error?: Error) {
      conn.onCloseCalls++;
      resolveClosed(error);
      if (conn.lines.includes('!throw-on-close')) throw new Error(`cleanup bug on ${link.id}`);
    },
    async shutdown(reason: string) {
      conn.shutdownReasons.push(reason);
      if (opts.shutdown) return opts.shutdown(conn, reason);
      link.send(`bye ${reason}${newline}`);
      link.end();
      await closed;
    },
    describe(): ConnectionDescription {
      return { id: link.id, protocol: name, transport: link.transport, peer: `${link.peer.address}:${link.peer.port}`, user: 'echo-user', connectedAt, subscriptions: 0 };
    },
  };
  if (opts.registerSelf) ctx.registry.add(link.id, conn, link);
  return conn;
}
