// What the fuzzer calls: every public function and method, and the raw
// binding. Each target makes one call with random, mostly hostile, arguments.
//
// Rules that keep the fuzzer itself honest: descriptors passed to raw calls
// are only ones the fuzzer opened through the raw binding (a raw close of a
// descriptor some object owns, or that Node uses, is misuse any fd API
// allows, not a hostile argument); bytes are only touched through Buffers
// over anonymous memory the fuzzer mapped with write access (a file mapping
// can lose its pages to a truncate, which the kernel answers with SIGBUS).
import { createRequire } from 'node:module';
import { inspect } from 'node:util';

const require = createRequire(import.meta.url);

/** Registers a target. */
function target(list, family, name, call, weight = 1) {
  for (let i = 0; i < weight; i++) list.push({ family, name, call });
}

function seals(ctx, n) {
  return Array.from({ length: n }, () => ctx.arg(ctx.r, ['write', 'grow', 'shrink', 'seal', 'future-write', 'exec']));
}

function coreTargets(ctx, list) {
  const { lib, r, pool, arg, hostile } = ctx;
  const memfdOptions = [undefined, { exec: 'kernel-default' }, { exec: 'noexec-seal' }, { exec: 'exec' }, { allowSealing: false, exec: 'kernel-default' }, { cloexec: false }, { hugetlb: true, exec: 'kernel-default' }, { exec: 'exec', fallback: 'kernel-default' }];
  const anyMemfd = () => {
    const m = pool.any('memfd');
    if (m) return m;
    const fresh = lib.Memfd.create('fuzz-fallback');
    pool.add('memfd', fresh);
    return fresh;
  };
  const anyMapping = () => {
    const m = pool.any('mapping');
    if (m) return m;
    const fresh = lib.Mapping.anonymous(4096);
    ctx.anonymous.add(fresh);
    pool.add('mapping', fresh);
    return fresh;
  };

  target(list, 'memfd', 'Memfd.create', () => pool.add('memfd', lib.Memfd.create(arg(r, ['fuzz', '', 'x'.repeat(249)]), r.chance(0.6) ? r.pick(memfdOptions) : hostile(r))), 3);
  target(list, 'memfd', 'Memfd.from', () => pool.add('memfd', lib.Memfd.from(arg(r, ['abc', Buffer.from('xyz'), new Uint16Array(4)]), r.chance(0.5) ? undefined : arg(r, [{ seals: ['grow'] }, { name: 'n', seals: [] }, { exec: 'kernel-default' }]))));
  target(list, 'memfd', 'Memfd.fromFd', () => {
    const m = pool.any('memfd');
    const fd = m && !m.closed && r.chance(0.5) ? m.fd : r.pick([-1, 2 ** 31, 1e9, 1.5, Number.NaN, '3', null, undefined, 2n, {}]);
    pool.add('memfd', lib.Memfd.fromFd(fd, r.chance(0.8) ? undefined : hostile(r)));
  });
  target(list, 'memfd', 'memfd.addSeals', () => anyMemfd().addSeals(...seals(ctx, r.int(4))), 2);
  target(list, 'memfd', 'memfd.requireSeals', () => anyMemfd().requireSeals(...seals(ctx, r.int(4))));
  target(list, 'memfd', 'memfd.write', () => anyMemfd().write(arg(r, ['data', Buffer.alloc(100, 1), new Float32Array(3)]), r.chance(0.4) ? undefined : arg(r, [0, 1, 100, 4096])), 2);
  target(list, 'memfd', 'memfd.read', () => anyMemfd().read(arg(r, [0, 1, 10]), arg(r, ctx.SMALL_SIZES)), 2);
  target(list, 'memfd', 'memfd.truncate', () => anyMemfd().truncate(arg(r, ctx.SMALL_SIZES)), 2);
  target(list, 'memfd', 'memfd.chmod', () => anyMemfd().chmod(arg(r, [0o600, 0o644, 0o755, 0o777])));
  target(list, 'memfd', 'memfd.map', () => pool.add('mapping', anyMemfd().map(r.chance(0.3) ? undefined : arg(r, [{ access: 'r' }, { access: 'rw' }, { access: 'rw', shared: false }, { offset: 4096 }, { length: 10 }]))), 2);
  target(list, 'memfd', 'memfd getters', () => {
    const m = anyMemfd();
    const name = r.pick(['fd', 'size', 'mode', 'seals', 'name', 'exec', 'closed']);
    return m[name];
  });
  target(list, 'memfd', 'memfd inspect', () => inspect(anyMemfd()));
  target(list, 'memfd', 'memfd.close', () => (r.chance(0.5) ? anyMemfd().close() : anyMemfd()[Symbol.dispose]()));

  target(list, 'mapping', 'Mapping.anonymous', () => {
    const m = lib.Mapping.anonymous(arg(r, ctx.SMALL_SIZES), r.chance(0.5) ? undefined : arg(r, [{ access: 'r' }, { access: 'none' }, { shared: true }, { access: 'rw', shared: false }]));
    ctx.anonymous.add(m);
    pool.add('mapping', m);
  }, 3);
  target(list, 'mapping', 'mapping.buffer', () => {
    const m = anyMapping();
    const b = m.buffer;
    // Bytes only where the pages cannot vanish (anonymous memory), and
    // writes only where they are allowed.
    if (!ctx.anonymous.has(m) || b.length === 0) return b.length;
    const i = r.int(Math.min(b.length, 4096));
    if (m.access === 'rw') b[i] = r.int(256);
    return b[i];
  }, 2);
  target(list, 'mapping', 'mapping.protect', () => anyMapping().protect(arg(r, ['none', 'r', 'rw'])), 2);
  target(list, 'mapping', 'mapping.unmap', () => (r.chance(0.5) ? anyMapping().unmap() : anyMapping()[Symbol.dispose]()));
  target(list, 'mapping', 'mapping getters', () => {
    const m = anyMapping();
    return [m.address, m.length, m.access, m.sealed, m.unmapped, inspect(m)];
  });
  target(list, 'mapping', 'mapping.seal', () => {
    if (!r.chance(0.05)) return undefined;
    const m = anyMapping();
    m.seal();
    ctx.sealed = (ctx.sealed ?? 0) + 1;
    return undefined;
  });
  target(list, 'probe', 'probe', () => (r.chance(0.05) ? lib.probe() : undefined));
}

