// Where the management API (src/http/routes/fair.ts) reads the fair streams' figures from.
import type { Fabric } from '../fabric/types.js';
import { FairFabric, type FairStreamStatus } from './fair-fabric.js';

export interface FairStatusSource {
  streamNames(): string[];
  fairStatus(stream: string): FairStreamStatus | undefined;
}

/** the gateway's fair streams, or null when its fabric has none */
export function fairStatusSource(fabric: Fabric): FairStatusSource | null {
  return fabric instanceof FairFabric ? fabric : null;
}
