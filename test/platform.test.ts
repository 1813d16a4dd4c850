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
});
