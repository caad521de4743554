// The remote end of a socket as the rest of the gateway sees it.
import type { Socket } from 'node:net';
import { isLoopbackAddress } from '../auth/loopback.js';
import type { Peer } from '../auth/types.js';

export function peerOf(socket: Socket): Peer {
  const raw = socket.remoteAddress ?? 'unknown';
  // IPv4 clients of a dual-stack listener show up as ::ffff:a.b.c.d; count them as a.b.c.d
  const address = /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(raw) ? raw.slice(7) : raw;
  return { address, port: socket.remotePort ?? 0, loopback: isLoopbackAddress(address) };
}

/** "127.0.0.1:5555" or "[::1]:5555" */
export function formatPeer(peer: Peer): string {
  return peer.address.includes(':') ? `[${peer.address}]:${peer.port}` : `${peer.address}:${peer.port}`;
}
