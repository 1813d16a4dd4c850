// Core syscall costs through memseal against the same loops in C, one run.
// Target: each memseal figure at most 1.15x its C loop.
import { compileC, emit, memseal, paired, require, root, timeC, timeJs } from './lib.mjs';
import { join } from 'node:path';

const { Mapping, Memfd } = memseal();
const { binding } = require(join(root, 'dist', 'binding.js'));
const { constants } = require(join(root, 'dist', 'constants.js'));
const raw = binding();
const c = compileC('core', ['-lpthread']);
// Node runs several threads; the same C loop with a few idle threads shows
// what a multi-threaded process pays for the same syscalls (TLB shootdowns).
const THREADS = '4';
const N = 20_000;
const TARGET = 1.15;

const cases = [];

// memfd_create + close
cases.push({
  name: 'memfd_create+close (Memfd.create/close)',
  js: () =>
    timeJs((n) => {
      for (let i = 0; i < n; i++) Memfd.create('bench').close();
    }, N),
  c: () => timeC(c, ['memfd', String(N)]),
});

// F_ADD_SEALS + F_GET_SEALS
const sealed = Memfd.create('bench-seals', { exec: 'kernel-default' });
cases.push({
  name: 'F_ADD_SEALS+F_GET_SEALS (addSeals/seals)',
  js: () =>
    timeJs((n) => {
      for (let i = 0; i < n; i++) {
        sealed.addSeals('grow');
        if (!sealed.seals.has('grow')) throw new Error('lost the seal');
      }
    }, N),
  c: () => timeC(c, ['seals', String(N)]),
});

// mprotect toggle
const page = Mapping.anonymous(4096);
cases.push({
  name: 'mprotect r/rw toggle (Mapping.protect)',
  js: () =>
    timeJs((n) => {
      for (let i = 0; i < n; i++) {
        page.protect('r');
        page.protect('rw');
      }
    }, N),
  c: () => timeC(c, ['mprotect', String(N)]),
});

// mseal of a fresh page (the memory stays: sealed pages cannot be unmapped)
cases.push({
  name: 'mmap+mseal of a fresh page (Mapping.anonymous+seal)',
  js: () =>
    timeJs((n) => {
      for (let i = 0; i < n; i++) Mapping.anonymous(4096).seal();
    }, 2_000),
  c: () => timeC(c, ['mseal', '2000']),
});

// The raw binding alone, for reference: what the public layer costs on top.
cases.push({
  name: 'memfd_create+close (raw binding, reference)',
  info: true,
  js: () =>
    timeJs((n) => {
      for (let i = 0; i < n; i++) raw.close(raw.memfdCreate('bench', constants.MFD_CLOEXEC | constants.MFD_ALLOW_SEALING | constants.MFD_NOEXEC_SEAL));
    }, N),
  c: () => timeC(c, ['memfd', String(N)]),
});

for (const [name, op, n, js] of [
  ['mprotect r/rw toggle, C with 4 idle threads (reference)', 'mprotect', N, cases[2].js],
  ['mmap+mseal of a fresh page, C with 4 idle threads (reference)', 'mseal', 2000, cases[3].js],
  ['memfd_create+close, C with 4 idle threads (reference)', 'memfd', N, cases[0].js],
]) {
  cases.push({ name, info: true, js, c: () => timeC(c, [op, String(n), THREADS]) });
}

const rows = [];
for (const k of cases) {
  const { a, b, ratio } = paired(k.js, k.c, 5);
  rows.push({
    name: k.name,
    memseal: a / 1000,
    baseline: b / 1000,
    baselineName: 'C loop',
    unit: 'us/op',
    pairRatio: ratio,
    target: k.info ? '' : `<= ${TARGET}`,
    ok: k.info ? undefined : ratio <= TARGET,
  });
}
sealed.close();
page.unmap();
emit('core', rows);
