// One WAMP session (wamp-proto "Session Lifecycle"): HELLO → (CHALLENGE/AUTHENTICATE) →
// WELCOME → … → GOODBYE or ABORT. The state machine and the message → handler table live
// here; the work lives in handlers/*.ts. A connection may host several sessions one after
// another (a new HELLO after GOODBYE), each a fresh WampSession, so late async work of an
// old session can never touch the new one.

import type { AuthorizeRequest, Peer, Principal } from '../../auth/types.js';
import { ErrorCode, GatewayError, isGatewayError, toGatewayError } from '../../errors.js';
import type { FabricSession } from '../../fabric/types.js';
import type { Logger } from '../../log.js';
import type { ClientLink } from '../../transport/types.js';
import type { GatewayContext } from '../types.js';
import { WampClose, WampError, WampRequestError, ProtocolViolation, errorUriFor } from './errors.js';
import { ROUTER_ROLES, announces } from './features.js';
import { SessionScopeIds } from './ids.js';
import { Code, out, type Dict, type Inbound, type InboundType, type Outbound } from './messages.js';
import type { WampPeer } from './peer.js';
import type { Realm, WampRouter } from './router.js';
import type { Serializer } from './serializer.js';
import { handlers } from './handlers/index.js';
import { ConfirmedPublisher } from '../shared/confirmed-publisher.js';
import { AuthorizationCache } from '../shared/authorization-cache.js';


export type SessionState = 'hello' | 'authenticating' | 'open' | 'closing' | 'closed';
export type SessionEnd = 'goodbye' | 'abort' | 'transport';

export interface SessionDeps {
  ctx: GatewayContext;
  router: WampRouter;
  link: ClientLink;
  serializer: Serializer;
  log: Logger;
  /** the session ended; 'goodbye' leaves the transport open for a new HELLO */
  onEnd(how: SessionEnd): void;
}

/** which messages each state accepts; anything else is a protocol violation */
const ACCEPTS: Record<SessionState, ReadonlySet<InboundType>> = {
  hello: new Set(['HELLO', 'ABORT']),
  authenticating: new Set(['AUTHENTICATE', 'ABORT']),
  open: new Set(['GOODBYE', 'ABORT', 'ERROR', 'PUBLISH', 'SUBSCRIBE', 'UNSUBSCRIBE', 'CALL', 'CANCEL', 'REGISTER', 'UNREGISTER', 'YIELD']),
  closing: new Set(['GOODBYE', 'ABORT']),
  closed: new Set(),
};

/** request messages the router answers with ERROR [8, Type, Request, …] */
const REQUEST_CODE: Partial<Record<InboundType, number>> = {
  PUBLISH: Code.PUBLISH,
  SUBSCRIBE: Code.SUBSCRIBE,
  UNSUBSCRIBE: Code.UNSUBSCRIBE,
  CALL: Code.CALL,
  REGISTER: Code.REGISTER,
  UNREGISTER: Code.UNREGISTER,
};

export class WampSession implements WampPeer {
  state: SessionState = 'hello';
  sessionId = 0;
  authid = '';
  authrole = '';
  authmethod = '';
  realmName = '';
  vhost = '';
  roles: Dict = {};
  principal!: Principal;
  realm: Realm | null = null;
  fabric: FabricSession | null = null;
  readonly subscriptions = new Set<number>();
  readonly registrations = new Set<number>();
  /** set while a challenge waits for AUTHENTICATE */
  onAuthenticate: ((signature: string) => void) | null = null;
  /** settles a challenge still waiting for its AUTHENTICATE when the session ends (frees the auth layer's login slot) */
  abandonChallenge: (() => void) | null = null;
  /** publishes for this session (PUBLISH, CALL, YIELD), confirm window limits.maxInflightPerSession */
  publisher: ConfirmedPublisher | null = null;
  private readonly requestIds = new SessionScopeIds();
  private authz: AuthorizationCache | null = null;

  constructor(readonly deps: SessionDeps) {}

  get ctx(): GatewayContext {
    return this.deps.ctx;
  }

  get serializer(): Serializer {
    return this.deps.serializer;
  }

  get log(): Logger {
    return this.deps.log;
  }

  get peer(): Peer {
    return this.deps.link.peer;
  }

  get open(): boolean {
    return this.state === 'open' && !this.deps.link.closed;
  }

