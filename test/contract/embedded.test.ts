import { EmbeddedFabric } from '../../src/fabric/embedded/index.js';
import { fabricContract } from './fabric.contract.js';

fabricContract('embedded', async () => new EmbeddedFabric());
