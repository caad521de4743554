// The embedded fabric: RabbitMQ's AMQP 0-9-1 model (exchanges, queues, bindings, consumers,
// TTL, length limits, dead-lettering) in process, the default when no broker URL is configured.
// test/contract/fabric.contract.ts holds it to the same behaviour as RabbitMQ.
//
// Module map: fabric.ts (lifecycle, vhosts created on first use) → session.ts (FabricSession)
// → vhost.ts (topology, routing, dead-lettering) → exchange.ts + routers.ts + topic-trie.ts
// (matching) and queue.ts + consumer.ts + scheduler.ts (storage and delivery).
//
// Limits: nothing is persisted, and `writable` is always true (no broker flow control). A
// queue holds what its own limits allow: without x-max-length or a TTL it grows with its
// backlog, exactly as a RabbitMQ queue does, so give queues that can back up a limit.
export { EmbeddedFabric, type EmbeddedFabricOptions } from './fabric.js';
