/**
 * memfd_secret: the "existing page" half of memfd_secret.c's vmsplice test.
 * The first mapping faults the secret page in; after munmap the page stays
 * in the file, and a second mapping finds it already allocated, the path on
 * which GUP-fast once took secret pages. vmsplice must fail with EFAULT on
 * both. Gated like secret.gup.vmsplice: only kernels known to carry the fix,
 * since an unfixed kernel could oops in a later splice.
 */
import { errno, kv, SRC } from './helpers.js';
import type { Case, CaseContext } from './types.js';

/** Maps one page of `fd` shared, fills it with 0x55 (faulting it in), vmsplices it, unmaps it: the errno name or 'ok'. */
function spliceOnce(ctx: CaseContext, fd: number): string {
  const { b, c } = ctx;
  const region = new b.Region(ctx.page, c.PROT_READ! | c.PROT_WRITE!, c.MAP_SHARED!, fd, 0, 0, ctx.page, false);
  try {
    new Uint8Array(region.view()).fill(0x55);
    return errno(() => b.vmsplice(region.address, ctx.page));
  } finally {
    region.unmap();
  }
}

export const cases: readonly Case[] = [
  {
    id: 'secret.gup.vmsplice-existing-page',
    title: 'vmsplice of a secret page fails with EFAULT also when the page already exists (mapped again after munmap), not only when fresh',
    family: 'secret',
    isolation: 'child',
    requires: ['secretmem'],
    syscalls: ['memfd_secret', 'vmsplice'],
    source: [
      SRC.secretTest('test_vmsplice ("fresh page", then "existing page")'),
      SRC.lkml('mm/secretmem: fix GUP-fast succeeding on secretmem folios (6.9-rc3; 6.8.5, 6.6.26, 6.1.85)'),
    ],
    expect: [
      { since: '6.1.85', before: '6.2', outcome: 'fresh=EFAULT existing=EFAULT' },
      { since: '6.6.26', before: '6.7', outcome: 'fresh=EFAULT existing=EFAULT' },
      { since: '6.8.5', before: '6.9', outcome: 'fresh=EFAULT existing=EFAULT' },
      { since: '6.9', outcome: 'fresh=EFAULT existing=EFAULT' },
    ],
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = ctx.fd(b.memfdSecret(c.O_CLOEXEC!));
      b.ftruncate(fd, ctx.page);
      const fresh = spliceOnce(ctx, fd);
      return kv({ fresh, existing: spliceOnce(ctx, fd) });
    },
  },
];
