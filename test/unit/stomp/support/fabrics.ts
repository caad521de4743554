// Which fabrics a STOMP integration suite runs on, and a broker-side witness for RabbitMQ runs.
// The embedded fabric always; RabbitMQ when a broker answers (required in CI, see global-setup).
import { connect, type ChannelModel } from 'amqplib';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword } from '../../../../src/auth/password.js';
import { amqpUrl, brokerAvailable } from '../../../support/broker.js';

export type FabricKind = 'embedded' | 'amqp';

/** [label for describe, fabric, enabled] */
export const FABRICS: Array<[string, FabricKind, boolean]> = [
  ['embedded fabric', 'embedded', true],
  ['[rabbitmq] amqp fabric', 'amqp', brokerAvailable],
];

/** Queues a test created on RabbitMQ, deleted afterwards (the embedded fabric forgets by itself). */
export class BrokerCleanup {
  private readonly queues = new Set<string>();
  private readonly exchanges = new Set<string>();

  constructor(private readonly fabric: FabricKind) {}

  queue<T extends string>(name: T): T {
    this.queues.add(name);
    return name;
  }

  exchange<T extends string>(name: T): T {
    this.exchanges.add(name);
    return name;
  }

  async run(): Promise<void> {
    if (this.fabric !== 'amqp' || (this.queues.size === 0 && this.exchanges.size === 0)) return;
    const conn = await connect(amqpUrl);
    try {
      for (const q of this.queues) {
        const ch = await conn.createChannel();
        ch.on('error', () => undefined);
        await ch.deleteQueue(q).catch(() => undefined);
        await ch.close().catch(() => undefined);
      }
      for (const x of this.exchanges) {
        const ch = await conn.createChannel();
        ch.on('error', () => undefined);
        await ch.deleteExchange(x).catch(() => undefined);
        await ch.close().catch(() => undefined);
      }
    } finally {
      await conn.close().catch(() => undefined);
    }
  }
}

export async function amqpConnection(): Promise<ChannelModel> {
  const conn = await connect(amqpUrl);
  conn.on('error', () => undefined);
  return conn;
}

/**
 * A users file with carol (guest stays the built-in user with every permission), who may only publish to amq.topic keys
 * under "public." and read everything, and may configure nothing.
 */
export async function restrictedUsersFile(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'stomp-users-'));
  const file = join(dir, 'users.yaml');
  const fast = { N: 1024, r: 8, p: 1 };
  writeFileSync(
    file,
    JSON.stringify({
      users: [
        {
          name: 'carol',
          password_hash: await hashPassword('carol', fast),
          permissions: { '/': { configure: '^$', write: '^amq\\.topic$', read: '.*' } },
          topic_permissions: { '/': [{ exchange: 'amq.topic', write: '^public\\.', read: '.*' }] },
        },
      ],
    }),
  );
  return file;
}
