// A WAMP publication's routing facts as AMQP headers, and back. AMQP has no publisher
// exclusion or black/white-listing (wamp-proto "Publisher Exclusion", "Subscriber
// Black- and Whitelisting", "Publisher Identification"), so the publisher writes them on the
// message and every gateway process enforces them when it hands out events.

import type { Headers, HeaderValue } from '../../../fabric/types.js';
import { headerFlag, headerNumber, headerString, toNumber, toString } from '../amqp-headers.js';
import { isId, type Dict } from '../messages.js';
import type { WampPeer } from '../peer.js';

export const H = {
  PUBLICATION: 'x-wamp-publication',
  PUBLISHER: 'x-wamp-publisher',
  PUBLISHER_AUTHID: 'x-wamp-publisher-authid',
  PUBLISHER_AUTHROLE: 'x-wamp-publisher-authrole',
  DISCLOSE: 'x-wamp-disclose',
  EXCLUDE: 'x-wamp-exclude',
  EXCLUDE_AUTHID: 'x-wamp-exclude-authid',
  EXCLUDE_AUTHROLE: 'x-wamp-exclude-authrole',
  ELIGIBLE: 'x-wamp-eligible',
  ELIGIBLE_AUTHID: 'x-wamp-eligible-authid',
  ELIGIBLE_AUTHROLE: 'x-wamp-eligible-authrole',
} as const;

export interface Audience {
  exclude?: ReadonlySet<number> | undefined;
  excludeAuthid?: ReadonlySet<string> | undefined;
  excludeAuthrole?: ReadonlySet<string> | undefined;
  eligible?: ReadonlySet<number> | undefined;
  eligibleAuthid?: ReadonlySet<string> | undefined;
  eligibleAuthrole?: ReadonlySet<string> | undefined;
}

export interface Publisher {
  session: number;
  authid?: string | undefined;
  authrole?: string | undefined;
}

