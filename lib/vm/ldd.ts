/**
 * The shared libraries a binary links, as ldd(1) lists them, so the
 * initramfs (or a container root filesystem) can carry them at the same
 * paths.
 */
import { execFileSync } from 'node:child_process';

/**
 * Parses ldd output into absolute library paths (the dynamic loader
 * included, the kernel's vDSO left out). Throws when a library is missing.
 */
export function parseLdd(text: string, binary = 'the binary'): string[] {
  const paths: string[] = [];
  const missing: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || /statically linked|not a dynamic executable/.test(line)) continue;
    const arrow = /^(\S+)\s+=>\s+(.*?)\s*(?:\(0x[0-9a-f]+\))?$/.exec(line);
    if (arrow) {
      if (arrow[2] === 'not found') missing.push(arrow[1]!);
      else if (arrow[2]!.startsWith('/')) paths.push(arrow[2]!);
      continue;
    }
    const bare = /^(\/\S+)\s+\(0x[0-9a-f]+\)$/.exec(line);
    if (bare) paths.push(bare[1]!);
  }
  if (missing.length > 0) throw new Error(`${binary} needs ${missing.join(', ')}, which ldd cannot find`);
  return [...new Set(paths)];
}

/** The libraries `binary` links; none for a static binary. */
export function sharedLibraries(binary: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [binary], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { code?: string; stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') throw new Error('ldd not found: it comes with the C library (Debian package libc-bin)');
    // ldd exits 1 for a static binary and says so.
    const text = `${e.stdout ?? ''}${e.stderr ?? ''}`;
    if (/not a dynamic executable|statically linked/.test(text)) return [];
    throw new Error(`ldd ${binary} failed: ${text.trim()}`);
  }
  return parseLdd(out, binary);
}
