/**
 * Secrets: SecretBuffer (./buffer.ts) and SecretPool (./pool.ts), and the
 * public types of both.
 */
export { SecretBuffer } from './buffer.js';
export type { SecretBacking } from './memory.js';
export { MAX_SECRET_SIZE } from './options.js';
export type { SecretBufferFromOptions, SecretBufferOptions, SecretSealOptions, SecretUseOptions } from './options.js';
export type { SecretBufferStats } from './own.js';
export { SECRET_POOL_CLASSES, SecretPool } from './pool.js';
export type { SecretPoolClassStats, SecretPoolFromOptions, SecretPoolOptions, SecretPoolStats } from './pool.js';
