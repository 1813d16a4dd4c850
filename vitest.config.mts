import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each file in its own process: native state (fds, mappings, sealed
    // memory) never leaks from one file into another.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    restoreMocks: true,
    // With MEMSEAL_POLLUTE_PROTOTYPE=1, every test runs with a hostile value
    // on Object.prototype for each option name memseal reads.
    setupFiles: ['test/helpers/pollute.ts'],
  },
});
