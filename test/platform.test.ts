import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from './helpers/child.js';

describe('platforms', () => {
  it('loading on another OS throws ERR_MEMSEAL_UNSUPPORTED_PLATFORM before touching the addon', () => {
    const script = `
      Object.defineProperty(process, 'platform', { value: 'darwin' });
      try { require(${JSON.stringify(join(root, 'dist', 'index.js'))}); console.log('loaded'); }
      catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    const out = JSON.parse(r.stdout.trim());
    expect(out.code).toBe('ERR_MEMSEAL_UNSUPPORTED_PLATFORM');
    expect(out.name).toBe('MemsealError');
    expect(out.message).toMatch(/Linux.*darwin/);
  });

  it('Node.js older than 22 still loads, with one MEMSEAL_UNSUPPORTED_NODE warning; 22 and later say nothing', () => {
    const script = `
      const { warnIfUnsupportedNode } = require(${JSON.stringify(join(root, 'dist', 'binding.js'))});
      console.log(JSON.stringify([warnIfUnsupportedNode('20.20.2'), warnIfUnsupportedNode('22.0.0'), warnIfUnsupportedNode('26.12.1')]));
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(JSON.parse(r.stdout.trim())).toEqual([true, false, false]);
    expect(r.stderr).toMatch(/MemsealWarning: memseal supports Node.js 22 and later; Node.js 20.20.2 is past its end of life/);
    const current = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(join(root, 'dist', 'index.js'))}).Memfd.create('x').close()`], { encoding: 'utf8' });
    expect(current.stderr.includes('MEMSEAL_UNSUPPORTED_NODE') || current.stderr.includes('MemsealWarning')).toBe(Number(process.versions.node.split('.')[0]) < 22);
  });
});