  send(message: Outbound): void {
    if (!this.deps.link.closed) this.deps.link.send(this.serializer.encode(message));
  }

  sendEncoded(data: string | Buffer): void {
    if (!this.deps.link.closed) this.deps.link.send(data);
  }

  nextRequestId(): number {
    return this.requestIds.next();
  }

  supports(role: 'callee' | 'caller' | 'subscriber' | 'publisher', feature: string): boolean {
    return announces(this.roles, role, feature);
  }

  /** the realm, for handlers that only run while open */
  get openRealm(): Realm {
    if (this.realm === null) throw new ProtocolViolation('no session');
    return this.realm;
  }

  /** undefined when the message was handled synchronously (a PUBLISH, usually) */
  handle(message: Inbound): Promise<void> | undefined {
    if (this.state === 'closed') return undefined;
    if (!ACCEPTS[this.state].has(message.type)) {
      // after our GOODBYE only the peer's GOODBYE matters (wamp-proto "GOODBYE")
      if (this.state === 'closing') return undefined;
      return this.abort(WampError.PROTOCOL_VIOLATION, `${message.type} is not allowed while the session is ${this.state}`);
    }
    let handled: Promise<void> | void;
    try {
      handled = (handlers[message.type] as (s: WampSession, m: Inbound) => Promise<void> | void)(this, message);
    } catch (err) {
      this.fail(message, err);
      return undefined;
    }
    return handled?.catch((err: unknown) => this.fail(message, err));
  }

  /** answer a failed request; PUBLISH errors only reach publishers that asked for acknowledgement */
  fail(message: Inbound, err: unknown): void {
    if (err instanceof ProtocolViolation) return void this.abort(WampError.PROTOCOL_VIOLATION, err.message);
    const code = REQUEST_CODE[message.type];
    const requestId = 'requestId' in message ? message.requestId : undefined;
    const { uri, text } = this.describeError(err, message.type);
    if (code === undefined || requestId === undefined) {
      // no request to answer: a failed HELLO/AUTHENTICATE ends the session attempt
      if (this.state === 'hello' || this.state === 'authenticating') void this.abort(uri, text);
      return;
    }
    if (message.type === 'PUBLISH' && message.options.acknowledge !== true) return;
    this.send(out.error(code, requestId, uri, { args: [text] }, { message: text }));
  }

  /** grants are remembered for the session (as STOMP and MQTT do): a stream of PUBLISHes asks once */
  authorize(request: Omit<AuthorizeRequest, 'vhost'>): Promise<void> {
    this.authz ??= new AuthorizationCache(this.ctx.auth, this.principal);
    return this.authz.authorize({ ...request, vhost: this.vhost });
  }

  /**
   * What this session may do, known without a promise (AuthorizationCache.granted): a stream
   * of PUBLISHes to granted topics (or of CALLs) is handled without awaiting anything.
   */
  authorizePublish(topic: string): Promise<void> | undefined {
    if (this.authz?.granted(this.vhost, 'topic', 'write', 'amq.topic', topic) === true) return undefined;
    return this.authorize({ kind: 'topic', name: 'amq.topic', permission: 'write', routingKey: topic });
  }

  /** CALL: write on the default exchange */
  authorizeCall(): Promise<void> | undefined {
    if (this.authz?.granted(this.vhost, 'exchange', 'write', 'amq.default') === true) return undefined;
    return this.authorize({ kind: 'exchange', name: 'amq.default', permission: 'write' });
  }

  /** the publisher when it has room now (roomToPublish would resolve at once), else null */
  publisherWithRoom(): ConfirmedPublisher | null {
    const publisher = this.publisher;
    if (publisher === null || publisher.outstanding >= publisher.window) return null;
    if (this.fabric?.writable !== true || !this.ctx.fabric.status().connected) return null;
    return publisher;
  }

  /** the session's publisher, once there is room in its confirm window */
  async roomToPublish(): Promise<ConfirmedPublisher> {
    const publisher = this.publisher;
    if (publisher === null) throw new ProtocolViolation('no session');
    // the broker is away: answer ERROR wamp.error.network_failure now rather than hold the
    // request (and the session behind it) until the fabric has reconnected
    const fabric = this.ctx.fabric.status();
    if (!fabric.connected) throw new GatewayError(ErrorCode.BACKEND_UNAVAILABLE, undefined, { detail: fabric.reason ?? 'broker unavailable' });
    await publisher.roomAvailable();
    return publisher;
  }

