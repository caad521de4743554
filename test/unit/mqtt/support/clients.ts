// mqtt.js helpers for the MQTT integration suites.
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword } from '../../../../src/auth/password.js';
import { uniqueName } from '../../../support/broker.js';

export interface Received {
  topic: string;
  payload: Buffer;
  packet: IPublishPacket;
}

/** A connected mqtt.js client that records what it receives. */
export class TestClient {
  readonly messages: Received[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];
  readonly disconnects: { reasonCode?: number | undefined }[] = [];
  /** the CONNACK that opened this connection */
  connack: { sessionPresent: boolean; reasonCode?: number | undefined; properties?: Record<string, unknown> | undefined } | undefined;

  constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload, packet });
      this.waiters = this.waiters.filter((w) => {
        if (this.messages.length < w.n) return true;
        w.resolve();
        return false;
      });
    });
    client.on('disconnect', (packet) => this.disconnects.push({ reasonCode: packet.reasonCode }));
    client.on('error', () => undefined);
  }

  /** resolves once `n` messages have arrived in total */
  async waitFor(n: number, timeoutMs = 5_000): Promise<Received[]> {
    if (this.messages.length < n) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${this.messages.length} of ${n} messages within ${timeoutMs} ms`)), timeoutMs);
        this.waiters.push({ n, resolve: () => { clearTimeout(timer); resolve(); } });
      });
    }
    return this.messages.slice(0, n);
  }

  /** nothing more arrives for `ms` (after a publish that should not reach this client) */
  async quiet(ms = 300): Promise<void> {
    const before = this.messages.length;
    await new Promise((r) => setTimeout(r, ms));
    if (this.messages.length !== before) throw new Error(`unexpected message: ${this.messages[before]?.topic}`);
  }

  end(force = false): Promise<void> {
    return this.client.endAsync(force);
  }
}

/** Connects with listeners in place first: a resumed session's messages can follow CONNACK at once. */
export async function connectClient(port: number, opts: IClientOptions = {}): Promise<TestClient> {
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: uniqueName('c'), reconnectPeriod: 0, connectTimeout: 5_000, ...opts });
  const tc = new TestClient(client);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', (packet) => {
      tc.connack = packet as TestClient['connack'];
      resolve();
    });
    client.once('error', reject);
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
  return tc;
}

/** Expect CONNECT to be refused; the error mqtt.js reports (with .code = return/reason code). */
export async function refusedConnect(port: number, opts: IClientOptions): Promise<{ code: number | undefined; message: string }> {
  try {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 5_000, ...opts });
    await c.endAsync(true);
  } catch (err) {
    return { code: (err as { code?: number }).code, message: (err as Error).message };
  }
  throw new Error('CONNECT was accepted');
}

export function topicName(prefix: string): string {
  return uniqueName(prefix).replace(/[^\w-]/g, '');
}

/**
 * Users file: guest stays built in (everything). carol may publish only under `public/` and
 * read only `public/` and `shared/`; dave's password is "dave", and he may use vhost `iot` too.
 */
export async function mqttUsersFile(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'mqtt-users-'));
  const file = join(dir, 'users.yaml');
  const fast = { N: 1024, r: 8, p: 1 };
  const everything = { '/': { configure: '.*', write: '.*', read: '.*' } };
  writeFileSync(
    file,
    JSON.stringify({
      users: [
        {
          name: 'carol',
          password_hash: await hashPassword('carol', fast),
          permissions: everything,
          topic_permissions: { '/': [{ exchange: 'amq.topic', write: '^public\\.', read: '^(public|shared)\\.' }] },
        },
        { name: 'dave', password_hash: await hashPassword('dave', fast), permissions: { ...everything, iot: { configure: '.*', write: '.*', read: '.*' } } },
      ],
    }),
  );
  return file;
}
