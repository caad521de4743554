export { EmbeddedFabric, type EmbeddedFabricOptions } from './fabric.js';
