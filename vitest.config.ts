import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // One file at a time. The e2e files spawn supervisors, PTYs and sockets, and several flood
    // hundreds of MiB through them while timing what a user would see (bus lag, exit within a bound,
    // a slow reader getting everything): on 2 cores two such files at once starve each other's
    // processes for seconds, which each file alone never does. The suite stays near 4 minutes.
    fileParallelism: false,
    // Type-level tests (expectTypeOf) are checked by tsc, not only run.
    typecheck: { enabled: true, include: ['test/**/types.test.ts'], tsconfig: './tsconfig.test.json' },
  },
});
