// Permission patterns with RabbitMQ's semantics (rabbit_auth_backend_internal):
// - a pattern is used as written, like re:run(Name, Pattern): UNANCHORED unless the pattern
//   itself has ^ / $ (so "foo" allows "xfooy"; write "^foo$" for exactly foo);
// - the empty pattern means "^$", which matches no resource name a client can use;
// - topic patterns expand {username}, {vhost} and {client_id} first. The values are
//   regex-escaped before substitution, so a client id such as ".*" matches only itself
//   (the ACL template injection class, RabbitMQ CVE-2026-44838). A pattern that names a
//   variable with no value matches nothing.

export interface TopicVariables {
  username: string;
  vhost: string;
  client_id?: string | undefined;
}

const MAX_CACHED_PATTERNS = 10_000;
const TOPIC_VARIABLE = /\{(username|vhost|client_id)\}/g;

/** Compiles patterns once; JavaScript regexes stand in for PCRE (same syntax for the usual patterns). */
export class PatternCache {
  private readonly compiled = new Map<string, RegExp | null>();

  /** null when the pattern does not compile: such a pattern grants nothing */
  compile(pattern: string): RegExp | null {
    const cached = this.compiled.get(pattern);
    if (cached !== undefined) return cached;
    const regex = compilePattern(pattern);
    if (this.compiled.size >= MAX_CACHED_PATTERNS) this.compiled.clear();
    this.compiled.set(pattern, regex);
    return regex;
  }

  matches(pattern: string, subject: string): boolean {
    return this.compile(pattern)?.test(subject) ?? false;
  }

  matchesTopic(pattern: string, routingKey: string, variables: TopicVariables): boolean {
    const expanded = expandTopicPattern(pattern, variables);
    return expanded !== null && this.matches(expanded, routingKey);
  }
}

export function compilePattern(pattern: string): RegExp | null {
  try {
    return new RegExp(pattern === '' ? '^$' : pattern);
  } catch {
    return null;
  }
}

/** the pattern with variables replaced by their escaped values; null when one has no value */
export function expandTopicPattern(pattern: string, variables: TopicVariables): string | null {
  let missing = false;
  const expanded = pattern.replace(TOPIC_VARIABLE, (_match, name: keyof TopicVariables) => {
    const value = variables[name];
    if (value === undefined) {
      missing = true;
      return '';
    }
    return escapeRegex(value);
  });
  return missing ? null : expanded;
}

export function escapeRegex(value: string): string {
  return value.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}
