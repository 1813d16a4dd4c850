import { describe, expect, it } from 'vitest';
import { Memfd, probe } from '../lib/index.js';

describe('smoke', () => {
  it('creates a memfd and probes the kernel', () => {
    using m = Memfd.create('smoke');
    expect(m.fd).toBeGreaterThan(2);
    expect(probe().features.memfd_create.status).toBe('supported');
  });
});
