// Takeover requests between the Tributary processes of one vhost (see client-lock.ts). A
// newcomer refused a client id's lock publishes a request to the fanout exchange
// `tributary.mqtt.takeover`; every process has one feed queue bound to it (exclusive: it goes
// with the process) and hands each request to its MQTT module, which closes its own connection
// holding that client id, if any. Requests are rare (only when a client id is in use
// elsewhere), so broadcasting them costs less than a consumer per connection would.

import type { Consumer, Delivery, Fabric, FabricSession } from '../../fabric/types.js';
import type { Logger } from '../../log.js';
import { TAKEOVER_EXCHANGE, takeoverFeedQueueName } from './names.js';

const REQUEST_TYPE = 'tributary.mqtt.takeover';

export interface TakeoverRequest {
  clientId: string;
  /** the requesting lock's token: a holder ignores its own request */
  token: string;
}

export class TakeoverRequests {
  private session: FabricSession | undefined;
  private feed: Consumer | undefined;
  private starting: Promise<void> | undefined;

  constructor(
    private readonly fabric: Fabric,
    readonly vhost: string,
    private readonly nodeId: string,
    private readonly onRequest: (request: TakeoverRequest) => void,
    private readonly log: Logger,
  ) {}

  /** declare the exchange and this process's feed; idempotent */
  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const s = this.fabric.openSession({ vhost: this.vhost, label: 'mqtt-takeover' });
    this.session = s;
    await s.declareExchange(TAKEOVER_EXCHANGE, 'fanout', { durable: true });
    const feed = takeoverFeedQueueName(this.nodeId);
    await s.declareQueue(feed, { exclusive: true, autoDelete: true });
    await s.bindQueue(feed, TAKEOVER_EXCHANGE, '');
    this.feed = await s.consume(feed, { noAck: true }, (d) => this.onFeed(d));
  }

  /** ask whoever holds `clientId` to leave; the request expires after `ttlMs` */
  async send(request: TakeoverRequest, ttlMs: number): Promise<void> {
    await this.start();
    const s = this.session as FabricSession;
    const properties = { type: REQUEST_TYPE, contentType: 'application/json', expiration: String(ttlMs), deliveryMode: 1 as const };
    await s.publish(TAKEOVER_EXCHANGE, '', { body: Buffer.from(JSON.stringify(request)), properties }, { confirm: true });
  }

  async close(): Promise<void> {
    await this.starting?.catch(() => undefined);
    await this.feed?.cancel().catch(() => undefined);
    await this.session?.close().catch(() => undefined);
  }

  private onFeed(d: Delivery): void {
    if (d.properties.type !== REQUEST_TYPE) return;
    const request = parseRequest(d.body);
    if (request === undefined) return this.log.debug('malformed takeover request ignored');
    this.onRequest(request);
  }
}

function parseRequest(body: Buffer): TakeoverRequest | undefined {
  try {
    const v = JSON.parse(body.toString('utf8')) as Partial<TakeoverRequest>;
    return typeof v.clientId === 'string' && typeof v.token === 'string' ? { clientId: v.clientId, token: v.token } : undefined;
  } catch {
    return undefined;
  }
}
