// The gateway floor's STOMP 1.2 loop: CONNECT/STOMP → CONNECTED, SUBSCRIBE to /topic/<key>
// with ack:auto (a server-named exclusive queue bound to amq.topic, one no-ack consumer),
// UNSUBSCRIBE, SEND to /topic/<key> (plain publish; on a confirm channel with RECEIPT on the
// confirm when the frame asks for a receipt), MESSAGE frames, RECEIPT, DISCONNECT.
// Nothing else: no auth, no heart-beats, no ack:client, no transactions, no other
// destinations, no header → property mapping, no limits. Anything else is an ERROR frame.
import type { Socket } from 'node:net';
import type { Channel, ConsumeMessage } from 'amqplib';
import { Out, Serial, type Backend, type Link } from './common.js';

const EXCHANGE = 'amq.topic';
const EMPTY: Buffer = Buffer.alloc(0);
const TOPIC = '/topic/';

interface Frame {
  command: string;
  headers: Map<string, string>;
  body: Buffer;
}

let connections = 0;

const unescape = (v: string): string =>
  v.includes('\\') ? v.replace(/\\([\\ncr])/g, (_, c: string) => (c === 'n' ? '\n' : c === 'c' ? ':' : c === 'r' ? '\r' : '\\')) : v;
const escape = (v: string): string => v.replace(/[\\\n\r:]/g, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === ':' ? '\\c' : '\\\\'));

