/**
 * The cases that need free huge pages, which this machine has none of until
 * some are reserved: as root, reserve a few (vm.nr_hugepages, as LTP's
 * hugetlb tests do), run those cases for real, and give the pages back.
 *
 * vm.nr_hugepages is the whole machine's: while pages are reserved, a
 * conformance run in any other test file would see them appear or vanish
 * under its hugetlb cases (hugetlb.mmap.without-free-pages maps one). So this
 * file runs in a vitest pass of its own (MEMSEAL_MACHINE_WIDE=1, see
 * vitest.config.mts and scripts/test.mjs), when no other test runs.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect } from 'vitest';
import { gatherEnv } from '../../lib/conformance/env.js';
import { CATALOG } from '../../lib/conformance/index.js';
import { planCases, runConformance } from '../../lib/conformance/run.js';
import { caps, itIf } from '../helpers/caps.js';

describe('with huge pages reserved for the run', () => {
  const NEEDS = planCases(CATALOG, gatherEnv())
    .filter((p) => (p.case.requires ?? []).includes('hugepages'))
    .map((p) => p.case.id);
  const NR = '/proc/sys/vm/nr_hugepages';
  const freePages = (): number => Number(/^HugePages_Free:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);

  itIf(caps.root && caps.hugetlb && existsSync(NR), 'root and hugetlbfs, to reserve huge pages through vm.nr_hugepages')(
    `${NEEDS.join(', ')} run once pages are free: each passes or shows a cited deviation`,
    async () => {
      expect(NEEDS.length).toBeGreaterThan(0);
      const before = Number(readFileSync(NR, 'utf8'));
      writeFileSync(NR, String(before + 4));
      try {
        expect(freePages(), 'the kernel reserved the huge pages asked for').toBeGreaterThanOrEqual(1);
        const report = await runConformance({ filter: NEEDS.join(','), concurrency: 1 });
        // A deviation is an observed outcome the case cites as a known kernel gap (hugetlbfs ignoring F_SEAL_EXEC on chmod).
        const ran = (status: string): string => (status === 'deviation' ? 'deviation' : 'pass');
        expect(report.cases.map((c) => `${c.id}: ${c.status} ${c.observed ?? c.reason ?? ''}`)).toEqual(
          report.cases.map((c) => `${c.id}: ${ran(c.status)} ${c.observed ?? ''}`),
        );
        expect(report.cases.map((c) => c.id).sort()).toEqual([...NEEDS].sort());
      } finally {
        writeFileSync(NR, String(before));
      }
    },
  );
});
