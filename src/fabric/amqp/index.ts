export { AmqpFabric, type AmqpFabricOptions } from './fabric.js';
