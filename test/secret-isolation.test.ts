/**
 * A secret is out of reach of other processes (/proc/<pid>/mem,
 * process_vm_readv, a forked child), and of other threads of this one.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { caps, itIf } from './helpers/caps.js';
import { helper, runFixture, tools, withLiveFixture } from './helpers/child.js';

const secretmem = caps.secretmem;
const needSecretmem = itIf(secretmem, 'memfd_secret is unavailable on this machine', 'memfd_secret');
const needCc = tools.cc;

describe('isolation from other processes', () => {
  const readProcMem = (pid: number, address: bigint, length: number): string => {
    const fd = openSync(`/proc/${pid}/mem`, 'r');
    try {
      const b = Buffer.alloc(length);
      readSync(fd, b, 0, length, Number(address));
      return b.toString('hex');
    } catch (err) {
      return (err as NodeJS.ErrnoException).code!;
    } finally {
      closeSync(fd);
    }
  };

  needSecretmem('another process cannot read secret memory through /proc/<pid>/mem, but reads ordinary memory the same way', async () => {
    await withLiveFixture('secret-live.cjs', (pid, info) => {
      expect(info.secretBacking).toBe('secretmem');
      expect(readProcMem(pid, BigInt(info.ordinary), info.length)).toBe(info.pattern);
      expect(readProcMem(pid, BigInt(info.mlock), info.length)).toBe(info.pattern);
      expect(readProcMem(pid, BigInt(info.secretmem), info.length)).toBe('EIO');
      expect(readProcMem(pid, BigInt(info.pooled), info.length)).toBe('EIO');
    });
  });

  itIf(secretmem && needCc, 'needs memfd_secret and cc', 'memfd_secret')('another process cannot read secret memory with process_vm_readv, but reads ordinary memory', async () => {
    const vmread = helper('vmread')!;
    const read = (pid: number, address: string, length: number): string =>
      spawnSync(vmread, [String(pid), `0x${BigInt(address).toString(16)}`, String(length)], { encoding: 'utf8' }).stdout.trim();
    await withLiveFixture('secret-live.cjs', (pid, info) => {
      expect(read(pid, info.ordinary, info.length)).toBe(`ok ${info.pattern}`);
      expect(read(pid, info.mlock, info.length)).toBe(`ok ${info.pattern}`);
      expect(read(pid, info.secretmem, info.length)).toBe('error EFAULT');
      expect(read(pid, info.pooled, info.length)).toBe('error EFAULT');
    });
  });

  itIf(needCc && existsSync(join(process.execPath, '..', '..', 'include', 'node', 'node_api.h')), "needs cc and Node's headers", 'memfd_secret', 'madvise')(
    'a forked child sees zeros for mlock secrets (WIPEONFORK) and no mapping for secret memory (DONTFORK)',
    () => {
      const r = runFixture('secret-fork.cjs', { args: [helper('forkpeek')!] });
      expect(r.status, r.stderr).toBe(0);
      expect(r.json.ordinary).toBe(`data:${'3c'.repeat(16)}`); // the control
      expect(r.json.mlock).toBe('zero');
      if (secretmem) expect(r.json.secretmem).toBe('unmapped');
      expect(r.json.parent).toBe('3c'.repeat(32));
    },
  );
});

describe('threads', () => {
  needSecretmem('several worker threads allocate, use and dispose at once', () => {
    const r = runFixture('secret-workers.cjs');
    expect(r.status, r.stderr).toBe(0);
    expect(r.json.results).toHaveLength(4);
    for (const w of r.json.results) expect(w).toMatchObject({ ok: 200, live: 0 });
  });
});
