// The management API needs HTTP basic credentials of a user tagged `administrator`
// (RabbitMQ's management model), checked by the same Authenticator the protocols use.
// No credentials at all is 401: the anonymous/guest fallback of the protocols does not apply.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isGatewayError } from '../errors.js';
import type { GatewayContext } from '../protocols/types.js';
import { peerOf } from '../transport/peer.js';

const CHALLENGE = 'Basic realm="tributary", charset="UTF-8"';

export function parseBasicAuth(header: string | undefined): { username: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export function requireAdministrator(ctx: GatewayContext) {
  return async function checkAdministrator(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const credentials = parseBasicAuth(request.headers.authorization);
    if (!credentials) {
      return reply.code(401).header('www-authenticate', CHALLENGE)
        .send({ error: 'unauthorized', message: 'HTTP basic credentials of an administrator are required' });
    }
    let tags: readonly string[];
    try {
      const principal = await ctx.auth.authenticate(credentials, peerOf(request.raw.socket), ctx.config.auth.defaultVhost);
      tags = principal.tags;
    } catch (err) {
      if (!isGatewayError(err)) throw err;
      return reply.code(401).header('www-authenticate', CHALLENGE).send({ error: 'unauthorized', message: err.message });
    }
    if (!tags.includes('administrator')) {
      return reply.code(403).send({ error: 'forbidden', message: `user ${credentials.username} is not tagged administrator` });
    }
  };
}
