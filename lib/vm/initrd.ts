/**
 * A kernel's configuration beside the guest image: the image followed by a
 * second cpio archive holding the configuration at GUEST.kernelConfig,
 * cached per image and configuration.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, copyFileSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { cacheSubdir } from './cache.js';
import { withParents, writeCpio } from './cpio.js';
import { GUEST, type Initramfs } from './initramfs.js';

/**
 * Images with a kernel's configuration appended, kept in the cache: enough
 * for the kernels one test run boots at once (x86-64 6.1, 6.12 and 7.x;
 * arm64 6.12, 7.x and 7.x 16K), so no boot loses its image to another's pruning.
 */
const KEEP_WITH_CONFIG = 10;

/**
 * The initrd for one kernel: the image, followed by a second cpio archive
 * holding that kernel's configuration at GUEST.kernelConfig (the kernel
 * unpacks concatenated archives one after the other). Cached by the image's
 * hash and the configuration's; without a configuration, the image itself.
 */
export function initrdWithConfig(image: Initramfs, config: string | undefined, options: { cacheDir?: string } = {}): string {
  if (config === undefined) return image.path;
  const data = readFileSync(config);
  const configHash = createHash('sha256').update(data).digest('hex').slice(0, 16);
  const dir = cacheSubdir('initramfs', options.cacheDir);
  const path = join(dir, `initramfs-${image.hash.slice(0, 16)}-config-${configHash}.cpio`);
  if (existsSync(path)) {
    const now = new Date();
    utimesSync(path, now, now);
    return path;
  }
  const tmp = `${path}.${process.pid}.tmp`;
  const extra = `${path}.${process.pid}.extra.tmp`;
  try {
    copyFileSync(image.path, tmp);
    writeCpio(extra, withParents([{ type: 'data', path: GUEST.kernelConfig, mode: 0o644, data }]), () => 0);
    appendFileSync(tmp, readFileSync(extra));
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
    rmSync(extra, { force: true });
  }
  const withConfig = readdirSync(dir)
    .filter((f) => /^initramfs-[0-9a-f]+-config-[0-9a-f]+\.cpio$/.test(f))
    .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { f } of withConfig.slice(KEEP_WITH_CONFIG)) rmSync(join(dir, f), { force: true });
  return path;
}
