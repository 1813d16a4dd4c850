/**
 * memseal: Linux memory sealing for Node.js.
 *
 * memfd_create with MFD_EXEC / MFD_NOEXEC_SEAL, file seals (F_SEAL_*),
 * memfd_secret and mseal, over a thin native addon. Linux only: importing
 * it elsewhere throws ERR_MEMSEAL_UNSUPPORTED_PLATFORM.
 */
export { constants, PAGE_SIZE } from './constants.js';
export { MapCountError, MemlockLimitError, MemsealError, SyscallError, UnsupportedError, isErrno } from './errors.js';
export type { MapCountErrorOptions, MemlockLimitErrorOptions, MemsealErrorCode, SyscallErrorOptions, UnsupportedErrorOptions, UnsupportedReason } from './errors.js';
export type { FeatureName } from './features.js';
export { FEATURE_SINCE } from './features.js';
export { Mapping } from './mapping.js';
export type { Access, AnonymousMappingOptions } from './mapping.js';
export { Memfd } from './memfd.js';
export type { ExecMode, HugePageSize, MemfdCreateOptions, MemfdFromFdOptions, MemfdFromOptions, MemfdMapOptions } from './memfd.js';
export { probe } from './probe.js';
export type { FeatureReport, FeatureStatus, ProbeReport } from './probe.js';
export { SEAL_NAMES } from './seals.js';
export type { SealName } from './seals.js';
export { cloneExecutable, cloneExecutableSync, ExecError, ExecRefusedError, spawnSealed, TmpfileExecutable } from './exec/index.js';
export type { CloneExecutableOptions, Executable, ExecErrorCode, ExecRefusalReason, ExecRefusedErrorOptions, ExecSource, ExecSourceSync, SpawnSealedOptions } from './exec/index.js';
export { MAX_SECRET_SIZE, SECRET_POOL_CLASSES, SecretBuffer, SecretPool } from './secret/index.js';
export type {
  SecretBacking,
  SecretBufferFromOptions,
  SecretBufferOptions,
  SecretBufferStats,
  SecretPoolClassStats,
  SecretPoolFromOptions,
  SecretPoolOptions,
  SecretPoolStats,
  SecretSealOptions,
  SecretUseOptions,
} from './secret/index.js';
export { MemfdListener, memfdSocketPair, receiveMemfd, sendMemfd, TransferError } from './transfer.js';
export type { MemfdListenerOptions, ReceivedMemfd, ReceiveMemfdOptions, SendMemfdOptions, TransferErrorCode } from './transfer.js';
export { runConformance } from './conformance/run.js';
export type { RunOptions } from './conformance/run.js';
export type { CaseResult, ConformanceReport, Family, Source, Status } from './conformance/types.js';