function rawTargets(ctx, list) {
  const { raw, r, pool, arg, hostile, NUMBERS } = ctx;
  const C = raw.constants;
  const page = C.PAGE_SIZE;
  const fd = () => (r.chance(0.6) && pool.any('rawfd') !== undefined ? pool.any('rawfd') : r.pick([-1, 2 ** 31, 1e9, 1.5, Number.NaN, null, '0', 2 ** 31 - 1]));
  const addr = () => {
    const m = pool.any('rawmap');
    if (m && r.chance(0.6)) return m.addr + BigInt(page * r.int(2));
    const region = pool.any('region');
    if (region && r.chance(0.3)) {
      try {
        return region.address;
      } catch {
        return 0n;
      }
    }
    return r.pick([0n, 1n, 4096n, 2n ** 47n, 2n ** 64n - 4096n, -1, 'x', undefined, 0x7fff0000n]);
  };
  const len = () => arg(r, [0, 1, page, 2 * page, 3 * page - 1]);
  const buf = () => arg(r, [Buffer.alloc(16), new Uint8Array(64), Buffer.alloc(0)]);
  const addFd = (n) => pool.add('rawfd', n);
  const addMap = (a, length) => pool.add('rawmap', { addr: a, length });
  const region = () => {
    const g = pool.any('region');
    if (g) return g;
    const fresh = new raw.Region(page, 3, C.MAP_PRIVATE | C.MAP_ANONYMOUS, -1, 0, 1, page, true);
    pool.add('region', fresh);
    return fresh;
  };

  target(list, 'raw', 'raw.memfdCreate', () => addFd(raw.memfdCreate(arg(r, ['raw', Buffer.from('raw'), null]), arg(r, [C.MFD_CLOEXEC, C.MFD_CLOEXEC | C.MFD_ALLOW_SEALING, C.MFD_CLOEXEC | C.MFD_NOEXEC_SEAL]))), 2);
  target(list, 'raw', 'raw.memfdSecret', () => addFd(raw.memfdSecret(arg(r, [C.O_CLOEXEC, 0, 1]))));
  target(list, 'raw', 'raw.dup', () => addFd(raw.dup(fd())));
  target(list, 'raw', 'raw.close', () => {
    const n = fd();
    raw.close(n);
    const list2 = pool.items.get('rawfd') ?? [];
    const i = list2.indexOf(n);
    if (i >= 0) list2.splice(i, 1); // never reuse a closed number
  });
  target(list, 'raw', 'raw.addSeals', () => raw.addSeals(fd(), arg(r, [1, 2, 4, 8, 16, 32, 64, 2n ** 32n + 4n])));
  target(list, 'raw', 'raw.getSeals', () => raw.getSeals(fd()));
  target(list, 'raw', 'raw.ftruncate', () => raw.ftruncate(fd(), arg(r, [0, page, 3 * page, -1])));
  target(list, 'raw', 'raw.fstat', () => raw.fstat(fd()));
  target(list, 'raw', 'raw.fchmod', () => raw.fchmod(fd(), arg(r, [0o600, 0o777, 0o7777, 0o10000])));
  target(list, 'raw', 'raw.fallocate', () => raw.fallocate(fd(), arg(r, [0, 1, 3]), arg(r, [0, page]), arg(r, [1, page])));
  target(list, 'raw', 'raw.fcntl', () => raw.fcntl(fd(), arg(r, [C.F_GETFD, C.F_GETFL, C.F_GET_SEALS, 0, 4, 1033]), arg(r, [0, 1])));
  target(list, 'raw', 'raw.read', () => raw.read(fd(), buf(), arg(r, [0, 1]), arg(r, [0, 1, 16]), arg(r, [-1, 0, 5])));
  target(list, 'raw', 'raw.write', () => raw.write(fd(), buf(), arg(r, [0, 1]), arg(r, [0, 1, 16]), arg(r, [-1, 0, 5])));
  target(list, 'raw', 'raw.writev', () => raw.writev(fd(), arg(r, [[Buffer.from('a'), new Uint8Array(2)], [], [Buffer.alloc(3)]])));
  target(list, 'raw', 'raw.copyFileRange', () => raw.copyFileRange(fd(), arg(r, [null, 0]), fd(), arg(r, [null, 0]), arg(r, [0, 16, page])));
  target(list, 'raw', 'raw.sendfile', () => raw.sendfile(fd(), fd(), arg(r, [null, 0]), arg(r, [0, 16, page])));
  target(list, 'raw', 'raw.mmap', () => {
    const length = arg(r, [page, 2 * page, 3 * page]);
    const fixed = r.chance(0.2) ? C.MAP_FIXED : 0;
    const flags = arg(r, [C.MAP_PRIVATE | C.MAP_ANONYMOUS | fixed, C.MAP_SHARED | C.MAP_ANONYMOUS, C.MAP_SHARED | fixed]);
    const a = raw.mmap(fixed ? addr() : arg(r, [0n]), length, arg(r, [C.PROT_READ | C.PROT_WRITE, C.PROT_NONE, C.PROT_READ]), flags, r.chance(0.5) ? -1 : fd(), arg(r, [0, page]));
    if (!fixed) addMap(a, length);
  }, 2);
  target(list, 'raw', 'raw.munmap', () => raw.munmap(addr(), len()));
  target(list, 'raw', 'raw.mprotect', () => raw.mprotect(addr(), len(), arg(r, [C.PROT_NONE, C.PROT_READ, C.PROT_READ | C.PROT_WRITE])), 2);
  target(list, 'raw', 'raw.pkeyMprotect', () => raw.pkeyMprotect(addr(), len(), arg(r, [C.PROT_READ]), arg(r, [-1, 0, 1])));
  target(list, 'raw', 'raw.madvise', () => raw.madvise(addr(), len(), arg(r, [C.MADV_DONTNEED, C.MADV_FREE, C.MADV_WILLNEED, C.MADV_DONTFORK, 100, 101, C.MADV_GUARD_INSTALL])));
  target(list, 'raw', 'raw.mremap', () => {
    const newLength = arg(r, [page, 2 * page]);
    const a = raw.mremap(addr(), len(), newLength, arg(r, [0, C.MREMAP_MAYMOVE, C.MREMAP_MAYMOVE | C.MREMAP_FIXED]), addr());
    addMap(a, newLength);
  });
  target(list, 'raw', 'raw.mseal', () => {
    if (!r.chance(0.1)) return raw.mseal(addr(), len(), arg(r, [1, 2n ** 63n]));
    raw.mseal(addr(), len(), 0);
    ctx.sealed = (ctx.sealed ?? 0) + 1;
    return undefined;
  });
  target(list, 'raw', 'raw.mlock', () => (r.chance(0.5) ? raw.mlock(addr(), len()) : raw.munlock(addr(), len())));
  target(list, 'raw', 'raw.peek', () => raw.peek(addr(), arg(r, [0, 1, 16, page + 1, 2 ** 31])));
  target(list, 'raw', 'raw.poke', () => raw.poke(addr(), buf()));
  target(list, 'raw', 'raw.pkey', () => {
    const k = raw.pkeyAlloc(arg(r, [0]), arg(r, [0, 1, 2]));
    raw.pkeyFree(k);
  });
  target(list, 'raw', 'raw.misc', () => [raw.controlSyscallErrno(), raw.getrlimit(arg(r, [raw.rlimits.RLIMIT_MEMLOCK, raw.rlimits.RLIMIT_NOFILE, 99]))]);
  target(list, 'raw', 'raw.Region', () => pool.add('region', new raw.Region(arg(r, [1, 100, page, 3 * page]), arg(r, [C.PROT_READ | C.PROT_WRITE, C.PROT_READ, C.PROT_NONE, C.PROT_EXEC]), arg(r, [C.MAP_PRIVATE | C.MAP_ANONYMOUS, C.MAP_SHARED | C.MAP_ANONYMOUS, C.MAP_FIXED]), arg(r, [-1]), arg(r, [0]), arg(r, [0, 1, 2, 17]), arg(r, [page, page * 512, 3]), arg(r, [true, false]))), 2);
  target(list, 'raw', 'region methods', () => {
    const g = region();
    switch (r.int(10)) {
      case 0:
        return g.view().byteLength;
      case 1:
        return g.detach();
      case 2:
        return g.protect(arg(r, [C.PROT_NONE, C.PROT_READ, C.PROT_READ | C.PROT_WRITE]));
      case 3:
        return g.advise(arg(r, [C.MADV_DONTDUMP, C.MADV_WIPEONFORK, C.MADV_DONTNEED, 100]));
      case 4:
        return g.lock();
      case 5:
        return g.wipe();
      case 6:
        return g.read(arg(r, [0, 1, page]), buf(), arg(r, [0, 4]), arg(r, [0, 4, 16]));
      case 7:
        return g.write(arg(r, [0, 1, page]), buf(), arg(r, [0, 4]), arg(r, [0, 4, 16]));
      case 8:
        return r.chance(0.5) ? [g.address, g.length, g.mappedLength, g.prot, g.sealed, g.unmapped] : g.populate();
      default:
        return g.unmap();
    }
  }, 3);
  void hostile;
  void NUMBERS;
}

