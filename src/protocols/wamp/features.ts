// What the router announces in WELCOME.Details.roles (wamp-proto "Feature Announcement"),
// and what it reads of the client's HELLO.Details.roles.

import { isDict, type Dict } from './messages.js';

export const ROUTER_ROLES = {
  broker: {
    features: {
      pattern_based_subscription: true,
      publisher_exclusion: true,
      publisher_identification: true,
      subscriber_blackwhite_listing: true,
    },
  },
  dealer: {
    features: {
      call_canceling: true,
      call_timeout: true,
      caller_identification: true,
      progressive_call_results: true,
      shared_registration: true,
    },
  },
} as const;

const CLIENT_ROLES = ['publisher', 'subscriber', 'caller', 'callee'] as const;

/** HELLO.Details.roles must announce at least one client role (wamp-proto "HELLO") */
export function hasClientRole(roles: unknown): roles is Dict {
  return isDict(roles) && CLIENT_ROLES.some((r) => isDict(roles[r]));
}

export function announces(roles: Dict, role: string, feature: string): boolean {
  const r = roles[role];
  if (!isDict(r) || !isDict(r.features)) return false;
  return r.features[feature] === true;
}
