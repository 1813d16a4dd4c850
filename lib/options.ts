/**
 * The option names of every public function, in one place: each module
 * validates its options against its list here, and the prototype-pollution
 * test pass (test/helpers/pollute.ts) plants a hostile value for every name
 * in {@link OPTION_NAMES} on Object.prototype. A name added to an options
 * interface but not here is refused as unknown, so the list cannot drift.
 */
export const OPTION_KEYS = {
  memfdCreate: ['exec', 'fallback', 'allowSealing', 'cloexec', 'hugetlb'],
  memfdFrom: ['name', 'seals', 'exec', 'fallback'],
  memfdFromFd: ['name'],
  memfdMap: ['access', 'shared', 'offset', 'length'],
  mappingAnonymous: ['access', 'shared'],
  secretAlloc: ['fallback', 'backing', 'access'],
  secretFrom: ['fallback', 'backing', 'access', 'wipeSource'],
  secretUse: ['access'],
  secretSeal: ['access'],
  poolCreate: ['fallback', 'backing', 'arenaSize'],
  poolFrom: ['wipeSource'],
  cloneExecutable: ['name', 'seals', 'fallback', 'tmpDir'],
  /** The options spawnSealed reads itself; the rest go to child_process.spawn (which reads only own properties). */
  spawnSealed: ['argv0', 'script', 'shell', 'stdio'],
  runConformance: ['filter', 'strict', 'cases', 'modules', 'env', 'concurrency', 'onResult'],
} as const satisfies Readonly<Record<string, readonly string[]>>;

/** Every option name memseal reads, each once. */
export const OPTION_NAMES: readonly string[] = Object.freeze([...new Set(Object.values(OPTION_KEYS).flat())].sort());
