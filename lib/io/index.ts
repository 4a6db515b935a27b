// kiln.io: safetensors serialization.
export { save, load, loadFile, loadMetadata, readHeader, SafetensorsError } from './safetensors.js';
export type { Metadata, SafetensorsHeader } from './safetensors.js';
export { saveOptimizer, loadOptimizer } from './optimizer.js';
