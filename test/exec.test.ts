import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  cloneExecutable,
  cloneExecutableSync,
  ExecError,
  ExecRefusedError,
  Memfd,
  MemsealError,
  spawnSealed,
  SyscallError,
} from '../lib/index.js';
import { binding } from '../lib/binding.js';
import { constants } from '../lib/constants.js';
import { caps, itIf } from './helpers/caps.js';
import { emulator } from './helpers/emulation.js';
import { exited, openFds, output, waitFor } from './helpers/exec.js';

const SH = '/bin/sh';
const FIXTURE = fileURLToPath(new URL('./fixtures/exec-noexec-sysctl.mjs', import.meta.url));
const BLOCKED_FIXTURE = fileURLToPath(new URL('./fixtures/exec-blocked.mjs', import.meta.url));
const SECCOMP_LAUNCHER = fileURLToPath(new URL('./fixtures/seccomp-deny-exec-memfd.c', import.meta.url));
const hasCc = spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0;
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const BASE_SEALS = ['seal', 'shrink', 'grow', 'write'] as const;

let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(join(tmpdir(), 'memseal-exec-'));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function file(name: string, contents: string | Buffer, mode: number): string {
  const path = join(dir, name);
  fs.writeFileSync(path, contents);
  fs.chmodSync(path, mode);
  return path;
}