function execTargets(ctx, list) {
  const { lib, r, pool, arg, hostile } = ctx;
  const children = [];
  const sources = ['/bin/true', '/nonexistent', '/etc', '/etc/hostname', Buffer.from('#!/bin/sh\nexit 0\n'), Buffer.alloc(0), new URL('file:///bin/true')];
  const options = [undefined, { name: 'fuzz-exe' }, { seals: ['write'] }, { fallback: 'tmpfile' }, { fallback: 'none', name: '' }];
  const keep = (exe) => pool.add(exe instanceof lib.Memfd ? 'memfd' : 'exe', exe);
  const anyExe = () => pool.any('exe') ?? pool.any('memfd');

  target(list, 'exec', 'cloneExecutableSync', () => keep(lib.cloneExecutableSync(arg(r, sources), r.chance(0.5) ? r.pick(options) : hostile(r))));
  const clone = { family: 'exec', name: 'cloneExecutable', call: () => lib.cloneExecutable(arg(r, sources), r.chance(0.5) ? r.pick(options) : hostile(r)), adopt: keep };
  list.push(clone);
  target(list, 'exec', 'spawnSealed', () => {
    if (!r.chance(0.3)) return undefined;
    const exe = r.chance(0.7) ? anyExe() : hostile(r);
    const child = lib.spawnSealed(exe, arg(r, [[], ['-c', 'exit 3'], ['x']]), arg(r, [{ stdio: 'ignore' }, { stdio: 'ignore', argv0: 'fuzz' }, { stdio: 'ignore', script: 'refuse' }]));
    children.push(new Promise((resolve) => child.once('close', resolve).once('error', resolve)));
    return undefined;
  });
  ctx.releasers.set('exe', (x) => x[Symbol.dispose]?.() ?? x.close?.());
  // Node opens /dev/null once, for good, on the first spawn with ignored
  // stdio, and again on the first with piped stdio: not leaks, so before counting.
  for (const stdio of ['ignore', 'pipe']) {
    ctx.warmups.push(() => new Promise((resolve) => require('node:child_process').spawn('/bin/true', { stdio }).once('close', resolve)));
  }
  const previous = ctx.settle;
  ctx.settle = async () => {
    await previous?.();
    await Promise.all(children);
  };
}

