import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // One Redis server and a Redis Cluster of the tests' own.
    globalSetup: ["test/global-setup.ts"],
    // The differential suite runs thousands of generated batches through
    // both engines; a slow CI machine must not time it out.
    testTimeout: 300_000,
    hookTimeout: 60_000,
  },
});
