/** The options of cloneExecutable and the plan they make. */
import { tmpdir } from 'node:os';
import { OPTION_KEYS } from '../options.js';
import { sealMask, type SealName } from '../seals.js';
import { invalidArgType, validateOneOf, validateOptions, validateString } from '../validate.js';
import { defaultName, type Source } from './source.js';

/** Options for {@link cloneExecutable} and {@link cloneExecutableSync}. */
export interface CloneExecutableOptions {
  /**
   * The memfd's name (shown as "/memfd:NAME" in /proc/PID/exe) and the
   * default argv[0] of {@link spawnSealed}. Default: the source file's base
   * name, or `'memseal-exec'` for bytes and streams.
   */
  name?: string;
  /**
   * Seals added once the copy is complete. Default: `exec` (6.3+),
   * `shrink`, `grow`, `write`, `seal`. {@link spawnSealed} requires the
   * default set, so fewer seals only suit clones that are not run here.
   */
  seals?: readonly SealName[];
  /**
   * `'none'` (default): a refused executable memfd is an
   * {@link ExecRefusedError}. `'tmpfile'`: then copy into an unnamed
   * O_TMPFILE file instead, in a directory whose mount allows exec (checked);
   * the result is a {@link TmpfileExecutable}, whose `refusal` says why.
   */
  fallback?: 'none' | 'tmpfile';
  /**
   * Where `fallback: 'tmpfile'` creates the file. Default: the first usable
   * of os.tmpdir(), /dev/shm, /var/tmp, /tmp.
   */
  tmpDir?: string;
}

export interface Plan {
  name: string;
  seals: readonly SealName[] | undefined;
  fallback: 'none' | 'tmpfile';
  tmpDirs: readonly string[];
}

export function planClone(source: Source, options: unknown): Plan {
  const o = validateOptions<CloneExecutableOptions>(options, 'options', OPTION_KEYS.cloneExecutable);
  const name = o.name === undefined ? defaultName(source) : validateString(o.name, 'options.name');
  if (o.seals !== undefined) {
    if (!Array.isArray(o.seals)) throw invalidArgType('options.seals', 'an array of seal names', o.seals);
    sealMask(o.seals, 'options.seals');
  }
  const fallback = o.fallback === undefined ? 'none' : validateOneOf(o.fallback, 'options.fallback', ['none', 'tmpfile'] as const);
  let tmpDirs: string[];
  if (o.tmpDir !== undefined) {
    tmpDirs = [validateString(o.tmpDir, 'options.tmpDir')];
  } else {
    tmpDirs = [...new Set([tmpdir(), '/dev/shm', '/var/tmp', '/tmp'])];
  }
  return { name, seals: o.seals, fallback, tmpDirs };
}
