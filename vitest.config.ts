import { defineConfig } from 'vitest/config';

const pkg = (name: string) => ({
  extends: true as const,
  test: { name, include: [`packages/${name}/test/**/*.test.ts`] },
});

export default defineConfig({
  resolve: { conditions: ['@virtkit/source'] },
  ssr: { resolve: { conditions: ['@virtkit/source'] } },
  test: {
    projects: [
      pkg('engine'),
      pkg('sim'),
      pkg('agent'),
      pkg('sdk'),
      { extends: true, test: { name: 'examples', include: ['examples/**/*.test.ts'] } },
    ],
    testTimeout: 30_000,
  },
});
