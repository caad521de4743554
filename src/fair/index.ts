// Per-publisher fair streams (DESIGN.md "Per-publisher fair queues"; docs/fair.md).
export { FairFabric, type FairFabricOptions, type FairStreamStatus } from './fair-fabric.js';
export { FairHeader, fairOutputQueue, publisherQueue } from './names.js';
export { DeficitRoundRobin } from './drr.js';
export { jainIndex } from './stats.js';
export type { DispatchTuning } from './tuning.js';
export { fairStatusSource, type FairStatusSource } from './status-source.js';
export { registerFairMetrics } from './metrics.js';
