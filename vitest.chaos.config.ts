// `npm run test:chaos`: long-running soak and chaos runs (`packages/*/test/**/*.chaos.ts`), one file at a time
// so each has the machine to itself. Kept out of `npm test`; `./dev test` runs both.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@virtkit/source'] },
  ssr: { resolve: { conditions: ['@virtkit/source'] } },
  test: {
    include: ['packages/*/test/**/*.chaos.ts'],
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 60_000,
  },
});
