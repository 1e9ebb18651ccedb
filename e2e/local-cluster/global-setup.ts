// vitest globalSetup for cluster tests: starts the local control plane unless one is already
// running for this run (RDS_TEST_KUBECONFIG set, e.g. by `cli.js run` in scripts/tiers/cluster.sh),
// and stops it after the last test file. Usage in a vitest project:
//   globalSetup: ["e2e/local-cluster/global-setup.ts"]
import { BINARIES_ENV } from "./binaries.js";
import { KUBECONFIG_ENV, startLocalCluster } from "./cluster.js";

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env[KUBECONFIG_ENV]) return undefined;
  const cluster = await startLocalCluster({ log: (line) => console.log(`[local-cluster] ${line}`) });
  // Test workers are started after this and inherit the environment.
  process.env[KUBECONFIG_ENV] = cluster.kubeconfigPath;
  process.env[BINARIES_ENV] = JSON.stringify(cluster.binaries);
  return async () => {
    delete process.env[KUBECONFIG_ENV];
    delete process.env[BINARIES_ENV];
    await cluster.stop();
  };
}
