import { configDefaults, defineConfig } from 'vitest/config';

// The files under test/machine-wide/ change state the whole machine shares
// (vm.nr_hugepages): they run in a pass of their own, with
// MEMSEAL_MACHINE_WIDE=1, when no other test file runs (scripts/test.mjs).
const machineWide = process.env.MEMSEAL_MACHINE_WIDE === '1';

export default defineConfig({
  test: {
    include: machineWide ? ['test/machine-wide/**/*.test.ts'] : ['test/**/*.test.ts'],
    exclude: machineWide ? configDefaults.exclude : [...configDefaults.exclude, 'test/machine-wide/**'],
    // Each file in its own process: native state (fds, mappings, sealed
    // memory) never leaks from one file into another.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    restoreMocks: true,
    // With MEMSEAL_POLLUTE_PROTOTYPE=1, every test runs with a hostile value
    // on Object.prototype for each option name memseal reads.
    setupFiles: ['test/helpers/pollute.ts'],
    // A temporary folder for the run (TMPDIR), removed at its end.
    globalSetup: ['test/helpers/global-setup.ts'],
  },
});
