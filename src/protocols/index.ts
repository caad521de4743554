// Every protocol the gateway serves. Each protocol adds its one line here.
import type { ProtocolFactory } from './types.js';

export const protocolFactories: ProtocolFactory[] = [];
