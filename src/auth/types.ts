// Who you are and what you may touch. One API every protocol calls.
// Permissions follow RabbitMQ's model: per vhost, configure/write/read regexes over
// resource names, plus optional topic permissions over routing keys.

export type Tag = 'administrator' | 'management' | 'monitoring' | (string & {});

export interface Principal {
  readonly username: string;
  readonly tags: readonly Tag[];
  /** how the identity was established ('challenge': challenge-response, e.g. WAMP-CRA) */
  readonly via: 'password' | 'anonymous' | 'certificate' | 'http' | 'challenge';
}

export interface Credentials {
  /** absent: the client gave none (it becomes the anonymous user when allowed) */
  username?: string;
  password?: string;
  /** TLS client certificate common name, when the listener trusts certificates */
  certificateCN?: string;
}

export interface Peer {
  /** remote IP address */
  address: string;
  port: number;
  /** true when the remote address is a loopback address */
  loopback: boolean;
}

export type Permission = 'configure' | 'write' | 'read';
export type ResourceKind = 'exchange' | 'queue' | 'topic';

export interface AuthorizeRequest {
  vhost: string;
  kind: ResourceKind;
  /** exchange or queue name; for kind 'topic' the exchange the routing key is on */
  name: string;
  permission: Permission;
  /** kind 'topic': the routing key checked against topic permissions */
  routingKey?: string;
  /** variables RabbitMQ expands in topic patterns ({username}, {vhost}, {client_id}) */
  context?: { clientId?: string };
}

/**
 * What a challenge-response login (WAMP-CRA, wamp-proto "Password Salting") keeps for a user:
 * key = base64(PBKDF2-HMAC-SHA256(password, salt, iterations, keylen)). The password itself is
 * never stored; the derived key is the shared secret both sides sign the challenge with.
 */
export interface ChallengeSecret {
  salt: string;
  iterations: number;
  keylen: number;
  /** base64 of the derived key */
  key: string;
}

export interface Authenticator {
  /** resolves the principal or rejects with GatewayError AUTH_FAILED (after the configured delay) */
  authenticate(credentials: Credentials, peer: Peer, vhost: string): Promise<Principal>;
  /** resolves when allowed; rejects with GatewayError NOT_AUTHORIZED naming resource and permission */
  authorize(principal: Principal, request: AuthorizeRequest): Promise<void>;
  /**
   * Optional challenge-response login (WAMP-CRA). Looks up the user's stored ChallengeSecret
   * (null for an unknown user or one without one) and calls `prove`, which sends the challenge
   * and resolves true when the client's answer proves it knows the secret. Same throttle,
   * failed-login delay, loopback and vhost rules as `authenticate`; rejects with AUTH_FAILED.
   * Absent: the gateway offers no challenge-response login.
   */
  authenticateChallenge?(username: string, prove: (secret: ChallengeSecret | null) => Promise<boolean>, peer: Peer, vhost: string): Promise<Principal>;
  /** whether the vhost exists for this gateway (unknown vhosts map to the default where configured) */
  resolveVhost(requested: string | undefined): string;
}