function expectSyscallError(err: unknown, code: string, syscall: string): void {
  expect(err).toBeInstanceOf(SyscallError);
  const e = err as SyscallError;
  expect(e.code).toBe(code);
  expect(e.syscall).toBe(syscall);
  expect(e.errno).toBeLessThan(0);
  expect(getSystemErrorName(e.errno)).toBe(e.code);
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('cloneExecutable', () => {
  it('copies /bin/sh into an MFD_EXEC memfd, read+execute only, whose seals prove it cannot change', async () => {
    using exe = await cloneExecutable(SH);
    expect(exe).toBeInstanceOf(Memfd);
    expect(exe.name).toBe('sh');
    expect(exe.read().equals(fs.readFileSync(SH))).toBe(true);
    expect(exe.mode).toBe(fs.statSync(SH).mode & 0o555);
    const seals = exe.seals;
    for (const s of BASE_SEALS) expect(seals.has(s)).toBe(true);
    expect(seals.has('exec')).toBe(caps.sealExec);
    expect(exe.exec).toBe(caps.execFlags ? 'exec' : 'kernel-default');
    expect(fs.readlinkSync(`/proc/self/fd/${exe.fd}`)).toBe('/memfd:sh (deleted)');
    expect(binding().fcntl(exe.fd, constants.F_GETFD, 0) & constants.FD_CLOEXEC).toBe(constants.FD_CLOEXEC);
  });

  it('cloneExecutableSync makes the same clone', () => {
    using exe = cloneExecutableSync(SH, { name: 'shell' });
    expect(exe.name).toBe('shell');
    expect(exe.read().equals(fs.readFileSync(SH))).toBe(true);
    for (const s of BASE_SEALS) expect(exe.seals.has(s)).toBe(true);
  });

  it('clones from a descriptor without moving its file position', async () => {
    const fd = fs.openSync(SH, 'r');
    onTestFinished(() => fs.closeSync(fd));
    const head = Buffer.alloc(16);
    fs.readSync(fd, head, 0, 16, null); // file position now 16
    using a = await cloneExecutable(fd);
    using b = cloneExecutableSync(fd);
    expect(a.read().equals(fs.readFileSync(SH))).toBe(true);
    expect(b.read().equals(fs.readFileSync(SH))).toBe(true);
    expect(a.name).toBe(basename(fs.realpathSync(SH))); // the name the descriptor's link shows
    const next = Buffer.alloc(16);
    fs.readSync(fd, next, 0, 16, null);
    expect(next.equals(fs.readFileSync(SH).subarray(16, 32))).toBe(true);
  });

  it('clones bytes and streams, with the default name and mode 0555', async () => {
    const bytes = fs.readFileSync('/bin/true');
    using fromBytes = await cloneExecutable(bytes);
    using fromSync = cloneExecutableSync(new Uint8Array(bytes));
    using fromStream = await cloneExecutable(Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]));
    for (const exe of [fromBytes, fromSync, fromStream]) {
      expect(exe.name).toBe('memseal-exec');
      expect(exe.mode).toBe(0o555);
      expect(exe.read().equals(bytes)).toBe(true);
      expect(exe.seals.has('write')).toBe(true);
    }
    const { code } = await exited(spawnSealed(fromStream));
    expect(code).toBe(0);
  });

  it('adds only the seals asked for', async () => {
    using exe = await cloneExecutable(SH, { seals: ['write'] });
    expect([...exe.seals]).toEqual(['write']);
    expect((thrown(() => spawnSealed(exe)) as MemsealError).code).toBe('ERR_MEMSEAL_MISSING_SEALS');
  });

  itIf(caps.sealExec, 'needs F_SEAL_EXEC (Linux 6.3+)')(
    'a sealed clone takes a chmod that keeps its execute bits (0755, 0777) and refuses one that changes them, and stays unwritable',
    () => {
      using exe = cloneExecutableSync(Buffer.from('#!/bin/sh\nexit 0\n'));
      expect(exe.mode).toBe(0o555);
      exe.chmod(0o755);
      expect(exe.mode).toBe(0o755);
      exe.chmod(0o777);
      expect(exe.mode).toBe(0o777);
      const err = thrown(() => exe.chmod(0o444)) as SyscallError;
      expectSyscallError(err, 'EPERM', 'fchmod');
      expect(err.hint).toMatch(/only modes with the same execute bits/);
      expect(exe.mode).toBe(0o777);
      expectSyscallError(thrown(() => exe.write('changed', 0)), 'EPERM', 'pwrite');
      expect(exe.read().toString()).toBe('#!/bin/sh\nexit 0\n');
    },
  );

  it("does not fall back when an executable memfd can be made, even with fallback: 'tmpfile'", async () => {
    using exe = await cloneExecutable(SH, { fallback: 'tmpfile' });
    expect(exe).toBeInstanceOf(Memfd);
  });

  it('detects a source that changes size during the copy', async () => {
    // The source's size is read synchronously when cloneExecutable is
    // called, and checked again on the main thread after the copy: the
    // truncation below always falls between the two, however fast the copy.
    const big = file('grows', Buffer.alloc(64 << 20, 0x90), 0o755);
    const fd = fs.openSync(big, 'r');
    onTestFinished(() => fs.closeSync(fd));
    const before = openFds();
    const shrinking = cloneExecutable(fd);
    fs.truncateSync(big, 4096);
    const err = await rejection(shrinking);
    expect(err).toBeInstanceOf(ExecError);
    expect((err as ExecError).code).toBe('ERR_MEMSEAL_SOURCE_CHANGED');
    expect((err as ExecError).message).toContain('67108864 bytes before');

    const growing = cloneExecutable(fd);
    fs.appendFileSync(big, 'more');
    expect(((await rejection(growing)) as ExecError).code).toBe('ERR_MEMSEAL_SOURCE_CHANGED');
    expect(openFds()).toEqual(before); // the discarded clones were closed
  });
});

