// Server-generated names, shaped as RabbitMQ's (amq.gen-<base64>, amq.ctag-<base64>).
import { randomBytes } from 'node:crypto';

function token(): string {
  return randomBytes(16).toString('base64url');
}

export function generatedQueueName(): string {
  return `amq.gen-${token()}`;
}

export function generatedConsumerTag(): string {
  return `amq.ctag-${token()}`;
}
