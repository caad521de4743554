// Every protocol the gateway serves. Each protocol adds its one line here.
import { createMqttProtocol } from './mqtt/index.js';
import { createStompProtocol } from './stomp/index.js';
import type { ProtocolFactory } from './types.js';
import { createWampProtocol } from './wamp/index.js';

export const protocolFactories: ProtocolFactory[] = [createStompProtocol, createMqttProtocol, createWampProtocol];