function secretTargets(ctx, list) {
  const { lib, r, pool, arg, hostile } = ctx;
  const options = [undefined, { fallback: 'mlock' }, { backing: 'mlock' }, { access: 'none' }, { access: 'r' }, { fallback: 'error' }];
  const sources = ['key', Buffer.from('0123456789abcdef'), new Uint32Array(4), new DataView(new ArrayBuffer(8))];
  const keep = (s) => pool.add('secret', s);
  // Sizes: hostile, or valid but small. A valid multi-megabyte secret really
  // allocates (and locks) that much memory, which is not what a fuzzer is for.
  const size = (valid) => {
    const v = arg(r, valid);
    return typeof v === 'number' && Number.isInteger(v) && v > 65536 && v <= 2 ** 31 ? r.pick([2 ** 31 + 1, 2 ** 40, 4096]) : v;
  };
  const anySecret = () => pool.any('secret') ?? keep(lib.SecretBuffer.alloc(32)) ?? pool.any('secret');
  const anyPool = () => {
    const p = pool.any('spool');
    if (p) return p;
    const fresh = new lib.SecretPool();
    pool.add('spool', fresh);
    return fresh;
  };

  target(list, 'secret', 'SecretBuffer.alloc', () => keep(lib.SecretBuffer.alloc(size([1, 16, 32, 100, 4096, 5000]), r.chance(0.6) ? r.pick(options) : hostile(r))), 2);
  target(list, 'secret', 'SecretBuffer.from', () => keep(lib.SecretBuffer.from(arg(r, sources), r.chance(0.5) ? undefined : arg(r, [{ wipeSource: true }, { wipeSource: false, fallback: 'mlock' }]))));
  target(list, 'secret', 'SecretBuffer.stats', () => lib.SecretBuffer.stats());
  target(list, 'secret', 'new SecretPool', () => pool.add('spool', new lib.SecretPool(r.chance(0.6) ? undefined : arg(r, [{ fallback: 'mlock' }, { backing: 'mlock' }, {}]))));
  target(list, 'secret', 'pool.alloc', () => keep(anyPool().alloc(size([1, 16, 32, 100, 2048, 2049, 4096]))), 2);
  target(list, 'secret', 'pool.from', () => keep(anyPool().from(arg(r, sources), r.chance(0.6) ? undefined : hostile(r))));
  target(list, 'secret', 'pool.stats/inspect', () => [anyPool().stats(), inspect(anyPool()), anyPool().destroyed]);
  target(list, 'secret', 'pool.destroy', () => (r.chance(0.2) ? (r.chance(0.5) ? anyPool().destroy() : anyPool()[Symbol.dispose]()) : undefined));
  target(list, 'secret', 'secret.buffer', () => {
    const s = anySecret();
    const b = s.buffer;
    // Bytes only where the access allows them (a write to 'r' memory faults by design).
    if (b.length > 0 && s.access !== 'none') void b[r.int(b.length)];
    if (b.length > 0 && s.access === 'rw') b[r.int(b.length)] = r.int(256);
    return b.length;
  }, 2);
  target(list, 'secret', 'secret getters', () => {
    const s = anySecret();
    return [s.length, s.backing, s.disposed, s.sealed, s.pooled, s.access, s.address, `${s}`, String(s), JSON.stringify(s), inspect(s)];
  });
  target(list, 'secret', 'secret.protect', () => anySecret().protect(arg(r, ['none', 'r', 'rw'])), 2);
  target(list, 'secret', 'secret.read', () => anySecret().read(arg(r, [Buffer.alloc(8), new Uint8Array(64), Buffer.alloc(0)]), arg(r, [0, 1, 31])), 2);
  target(list, 'secret', 'secret.write', () => anySecret().write(arg(r, [Buffer.from('abc'), new Uint8Array(64)]), arg(r, [0, 1, 31])), 2);
  target(list, 'secret', 'secret.equals', () => anySecret().equals(r.chance(0.5) ? anySecret() : arg(r, [Buffer.alloc(32), Buffer.from('key')])));
  target(list, 'secret', 'secret.use', () => anySecret().use(r.chance(0.8) ? (bytes) => bytes.length : hostile(r), r.chance(0.7) ? undefined : hostile(r)));
  target(list, 'secret', 'secret.seal', () => {
    if (!r.chance(0.05)) return undefined;
    anySecret().seal(r.chance(0.5) ? undefined : arg(r, [{ access: 'r' }, { access: 'rw' }, { access: 'none' }]));
    ctx.sealed = (ctx.sealed ?? 0) + 1;
    return undefined;
  });
  target(list, 'secret', 'secret.dispose', () => (r.chance(0.5) ? anySecret().dispose() : anySecret()[Symbol.dispose]()));
  ctx.releasers.set('spool', (p) => p.destroy());
}

