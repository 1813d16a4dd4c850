/**
 * Secrets: SecretBuffer (./buffer.ts) and its public types.
 */
export { SecretBuffer } from './buffer.js';
export type { SecretBacking } from './memory.js';
export { MAX_SECRET_SIZE } from './options.js';
export type { SecretBufferFromOptions, SecretBufferOptions, SecretSealOptions, SecretUseOptions } from './options.js';
export type { SecretBufferStats } from './own.js';
