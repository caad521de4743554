// A fair stream's configuration turned into what ingress and the dispatcher use: parsed
// identity rule, weights, resolved defaults, and the timings derived from idleExpiryMs.
import type { FairStreamConfig } from '../config/schema.js';
import { ErrorCode, GatewayError } from '../errors.js';
import { TopicTrie } from '../fabric/embedded/topic-trie.js';
import { parsePublisherBy, type PublisherBy } from './identity.js';
import { MAX_STREAM_NAME } from './names.js';

/** output queue length when the config says 0 */
export const DEFAULT_OUTPUT_QUEUE_LENGTH = 100;
/** intake queue length: AMQP publishers with confirms are nacked beyond it */
export const INTAKE_QUEUE_LENGTH = 100_000;

export interface StreamPlan {
  readonly name: string;
  readonly vhost: string;
  readonly patterns: readonly string[];
  readonly publisherBy: PublisherBy;
  readonly weights: ReadonlyMap<string, number>;
  readonly maxPerPublisher: number;
  readonly idleExpiryMs: number;
  readonly outputQueueLength: number;
  readonly amqpIntake: boolean;
  /**
   * How often a gateway declares a publisher queue it publishes to again (which renews the
   * queue's x-expires) and announces it again. A publish that comes after a pause longer than
   * this is always announced.
   */
  readonly refreshMs: number;
  /**
   * A publisher queue the dispatcher got nothing from for this long is let go (consumer
   * cancelled, so x-expires can run). Longer than refreshMs: the next publish to a let-go
   * queue is always announced, and the announcement brings the dispatcher back.
   */
  readonly parkAfterMs: number;
}

export function planStreams(streams: readonly FairStreamConfig[], defaultVhost: string): StreamPlan[] {
  const seen = new Set<string>();
  return streams.map((s, i) => {
    const where = `fair.streams[${i}]`;
    if (s.name.length > MAX_STREAM_NAME) throw configError(`${where}.name: at most ${MAX_STREAM_NAME} characters`);
    const vhost = s.vhost ?? defaultVhost;
    const key = `${vhost}\u0000${s.name}`;
    if (seen.has(key)) throw configError(`${where}.name: stream '${s.name}' is configured twice in vhost '${vhost}'`);
    seen.add(key);
    let publisherBy: PublisherBy;
    try {
      publisherBy = parsePublisherBy(s.publisherBy);
    } catch (err) {
      throw configError(`${where}.publisherBy: ${(err as Error).message}`);
    }
    const refreshMs = clamp(Math.floor(s.idleExpiryMs / 4), 250, 5_000);
    return {
      name: s.name,
      vhost,
      patterns: [...s.patterns],
      publisherBy,
      weights: new Map(Object.entries(s.weights ?? {})),
      maxPerPublisher: s.maxPerPublisher,
      idleExpiryMs: s.idleExpiryMs,
      outputQueueLength: s.outputQueueLength > 0 ? s.outputQueueLength : DEFAULT_OUTPUT_QUEUE_LENGTH,
      amqpIntake: s.amqpIntake,
      refreshMs,
      parkAfterMs: 3 * refreshMs,
    };
  });
}

/** which streams a publish to amq.topic feeds */
export class StreamMatcher {
  private readonly byVhost = new Map<string, TopicTrie<StreamPlan>>();
  private readonly found = new Set<StreamPlan>();

  constructor(plans: readonly StreamPlan[]) {
    for (const plan of plans) {
      let trie = this.byVhost.get(plan.vhost);
      if (trie === undefined) this.byVhost.set(plan.vhost, (trie = new TopicTrie()));
      for (const p of plan.patterns) trie.add(p, plan);
    }
  }

  matching(vhost: string, routingKey: string): StreamPlan[] {
    const trie = this.byVhost.get(vhost);
    if (trie === undefined) return [];
    this.found.clear();
    trie.match(routingKey, this.found);
    return this.found.size === 0 ? [] : [...this.found];
  }
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}

function configError(detail: string): GatewayError {
  return new GatewayError(ErrorCode.CONFIG, detail);
}