export function serveStomp(socket: Socket, backend: Backend): void {
  socket.setNoDelay(true);
  const out = new Out(socket);
  let link: Link | undefined;
  let closed = false;
  let buf: Buffer = EMPTY;
  let messageId = 0;
  /** consumer tag → the subscription's MESSAGE header prefix; subscription id → consumer tag */
  const prefixes = new Map<string, string>();
  const subscriptions = new Map<string, { tag: string; queue: string }>();
  /** routing key → escaped destination header value */
  const destinations = new Map<string, string>();

  const close = (why?: string): void => {
    if (closed) return;
    closed = true;
    if (why && process.env.FLOOR_DEBUG) console.error(`floor stomp: closing: ${why}`);
    link?.close();
    socket.destroy();
  };
  const error = (message: string): void => {
    if (closed) return;
    out.write(Buffer.from(`ERROR\nmessage:${escape(message)}\n\n\0`));
    socket.end();
    closed = true;
    link?.close();
  };
  const serial = new Serial<Frame>(
    socket,
    (f) => {
      try {
        handle(f);
      } catch (err) {
        error(`cannot handle ${f.command}: ${(err as Error).message}`);
      }
    },
    (why) => error(why),
  );

  socket.on('data', (chunk: Buffer) => {
    const data = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    let off = 0;
    for (;;) {
      while (off < data.length && (data[off] === 10 || data[off] === 13)) off++; // heart-beats, EOLs between frames
      if (off >= data.length) break;
      const headEnd = data.indexOf('\n\n', off, 'latin1');
      const headEndCr = headEnd < 0 ? data.indexOf('\r\n\r\n', off, 'latin1') : -1;
      if (headEnd < 0 && headEndCr < 0) break;
      const bodyStart = headEnd >= 0 ? headEnd + 2 : headEndCr + 4;
      const lines = data.toString('utf8', off, headEnd >= 0 ? headEnd : headEndCr).split('\n');
      const headers = new Map<string, string>();
      for (let i = 1; i < lines.length; i++) {
        let line = lines[i]!;
        if (line.endsWith('\r')) line = line.slice(0, -1);
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        const name = line.slice(0, colon);
        if (!headers.has(name)) headers.set(name, line.slice(colon + 1)); // the first occurrence wins
      }
      let command = lines[0]!;
      if (command.endsWith('\r')) command = command.slice(0, -1);
      const lengthText = headers.get('content-length');
      let bodyEnd: number;
      if (lengthText !== undefined) {
        bodyEnd = bodyStart + Number(lengthText);
        if (!Number.isInteger(bodyEnd)) return error('bad content-length');
        if (data.length < bodyEnd + 1) break;
        if (data[bodyEnd] !== 0) return error('frame body not followed by NUL');
      } else {
        bodyEnd = data.indexOf(0, bodyStart);
        if (bodyEnd < 0) break;
      }
      serial.push({ command, headers, body: data.subarray(bodyStart, bodyEnd) });
      if (closed) return;
      off = bodyEnd + 1;
    }
    buf = off >= data.length ? EMPTY : data.subarray(off);
  });
  socket.on('error', () => close());
  socket.on('close', () => close());

  const receipt = (frame: Frame): void => {
    const id = frame.headers.get('receipt');
    if (id !== undefined) out.write(Buffer.from(`RECEIPT\nreceipt-id:${escape(unescape(id))}\n\n\0`));
  };

  const deliver = (msg: ConsumeMessage | null): void => {
    if (closed) return;
    if (msg === null) return error('subscription cancelled by the broker');
    const key = msg.fields.routingKey;
    let destination = destinations.get(key);
    if (destination === undefined) {
      destination = escape(TOPIC + key);
      if (destinations.size > 10_000) destinations.clear();
      destinations.set(key, destination);
    }
    const body = msg.content;
    const head = `${prefixes.get(msg.fields.consumerTag)}destination:${destination}\nmessage-id:${++messageId}\ncontent-length:${body.length}\n\n`;
    const headBytes = Buffer.byteLength(head);
    const frame = Buffer.allocUnsafe(headBytes + body.length + 1);
    frame.write(head, 0, headBytes, 'utf8');
    body.copy(frame, headBytes);
    frame[headBytes + body.length] = 0;
    out.write(frame);
  };

  function handle(frame: Frame): void {
    if (closed) return;
    const { command } = frame;
    if (link === undefined && command !== 'CONNECT' && command !== 'STOMP') return error('not connected');
    switch (command) {
      case 'SEND':
        return send(frame);
      case 'CONNECT':
      case 'STOMP':
        return connect();
      case 'SUBSCRIBE':
        return subscribe(frame);
      case 'UNSUBSCRIBE':
        return unsubscribe(frame);
      case 'DISCONNECT':
        receipt(frame);
        socket.end();
        closed = true;
        link?.close();
        return;
      default:
        return error(`${command} is not supported by the gateway floor`);
    }
  }

  function connect(): void {
    if (link !== undefined) return error('already connected');
    serial.wait(
      backend.link(`floor-stomp-${++connections}`, close).then(
        async (l) => {
          link = l;
          await l.openPub();
          out.write(Buffer.from('CONNECTED\nversion:1.2\nheart-beat:0,0\nserver:tributary-bench-floor\n\n\0'));
        },
        (err: Error) => error(`no AMQP connection: ${err.message}`),
      ),
    );
  }

  /** /topic/<key> → the routing key, or undefined */
  const topicKey = (frame: Frame): string | undefined => {
    const destination = unescape(frame.headers.get('destination') ?? '');
    return destination.startsWith(TOPIC) && destination.length > TOPIC.length ? destination.slice(TOPIC.length) : undefined;
  };

  function send(frame: Frame): void {
    const key = topicKey(frame);
    if (key === undefined) return error(`SEND: only /topic/<key> destinations (got ${frame.headers.get('destination')})`);
    if (!frame.headers.has('receipt')) {
      const ch = link!.pub!;
      if (!ch.publish(EXCHANGE, key, frame.body)) serial.drain(ch);
      return;
    }
    const ch = link!.confirm;
    if (ch === undefined) return serial.wait(link!.openConfirm(), () => handle(frame));
    const ok = ch.publish(EXCHANGE, key, frame.body, {}, (err) => (err ? error('publish nacked') : receipt(frame)));
    if (!ok) serial.drain(ch as Channel);
  }

  function subscribe(frame: Frame): void {
    const id = frame.headers.get('id');
    const key = topicKey(frame);
    const ack = frame.headers.get('ack') ?? 'auto';
    if (id === undefined) return error('SUBSCRIBE without id');
    if (key === undefined) return error(`SUBSCRIBE: only /topic/<key> destinations (got ${frame.headers.get('destination')})`);
    if (ack !== 'auto') return error(`SUBSCRIBE: only ack:auto (got ack:${ack})`);
    if (subscriptions.has(id)) return error(`subscription ${id} exists`);
    serial.wait(
      (async () => {
        const ch = await link!.openSub();
        const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
        await ch.bindQueue(queue, EXCHANGE, key);
        const tag = `floor-${id}-${queue}`;
        prefixes.set(tag, `MESSAGE\nsubscription:${escape(unescape(id))}\n`);
        await ch.consume(queue, deliver, { noAck: true, consumerTag: tag });
        subscriptions.set(id, { tag, queue });
        receipt(frame);
      })(),
    );
  }

  function unsubscribe(frame: Frame): void {
    const id = frame.headers.get('id') ?? '';
    const sub = subscriptions.get(id);
    if (sub === undefined) return error(`no subscription ${id}`);
    subscriptions.delete(id);
    serial.wait(
      (async () => {
        await link!.sub!.cancel(sub.tag);
        prefixes.delete(sub.tag);
        await link!.sub!.deleteQueue(sub.queue);
        receipt(frame);
      })(),
    );
  }
}
