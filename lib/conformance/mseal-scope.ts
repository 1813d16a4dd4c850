/**
 * mseal(2) freezes the mapping, not what lies beyond it: a write through
 * /proc/self/mem still reaches a sealed read-only page, a forked child
 * inherits the seal, and the program's own read-only ELF mapping can be
 * sealed (the seal_elf selftest).
 */
import { closeSync, openSync, readFileSync, constants as fsConstants } from 'node:fs';
import { nodeBinary } from '../node-self.js';
import { attempt, errno, errnoName, hex, kv, SRC } from './helpers.js';
import { DOC, msealCase, RW, since, withSealed } from './mseal-helpers.js';
import type { Case } from './types.js';

export const cases: readonly Case[] = [
  msealCase({
    id: 'mseal.contents.proc-mem-write',
    title: 'mseal freezes the mapping, not the contents: a write through /proc/self/mem to a sealed read-only page succeeds',
    requires: ['mseal', 'procMemForce'],
    source: [
      DOC('mseal does not block: writes through /proc/pid/mem, ptrace'),
      SRC.observed('pwrite of /proc/self/mem'),
      SRC.code('fs/proc/base.c', 'proc_mem_foll_force: proc_mem.force_override, CONFIG_PROC_MEM_FORCE_PTRACE'),
    ],
    expect: since('6.10', 'write=1 byte=0xb mprotect=EPERM'),
    run: (ctx) => {
      const addr = withSealed(ctx, 1, 0, 1, ctx.c.PROT_READ!);
      const fd = openSync('/proc/self/mem', fsConstants.O_RDWR);
      try {
        const n = attempt(() => ctx.b.write(fd, Buffer.from([11]), 0, 1, addr));
        return kv({ write: n, byte: hex(ctx.b.peek(addr, 1)[0]!), mprotect: errno(() => ctx.b.mprotect(addr, ctx.page, RW(ctx))) });
      } finally {
        closeSync(fd);
      }
    },
  }),
  msealCase({
    id: 'mseal.fork.child-sealed',
    title: 'a forked child inherits the seal: munmap of the page in the child fails with EPERM',
    requires: ['mseal', 'secondProcess'],
    source: [SRC.observed('munmap in a forked child'), SRC.code('kernel/fork.c', 'dup_mmap copies vm_flags (VM_SEALED)')],
    expect: since('6.10', 'EPERM'),
    run: (ctx) => {
      const r = ctx.b.forkProbe(ctx.pc.FORK_MUNMAP!, withSealed(ctx, 1, 0, 1), ctx.page, 0, 5);
      return r.errno === null ? `signal ${r.signal}` : r.errno === 0 ? 'ok' : errnoName(r.errno);
    },
  }),
  msealCase({
    id: 'mseal.elf.read-only-segment',
    title: 'sealing a read-only file-backed mapping of the program (its ELF), then mprotect to writable, fails with EPERM',
    source: [SRC.sealElf('test_seal_elf')],
    expect: since('6.10', 'seal=ok mprotect=EPERM'),
    run: (ctx) => {
      const exe = nodeBinary();
      const line = readFileSync('/proc/self/maps', 'utf8')
        .split('\n')
        .find((l) => / r--p /.test(l) && l.endsWith(exe));
      if (line === undefined) return 'no read-only mapping of the executable';
      const [s, e] = line.split(' ')[0]!.split('-').map((x) => BigInt(`0x${x}`)) as [bigint, bigint];
      const length = Number(e - s);
      const sealResult = errno(() => ctx.b.mseal(s, length, 0));
      return kv({ seal: sealResult, mprotect: errno(() => ctx.b.mprotect(s, length, RW(ctx))) });
    },
  }),
];
