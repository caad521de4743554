// WAMP URIs and their place in the one routing space (amq.topic routing keys).
//
// A WAMP URI is already dot-separated, so a topic URI is its routing key unchanged:
// `com.app.temp` ⇄ `com.app.temp`, and MQTT `com/app/temp` arrives as the same key.
//
// | match    | WAMP meaning (wamp-proto "Pattern-based Subscription") | amq.topic binding     | gateway filter       |
// |----------|--------------------------------------------------------|-----------------------|----------------------|
// | exact    | the topic equals the URI                               | the URI               | topic === uri        |
// | wildcard | empty components match any one component (`a..c`)      | empty → `*` (`a.*.c`) | component-wise       |
// | prefix   | a plain STRING prefix: `com.my` matches `com.myapp.x`  | parent + `#`: `com.#` | topic.startsWith(uri)|
//
// AMQP topic bindings match whole words only, so a prefix that ends inside a component binds
// its parent (`com.my` → `com.#`) and the gateway drops what the string prefix excludes.
// A prefix ending in "." (`com.myapp.`) binds exactly `com.myapp.#`: the cheap form.
// The filter also keeps exact/wildcard honest when a component is a literal `*`, which
// AMQP would read as a wildcard in the binding.

export type MatchPolicy = 'exact' | 'prefix' | 'wildcard';

/** routing keys (AMQP shortstr) are at most 255 bytes; so are queue names */
export const MAX_URI_BYTES = 255;

// wamp-proto "Relaxed/Loose URIs": components are non-empty and contain no whitespace, "." or "#"
const LOOSE = /^([^\s.#]+\.)*[^\s.#]+$/;
const LOOSE_WITH_EMPTY = /^(([^\s.#]*)\.)*[^\s.#]*$/;

export function isMatchPolicy(value: unknown): value is MatchPolicy {
  return value === 'exact' || value === 'prefix' || value === 'wildcard';
}

/** a URI a client may publish to, call, subscribe exactly to, or register */
export function isValidUri(uri: string): boolean {
  return Buffer.byteLength(uri) <= MAX_URI_BYTES && LOOSE.test(uri);
}

/** a subscription's topic under its match policy (patterns may have empty components) */
export function isValidPattern(uri: string, match: MatchPolicy): boolean {
  if (match === 'exact') return isValidUri(uri);
  return Buffer.byteLength(uri) <= MAX_URI_BYTES && LOOSE_WITH_EMPTY.test(uri) && (match === 'prefix' || uri !== '');
}

/** wamp-proto "Reserved URIs": application URIs must not start with the "wamp" component */
export function isReservedUri(uri: string): boolean {
  return uri === 'wamp' || uri.startsWith('wamp.');
}

/** the amq.topic binding key that receives at least every topic the pattern matches */
export function bindingKeyFor(uri: string, match: MatchPolicy): string {
  switch (match) {
    case 'exact':
      return uri;
    case 'wildcard':
      return uri.split('.').map((c) => (c === '' ? '*' : c)).join('.');
    case 'prefix': {
      const components = uri.split('.');
      components.pop(); // the (possibly partial, possibly empty) last component
      return [...components, '#'].join('.');
    }
  }
}

export type TopicMatcher = (topic: string) => boolean;

export function matcherFor(uri: string, match: MatchPolicy): TopicMatcher {
  switch (match) {
    case 'exact':
      return (topic) => topic === uri;
    case 'prefix':
      return (topic) => topic.startsWith(uri);
    case 'wildcard': {
      const pattern = uri.split('.');
      return (topic) => {
        const parts = topic.split('.');
        return parts.length === pattern.length && pattern.every((c, i) => c === '' || c === parts[i]);
      };
    }
  }
}
