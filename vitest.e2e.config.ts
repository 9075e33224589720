import { defineConfig } from "vitest/config";

// End-to-end tests: plain Node, talking to real processes (wrangler dev, the .NET agent, dockerd, sshd).
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.e2e.test.ts", "cli/test/**/*.e2e.test.ts"],
    environment: "node",
    testTimeout: 180_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
