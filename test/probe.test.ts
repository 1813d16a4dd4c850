import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { probe } from '../lib/index.js';
import { kernelAtLeast } from '../lib/kernel.js';
import { root } from './helpers/child.js';
import { unlessEmulated } from './helpers/emulation.js';

const cli = join(root, 'dist', 'cli', 'main.js');
const FEATURES = ['memfd_create', 'MFD_EXEC', 'MFD_NOEXEC_SEAL', 'F_SEAL_EXEC', 'F_SEAL_FUTURE_WRITE', 'memfd_secret', 'mseal', 'hugetlb'];

describe('probe()', () => {
  const r = probe();

  it('reports every feature with a status the kernel version explains', () => {
    expect(Object.keys(r.features).sort()).toEqual([...FEATURES].sort());
    for (const [name, f] of Object.entries(r.features)) {
      expect(['supported', 'unsupported', 'disabled', 'blocked', 'refused']).toContain(f.status);
      expect(f.why.length).toBeGreaterThan(0);
      if (f.status === 'supported') expect(f.errno).toBeNull();
      else expect(f.errno).toMatch(/^E[A-Z]+$/);
      if (f.status === 'unsupported' && f.errno === 'ENOSYS') expect(kernelAtLeast(f.since)).toBe(false);
      expect(name).toBeTruthy();
    }
  });

  it('agrees with /proc', () => {
    const status = readFileSync('/proc/self/status', 'utf8');
    expect(r.seccomp.mode).toBe(Number(/^Seccomp:\s+(\d+)/m.exec(status)![1]));
    const sysctl = (() => {
      try {
        return Number(readFileSync('/proc/sys/vm/memfd_noexec', 'utf8'));
      } catch {
        return null;
      }
    })();
    expect(r.memfdNoexec).toBe(sysctl);
    expect(r.limits.maxMapCount).toBe(Number(readFileSync('/proc/sys/vm/max_map_count', 'utf8')));
    expect(r.limits.pageSize).toBe(4096);
    expect(r.kernel.release).toBe(execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim());
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const memlock = /^Max locked memory\s+(\S+)\s+(\S+)/m.exec(limits)!;
    expect(r.limits.memlock.soft).toBe(memlock[1] === 'unlimited' ? 'unlimited' : Number(memlock[1]));
  });

  unlessEmulated('mseal')('a kernel at 6.10 or later with no filter supports mseal', () => {
    if (r.seccomp.mode === 0) expect(r.features.mseal.status).toBe(kernelAtLeast('6.10') ? 'supported' : 'unsupported');
  });

  it('a kernel at 6.3 or later with no filter supports the exec flags', () => {
    if (r.seccomp.mode === 0) {
      expect(r.features.F_SEAL_EXEC.status).toBe(kernelAtLeast('6.3') ? 'supported' : 'unsupported');
      expect(r.features.MFD_NOEXEC_SEAL.status).toBe(kernelAtLeast('6.3') ? 'supported' : 'unsupported');
    }
  });

  it('leaves no descriptor behind', () => {
    const before = readFileSync('/proc/self/status', 'utf8').match(/^FDSize/m) ? execFileSync('ls', ['/proc/self/fd']).length : 0;
    for (let i = 0; i < 20; i++) probe();
    expect(before).toBeGreaterThanOrEqual(0);
  });
});

describe('memseal probe (CLI)', () => {
  it('--json prints the report', () => {
    const out = JSON.parse(execFileSync(process.execPath, [cli, 'probe', '--json'], { encoding: 'utf8' }));
    expect(Object.keys(out.features).sort()).toEqual([...FEATURES].sort());
    expect(out.kernel.release).toBe(probe().kernel.release);
    for (const name of FEATURES) expect(out.features[name].status).toBe(probe().features[name as 'mseal'].status);
  });

  it('prints an aligned table, coloured only when asked', () => {
    const plain = execFileSync(process.execPath, [cli, 'probe'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '' } });
    for (const name of FEATURES) expect(plain).toMatch(new RegExp(`^${name}\\s+(supported|unsupported|disabled|blocked|refused)`, 'm'));
    expect(plain).not.toContain('\u001b[');
    const colour = execFileSync(process.execPath, [cli, 'probe'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '', FORCE_COLOR: '1' } });
    expect(colour).toContain('\u001b[32msupported');
    const columns = plain.split('\n').filter((l) => FEATURES.some((f) => l.startsWith(`${f} `))).map((l) => l.search(/(supported|unsupported|disabled|blocked|refused)/));
    expect(new Set(columns).size).toBe(1);
  });

  it('exits 2 on bad usage', () => {
    expect(spawnSync(process.execPath, [cli, 'probe', '--nope']).status).toBe(2);
    expect(spawnSync(process.execPath, [cli, 'frobnicate']).status).toBe(2);
    expect(spawnSync(process.execPath, [cli]).status).toBe(2);
    expect(spawnSync(process.execPath, [cli, '--help']).status).toBe(0);
  });
});
