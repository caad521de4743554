// MQTT 3.1, 3.1.1 and 5.0 on the fabric (TCP and WebSocket subprotocol `mqtt` alike: the
// WebSocket transport feeds each binary message to the same session).

import type { GatewayContext, ProtocolFactory, ProtocolModule } from '../types.js';
import type { ClientLink, ProtocolConnection } from '../../transport/types.js';
import { RetainedStore, type RetainedLimits } from './retained.js';
import { MqttSession } from './session.js';
import { TakeoverRequests, type TakeoverRequest } from './takeover-requests.js';

/** Bounds of the in-memory retained index per vhost (count, payload bytes). */
export const DEFAULT_RETAINED_LIMITS: RetainedLimits = { maxMessages: 100_000, maxBytes: 256 * 1024 * 1024 };

/** What every MQTT session of this process shares. */
export class MqttModule implements ProtocolModule {
  readonly name = 'mqtt' as const;
  readonly wsSubprotocols = ['mqtt'] as const;
  /** vhost + client id → the connection that holds it in this process */
  private readonly clients = new Map<string, MqttSession>();
  private readonly retainedStores = new Map<string, RetainedStore>();
  private readonly takeoverFeeds = new Map<string, TakeoverRequests>();

  constructor(readonly ctx: GatewayContext, readonly retainedLimits: RetainedLimits = DEFAULT_RETAINED_LIMITS) {}

  accept(link: ClientLink): ProtocolConnection {
    return new MqttSession(this, link);
  }

  /**
   * `session` takes its client id in this process; a connection that held it is closed
   * (session taken over) and gone when this resolves. Across processes the client-id lock
   * (client-lock.ts) does the same.
   */
  async claimClientId(session: MqttSession, vhost: string, clientId: string): Promise<void> {
    const key = `${vhost}\u0000${clientId}`;
    const previous = this.clients.get(key);
    this.clients.set(key, session);
    if (previous !== undefined && previous !== session) await previous.takeover();
  }

  releaseClientId(session: MqttSession, vhost: string, clientId: string): void {
    const key = `${vhost}\u0000${clientId}`;
    if (this.clients.get(key) === session) this.clients.delete(key);
  }

  /**
   * The vhost's takeover requests (client-lock.ts), started on first use: before a session of
   * this process holds a client id lock, so that no request for it goes unheard.
   */
  async takeoverRequests(vhost: string): Promise<TakeoverRequests> {
    return startedFor(this.takeoverFeeds, vhost, () => {
      const { fabric, nodeId, log } = this.ctx;
      return new TakeoverRequests(fabric, vhost, nodeId, (r) => this.onTakeoverRequest(vhost, r), log.child({ component: 'mqtt-takeover', vhost }));
    });
  }

  private onTakeoverRequest(vhost: string, request: TakeoverRequest): void {
    const holder = this.clients.get(`${vhost}\u0000${request.clientId}`);
    if (holder?.lock?.shouldYieldTo(request)) void holder.takeover();
  }

  /** the vhost's retained store, started on first use */
  async retained(vhost: string): Promise<RetainedStore> {
    return startedFor(this.retainedStores, vhost, () => {
      const { config, fabric, nodeId, log } = this.ctx;
      return new RetainedStore(fabric, vhost, nodeId, config.mqtt.retainedExchange, this.retainedLimits, log.child({ component: 'mqtt-retained', vhost }));
    });
  }

  async close(): Promise<void> {
    const stores = [...this.retainedStores.values(), ...this.takeoverFeeds.values()];
    this.retainedStores.clear();
    this.takeoverFeeds.clear();
    await Promise.all(stores.map((s) => s.close()));
  }
}

export const createMqttProtocol: ProtocolFactory = (ctx) => new MqttModule(ctx);

interface VhostService {
  start(): Promise<void>;
  close(): Promise<unknown>;
}

/** the vhost's instance, created and started on first use; one whose start failed is forgotten */
async function startedFor<T extends VhostService>(services: Map<string, T>, vhost: string, create: () => T): Promise<T> {
  let service = services.get(vhost);
  if (service === undefined) {
    service = create();
    services.set(vhost, service);
  }
  try {
    await service.start();
  } catch (err) {
    if (services.get(vhost) === service) services.delete(vhost);
    void service.close();
    throw err;
  }
  return service;
}
