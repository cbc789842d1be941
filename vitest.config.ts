import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // e2e files spawn supervisors, PTYs and sockets: keep parallelism at the core count.
    maxWorkers: 2,
    // Type-level tests (expectTypeOf) are checked by tsc, not only run.
    typecheck: { enabled: true, include: ['test/**/types.test.ts'], tsconfig: './tsconfig.test.json' },
  },
});
