import { defineConfig } from "vitest/config";

// One root run over every package. Two projects: `unit` (no root needed, fixture trees) and
// `int` (privileged: real loop devices and mounts; scripts/run-tests.sh runs it as root inside
// `unshare -m` so no mount escapes onto the machine).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["packages/*/src/**/*.test.ts", "e2e/**/*.test.ts"],
          exclude: ["**/*.int.test.ts", "**/*.cluster.test.ts", "**/node_modules/**", "**/dist/**"],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "int",
          include: ["packages/*/src/**/*.int.test.ts"],
          exclude: ["**/node_modules/**", "**/dist/**"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          globalSetup: ["scripts/int-global-setup.ts"],
          // Loop devices and sysfs roots are machine-wide; run files one after another.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "cluster",
          include: ["e2e/**/*.cluster.test.ts", "packages/*/src/**/*.cluster.test.ts"],
          exclude: ["**/node_modules/**", "**/dist/**"],
          testTimeout: 300_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
