/**
 * memfd_secret(2) alongside other kernel features: mlock, munlock and
 * MADV_DONTNEED on a secret mapping (per the kernel's accounting,
 * secret-accounting.ts), hibernation while a secret descriptor exists, and
 * mseal on a secret mapping.
 */
import { readFileSync } from 'node:fs';
import { errno, kv, SRC, vmFlags } from './helpers.js';
import { ACCOUNTING_SOURCES, byAccounting } from './secret-accounting.js';
import { MAN, secretCase, secretFd, secretMap } from './secret-helpers.js';
import type { Case } from './types.js';

export const cases: readonly Case[] = [
  secretCase({
    id: 'secret.mlock.refused',
    title: 'mlock over a secret mapping fails with ENOMEM and munlock is a no-op; MADV_DONTNEED fails with EINVAL while the mapping is VM_LOCKED (before the accounting fix)',
    source: [SRC.code('mm/gup.c', 'populate refuses secretmem'), SRC.code('mm/madvise.c', 'madvise_dontneed_free_valid_vma: VM_LOCKED'), ...ACCOUNTING_SOURCES, SRC.observed('6.18.44, Debian 7.3.4')],
    expect: byAccounting('mlock=ENOMEM munlock=ok dontneed=EINVAL still-locked=true', 'mlock=ENOMEM munlock=ok dontneed=ok still-locked=false'),
    run: (ctx) => {
      const { b, c } = ctx;
      const m = secretMap(ctx, 1);
      return kv({
        mlock: errno(() => b.mlock(m.addr, ctx.page)),
        munlock: errno(() => b.munlock(m.addr, ctx.page)),
        dontneed: errno(() => b.madvise(m.addr, ctx.page, c.MADV_DONTNEED!)),
        'still-locked': vmFlags(m.addr).includes('lo'),
      });
    },
  }),
  secretCase({
    id: 'secret.hibernation.refused',
    title: 'while a secret memory descriptor exists, hibernation is unavailable: /sys/power/state stops offering "disk", and offers it again once the descriptor is closed',
    batch: 'secret-hibernation',
    requires: ['hibernation'],
    source: [
      MAN('NOTES: hibernation is disabled while secret memory is in use'),
      SRC.code('kernel/power/hibernate.c', 'hibernation_available: !secretmem_active()'),
      SRC.observed('/sys/power/state in a VM'),
    ],
    expect: [{ since: '5.14', outcome: 'with-secret=no-disk closed=disk' }],
    run: (ctx) => {
      const disk = (): string => (readFileSync('/sys/power/state', 'utf8').split(/\s+/).includes('disk') ? 'disk' : 'no-disk');
      const fd = secretFd(ctx);
      const withSecret = disk();
      ctx.close(fd);
      return kv({ 'with-secret': withSecret, closed: disk() });
    },
  }),
  secretCase({
    id: 'secret.mseal.works',
    title: 'a secret mapping can be sealed with mseal',
    requires: ['mseal'],
    syscalls: ['mseal'],
    source: [SRC.observed('mseal on a secret mapping'), SRC.doc('userspace-api/mseal.rst', 'Use cases')],
    expect: [{ since: '6.10', outcome: 'seal=ok munmap=EPERM' }],
    run: (ctx) => {
      const m = secretMap(ctx, 1);
      const seal = errno(() => ctx.b.mseal(m.addr, ctx.page, 0));
      return kv({ seal, munmap: errno(() => ctx.b.munmap(m.addr, ctx.page)) });
    },
  }),
];
