// The Fabric contract against the AMQP fabric on a real RabbitMQ.
import { describe } from 'vitest';
import { AmqpFabric } from '../../src/fabric/amqp/index.js';
import { createLogger } from '../../src/log.js';
import { amqpUrl, brokerAvailable } from '../support/broker.js';
import { fabricContract } from './fabric.contract.js';

describe.runIf(brokerAvailable)('[rabbitmq] AmqpFabric', () => {
  fabricContract('amqp', async () => new AmqpFabric({ url: amqpUrl, connectionsPerVhost: 2, log: createLogger('silent') }));
});