function conformTargets(ctx, list) {
  const { lib, r, raw, arg, hostile, pool } = ctx;
  // Mostly the argument checks; now and then a real run of a few fast cases.
  list.push({
    family: 'conform',
    name: 'runConformance',
    call: () => {
      if (r.chance(0.01)) return lib.runConformance({ filter: 'memfd.name.*', concurrency: 1 });
      // Options that are never valid (a valid {} would run the whole catalog).
      const bad = r.pick([
        () => hostile(r),
        () => ({ filter: hostile(r) }),
        () => ({ strict: r.pick(['yes', 1, null]) }),
        () => ({ concurrency: r.pick([0, -1, 1.5, '2', 1000]) }),
        () => ({ cases: r.pick(['x', [1], [{ id: 'x' }], [null]]) }),
        () => ({ modules: r.pick(['x', ['relative.js'], [1]]) }),
        () => ({ onResult: r.pick([1, 'f', {}]) }),
        () => ({ env: r.pick([null, 1]) }),
        () => ({ unknownOption: true }),
        () => r.pick([null, 'x', 5, [], true]),
      ])();
      if (bad === undefined || (typeof bad === 'object' && bad !== null && Object.keys(bad).length === 0 && !(bad instanceof Array))) return undefined;
      return lib.runConformance(bad);
    },
  });
  // The suite's process helpers, with arguments outside what they accept
  // (in range, capDrop, setrlimit and unshare change this process for good,
  // which the conformance tests exercise on purpose in their own children).
  const outside = () => arg(r, [-1, 2 ** 31, 1e12, 1.5, Number.NaN, '1', null, undefined, {}, 2n ** 70n]);
  target(list, 'conform', 'raw.procs', () => {
    switch (r.int(9)) {
      case 0:
        return raw.forkProbe(outside(), arg(r, [0n, 1n]), outside(), outside(), outside());
      case 1:
        return raw.forkExecveat(outside(), arg(r, ['', '/nonexistent', 'x'.repeat(5000)]), arg(r, [[], ['a', 1]]), arg(r, [[], [{}]]), outside(), outside());
      case 2:
        return raw.unshare(outside());
      case 3:
        return raw.setrlimit(outside(), outside(), outside());
      case 4:
        return raw.capDrop(arg(r, [64, 100, -1, 1.5, '0', null]));
      case 5: {
        const m = pool.any('rawmap');
        return raw.vmsplice(m && r.chance(0.5) ? m.addr : arg(r, [0n, 1n, 2n ** 63n]), arg(r, [0, 1, 4096]));
      }
      case 6: {
        const m = pool.any('rawmap');
        return raw.pipeRoundTrip(m && r.chance(0.5) ? m.addr : arg(r, [0n, 1n]), arg(r, [0, 1, 16]));
      }
      case 7: {
        const m = pool.any('rawmap');
        const held = raw.vmspliceHold(m && r.chance(0.5) ? m.addr : arg(r, [0n, 1n, 2n ** 63n, 'x']), arg(r, [0, 1, 4096, -1]));
        raw.close(held[0]);
        raw.close(held[1]);
        return held;
      }
      default:
        return raw.policyProbe(arg(r, ['execveat', 'ptrace', 'process_vm_readv', 'vmsplice', 'pkey_mprotect', 'nope', '']));
    }
  });
}

/** Every family's targets. Families added by later modules register here. */
export function families(ctx) {
  const list = [];
  ctx.anonymous = new WeakSet();
  ctx.warmups = [];
  ctx.releasers.set('rawfd', (n) => ctx.raw.close(n));
  ctx.releasers.set('rawmap', (m) => ctx.raw.munmap(m.addr, m.length));
  list.cleanup = () => {
    // What the raw calls made, as the addon itself keeps count of it.
    const page = BigInt(ctx.raw.constants.PAGE_SIZE);
    for (const [start, end] of ctx.raw.ownedRanges(false)) {
      try {
        ctx.raw.munmap(start, Number(end - start));
      } catch {
        // munmap is all-or-nothing: a sealed page inside the range keeps the
        // rest too. Page by page, only the sealed pages stay until exit.
        for (let at = start; at < end; at += page) {
          try {
            ctx.raw.munmap(at, Number(page));
          } catch {
            // Sealed.
          }
        }
      }
    }
  };
  ctx.releasers.set('region', (g) => g.unmap());
  coreTargets(ctx, list);
  rawTargets(ctx, list);
  execTargets(ctx, list);
  secretTargets(ctx, list);
  conformTargets(ctx, list);
  return list;
}
