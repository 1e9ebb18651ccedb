// Small helpers shared by the cluster tests.
import * as k8s from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { KUBECONFIG_ENV } from "../local-cluster/cluster.js";

/**
 * The admin kubeconfig of the running local control plane. Throws when there is none: a cluster
 * test without a cluster must fail, never skip (scripts/tiers/cluster.sh provides one).
 */
export function loadKubeConfig(): k8s.KubeConfig {
  const path = process.env[KUBECONFIG_ENV];
  if (!path) {
    throw new Error(`${KUBECONFIG_ENV} is not set: run cluster tests through scripts/tiers/cluster.sh (see e2e/README.md)`);
  }
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/** A DNS-1123 name unique to this run, so tests never collide with leftovers. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

/**
 * Polls `probe` until it returns something other than undefined (controllers act
 * asynchronously). Not a timing assertion: the deadline only bounds a hang.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? `: last error ${lastError.message}` : "";
      throw new Error(`gave up waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 250));
  }
}

/**
 * Installs the VolumeSnapshot CRDs shipped with the pinned external-snapshotter (server-side
 * apply, so repeating it is harmless) and waits until the API server serves them.
 */
export async function ensureSnapshotCrds(kc: k8s.KubeConfig, crdDir: string): Promise<string[]> {
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  const files = readdirSync(crdDir).filter((f) => /^snapshot\.storage\.k8s\.io_.*\.yaml$/.test(f));
  if (files.length === 0) throw new Error(`no VolumeSnapshot CRDs in ${crdDir}`);
  const names: string[] = [];
  for (const f of files) {
    const crd = k8s.loadYaml<k8s.V1CustomResourceDefinition>(readFileSync(join(crdDir, f), "utf8"));
    const name = crd.metadata?.name;
    if (!name) throw new Error(`${f}: CRD without a name`);
    await objects.patch(crd, undefined, undefined, "rds-nvme-csi-e2e", true, k8s.PatchStrategy.ServerSideApply);
    await eventually(`CRD ${name} established`, async () => {
      const c = await ext.readCustomResourceDefinition({ name });
      return c.status?.conditions?.some((x) => x.type === "Established" && x.status === "True") ? true : undefined;
    });
    names.push(name);
  }
  return names;
}
