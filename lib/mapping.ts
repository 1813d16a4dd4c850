/**
 * Mapping: memory this library mapped, seen from JS as a Buffer with zero
 * copies, whose protection can be changed and which can be sealed for good
 * with mseal(2) (Linux 6.10+).
 *
 * Safety rules: only mappings memseal created can be protected or sealed
 * (never memory V8 owns); before memory stops being readable (protect('none'),
 * unmap()) every Buffer handed out is detached, so an old Buffer reads as
 * length 0 instead of faulting. After protect('r' | 'rw') `buffer` gives a
 * fresh Buffer; detached ones stay empty.
 */
import { OPTION_KEYS } from './options.js';
import { kMaxLength } from 'node:buffer';
import { binding, type RawRegion } from './binding.js';
import { constants, PAGE_SIZE } from './constants.js';
import { MemsealError, SyscallError } from './errors.js';
import { explainUnavailable } from './features.js';
import { explainMapCount, reserveMappings } from './mapcount.js';
import { outOfRange, validateBoolean, validateInteger, validateOneOf, validateOptions } from './validate.js';

/** What the memory may be used for: nothing, reading, or reading and writing. */
export type Access = 'none' | 'r' | 'rw';

/** Options for {@link Mapping.anonymous}. */
export interface AnonymousMappingOptions {
  /** Initial protection. Default `'rw'`. */
  access?: Access;
  /** MAP_SHARED (inherited by fork) instead of MAP_PRIVATE. Default false. */
  shared?: boolean;
}

/** The largest mapping memseal will ask for (64 TiB). */
export const MAX_MAPPING_SIZE = 2 ** 46;

const ACCESS: readonly Access[] = ['none', 'r', 'rw'];

/** The PROT_* bits for an access mode. */
export function protFor(access: Access): number {
  switch (access) {
    case 'none':
      return constants.PROT_NONE;
    case 'r':
      return constants.PROT_READ;
    case 'rw':
      return constants.PROT_READ | constants.PROT_WRITE;
  }
}

function accessFor(prot: number): Access {
  if ((prot & constants.PROT_WRITE) !== 0) return 'rw';
  return (prot & constants.PROT_READ) !== 0 ? 'r' : 'none';
}

/** Parameters of a new mapping, for lib modules that create them. */
export interface RegionSpec {
  length: number;
  access: Access;
  flags: number;
  fd: number;
  offset: number;
  guardPages?: number;
  pageSize?: number;
  wipe?: boolean;
}

/** The regions memseal mapped: the only ones a Mapping (or a secret) may wrap. */
const OURS = new WeakSet<RawRegion>();

/** @internal True for a region mapRegion() made. */
export function isOwnRegion(region: unknown): boolean {
  return typeof region === 'object' && region !== null && OURS.has(region as RawRegion);
}

/**
 * Maps memory through the addon's Region (lib-internal).
 * @throws MapCountError when the process would come too close to vm.max_map_count.
 */
export function mapRegion(spec: RegionSpec): RawRegion {
  const guardPages = spec.guardPages ?? 0;
  // Its memory, and a guard page on each side.
  const cost = guardPages > 0 ? 3 : 1;
  reserveMappings(cost);
  let region: RawRegion;
  try {
    region = new (binding().Region)(spec.length, protFor(spec.access), spec.flags, spec.fd, spec.offset, guardPages, spec.pageSize ?? PAGE_SIZE, spec.wipe ?? false);
  } catch (err) {
    throw explainMapCount(err, cost);
  }
  OURS.add(region);
  return region;
}

export const SEALED_HINT =
  'the mapping is sealed with mseal(2): its protection and placement can never change, and it stays mapped until the process exits';

/** Adds the mseal explanation to an EPERM from a sealed region. */
export function explainSealed(err: unknown, sealed: boolean): unknown {
  if (sealed && err instanceof SyscallError && err.code === 'EPERM') err.addHint(SEALED_HINT);
  return err;
}

const TOKEN = Symbol('Mapping');

const NOT_CLONEABLE = Symbol('memseal: a Mapping cannot be cloned or sent to another thread; copy its bytes (mapping.buffer) if that is what you mean');

let wrap: (region: RawRegion, kind: string) => Mapping;

/**
 * @internal A Mapping over a region memseal mapped (Memfd#map).
 * @throws MemsealError ERR_MEMSEAL_NOT_OURS for any other region.
 */
export function mappingOf(region: RawRegion, kind: string): Mapping {
  if (!isOwnRegion(region)) throw new MemsealError('ERR_MEMSEAL_NOT_OURS', 'A Mapping can only wrap memory memseal mapped itself');
  return wrap(region, kind);
}

/**
 * Memory mapped by memseal. structuredClone() and postMessage() of a
 * Mapping throw DataCloneError.
 */
export class Mapping {
  /** Makes structuredClone() and postMessage() throw DataCloneError instead of sending an empty object. */
  readonly notCloneable: symbol = NOT_CLONEABLE;
  readonly #region: RawRegion;
  readonly #kind: string;
  #view: Buffer | undefined;

