/**
 * mseal(2) and the system mappings: the kernel never seals [stack]; with
 * CONFIG_MSEAL_SYSTEM_MAPPINGS (6.15) it seals [vdso]. mseal-vma.ts has the
 * others ([vvar], [vvar_vclock], [uprobes]) and which of them each
 * architecture maps.
 */
import { readFileSync } from 'node:fs';
import { errnoName, SRC } from './helpers.js';
import { DOC, msealCase, since } from './mseal-helpers.js';
import type { Case } from './types.js';

export const cases: readonly Case[] = [
  msealCase({
    id: 'mseal.sysmap.stack-unsealed',
    title: 'the kernel never seals the process stack ([stack] has no "sl")',
    requires: [],
    source: [SRC.sysmap('[stack] is not sealed'), DOC('System mappings')],
    expect: since('6.10', 'false'),
    run: () => {
      const text = readFileSync('/proc/self/smaps', 'utf8');
      const at0 = text.indexOf('[stack]');
      if (at0 < 0) return 'no [stack]';
      const flags = /^VmFlags:(.*)$/m.exec(text.slice(at0));
      return String(flags !== null && flags[1]!.trim().split(/\s+/).includes('sl'));
    },
  }),
  msealCase({
    id: 'mseal.sysmap.vdso-sealed',
    title: 'with CONFIG_MSEAL_SYSTEM_MAPPINGS, [vdso] is sealed: munmap of it (in a forked child) fails with EPERM',
    requires: ['mseal', 'sysmapSealed', 'secondProcess'],
    source: [SRC.sysmap('[vdso], [vvar]'), DOC('System mappings (6.15)')],
    expect: since('6.15', 'EPERM'),
    run: (ctx) => {
      const line = readFileSync('/proc/self/maps', 'utf8')
        .split('\n')
        .find((l) => l.endsWith('[vdso]'));
      if (line === undefined) return 'no [vdso]';
      const [s, e] = line.split(' ')[0]!.split('-').map((x) => BigInt(`0x${x}`)) as [bigint, bigint];
      const r = ctx.b.forkProbe(ctx.pc.FORK_MUNMAP!, s, Number(e - s), 0, 5);
      return r.errno === null ? `signal ${r.signal}` : r.errno === 0 ? 'ok' : errnoName(r.errno);
    },
  }),
];
