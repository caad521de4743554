// The servers a scenario can be pointed at, and the processes whose CPU and memory count
// for each. Tributary routes through the same RabbitMQ, so its figures include the broker.
import type { Endpoint } from '../clients/conn.js';
import { findProcess } from './proc.js';

/** `floor`: the gateway floor (bench/floor/), the thinnest external gateway on Tributary's stack */
export type TargetName = 'tributary' | 'rabbitmq' | 'floor' | 'mosquitto' | 'amqp';

export interface Endpoints {
  mqtt?: Endpoint;
  mqttWs?: Endpoint;
  stomp?: Endpoint;
  stompWs?: Endpoint;
  wampUrl?: string;
  amqpUrl: string;
}

export interface Target {
  name: TargetName;
  /** what it is, for the table: "Tributary → RabbitMQ", "rabbitmq_mqtt", … */
  label: string;
  endpoints: Endpoints;
  /** the gateway process (Tributary, the gateway floor) */
  gatewayPid?: number;
  /** the broker process: beam.smp for RabbitMQ-backed targets, mosquitto for Mosquitto */
  brokerPid?: number;
}

export const RABBIT_PORTS = {
  amqp: 5672,
  mqtt: Number(process.env.BENCH_RABBIT_MQTT_PORT ?? 1884),
  stomp: Number(process.env.BENCH_RABBIT_STOMP_PORT ?? 61623),
  webStomp: Number(process.env.BENCH_RABBIT_WEB_STOMP_PORT ?? 15674),
  webMqtt: Number(process.env.BENCH_RABBIT_WEB_MQTT_PORT ?? 15675),
} as const;

export const MOSQUITTO_PORT = Number(process.env.BENCH_MOSQUITTO_PORT ?? 1883);

export const AMQP_URL = process.env.BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

const HOST = '127.0.0.1';

export function rabbitTarget(name: 'rabbitmq' | 'amqp', label: string): Target {
  return {
    name,
    label,
    brokerPid: findProcess('beam.smp'),
    endpoints: {
      amqpUrl: AMQP_URL,
      mqtt: { kind: 'tcp', host: HOST, port: RABBIT_PORTS.mqtt },
      stomp: { kind: 'tcp', host: HOST, port: RABBIT_PORTS.stomp },
      mqttWs: { kind: 'ws', url: `ws://${HOST}:${RABBIT_PORTS.webMqtt}/ws`, protocol: 'mqtt' },
      stompWs: { kind: 'ws', url: `ws://${HOST}:${RABBIT_PORTS.webStomp}/ws`, protocol: 'v12.stomp', text: true },
    },
  };
}

export function mosquittoTarget(): Target {
  return {
    name: 'mosquitto',
    label: 'Mosquitto',
    brokerPid: findProcess('mosquitto'),
    endpoints: { amqpUrl: AMQP_URL, mqtt: { kind: 'tcp', host: HOST, port: MOSQUITTO_PORT } },
  };
}

export function tributaryTarget(pid: number, ports: { stomp: number; mqtt: number; http: number }): Target {
  return {
    name: 'tributary',
    label: 'Tributary → RabbitMQ',
    gatewayPid: pid,
    brokerPid: findProcess('beam.smp'),
    endpoints: {
      amqpUrl: AMQP_URL,
      mqtt: { kind: 'tcp', host: HOST, port: ports.mqtt },
      stomp: { kind: 'tcp', host: HOST, port: ports.stomp },
      mqttWs: { kind: 'ws', url: `ws://${HOST}:${ports.http}/mqtt`, protocol: 'mqtt' },
      stompWs: { kind: 'ws', url: `ws://${HOST}:${ports.http}/stomp`, protocol: 'v12.stomp', text: true },
      wampUrl: `ws://${HOST}:${ports.http}/wamp`,
    },
  };
}

export const FLOOR_LABEL = 'gateway floor (amqplib, no features)';

/** the gateway floor: its own process (CPU counted as the gateway's) + RabbitMQ */
export function floorTarget(pid: number, ports: { mqtt: number; stomp: number }): Target {
  return {
    name: 'floor',
    label: FLOOR_LABEL,
    gatewayPid: pid,
    brokerPid: findProcess('beam.smp'),
    endpoints: {
      amqpUrl: AMQP_URL,
      mqtt: { kind: 'tcp', host: HOST, port: ports.mqtt },
      stomp: { kind: 'tcp', host: HOST, port: ports.stomp },
    },
  };
}