  static {
    wrap = (region, kind) => new Mapping(TOKEN, region, kind);
  }

  /** Use Mapping.anonymous() or Memfd#map(). */
  private constructor(token: symbol, region: RawRegion, kind: string) {
    if (token !== TOKEN) throw new TypeError('Illegal constructor: use Mapping.anonymous() or Memfd#map()');
    this.#region = region;
    this.#kind = kind;
  }

  /**
   * Maps `size` bytes of anonymous memory (MAP_PRIVATE unless `shared`).
   * @throws TypeError / RangeError for a bad size or options.
   * @throws SyscallError ENOMEM when the kernel cannot map it.
   */
  static anonymous(size: number, options?: AnonymousMappingOptions): Mapping {
    validateInteger(size, 'size', 1, MAX_MAPPING_SIZE);
    const o = validateOptions<AnonymousMappingOptions>(options, 'options', OPTION_KEYS.mappingAnonymous);
    const access = o.access === undefined ? 'rw' : validateOneOf(o.access, 'options.access', ACCESS);
    const shared = o.shared === undefined ? false : validateBoolean(o.shared, 'options.shared');
    const flags = (shared ? constants.MAP_SHARED : constants.MAP_PRIVATE) | constants.MAP_ANONYMOUS;
    return new Mapping(TOKEN, mapRegion({ length: size, access, flags, fd: -1, offset: 0 }), 'anonymous');
  }

  #checkMapped(): void {
    if (this.#region.unmapped) throw new MemsealError('ERR_MEMSEAL_UNMAPPED', 'The mapping has been unmapped');
  }

  /**
   * A Buffer over the mapping (no copy). Throws ERR_MEMSEAL_NO_ACCESS while
   * the access is 'none', ERR_MEMSEAL_UNMAPPED after unmap(). Writing through
   * it while the access is 'r' is a fault the kernel answers with SIGSEGV.
   */
  get buffer(): Buffer {
    this.#checkMapped();
    if (this.access === 'none') {
      throw new MemsealError('ERR_MEMSEAL_NO_ACCESS', "The mapping's access is 'none': call protect('r') or protect('rw') first");
    }
    if (this.#view === undefined || this.#view.buffer.byteLength === 0) {
      if (this.length > kMaxLength) {
        throw outOfRange('length', `at most ${kMaxLength} bytes (the largest Buffer) for a mapping's buffer`, this.length);
      }
      this.#view = Buffer.from(this.#region.view());
    }
    return this.#view;
  }

  /** The start address (for diagnostics and /proc/self/maps). */
  get address(): bigint {
    return this.#region.address;
  }

  /** Length in bytes, as asked for. */
  get length(): number {
    return this.#region.length;
  }

  /** Current access. */
  get access(): Access {
    return accessFor(this.#region.prot);
  }

  /** True after seal(). */
  get sealed(): boolean {
    return this.#region.sealed;
  }

  /** True after unmap(). */
  get unmapped(): boolean {
    return this.#region.unmapped;
  }

  /**
   * Changes the protection (mprotect). 'none' detaches every Buffer first.
   * @throws SyscallError EPERM on a sealed mapping (see `hint`); EACCES when
   *   a shared file mapping may not become writable (a write-sealed memfd).
   */
  protect(access: Access): void {
    validateOneOf(access, 'access', ACCESS);
    this.#checkMapped();
    try {
      this.#region.protect(protFor(access));
    } catch (err) {
      throw explainSealed(err, this.sealed);
    }
  }

  /**
   * Seals the mapping (mseal, Linux 6.10+): from now on the kernel refuses to
   * change its protection, unmap, remap or map over it (EPERM). The memory
   * stays until the process exits. Idempotent.
   * @throws UnsupportedError when the kernel lacks mseal or a filter blocks it.
   */
  seal(): void {
    this.#checkMapped();
    try {
      this.#region.seal();
    } catch (err) {
      throw explainUnavailable(err, 'mseal');
    }
  }

  /**
   * Detaches every Buffer and unmaps. Idempotent.
   * @throws SyscallError EPERM when the mapping is sealed (the Buffers are
   *   detached all the same; `buffer` gives a fresh one).
   */
  unmap(): void {
    try {
      this.#region.unmap();
    } catch (err) {
      throw explainSealed(err, this.sealed);
    }
    this.#view = undefined;
  }

  /**
   * unmap(); for a sealed mapping, which the kernel will not unmap, it only
   * detaches the Buffers and does not throw.
   */
  [Symbol.dispose](): void {
    if (this.sealed) {
      this.#region.detach();
      this.#view = undefined;
      return;
    }
    this.unmap();
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    if (this.unmapped) return `Mapping <unmapped ${this.#kind}>`;
    return `Mapping { ${this.#kind}, length: ${this.length}, access: '${this.access}', sealed: ${this.sealed}, address: 0x${this.address.toString(16)} }`;
  }
}
