// The gateway floor: the thinnest external MQTT 3.1.1 / STOMP 1.2 → RabbitMQ gateway on
// Tributary's stack (Node `net`, amqplib), doing only what the benchmark flows need (see
// mqtt.ts, stomp.ts, and bench/README.md for what it leaves out). The benchmark runs it as a
// reference target next to Tributary, so that the cost every gateway outside the broker pays
// (two more TCP hops, AMQP framing, a Node event loop) is measured rather than guessed.
//
//   node --import tsx bench/floor/server.ts --amqp-url URL [--host H] [--mqtt-port P]
//        [--stomp-port P] [--amqp-connections per-client|shared]
//
// Port 0 picks a free port. Prints `floor listening mqtt=<port> stomp=<port>` once both
// listeners are up and the broker answered; exits 0 on SIGTERM/SIGINT (so that
// `node --cpu-prof` writes its profile).
import { createServer, type Server, type Socket } from 'node:net';
import { Backend, type ConnectionMode } from './common.js';
import { serveMqtt } from './mqtt.js';
import { serveStomp } from './stomp.js';

function args(argv: string[]): { url: string; host: string; mqtt: number; stomp: number; mode: ConnectionMode } {
  const o = { url: 'amqp://guest:guest@127.0.0.1:5672', host: '127.0.0.1', mqtt: 0, stomp: 0, mode: 'per-client' as ConnectionMode };
  for (let i = 0; i < argv.length; i++) {
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${argv[i - 1]} needs a value`);
      return v;
    };
    const a = argv[i];
    if (a === '--amqp-url') o.url = value();
    else if (a === '--host') o.host = value();
    else if (a === '--mqtt-port') o.mqtt = Number(value());
    else if (a === '--stomp-port') o.stomp = Number(value());
    else if (a === '--amqp-connections') {
      const m = value();
      if (m !== 'per-client' && m !== 'shared') throw new Error(`--amqp-connections per-client|shared, not ${m}`);
      o.mode = m;
    } else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

async function main(): Promise<void> {
  const o = args(process.argv.slice(2));
  const backend = new Backend(o.url, o.mode);
  await backend.start();
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const mqtt = createServer((s) => {
    track(s);
    serveMqtt(s, backend);
  });
  const stomp = createServer((s) => {
    track(s);
    serveStomp(s, backend);
  });
  const [mqttPort, stompPort] = [await listen(mqtt, o.mqtt, o.host), await listen(stomp, o.stomp, o.host)];
  console.log(`floor listening mqtt=${mqttPort} stomp=${stompPort} amqp-connections=${o.mode}`);
  const stop = (): void => {
    mqtt.close();
    stomp.close();
    for (const s of sockets) s.destroy();
    const timer = setTimeout(() => process.exit(0), 2_000);
    void backend.stop().finally(() => {
      clearTimeout(timer);
      process.exit(0);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  console.error(`floor: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
