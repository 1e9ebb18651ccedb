// The kind suite's own vitest config. It is deliberately NOT part of vitest.projects.config.ts:
// it needs a kind cluster with deploy/overlays/sim applied, which only the e2e-kind GitHub
// workflow creates. Run: npx vitest run --config e2e/kind/vitest.kind.config.ts
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: import.meta.dirname,
    include: ["*.kind.e2e.ts"],
    // Provisioning, connecting and recovering run in a real cluster; waits are generous so a slow
    // runner shows up as a slow test, not a flaky one. Nothing asserts on durations.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    fileParallelism: false,
  },
});
