// The broker objects of a fair stream and their arguments. Every gateway process declares the
// shared ones at start (idempotent, identical arguments from the same config); a publisher
// queue is declared by whichever gateway first publishes for that publisher.
import type { FabricMessage, FabricSession, QueueOptions } from '../fabric/types.js';
import { ANNOUNCE_EXCHANGE, announcedQueue, fairOutputQueue, intakeQueue, registryQueue } from './names.js';
import { INTAKE_QUEUE_LENGTH, type StreamPlan } from './plan.js';

/** announcements waiting for the dispatcher to save them; beyond this the oldest go */
const ANNOUNCED_QUEUE_LENGTH = 100_000;

/**
 * Publisher queues are always durable: a persistent message in them survives a broker restart,
 * a transient one does not (RabbitMQ drops transient messages from durable queues on restart),
 * so "durable when the message is persistent" holds without a second queue per publisher or a
 * redeclare with other arguments (which RabbitMQ refuses with 406).
 */
export function publisherQueueOptions(plan: StreamPlan): QueueOptions {
  return {
    durable: true,
    arguments: { 'x-max-length': plan.maxPerPublisher, 'x-overflow': 'reject-publish', 'x-expires': plan.idleExpiryMs },
  };
}

export function outputQueueOptions(plan: StreamPlan): QueueOptions {
  return { durable: true, arguments: { 'x-max-length': plan.outputQueueLength, 'x-overflow': 'reject-publish' } };
}

export async function declareStreamTopology(session: FabricSession, plan: StreamPlan): Promise<void> {
  await session.declareExchange(ANNOUNCE_EXCHANGE, 'topic', { durable: true });
  await session.declareQueue(fairOutputQueue(plan.name), outputQueueOptions(plan));
  await session.declareQueue(announcedQueue(plan.name), { durable: true, arguments: { 'x-max-length': ANNOUNCED_QUEUE_LENGTH } });
  await session.bindQueue(announcedQueue(plan.name), ANNOUNCE_EXCHANGE, plan.name);
  await session.declareQueue(registryQueue(plan.name), { durable: true, arguments: { 'x-max-length': 1 } });
  if (plan.amqpIntake) {
    const intake = intakeQueue(plan.name);
    await session.declareQueue(intake, { durable: true, arguments: { 'x-max-length': INTAKE_QUEUE_LENGTH, 'x-overflow': 'reject-publish' } });
    for (const pattern of plan.patterns) await session.bindQueue(intake, 'amq.topic', pattern);
  }
}

/** "this publisher queue exists": what the dispatcher needs to find it */
export interface Announcement {
  queue: string;
  publisher: string;
}

export function announcementMessage(a: Announcement): FabricMessage {
  return {
    body: Buffer.from(JSON.stringify({ v: 1, queue: a.queue, publisher: a.publisher })),
    properties: { contentType: 'application/json', deliveryMode: 2 },
  };
}

/** undefined for anything that is not an announcement of ours (ignored, never fatal) */
export function parseAnnouncement(body: Buffer): Announcement | undefined {
  try {
    const v = JSON.parse(body.toString('utf8')) as { queue?: unknown; publisher?: unknown };
    if (typeof v.queue === 'string' && typeof v.publisher === 'string') return { queue: v.queue, publisher: v.publisher };
  } catch {
    // not JSON
  }
  return undefined;
}
