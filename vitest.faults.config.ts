import { defineConfig } from "vitest/config";

// The fault suite (npm run test:faults → RELIABILITY.md): real processes, with faults injected.
export default defineConfig({
  test: {
    include: ["faults/**/*.fault.test.ts"],
    environment: "node",
    testTimeout: 300_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