describe('cloneExecutable: bad input', () => {
  it('gives typed errors and leaks no descriptor', async () => {
    const empty = file('empty', '', 0o755);
    const plain = file('plain', '#!/bin/sh\n', 0o644);
    const fifo = join(dir, 'fifo');
    spawnSync('mkfifo', [fifo]);
    const closedFd = 1_000_000; // never open here (a just-closed number would be reused at once)
    cloneExecutableSync(SH).close(); // warm up lazily opened handles
    (await cloneExecutable(SH)).close();
    const before = openFds();

    const cases: [unknown, (err: unknown) => void][] = [
      [join(dir, 'missing'), (e) => expectSyscallError(e, 'ENOENT', 'open')],
      [dir, (e) => expect((e as ExecError).code).toBe('ERR_MEMSEAL_NOT_REGULAR_FILE')],
      [fifo, (e) => expect((e as ExecError).code).toBe('ERR_MEMSEAL_NOT_REGULAR_FILE')],
      [empty, (e) => expect((e as ExecError).code).toBe('ERR_MEMSEAL_EMPTY_SOURCE')],
      [plain, (e) => expect((e as ExecError).code).toBe('ERR_MEMSEAL_NOT_EXECUTABLE')],
      [closedFd, (e) => expectSyscallError(e, 'EBADF', 'fstat')],
      [Buffer.alloc(0), (e) => expect((e as ExecError).code).toBe('ERR_MEMSEAL_EMPTY_SOURCE')],
      [-1, (e) => expect((e as { code: string }).code).toBe('ERR_INVALID_ARG_VALUE')],
      ['', (e) => expect((e as { code: string }).code).toBe('ERR_INVALID_ARG_VALUE')],
      [{}, (e) => expect((e as { code: string }).code).toBe('ERR_INVALID_ARG_TYPE')],
      [null, (e) => expect((e as { code: string }).code).toBe('ERR_INVALID_ARG_TYPE')],
    ];
    for (const [source, check] of cases) {
      check(thrown(() => cloneExecutableSync(source as string)));
      check(await rejection(cloneExecutable(source as string)));
    }
    expect(await rejection(cloneExecutable(Readable.from([])))).toBeInstanceOf(ExecError);
    expect((thrown(() => cloneExecutableSync(Readable.from(['x']) as never)) as { code: string }).code).toBe('ERR_INVALID_ARG_TYPE');
    expect((thrown(() => cloneExecutableSync(SH, { colour: 1 } as never)) as { code: string }).code).toBe('ERR_INVALID_ARG_VALUE');
    expect((thrown(() => cloneExecutableSync(SH, { fallback: 'disk' as never })) as { code: string }).code).toBe('ERR_INVALID_ARG_VALUE');
    expect((thrown(() => cloneExecutableSync(SH, { seals: ['glue' as never] })) as { code: string }).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(openFds()).toEqual(before);
  });
});

describe('spawnSealed', () => {
  it('runs a cloned /bin/sh and returns its exit code', async () => {
    using exe = await cloneExecutable(SH);
    const child = spawnSealed(exe, ['-c', 'exit 7']);
    expect(await exited(child)).toEqual({ code: 7, signal: null });
  });

  it('passes args, env, cwd and argv0 through, and reports stdout like child_process.spawn', async () => {
    using exe = await cloneExecutable(SH);
    const script = 'printf "%s|%s|%s|" "$0" "$1" "$FOO"; pwd';
    const a = await output(spawnSealed(exe, ['-c', script, 'sh', 'one'], { env: { FOO: 'bar' }, cwd: dir }));
    expect(a.stdout).toBe(`sh|one|bar|${fs.realpathSync(dir)}\n`);
    const b = await output(spawnSealed(exe, ['-c', 'echo "$0"'], { argv0: 'custom' }));
    expect(b.stdout).toBe('custom\n');
    const c = await output(spawnSealed(exe, ['-c', 'echo "$0"']));
    expect(c.stdout).toBe('sh\n');
  });

  it('gives a child that emits spawn, takes stdin, and can be killed', async () => {
    using exe = await cloneExecutable(SH);
    const child = spawnSealed(exe, ['-c', 'read line; echo "got $line"; read again']);
    await new Promise((resolve) => child.once('spawn', resolve));
    child.stdin!.write('hello\n');
    expect(await waitFor(child, 'got hello')).toContain('got hello');
    expect(child.kill('SIGTERM')).toBe(true);
    expect(await exited(child)).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it('runs the memfd itself: nothing can rewrite it while (or after) it runs (CVE-2019-5736)', async () => {
    using exe = await cloneExecutable(SH);
    const original = exe.read();
    const child = spawnSealed(exe, ['-c', 'read line'], { stdio: ['pipe', 'ignore', 'ignore'] });
    const exePath = `/proc/${child.pid}/exe`;
    expect(fs.readlinkSync(exePath)).toBe('/memfd:sh (deleted)');
    // Through the running child's exe link.
    for (const flags of ['r+', 'w', 'a'] as const) {
      const err = thrown(() => fs.openSync(exePath, flags)) as NodeJS.ErrnoException;
      expect(['ETXTBSY', 'EPERM']).toContain(err.code);
    }
    // Through the memfd.
    expect((thrown(() => exe.truncate(0)) as SyscallError).code).toBe('EPERM');
    expect((thrown(() => exe.write('#!', 0)) as SyscallError).code).toBe('EPERM');
    child.stdin!.end('\n');
    expect((await exited(child)).code).toBe(0);
    // Once no child runs it, opening for writing works, writing still does not.
    const w = fs.openSync(`/proc/self/fd/${exe.fd}`, 'r+');
    onTestFinished(() => fs.closeSync(w));
    expect((thrown(() => fs.writeSync(w, 'x', 0)) as NodeJS.ErrnoException).code).toBe('EPERM');
    expect((thrown(() => fs.ftruncateSync(w, 0)) as NodeJS.ErrnoException).code).toBe('EPERM');
    expect(exe.read().equals(original)).toBe(true);
  });

  it("leaves the child only the descriptors a plain spawn gives it (no memfd)", async () => {
    using exe = await cloneExecutable(SH);
    // Each says it is ready once its shell runs: right after 'spawn' the dynamic
    // loader may still hold libc open on a descriptor of its own.
    const sealed = spawnSealed(exe, ['-c', 'echo ready; read line']);
    const plain = spawn(SH, ['-c', 'echo ready; read line']);
    const ready = (c: ChildProcess): Promise<unknown> => new Promise((r) => c.stdout!.once('data', r));
    await Promise.all([ready(sealed), ready(plain)]);
    const sealedFds = openFds(sealed.pid!);
    const plainFds = openFds(plain.pid!);
    sealed.stdin!.end('\n');
    plain.stdin!.end('\n');
    await Promise.all([exited(sealed), exited(plain)]);
    const numbers = (list: string[]): string[] => list.map((l) => l.split(' ')[0]!).sort();
    expect(numbers(sealedFds)).toEqual(numbers(plainFds));
    expect(numbers(sealedFds)).toEqual(expect.arrayContaining(['0', '1', '2']));
    expect(sealedFds.filter((l) => l.includes('memfd:'))).toEqual([]);
  });

  it('runs a #! script from a memfd, with the interpreter reading it from one extra read-only descriptor', async () => {
    using script = await cloneExecutable(Buffer.from('#!/bin/sh\necho "script:$1"; readlink /proc/self/fd/3\n'), { name: 'hello.sh' });
    const run = await output(spawnSealed(script, ['arg']));
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('script:arg\n/memfd:hello.sh (deleted)\n');
    // Why: run straight from its close-on-exec descriptor, the interpreter
    // cannot open the script.
    const direct = await output(spawn(`/proc/self/fd/${script.fd}`, ['arg']));
    expect(direct.code).not.toBe(0);
    expect(direct.stdout).toBe('');
    const err = thrown(() => spawnSealed(script, [], { script: 'refuse' }));
    expect(err).toBeInstanceOf(ExecError);
    expect((err as ExecError).code).toBe('ERR_MEMSEAL_SCRIPT');
  });

  itIf(caps.execFlags, 'MFD_NOEXEC_SEAL needs Linux 6.3')("refuses an MFD_NOEXEC_SEAL memfd with reason 'noexec-seal'", () => {
    using m = Memfd.from(fs.readFileSync('/bin/true'), { exec: 'noexec-seal' });
    const err = thrown(() => spawnSealed(m));
    expect(err).toBeInstanceOf(ExecRefusedError);
    expect((err as ExecRefusedError).reason).toBe('noexec-seal');
    expect((err as ExecRefusedError).code).toBe('EACCES');
    expect((err as ExecRefusedError).message).toContain('MFD_NOEXEC_SEAL');
  });

  it('refuses an executable memfd that lacks the seals, so a received one cannot be swapped', () => {
    using m = Memfd.create('unsealed', { exec: 'exec', fallback: 'kernel-default' });
    m.write(fs.readFileSync('/bin/true'));
    m.chmod(0o755);
    const err = thrown(() => spawnSealed(m)) as MemsealError;
    expect(err.code).toBe('ERR_MEMSEAL_MISSING_SEALS');
    for (const s of BASE_SEALS) expect(err.message).toContain(s);
  });

  it('runs a sealed memfd received as a bare descriptor (Memfd.fromFd)', async () => {
    using exe = await cloneExecutable(SH);
    const fd = fs.openSync(`/proc/self/fd/${exe.fd}`, 'r');
    try {
      using received = Memfd.fromFd(fd); // works on its own duplicate
      expect((await exited(spawnSealed(received, ['-c', 'exit 5']))).code).toBe(5);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('refuses closed clones and bad arguments before forking', async () => {
    const exe = await cloneExecutable(SH);
    expect((thrown(() => spawnSealed(exe, ['x', 1 as never])) as { code: string }).code).toBe('ERR_INVALID_ARG_TYPE');
    expect((thrown(() => spawnSealed(exe, [], { shell: true } as never)) as { code: string }).code).toBe('ERR_INVALID_ARG_VALUE');
    expect((thrown(() => spawnSealed(exe, [], { script: 'maybe' as never })) as { code: string }).code).toBe('ERR_INVALID_ARG_VALUE');
    expect((thrown(() => spawnSealed(SH as never)) as { code: string }).code).toBe('ERR_INVALID_ARG_TYPE');
    exe.close();
    expect((thrown(() => spawnSealed(exe)) as MemsealError).code).toBe('ERR_MEMSEAL_CLOSED');
  });
});

describe('vm.memfd_noexec=2 in a child pid namespace', () => {
  itIf(caps.root && caps.pidNamespace && caps.memfdNoexec !== null, 'needs root, unshare --pid and Linux 6.3+ (vm.memfd_noexec)')(
    "refuses with reason 'noexec-sysctl', and the opt-in tmpfile fallback works",
    () => {
      const initial = fs.readFileSync('/proc/sys/vm/memfd_noexec', 'utf8');
      const mountDir = fs.mkdtempSync(join(dir, 'noexec-'));
      const r = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, FIXTURE], {
        encoding: 'utf8',
        env: { ...process.env, MEMSEAL_PARENT_PIDNS: fs.readlinkSync('/proc/self/ns/pid'), MEMSEAL_NOEXEC_DIR: mountDir },
        timeout: 60_000,
      });
      expect(r.stderr).toBe('');
      const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
      expect(r.status, JSON.stringify(report)).toBe(0);
      expect(report.sysctl).toBe('2');
      for (const attempt of [report.async, report.sync]) {
        expect(attempt).toMatchObject({ name: 'ExecRefusedError', code: 'EACCES', reason: 'noexec-sysctl', memfdNoexec: 2, syscall: 'memfd_create' });
        expect(attempt.message).toContain('vm.memfd_noexec is 2');
      }
      expect(report.fallback).toMatchObject({ tmpfile: true, reason: 'noexec-sysctl', exitCode: 9, mode: 0o555 });
      expect(report.fallback.exe).toMatch(new RegExp(`^${report.fallback.dir}/#\\d+ \\(deleted\\)$`));
      expect(report.noexecDir).toMatchObject({ name: 'ExecRefusedError', reason: 'noexec-sysctl' });
      expect(report.noexecDir.message).toContain(`${mountDir}: mounted noexec`);
      expect(report.cli.refused.status).toBe(126);
      expect(report.cli.refused.stderr).toContain('reason: noexec-sysctl');
      expect(report.cli.refused.stderr).toContain('--fallback tmpfile');
      expect(report.cli.allowed.status).toBe(6);
      expect(report.cli.allowed.stderr).toContain('running an unsealed O_TMPFILE copy');
      // Only the child namespace changed.
      expect(fs.readFileSync('/proc/sys/vm/memfd_noexec', 'utf8')).toBe(initial);
    },
  );
});

describe('a seccomp filter refusing MFD_EXEC', () => {
  // The launcher's filter is for x86-64 syscalls: under emulation they are the emulator's own, which the filter refuses for arm64 node.
  itIf(hasCc && (process.arch === 'x64' || emulator !== undefined), 'needs a C compiler (cc) on an x86-64 machine to build the seccomp launcher')(
    "refuses with reason 'blocked', and the opt-in tmpfile fallback works",
    () => {
      const launcher = join(dir, 'seccomp-deny-exec-memfd');
      const cc = spawnSync('cc', ['-O2', '-o', launcher, SECCOMP_LAUNCHER], { encoding: 'utf8' });
      expect(cc.stderr).toBe('');
      const r = spawnSync(launcher, [process.execPath, BLOCKED_FIXTURE], { encoding: 'utf8', timeout: 60_000 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const report = JSON.parse(r.stdout.trim());
      expect(report.plain).toMatchObject({ name: 'ExecRefusedError', code: 'EPERM', reason: 'blocked', syscall: 'memfd_create' });
      expect(report.plain.message).toContain('seccomp filter');
      expect(report.noexecMemfd).toBe(0o666); // only executable memfds are refused
      expect(report.fallback).toEqual({ tmpfile: true, reason: 'blocked', exitCode: 4 });
    },
  );
});

describe('memseal exec', () => {
  const cli = (args: string[], input?: string): ReturnType<typeof spawnSync> =>
    spawnSync(process.execPath, [CLI, 'exec', ...args], { encoding: 'utf8', input, timeout: 30_000 });

  it('passes stdio and the exit code through', () => {
    const r = cli([SH, '--', '-c', 'read x; echo "out $x"; echo err >&2; exit 7'], 'in\n');
    expect(r.status).toBe(7);
    expect(r.stdout).toBe('out in\n');
    expect(r.stderr).toBe('err\n');
    expect(cli(['/bin/true']).status).toBe(0);
  });

  it('runs the program from a memfd', () => {
    const r = cli([SH, '-c', 'readlink /proc/$$/exe; true']);
    expect(r.stdout).toBe('/memfd:sh (deleted)\n');
  });

  it('dies by the signal that killed the program', () => {
    expect(cli([SH, '--', '-c', 'kill -TERM $$']).signal).toBe('SIGTERM');
    expect(cli([SH, '--', '-c', 'kill -KILL $$']).signal).toBe('SIGKILL');
  });

  it('forwards SIGTERM and SIGINT to the program', async () => {
    for (const [signal, status] of [['SIGTERM', 42], ['SIGINT', 43]] as const) {
      // No background job: one forked between the signal and the trap
      // would keep the signal's disposition from before its exec.
      const script = `trap 'exit ${status}' ${signal.slice(3)}; echo ready; while :; do sleep 0.05; done`;
      const child = spawn(process.execPath, [CLI, 'exec', SH, '--', '-c', script]);
      await waitFor(child, 'ready');
      child.kill(signal);
      expect(await exited(child)).toEqual({ code: status, signal: null });
    }
  });

  it('fails like a shell: 127 for a missing program, 126 for one that cannot run, 2 for usage errors', () => {
    const missing = cli([join(dir, 'nothing-here')]);
    expect(missing.status).toBe(127);
    expect(missing.stderr).toContain('ENOENT');
    const plain = file('not-exec', 'echo\n', 0o644);
    const notExec = cli([plain]);
    expect(notExec.status).toBe(126);
    expect(notExec.stderr).toContain('ERR_MEMSEAL_NOT_EXECUTABLE');
    expect(cli([]).status).toBe(2);
    expect(cli(['--nope', SH]).status).toBe(2);
  });
});
