/** A made-up conform report around given case results, for the renderers' tests. */
import type { CaseResult, ConformanceReport } from '../../lib/conformance/types.js';

export function fakeReport(cases: CaseResult[], strict: boolean, kernel: Partial<ConformanceReport['kernel']> = {}): ConformanceReport {
  const summary = { total: cases.length, pass: 0, fail: 0, deviation: 0, blocked: 0, skip: 0, error: 0 };
  for (const c of cases) summary[c.status]++;
  return {
    schema: 'memseal-conformance/1',
    kernel: { release: '6.12.118+deb12-cloud-amd64', version: '6.12.118', build: '#1 SMP Debian 6.12.118-1~deb12u1', arch: 'x64', cmdline: 'console=ttyS0', config: null, ...kernel },
    node: 'v26.12.1',
    uid: 0,
    facts: { thp: { built: true, shmemEnabled: 'never' }, procMem: { forced: true, policy: 'always', from: null }, powerStates: null },
    container: { detected: false, engine: null, pidNamespace: 'initial' },
    seccomp: { mode: 0, filters: 0, controlErrno: null },
    memfdNoexec: 0,
    startedAt: '2026-12-06T10:00:00.000Z',
    durationMs: 1234,
    strict,
    filter: null,
    summary,
    cases,
  };
}
