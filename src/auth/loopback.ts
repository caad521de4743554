// Which peer addresses count as loopback, for the guest user's loopback-only rule
// (RabbitMQ's loopback_users). Decided from the address itself, IPv4-mapped IPv6 included.

import { isIPv4, isIPv6 } from 'node:net';

export function isLoopbackAddress(address: string): boolean {
  const unmapped = address.toLowerCase().replace(/^::ffff:/, '');
  if (isIPv4(unmapped)) return unmapped.startsWith('127.');
  if (!isIPv6(address)) return false;
  return isIPv6LoopbackAddress(address);
}

function isIPv6LoopbackAddress(address: string): boolean {
  // ::1, and its long forms such as 0:0:0:0:0:0:0:1
  const groups = address.split(':').filter((g) => g !== '');
  return groups.length > 0 && groups.slice(0, -1).every((g) => /^0+$/.test(g)) && /^0*1$/.test(groups.at(-1) ?? '');
}
