import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, openSync, readdirSync, readlinkSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName, inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { constants, Memfd, MemsealError, SyscallError, UnsupportedError } from '../lib/index.js';
import { caps, itIf } from './helpers/caps.js';

const ALLOW_SEALING_FIXTURE = fileURLToPath(new URL('./fixtures/memfd-allow-sealing.mjs', import.meta.url));

const open: Memfd[] = [];
function track(m: Memfd): Memfd {
  open.push(m);
  return m;
}
afterEach(() => {
  for (const m of open.splice(0)) m.close();
});

function expectSyscallError(fn: () => unknown, code: string, syscall: string): SyscallError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(SyscallError);
  const err = caught as SyscallError;
  expect(err.code).toBe(code);
  expect(err.syscall).toBe(syscall);
  expect(err.errno).toBeLessThan(0);
  expect(getSystemErrorName(err.errno)).toBe(err.code);
  expect(err.message.startsWith(`${code}: `)).toBe(true);
  return err;
}

describe('Memfd.create', () => {
  itIf(caps.execFlags, 'needs MFD_NOEXEC_SEAL (Linux 6.3+)')('defaults to noexec-seal: mode 0666 and the exec seal', () => {
    const m = track(Memfd.create('noexec'));
    expect(m.exec).toBe('noexec-seal');
    expect(m.mode).toBe(0o666);
    expect([...m.seals]).toEqual(['exec']);
    expect(m.size).toBe(0);
    expect(m.name).toBe('noexec');
  });

  itIf(caps.execFlags, 'needs MFD_EXEC (Linux 6.3+)')('exec gives mode 0777', () => {
    const m = track(Memfd.create('exec', { exec: 'exec' }));
    expect(m.mode).toBe(0o777);
    expect(m.seals.has('exec')).toBe(false);
  });

  itIf(caps.execFlags && caps.memfdNoexec === 0, 'needs Linux 6.3+ with vm.memfd_noexec=0')(
    'kernel-default passes neither flag: 0777 here, and sealable only with allowSealing',
    () => {
      const sealable = track(Memfd.create('kd', { exec: 'kernel-default' }));
      expect(sealable.mode).toBe(0o777);
      expect(sealable.seals.size).toBe(0);
      const unsealable = track(Memfd.create('kd2', { exec: 'kernel-default', allowSealing: false }));
      expect([...unsealable.seals]).toEqual(['seal']);
    },
  );

  it('shows its name in /proc/self/fd', () => {
    const m = track(Memfd.create('visible name'));
    expect(readlinkSync(`/proc/self/fd/${m.fd}`)).toBe('/memfd:visible name (deleted)');
  });

  it('sets close-on-exec unless cloexec: false', () => {
    const a = track(Memfd.create('a'));
    const b = track(Memfd.create('b', { cloexec: false }));
    const flags = (fd: number): string => readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').match(/flags:\s+(\d+)/)![1]!;
    expect(Number.parseInt(flags(a.fd), 8) & constants.O_CLOEXEC).toBe(constants.O_CLOEXEC);
    expect(Number.parseInt(flags(b.fd), 8) & constants.O_CLOEXEC).toBe(0);
  });

  it('accepts the 249-byte name limit and passes the kernel EINVAL for 250 bytes', () => {
    track(Memfd.create('n'.repeat(249)));
    const err = expectSyscallError(() => Memfd.create('n'.repeat(250)), 'EINVAL', 'memfd_create');
    expect(err.hint).toMatch(/249 bytes/);
  });

  it('accepts an empty name', () => {
    const m = track(Memfd.create(''));
    expect(readlinkSync(`/proc/self/fd/${m.fd}`)).toBe('/memfd: (deleted)');
  });

  it.each([
    [undefined, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [42, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [Buffer.from('x'), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['a\0b', TypeError, 'ERR_INVALID_ARG_VALUE'],
  ])('rejects the name %j', (name, cls, code) => {
    expect(() => Memfd.create(name as string)).toThrow(cls);
    expect(() => Memfd.create(name as string)).toThrow(expect.objectContaining({ code }));
  });

  it.each([
    [null, 'ERR_INVALID_ARG_TYPE'],
    [[], 'ERR_INVALID_ARG_TYPE'],
    ['x', 'ERR_INVALID_ARG_TYPE'],
    [{ exek: 'exec' }, 'ERR_INVALID_ARG_VALUE'],
    [{ exec: 'yes' }, 'ERR_INVALID_ARG_VALUE'],
    [{ exec: 1 }, 'ERR_INVALID_ARG_TYPE'],
    [{ allowSealing: 'true' }, 'ERR_INVALID_ARG_TYPE'],
    [{ cloexec: 0 }, 'ERR_INVALID_ARG_TYPE'],
    [{ hugetlb: '4MB' }, 'ERR_INVALID_ARG_VALUE'],
    [{ fallback: 'silently' }, 'ERR_INVALID_ARG_VALUE'],
  ])('rejects the options %j', (options, code) => {
    expect(() => Memfd.create('x', options as never)).toThrow(expect.objectContaining({ code }));
  });

  itIf(caps.hugetlb, 'needs hugetlbfs')('creates a hugetlb memfd (pages are only needed when mapped)', () => {
    const m = track(Memfd.create('huge', { hugetlb: true, exec: 'kernel-default' }));
    expect(readlinkSync(`/proc/self/fd/${m.fd}`)).toBe('/memfd:huge (deleted)');
    expect(() => m.write('x')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  itIf(caps.hugetlb, 'needs hugetlbfs')('passes the kernel refusal of a 1GB huge page size when it has none free', () => {
    // Either the size exists (then the memfd is created) or the kernel says which error.
    try {
      track(Memfd.create('huge1g', { hugetlb: '1GB', exec: 'kernel-default' }));
    } catch (err) {
      expect(err).toBeInstanceOf(SyscallError);
      expect((err as SyscallError).hint).toMatch(/huge pages/);
    }
  });
});

describe('exec flags on a kernel without them', () => {
  // The decision logic is exercised against a simulated pre-6.3 answer: the
  // kernel's EINVAL for an unknown flag, classified with the kernel version.
  it('explains EINVAL from an unknown exec flag as UnsupportedError on old kernels', async () => {
    const { explainUnavailable } = await import('../lib/features.js');
    const einval = new SyscallError('memfd_create', -22);
    const result = explainUnavailable(einval, 'MFD_NOEXEC_SEAL');
    if (caps.execFlags) {
      expect(result).toBe(einval); // 6.3+: a real EINVAL stays one
    } else {
      expect(result).toBeInstanceOf(UnsupportedError);
      expect(result).toMatchObject({ feature: 'MFD_NOEXEC_SEAL', since: '6.3', reason: 'kernel' });
    }
  });
});

describe('seals', () => {
  it('adds seals and reports them by name', () => {
    const m = track(Memfd.create('s', { exec: 'kernel-default' }));
    m.addSeals('shrink', 'grow');
    expect(m.seals).toEqual(new Set(['shrink', 'grow']));
    m.addSeals('shrink'); // re-adding is a no-op
    expect(m.seals).toEqual(new Set(['shrink', 'grow']));
  });

  it('gives EPERM on a write after the write seal', () => {
    const m = track(Memfd.create('w'));
    m.write('hello');
    m.addSeals('write');
    const err = expectSyscallError(() => m.write('x', 0), 'EPERM', 'pwrite');
    expect(err.hint).toMatch(/sealed against writes/);
    expectSyscallError(() => m.write('x'), 'EPERM', 'write');
    expect(m.read().toString()).toBe('hello');
  });

  itIf(caps.execFlags, 'needs MFD_NOEXEC_SEAL (Linux 6.3+)')(
    'allowSealing: false holds with the default noexec-seal too, which the kernel would leave sealable: the seal seal is added',
    () => {
      const m = track(Memfd.create('nosealing-default', { allowSealing: false }));
      expect(m.exec).toBe('noexec-seal');
      expect(m.mode).toBe(0o666);
      expect([...m.seals].sort()).toEqual(['exec', 'seal']);
      const err = expectSyscallError(() => m.addSeals('write'), 'EPERM', 'fcntl');
      expect(err.hint).toMatch(/allowSealing/);
      expectSyscallError(() => m.addSeals('grow', 'shrink'), 'EPERM', 'fcntl');
      // With sealing allowed, the same memfd takes seals.
      const sealable = track(Memfd.create('sealing-default'));
      sealable.addSeals('write');
      expect([...sealable.seals].sort()).toEqual(['exec', 'write']);
    },
  );

  itIf(caps.execFlags && caps.root && caps.pidNamespace, 'needs Linux 6.3+, root and pid namespaces (unshare)')(
    'allowSealing: false holds for every exec mode at vm.memfd_noexec 0, 1 and 2 (in a child pid namespace)',
    () => {
      const r = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, ALLOW_SEALING_FIXTURE], {
        encoding: 'utf8',
        env: { ...process.env, MEMSEAL_PARENT_PIDNS: readlinkSync('/proc/self/ns/pid') },
        timeout: 60_000,
      });
      expect(r.stderr).toBe('');
      const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
      expect(r.status, JSON.stringify(report)).toBe(0);
      const sealedAgainstExec = { mode: 0o666, seals: ['exec', 'seal'], addWrite: 'EPERM' };
      const executable = { mode: 0o777, seals: ['seal'], addWrite: 'EPERM' };
      expect(report).toEqual({
        0: { sysctl: '0', 'noexec-seal': sealedAgainstExec, exec: executable, 'kernel-default': executable },
        1: { sysctl: '1', 'noexec-seal': sealedAgainstExec, exec: executable, 'kernel-default': sealedAgainstExec },
        2: { sysctl: '2', 'noexec-seal': sealedAgainstExec, exec: { created: 'EACCES' }, 'kernel-default': sealedAgainstExec },
      });
    },
  );

  it('gives EPERM for a seal when sealing was not allowed', () => {
    const m = track(Memfd.create('nosealing', { exec: 'kernel-default', allowSealing: false }));
    const err = expectSyscallError(() => m.addSeals('write'), 'EPERM', 'fcntl');
    expect(err.hint).toMatch(/seal/);
  });

  it('gives EPERM for any seal after the seal seal', () => {
    const m = track(Memfd.create('sealed'));
    m.addSeals('seal');
    expectSyscallError(() => m.addSeals('grow'), 'EPERM', 'fcntl');
  });

  it('gives EBUSY sealing write while a shared writable mapping exists, and succeeds after unmap', () => {
    const m = track(Memfd.create('busy'));
    m.truncate(4096);
    const map = m.map({ access: 'rw' });
    const err = expectSyscallError(() => m.addSeals('write'), 'EBUSY', 'fcntl');
    expect(err.hint).toMatch(/unmap/);
    expect(m.seals.has('write')).toBe(false);
    map.unmap();
    m.addSeals('write');
    expect(m.seals.has('write')).toBe(true);
  });

  it('future-write blocks new writes while an existing mapping keeps writing', () => {
    const m = track(Memfd.create('fw'));
    m.truncate(4096);
    const map = m.map({ access: 'rw' });
    m.addSeals('future-write');
    map.buffer.write('still', 0);
    expect(m.read(0, 5).toString()).toBe('still');
    expectSyscallError(() => m.write('no', 0), 'EPERM', 'pwrite');
    expectSyscallError(() => m.map({ access: 'rw' }), 'EPERM', 'mmap');
    map.unmap();
  });

  it('requireSeals throws a coded error naming what is missing', () => {
    const m = track(Memfd.create('req', { exec: 'kernel-default' }));
    m.addSeals('write', 'shrink');
    m.requireSeals('write');
    m.requireSeals('write', 'shrink');
    expect(() => m.requireSeals('write', 'grow', 'seal')).toThrow(MemsealError);
    expect(() => m.requireSeals('grow')).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_MISSING_SEALS', message: expect.stringMatching(/grow/) }));
  });

  it.each([['writ'], [''], [7], [null], ['SEAL']])('rejects the seal name %j before any syscall', (name) => {
    const m = track(Memfd.create('bad'));
    expect(() => m.addSeals(name as never)).toThrow(expect.objectContaining({ code: expect.stringMatching(/^ERR_INVALID_ARG_(TYPE|VALUE)$/) }));
    expect(() => m.requireSeals(name as never)).toThrow(TypeError);
    expect(m.seals).toEqual(new Set(['exec']));
  });

  itIf(caps.sealExec, 'needs F_SEAL_EXEC (Linux 6.3+)')('the exec seal freezes the execute bits', () => {
    const m = track(Memfd.create('x'));
    const err = expectSyscallError(() => m.chmod(0o755), 'EPERM', 'fchmod');
    expect(err.hint).toMatch(/exec/);
    m.chmod(0o600);
    expect(m.mode).toBe(0o600);
  });
});

describe('write, read, truncate', () => {
  it('writes at a position and at the file offset, and reads back', () => {
    const m = track(Memfd.create('rw'));
    expect(m.write('hello')).toBe(5);
    expect(m.write(new Uint16Array([0x6968]))).toBe(2); // "hi" little-endian, at the offset
    expect(m.write(Buffer.from('HE'), 0)).toBe(2);
    expect(m.read().toString()).toBe('HEllohi');
    expect(m.read(2, 3).toString()).toBe('llo');
    expect(m.read(5).toString()).toBe('hi');
    expect(m.read(100).length).toBe(0);
    expect(m.size).toBe(7);
  });

  it('truncates up and down', () => {
    const m = track(Memfd.create('t'));
    m.truncate(10_000);
    expect(m.size).toBe(10_000);
    expect(m.read(9_990).equals(Buffer.alloc(10))).toBe(true);
    m.truncate(3);
    expect(m.size).toBe(3);
  });

  it('gives EPERM truncating under shrink and grow seals', () => {
    const m = track(Memfd.create('t2'));
    m.truncate(100);
    m.addSeals('shrink', 'grow');
    expectSyscallError(() => m.truncate(50), 'EPERM', 'ftruncate');
    expectSyscallError(() => m.truncate(200), 'EPERM', 'ftruncate');
    m.truncate(100);
  });

  it.each([
    ['write', (m: Memfd) => m.write(42 as never)],
    ['write position', (m: Memfd) => m.write('x', -1)],
    ['write position', (m: Memfd) => m.write('x', 1.5)],
    ['write position', (m: Memfd) => m.write('x', 2 ** 53)],
    ['read position', (m: Memfd) => m.read(-1)],
    ['read length', (m: Memfd) => m.read(0, Number.NaN)],
    ['truncate', (m: Memfd) => m.truncate(-1)],
    ['truncate', (m: Memfd) => m.truncate('5' as never)],
    ['chmod', (m: Memfd) => m.chmod(0o10000)],
  ])('validates %s arguments', (_label, fn) => {
    const m = track(Memfd.create('v'));
    expect(() => fn(m)).toThrow(expect.objectContaining({ code: expect.stringMatching(/^ERR_(INVALID_ARG_TYPE|OUT_OF_RANGE)$/) }));
  });
});

describe('Memfd.from', () => {
  it('writes the data and seals it against every change by default', () => {
    const m = track(Memfd.from('payload'));
    expect(m.read().toString()).toBe('payload');
    expect(m.seals).toEqual(new Set(caps.execFlags ? ['seal', 'shrink', 'grow', 'write', 'exec'] : ['seal', 'shrink', 'grow', 'write']));
    expect(() => m.write('x', 0)).toThrow(expect.objectContaining({ code: 'EPERM' }));
  });

  it('takes the seals and name it is given', () => {
    const m = track(Memfd.from(new Uint8Array([1, 2, 3]), { name: 'bytes', seals: ['grow'] }));
    expect(m.name).toBe('bytes');
    expect(m.seals.has('grow')).toBe(true);
    expect(m.seals.has('write')).toBe(false);
  });

  it('refuses bad seals before creating anything', () => {
    const before = readFdCount();
    expect(() => Memfd.from('x', { seals: ['nope' as never] })).toThrow(TypeError);
    expect(() => Memfd.from('x', { seals: 'write' as never })).toThrow(TypeError);
    expect(() => Memfd.from(undefined as never)).toThrow(TypeError);
    expect(readFdCount()).toBe(before);
  });
});

describe('Memfd.fromFd', () => {
  it('wraps a duplicate of a memfd descriptor and reads its name', () => {
    const original = track(Memfd.create('adopted', { exec: 'kernel-default' }));
    const adopted = track(Memfd.fromFd(original.fd));
    expect(adopted.fd).not.toBe(original.fd);
    expect(adopted.name).toBe('adopted');
    adopted.addSeals('grow');
    expect(original.seals.has('grow')).toBe(true); // same file
    adopted.close();
    expect(original.size).toBe(0); // the caller's descriptor is still open
    expect(track(Memfd.fromFd(original.fd, { name: 'renamed' })).name).toBe('renamed');
  });

  it('refuses a regular file with ERR_MEMSEAL_NOT_MEMFD', () => {
    const fd = openSync('/proc/self/status', 'r');
    try {
      expect(() => Memfd.fromFd(fd)).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_NOT_MEMFD' }));
    } finally {
      closeSync(fd);
    }
  });

  it('gives EBADF for a descriptor that is not open, and validates the number', () => {
    expectSyscallError(() => Memfd.fromFd(2 ** 30), 'EBADF', 'fcntl');
    expect(() => Memfd.fromFd(-1)).toThrow(RangeError);
    expect(() => Memfd.fromFd('3' as never)).toThrow(TypeError);
  });
});

describe('close and use after close', () => {
  it('is idempotent and every method then throws ERR_MEMSEAL_CLOSED', () => {
    const m = Memfd.create('c');
    m.close();
    m.close();
    m[Symbol.dispose]();
    expect(m.closed).toBe(true);
    // The number may be reused by the next open; the closed Memfd never touches it.
    const reuse = openSync('/proc/self/status', 'r');
    try {
      for (const use of [
        () => m.fd,
        () => m.size,
        () => m.mode,
        () => m.seals,
        () => m.addSeals('write'),
        () => m.requireSeals('write'),
        () => m.write('x'),
        () => m.read(),
        () => m.truncate(1),
        () => m.chmod(0o600),
        () => m.map(),
      ]) {
        expect(use).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_CLOSED' }));
      }
      expect(fstatSync(reuse).isFile()).toBe(true); // still open, still the status file
    } finally {
      closeSync(reuse);
    }
  });

  it('closes at the end of a using block', () => {
    let fd = -1;
    let held: Memfd | undefined;
    {
      using m = Memfd.create('scoped');
      fd = m.fd;
      held = m;
    }
    expect(held!.closed).toBe(true);
    expect(() => readlinkSync(`/proc/self/fd/${fd}`)).toThrow();
  });
});

describe('inspect', () => {
  it('shows a summary, and the closed state', () => {
    const m = Memfd.create('insp');
    m.write('secret bytes');
    const shown = inspect(m);
    expect(shown).toMatch(/^Memfd \{ fd: \d+, name: "insp", size: 12/);
    expect(shown).not.toMatch(/secret bytes/);
    m.close();
    expect(inspect(m)).toBe('Memfd <closed "insp">');
  });
});

function readFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}
