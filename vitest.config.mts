import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Test files whose mounts exercise the read path (bytes, faults, signals, decoded stores, load):
 * they run a second time with fuse-native serving. The others mount too, always with the
 * native backend; fuse-backends.test.ts picks each backend itself.
 */
const READ_PATH = [
  'test/avml.test.ts',
  'test/faults.test.ts',
  'test/fuse-mount.test.ts',
  'test/hostile-mount.test.ts', // fuse-native's unmount is the one that went through a shell
  'test/round-trip-fuse.test.ts',
  'test/stress-smoke.test.ts',
];

export default defineConfig({
  test: {
    // Real kernels under QEMU: `npm run test:kernel` (vitest.kernel.config.mts).
    exclude: [...configDefaults.exclude, 'test/kernel/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: FUSE tests spawn mount processes and readers; keep parallelism modest.
    maxWorkers: 2,
    projects: [
      // Every file, mounts served by the native backend (a test fails if the addon did not build).
      { extends: true, test: { name: 'native', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, 'test/kernel/**'], env: { MEMVIEW_BACKEND: 'native' } } },
      { extends: true, test: { name: 'fuse-native', include: READ_PATH, env: { MEMVIEW_BACKEND: 'fuse-native' } } },
    ],
  },
});
