import { defineConfig } from 'vitest/config';

// `npm run test:kernel`: real Debian kernels booted under QEMU (test/kernel/setup.ts), then checks
// on what they left in the cache. Not part of `npm test`.
export default defineConfig({
  test: {
    include: ['test/kernel/**/*.test.ts'],
    globalSetup: ['test/kernel/setup.ts'],
    testTimeout: 600_000,
    hookTimeout: 600_000,
    maxWorkers: 2,
  },
});
