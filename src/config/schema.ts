// The one configuration schema: type, validation and defaults in one place.
// Precedence (lowest first): config/default.yaml < --config file < TRIBUTARY_* env < CLI flags.
// Every key here is documented in config/default.yaml and in README's configuration reference.

import { Type, type Static } from '@sinclair/typebox';

/** a TCP port, 0 for any free port, or null when the listener is off ("off" on the CLI) */
const Port = Type.Union([Type.Integer({ minimum: 0, maximum: 65535 }), Type.Null()]);
const Bytes = Type.Integer({ minimum: 1 });
const Millis = Type.Integer({ minimum: 0 });

export const LimitsSchema = Type.Object({
  maxConnections: Type.Integer({ minimum: 1, default: 100_000 }),
  maxConnectionsPerAddress: Type.Integer({ minimum: 1, default: 1_000 }),
  /** new connections per second from one address (token bucket, bursts up to the same number); 0: no limit */
  maxConnectionRatePerAddress: Type.Integer({ minimum: 0, default: 1_000 }),
  connectTimeoutMs: Type.Integer({ minimum: 100, default: 10_000 }),
  maxSubscriptionsPerSession: Type.Integer({ minimum: 1, default: 100 }),
  maxInflightPerSession: Type.Integer({ minimum: 1, maximum: 65535, default: 32 }),
  drainTimeoutMs: Type.Integer({ minimum: 100, default: 30_000 }),
  maxPendingBytesPerConnection: Bytes,
});

export const StompSchema = Type.Object({
  port: Port,
  /** STOMP over TLS; bound only when tls.certFile is set */
  tlsPort: Port,
  maxFrameBytes: Bytes,
  maxFrameBytesUnauthenticated: Bytes,
  maxHeaders: Type.Integer({ minimum: 1 }),
  maxHeaderBytes: Bytes,
  /** heart-beat the server offers/wants, ms (0 = none) */
  heartbeatMs: Millis,
  /** STOMP NACK without a `requeue` header requeues when true (RabbitMQ: true) */
  nackRequeueDefault: Type.Boolean(),
  defaultPrefetch: Type.Integer({ minimum: 0 }),
  /** ack:auto subscriptions: deliveries the broker may push before they are written (basic.qos); prefetch-count does not apply */
  autoAckPrefetch: Type.Integer({ minimum: 1, maximum: 65535 }),
  /** how long a connected session outlives the broker's absence before ERROR and close, ms (0: at once) */
  brokerDownGraceMs: Millis,
});

export const MqttSchema = Type.Object({
  port: Port,
  /** MQTT over TLS; bound only when tls.certFile is set */
  tlsPort: Port,
  maxPacketBytes: Bytes,
  maxPacketBytesUnauthenticated: Bytes,
  maxClientIdLength: Type.Integer({ minimum: 1, maximum: 65535 }),
  maxTopicLength: Type.Integer({ minimum: 1, maximum: 65535 }),
  maxTopicLevels: Type.Integer({ minimum: 1 }),
  maxSessionExpirySeconds: Type.Integer({ minimum: 0 }),
  topicAliasMaximum: Type.Integer({ minimum: 0, maximum: 65535 }),
  /** queued messages kept for an offline persistent session (x-max-length) */
  maxQueuedMessages: Type.Integer({ minimum: 1 }),
  /**
   * unacknowledged deliveries the broker may push to one session's consumers (basic.qos);
   * the gateway holds at most this many messages per session beyond what the socket took
   */
  prefetch: Type.Integer({ minimum: 1, maximum: 65535 }),
  /**
   * clean sessions with only QoS 0 subscriptions consume without acks; a QoS 0 message is
   * dropped while more than this many bytes wait to be written to its client (0: no-ack off)
   */
  qos0BacklogBytes: Type.Integer({ minimum: 0 }),
  retainedExchange: Type.String({ minLength: 1 }),
});

export const WampSchema = Type.Object({
  /** realm → vhost; a realm not listed maps to `defaultVhost` when allowAnyRealm */
  realms: Type.Record(Type.String(), Type.String()),
  allowAnyRealm: Type.Boolean(),
  allowAnonymous: Type.Boolean(),
  callTimeoutMs: Millis,
  /** CALLs of one session awaiting their RESULT; beyond, ERROR tributary.error.limit_exceeded */
  maxPendingCallsPerSession: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
});

export const WebSocketSchema = Type.Object({
  maxMessageBytes: Bytes,
  handshakeTimeoutMs: Millis,
  pingIntervalMs: Millis,
});

/** failed logins per source address, counted before any password is hashed (0: that part off) */
export const FailedLoginThrottleSchema = Type.Object({
  maxFailures: Type.Integer({ minimum: 0 }),
  windowSeconds: Type.Integer({ minimum: 1 }),
  blockSeconds: Type.Integer({ minimum: 1 }),
  maxConcurrent: Type.Integer({ minimum: 0 }),
  maxTrackedAddresses: Type.Integer({ minimum: 1 }),
});