  /** HELLO accepted and authenticated: join the realm and WELCOME */
  welcome(principal: Principal, authmethod: string): void {
    if (this.state === 'closed' || this.deps.link.closed) return;
    this.principal = principal;
    this.authid = principal.username;
    this.authrole = principal.via === 'anonymous' ? 'anonymous' : 'user';
    this.authmethod = authmethod;
    this.realm = this.deps.router.realmFor(this.vhost);
    this.fabric = this.ctx.fabric.openSession({
      vhost: this.vhost,
      label: `wamp-${this.deps.link.id}`,
      // WAMP has no client id: the session's user identifies it for fair streams
      publisher: { username: principal.username, protocol: 'wamp' },
    });
    // limits.maxInflightPerSession publishes (PUBLISH, CALL, YIELD) await their confirm at most;
    // beyond, handling waits and the reader pauses behind it (connection.ts)
    this.publisher = new ConfirmedPublisher(this.fabric, this.ctx.metrics, 'wamp', this.ctx.config.limits.maxInflightPerSession);
    this.state = 'open';
    this.send(out.welcome(this.sessionId, welcomeDetails(this)));
    this.log.info({ session: this.sessionId, realm: this.realmName, vhost: this.vhost, user: this.authid, authmethod }, 'wamp session joined');
  }

  /** ABORT (before or instead of GOODBYE) and close the transport */
  async abort(reason: string, message: string): Promise<void> {
    if (this.state === 'closed') return;
    this.log.info({ session: this.sessionId || undefined, reason, message }, 'wamp session aborted');
    if (reason === WampError.PROTOCOL_VIOLATION) this.ctx.metrics.errors.inc({ protocol: 'wamp', code: 'protocol_violation' });
    this.send(out.abort({ message }, reason));
    await this.end('abort');
  }

  /** router-initiated GOODBYE (shutdown, kill); the session ends on the peer's reply or transport close */
  goodbye(reason: string, message: string): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.send(out.goodbye({ message }, reason));
  }

  /** the peer said GOODBYE: reply (unless it replied to ours) and end */
  async peerGoodbye(): Promise<void> {
    if (this.state === 'open') this.send(out.goodbye({}, WampClose.GOODBYE_AND_OUT));
    await this.end('goodbye');
  }

  /** release everything the session holds; idempotent */
  async end(how: SessionEnd): Promise<void> {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open' || this.state === 'closing';
    this.state = 'closed';
    this.onAuthenticate = null;
    const abandon = this.abandonChallenge;
    this.abandonChallenge = null;
    abandon?.();
    this.deps.onEnd(how);
    if (!wasOpen) return;
    this.log.info({ session: this.sessionId, how }, 'wamp session left');
    await this.releaseResources();
  }

  private async releaseResources(): Promise<void> {
    const realm = this.openRealm;
    const subscriptions = [...this.subscriptions];
    this.subscriptions.clear();
    this.ctx.metrics.subscriptions.dec({ protocol: 'wamp' }, subscriptions.length);
    realm.dealer.calls.dropCaller(this);
    this.registrations.clear();
    await Promise.allSettled([
      ...subscriptions.map((id) => realm.broker.unsubscribe(this, id)),
      realm.dealer.procedures.removePeer(this),
    ]);
    await this.publisher?.settled();
    await this.fabric?.close().catch((err: unknown) => this.log.warn({ err }, 'wamp: fabric session close failed'));
  }

  private describeError(err: unknown, type: InboundType): { uri: string; text: string } {
    if (err instanceof WampRequestError) return { uri: err.uri, text: err.message };
    const gw = toGatewayError(err);
    if (!isGatewayError(err)) this.log.error({ err, type }, 'wamp: request failed unexpectedly');
    else this.log.debug({ code: gw.code, message: gw.message, type }, 'wamp: request refused');
    this.ctx.metrics.errors.inc({ protocol: 'wamp', code: gw.code });
    return { uri: errorUriFor(gw), text: gw.message };
  }
}

function welcomeDetails(s: WampSession): Dict {
  return {
    authid: s.authid,
    authrole: s.authrole,
    authmethod: s.authmethod,
    authprovider: 'tributary',
    realm: s.realmName,
    roles: ROUTER_ROLES,
  };
}
