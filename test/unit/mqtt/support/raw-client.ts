// A raw MQTT client for tests that need control mqtt.js does not give: retransmissions,
// malformed bytes, packets out of order. mqtt-packet on the test side generates and parses.
import net from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';

export class RawClient {
  private readonly parser: ReturnType<typeof mqttPacket.parser>;
  private readonly packets: Packet[] = [];
  private waiters: { cmd: string | undefined; resolve: (p: Packet) => void }[] = [];
  readonly closed: Promise<void>;
  private isClosed = false;

  private constructor(readonly socket: net.Socket, version: 3 | 4 | 5) {
    this.parser = mqttPacket.parser({ protocolVersion: version });
    this.parser.on('packet', (p: Packet) => this.onPacket(p));
    socket.on('data', (d) => this.parser.parse(d));
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.isClosed = true;
      resolve();
    }));
    socket.on('error', () => undefined);
  }

  static async connect(port: number, version: 3 | 4 | 5 = 4): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket, version);
  }

  get ended(): boolean {
    return this.isClosed;
  }

  send(packet: Packet, version: 3 | 4 | 5 = 4): void {
    this.socket.write(mqttPacket.generate(packet, { protocolVersion: version }));
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** the next packet (of a type), or rejects after `timeoutMs` */
  next(cmd?: Packet['cmd'], timeoutMs = 5_000): Promise<Packet> {
    const i = this.packets.findIndex((p) => cmd === undefined || p.cmd === cmd);
    if (i >= 0) return Promise.resolve(this.packets.splice(i, 1)[0] as Packet);
    return new Promise((resolve, reject) => {
      const waiter = { cmd, resolve: (p: Packet) => { clearTimeout(timer); resolve(p); } };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no ${cmd ?? 'packet'} within ${timeoutMs} ms (have: ${this.packets.map((p) => p.cmd).join(',')})`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** packets received and not yet taken */
  get received(): readonly Packet[] {
    return this.packets;
  }

  async connectAs(clientId: string, extra: Partial<Packet & { cmd: 'connect' }> = {}, version: 3 | 4 | 5 = 4): Promise<Packet> {
    this.send({ cmd: 'connect', protocolId: version === 3 ? 'MQIsdp' : 'MQTT', protocolVersion: version, clean: true, clientId, keepalive: 0, ...extra } as Packet, version);
    return this.next('connack');
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onPacket(p: Packet): void {
    const i = this.waiters.findIndex((w) => w.cmd === undefined || w.cmd === p.cmd);
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      w?.resolve(p);
    } else {
      this.packets.push(p);
    }
  }
}