export const AuthSchema = Type.Object({
  /** YAML users file (see `tributary users`); null: only the built-in guest user */
  usersFile: Type.Union([Type.String(), Type.Null()]),
  /** guest/guest, accepted only from loopback unless guestLoopbackOnly is false */
  guestEnabled: Type.Boolean(),
  guestLoopbackOnly: Type.Boolean(),
  /** a client that gives no credentials becomes this user (null: refused) */
  anonymousUser: Type.Union([Type.String(), Type.Null()]),
  failedAuthDelayMs: Millis,
  failedLoginThrottle: FailedLoginThrottleSchema,
  defaultVhost: Type.String({ minLength: 1 }),
  vhosts: Type.Array(Type.String({ minLength: 1 })),
  /** optional HTTP backend in the shape of rabbitmq_auth_backend_http */
  http: Type.Union([
    Type.Null(),
    Type.Object({
      userPath: Type.String({ description: 'URL the user check is POSTed to (username, password, vhost); the answer is "allow [tags]" or "deny" (rabbitmq_auth_backend_http user_path).' }),
      vhostPath: Type.String({ description: 'URL of the vhost access check (username, vhost, ip).' }),
      resourcePath: Type.String({ description: 'URL of the exchange/queue permission check (username, vhost, resource, name, permission).' }),
      topicPath: Type.String({ description: 'URL of the topic permission check (the resource fields plus routing_key and the {username}/{vhost}/{client_id} variables).' }),
      cacheTtlMs: Type.Integer({ minimum: 0, description: 'How long an answer is cached, in ms (0: not cached), as rabbitmq_auth_backend_cache.' }),
    }),
  ]),
});

/** One certificate for every TLS listener (STOMP, MQTT, HTTPS/WSS); no certFile: no TLS listener. */
export const TlsSchema = Type.Object({
  /** PEM server certificate (chain); null: TLS is off */
  certFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()]),
  keyFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()]),
  /** PEM CA bundle that client certificates are verified against */
  caFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()]),
  clientCertificates: Type.Union([Type.Literal('none'), Type.Literal('request'), Type.Literal('require')]),
  /** a verified client certificate's subject CN is the user when the client gives no username */
  certificateUser: Type.Boolean(),
  minVersion: Type.Union([Type.Literal('TLSv1.2'), Type.Literal('TLSv1.3')]),
});

export const FairStreamSchema = Type.Object({
  name: Type.String({ pattern: '^[A-Za-z0-9_-]+$', description: 'The stream\'s name: /fair/<name> in STOMP, $fair/<name> in MQTT, fair.<name> in WAMP, and part of its queue names.' }),
  vhost: Type.Optional(Type.String({ description: 'The vhost the stream lives on (default: auth.defaultVhost).' })),
  /** amq.topic routing-key patterns (MQTT filters and STOMP /topic/ names map onto them) */
  patterns: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'amq.topic routing-key patterns of the messages the stream takes (MQTT filters and STOMP /topic/ names map onto them).' }),
  /** 'client-id', 'username' or 'header:<name>' */
  publisherBy: Type.String({ pattern: '^(client-id|username|header:.+)$', description: 'What tells publishers apart: client-id, username, or header:<name>.' }),
  weights: Type.Optional(Type.Record(Type.String(), Type.Number({ exclusiveMinimum: 0 }), { description: 'Publisher → weight in the round robin (default 1 each).' })),
  maxPerPublisher: Type.Integer({ minimum: 1, default: 10_000, description: 'Messages one publisher may have waiting in its queue; beyond it that publisher alone is held back.' }),
  idleExpiryMs: Type.Integer({ minimum: 1000, default: 600_000, description: 'A publisher queue unused this long (ms) expires.' }),
  /** x-max-length of the bounded output queue tributary.fair.<name>.out (0: the default, 100) */
  outputQueueLength: Type.Integer({ minimum: 0, default: 0, description: 'x-max-length of the bounded output queue tributary.fair.<name>.out that AMQP workers consume (0: the default, 100).' }),
  /** bind an intake queue for AMQP-native publishers (identified by a header) */
  amqpIntake: Type.Boolean({ default: false, description: 'Also take messages from AMQP-native publishers through an intake queue (they are told apart by publisherBy\'s header).' }),
});

export const ConfigSchema = Type.Object({
  /** amqp://user:pass@host:port/vhost — null runs the embedded fabric */
  amqpUrl: Type.Union([Type.String({ pattern: '^amqps?://' }), Type.Null()]),
  /** AMQP connections per vhost that sessions are spread over */
  amqpConnections: Type.Integer({ minimum: 1, maximum: 64 }),
  host: Type.String({ minLength: 1 }),
  httpPort: Port,
  /** the same HTTP routes and WebSocket endpoints over HTTPS/WSS; bound only when tls.certFile is set */
  httpTlsPort: Port,
  logLevel: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l))),
  shutdownTimeoutMs: Type.Integer({ minimum: 100 }),
  /** gateway processes sharing every listening port (node:cluster); 'auto': one per core; > 1 needs amqpUrl */
  workers: Type.Union([Type.Integer({ minimum: 1, maximum: 1024 }), Type.Literal('auto')]),
  stomp: StompSchema,
  mqtt: MqttSchema,
  wamp: WampSchema,
  websocket: WebSocketSchema,
  auth: AuthSchema,
  tls: TlsSchema,
  limits: LimitsSchema,
  fair: Type.Object({ streams: Type.Array(FairStreamSchema) }),
});

export type Config = Static<typeof ConfigSchema>;
export type TlsConfig = Static<typeof TlsSchema>;
export type FairStreamConfig = Static<typeof FairStreamSchema>;
