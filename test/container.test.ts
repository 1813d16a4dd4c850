/**
 * The Dockerfile, built and run with a private Docker daemon (docker.io from
 * Debian; all its state in a temp dir; stopped by its pid whatever happens).
 * The base images are made here (test/helpers/docker.ts): there is no
 * registry. In the container, the default seccomp profile must make the
 * mseal rows `blocked`, with 0 fail; with seccomp=unconfined they pass.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import type { ProbeReport } from '../lib/probe.js';
import { hasFailures, readReport, type Report } from '../lib/reports.js';
import { caps, itIf } from './helpers/caps.js';
import { dockerTools, makeBaseImages, startDockerd, type Dockerd } from './helpers/docker.js';
import { availableRowsOk, deniedRowsOk, isMsealRow, SUITE } from './helpers/suite.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist', 'cli', 'main.js');
const addon = join(root, 'prebuilds', `linux-${process.arch}`, 'memseal.node');
const IMAGE = 'memseal-test:latest';

const tools = dockerTools();
const ready = tools !== undefined && caps.root && caps.mseal;
const why = tools === undefined ? 'dockerd is missing (apt-get install docker.io)' : !caps.root ? 'a private dockerd needs root' : 'the host kernel lacks mseal (6.10+)';
const itDocker = itIf(ready, why);

const work = mkdtempSync(join(tmpdir(), 'memseal-container-test-'));
let daemon: Dockerd | undefined;
let built = false;

beforeAll(async () => {
  if (ready) daemon = await startDockerd(tools);
}, 120_000);

afterAll(async () => {
  await daemon?.stop();
  rmSync(work, { recursive: true, force: true });
}, 300_000);

function timed<T>(what: string, f: () => T): T {
  const t = performance.now();
  const r = f();
  console.log(`[timing] ${what}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return r;
}

function runInContainer(options: readonly string[], args: readonly string[], what: string): { raw: unknown; report: Report } {
  const r = timed(what, () => daemon!.docker(['run', '--rm', '--network', 'none', ...options, IMAGE, ...args]));
  expect(r.status, `${r.stderr}\n${r.stdout}`).toBe(0);
  const raw = JSON.parse(r.stdout) as unknown;
  return { raw, report: readReport(raw) };
}

describe('the Docker image', () => {
  itDocker(
    'builds from the Dockerfile: two stages on locally imported bases, default command memseal conform',
    () => {
      const d = daemon!;
      const bases = timed('base images (debootstrap cached after the first run, docker import)', () => makeBaseImages(d, addon, (l) => console.log(`[docker] ${l}`)));
      const b = timed('docker build', () =>
        d.docker(['build', '--network', 'host', '--build-arg', `BASE=${bases.build}`, '--build-arg', `RUNTIME_BASE=${bases.runtime}`, '-t', IMAGE, root], { timeoutMs: 1_200_000 }),
      );
      expect(b.status, `${b.stdout.slice(-3000)}\n${b.stderr}`).toBe(0);
      built = true;
      const inspect = (name: string): { Size: number; Config: { Cmd: string[]; Entrypoint: string[] } } =>
        (JSON.parse(d.docker(['image', 'inspect', name]).stdout) as { Size: number; Config: { Cmd: string[]; Entrypoint: string[] } }[])[0]!;
      const image = inspect(IMAGE);
      expect(image.Config.Entrypoint).toEqual(['node', '/opt/memseal/dist/cli/main.js']);
      expect(image.Config.Cmd).toEqual(['conform']);
      // The runtime stage is the slim base plus the package: no toolchain, no dev dependencies.
      const slim = inspect(bases.runtime);
      expect(image.Size - slim.Size).toBeLessThan(20 << 20);
      expect(image.Size).toBeLessThan(inspect(bases.build).Size);
      const ls = d.docker(['run', '--rm', '--network', 'none', '--entrypoint', 'node', IMAGE, '-e', 'const fs = require("fs"), d = "/opt/memseal/node_modules"; console.log(fs.existsSync(d) ? fs.readdirSync(d).join(" ") : "")']);
      // memseal has no runtime dependencies: npm ci --omit=dev installs nothing.
      expect(ls.stdout.trim().split(' ').filter((n) => n !== '' && !n.startsWith('.')), ls.stderr).toEqual([]);
      console.log(`[docker] image ${(image.Size / 1048576).toFixed(0)} MiB (runtime base ${(slim.Size / 1048576).toFixed(0)} MiB)`);
    },
    1_500_000,
  );

  itDocker(
    "under the default seccomp profile, the mseal rows are blocked and nothing fails; diff against the host shows just those",
    () => {
      expect(built, 'the image was built').toBe(true);
      const { report, raw } = runInContainer([], SUITE, 'docker run (default profile)');
      expect(report.facts.container).not.toBe('no');
      expect(hasFailures(report)).toBe(false);
      const mseal = deniedRowsOk(report, isMsealRow);
      expect(mseal.ok, mseal.detail).toBe(true);
      const probe = runInContainer([], ['probe', '--json'], 'docker run probe (default profile)').raw as ProbeReport;
      expect(probe.seccomp.mode).toBe(2);
      expect(probe.features.mseal.status).toBe('blocked');
      expect(['ENOSYS', 'EPERM']).toContain(probe.features.mseal.errno);
      expect(probe.container.detected).toBe(true);

      // Host against container: the rows the profile blocks, and otherwise only
      // rows a container skips (a conform case that needs privileges it lacks).
      const hostFile = join(work, 'host.json');
      const ctrFile = join(work, 'container.json');
      const host = spawnSync(process.execPath, [cli, ...SUITE], { encoding: 'utf8' });
      expect(host.status).toBe(0);
      writeFileSync(hostFile, host.stdout);
      writeFileSync(ctrFile, JSON.stringify(raw));
      const diff = spawnSync(process.execPath, [cli, 'diff', '--json', hostFile, ctrFile], { encoding: 'utf8' });
      expect(diff.status).toBe(1);
      const out = JSON.parse(diff.stdout) as { differ: { id: string; b?: { status: string } }[]; facts: { name: string }[] };
      const blocked = report.entries.filter((e) => e.status === 'blocked').map((e) => e.id);
      const differ = out.differ.map((e) => e.id);
      for (const id of blocked) expect(differ).toContain(id);
      // A row the host itself skipped for a requirement it lacks (otherUser, when
      // the checkout sits in a private folder and the image's copy does not) may pass in the container.
      const hostSkip = new Map(readReport(JSON.parse(host.stdout)).entries.filter((e) => e.status === 'skip').map((e) => [e.id, e.reason ?? '']));
      for (const e of out.differ) {
        if (/^[a-zA-Z]+: /.test(hostSkip.get(e.id) ?? '')) continue;
        expect(['blocked', 'skip'], e.id).toContain(e.b?.status);
      }
      if (report.kind === 'probe') expect(differ.sort()).toEqual(blocked.sort());
      expect(out.facts.map((f) => f.name)).toContain('container');
      console.log(`[diff] host vs container: ${out.differ.map((e) => `${e.id} -> ${e.b?.status}`).join(', ')}`);
    },
    300_000,
  );

  itDocker(
    'with --security-opt seccomp=unconfined, the mseal rows pass',
    () => {
      expect(built, 'the image was built').toBe(true);
      const { report } = runInContainer(['--security-opt', 'seccomp=unconfined'], SUITE, 'docker run (seccomp=unconfined)');
      expect(hasFailures(report)).toBe(false);
      const mseal = availableRowsOk(report, isMsealRow);
      expect(mseal.ok, mseal.detail).toBe(true);
      expect(report.entries.filter((e) => e.status === 'blocked')).toEqual([]);
      const probe = runInContainer(['--security-opt', 'seccomp=unconfined'], ['probe', '--json'], 'docker run probe (seccomp=unconfined)').raw as ProbeReport;
      expect(probe.seccomp.mode).toBe(0);
      expect(probe.features.mseal.status).toBe('supported');
    },
    300_000,
  );
});