/** PUBLISH.Options that do not fit the wire shape; null when all are well-formed */
export function invalidPublishOption(options: Dict): string | null {
  for (const key of ['exclude', 'eligible'] as const) {
    const v = options[key];
    if (v !== undefined && !(Array.isArray(v) && v.every(isId))) return `${key} must be a list of session IDs`;
  }
  for (const key of ['exclude_authid', 'exclude_authrole', 'eligible_authid', 'eligible_authrole'] as const) {
    const v = options[key];
    if (v !== undefined && !(Array.isArray(v) && v.every((x) => typeof x === 'string'))) return `${key} must be a list of strings`;
  }
  for (const key of ['acknowledge', 'exclude_me', 'disclose_me'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') return `${key} must be a boolean`;
  }
  return null;
}

/**
 * Headers for a PUBLISH whose options passed invalidPublishOption.
 *
 * `x-wamp-exclude` is left out in the common case (no `exclude` list, `exclude_me` not false):
 * a message without it excludes its publisher (`x-wamp-publisher`) and nobody else. With an
 * `exclude` list it carries that list plus the publisher unless `exclude_me: false`, and
 * `exclude_me: false` alone is an empty list. A session ID lives in one gateway process only,
 * so only the publisher's own process ever holds the session it names: during a rolling
 * upgrade an older process reading a message without the header (it excludes nobody) and a
 * newer one reading an older process's message (the publisher is not among its sessions)
 * hand out the same events as before.
 */
export function publicationHeaders(publisher: WampPeer, publicationId: number, options: Dict): Headers {
  const headers: Headers = { [H.PUBLICATION]: publicationId, [H.PUBLISHER]: publisher.sessionId };
  const listed = options.exclude as number[] | undefined;
  const excludeMe = options.exclude_me !== false; // exclude_me defaults to true
  if (listed !== undefined && listed.length > 0) headers[H.EXCLUDE] = excludeMe ? [...listed, publisher.sessionId] : [...listed];
  else if (!excludeMe) headers[H.EXCLUDE] = [];
  copyList(options, 'eligible', headers, H.ELIGIBLE);
  copyList(options, 'exclude_authid', headers, H.EXCLUDE_AUTHID);
  copyList(options, 'exclude_authrole', headers, H.EXCLUDE_AUTHROLE);
  copyList(options, 'eligible_authid', headers, H.ELIGIBLE_AUTHID);
  copyList(options, 'eligible_authrole', headers, H.ELIGIBLE_AUTHROLE);
  if (options.disclose_me === true) {
    headers[H.DISCLOSE] = true;
    headers[H.PUBLISHER_AUTHID] = publisher.authid;
    headers[H.PUBLISHER_AUTHROLE] = publisher.authrole;
  }
  return headers;
}

function copyList(options: Dict, key: string, headers: Headers, header: string): void {
  const v = options[key];
  if (Array.isArray(v)) headers[header] = v as HeaderValue[];
}

export interface PublicationFacts {
  /** the publisher's PUBLISHED id when a WAMP client published it, else null */
  publicationId: number | null;
  /** disclosed publisher, for EVENT.Details.publisher */
  publisher: Publisher | null;
  audience: Audience;
}

/** EVENT.Details: the topic when the subscription is not for exactly it, the publisher when disclosed */
export function eventDetails(facts: PublicationFacts, topic: string | undefined): Dict {
  const details: Dict = {};
  if (topic !== undefined) details.topic = topic;
  if (facts.publisher !== null) {
    details.publisher = facts.publisher.session;
    if (facts.publisher.authid !== undefined) details.publisher_authid = facts.publisher.authid;
    if (facts.publisher.authrole !== undefined) details.publisher_authrole = facts.publisher.authrole;
  }
  return details;
}

export function readPublication(headers: Headers | undefined): PublicationFacts {
  if (headers === undefined) return { publicationId: null, publisher: null, audience: {} };
  const id = headerNumber(headers, H.PUBLICATION);
  const publisher = headerNumber(headers, H.PUBLISHER);
  const disclosed = headerFlag(headers, H.DISCLOSE) && publisher !== undefined;
  const excludeList = headers[H.EXCLUDE];
  return {
    publicationId: id !== undefined && isId(id) ? id : null,
    publisher: disclosed
      ? { session: publisher, authid: headerString(headers, H.PUBLISHER_AUTHID), authrole: headerString(headers, H.PUBLISHER_AUTHROLE) }
      : null,
    audience: {
      // no list: the publisher alone is excluded (exclude_me, the default; see publicationHeaders)
      exclude: excludeList === undefined ? (publisher === undefined ? undefined : new Set([publisher])) : numberSet(excludeList),
      eligible: numberSet(headers[H.ELIGIBLE]),
      excludeAuthid: stringSet(headers[H.EXCLUDE_AUTHID]),
      excludeAuthrole: stringSet(headers[H.EXCLUDE_AUTHROLE]),
      eligibleAuthid: stringSet(headers[H.ELIGIBLE_AUTHID]),
      eligibleAuthrole: stringSet(headers[H.ELIGIBLE_AUTHROLE]),
    },
  };
}

/** wamp-proto "Subscriber Black- and Whitelisting": every list present must admit the subscriber */
export function admits(audience: Audience, peer: Pick<WampPeer, 'sessionId' | 'authid' | 'authrole'>): boolean {
  if (audience.exclude?.has(peer.sessionId) === true) return false;
  if (audience.excludeAuthid?.has(peer.authid) === true) return false;
  if (audience.excludeAuthrole?.has(peer.authrole) === true) return false;
  if (audience.eligible !== undefined && !audience.eligible.has(peer.sessionId)) return false;
  if (audience.eligibleAuthid !== undefined && !audience.eligibleAuthid.has(peer.authid)) return false;
  if (audience.eligibleAuthrole !== undefined && !audience.eligibleAuthrole.has(peer.authrole)) return false;
  return true;
}

function numberSet(v: HeaderValue): Set<number> | undefined {
  if (!Array.isArray(v)) return undefined;
  return new Set(v.map(toNumber).filter((n): n is number => n !== undefined));
}

function stringSet(v: HeaderValue): Set<string> | undefined {
  if (!Array.isArray(v)) return undefined;
  return new Set(v.map(toString).filter((s): s is string => s !== undefined));
}
