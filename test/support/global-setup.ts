// Runs once before the suite: finds out whether a RabbitMQ broker answers, and says loudly
// which tests will be skipped when none does. CI sets TRIBUTARY_REQUIRE_BROKER=1, which
// turns a missing broker into a failure instead of a skip.
import net from 'node:net';

export const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';

function probe(url: string, timeoutMs = 1500): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port || 5672) });
    const done = (ok: boolean) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export default async function setup(): Promise<void> {
  const url = process.env.TRIBUTARY_TEST_AMQP_URL ?? DEFAULT_AMQP_URL;
  const up = await probe(url);
  const required = process.env.TRIBUTARY_REQUIRE_BROKER === '1';
  process.env.TRIBUTARY_TEST_AMQP_URL = url;
  process.env.TRIBUTARY_TEST_BROKER = up ? '1' : '0';
  if (!up && required) {
    throw new Error(`TRIBUTARY_REQUIRE_BROKER=1 but no RabbitMQ answers at ${url}`);
  }
  if (!up) {
    const bar = '!'.repeat(78);
    console.warn(`\n${bar}\n  NO RABBITMQ at ${url}: every broker test (describe blocks named "[rabbitmq]")\n  is SKIPPED. Start RabbitMQ (rabbitmq-server -detached) or set\n  TRIBUTARY_TEST_AMQP_URL, and set TRIBUTARY_REQUIRE_BROKER=1 to make them required.\n${bar}\n`);
  }
}
