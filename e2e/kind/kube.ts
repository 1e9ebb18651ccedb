// Small helpers for the kind suite: API clients from the runner's kubeconfig, `kubectl exec`
// with a hard timeout, and polling with a deadline.
import { execFile } from "node:child_process";
import * as k8s from "@kubernetes/client-node";

export const DRIVER_NAMESPACE = "rds-nvme-csi";
export const DRIVER_NAME = "rds-nvme.csi.dev";
export const STORAGE_CLASS = "rds-nvme";
/** Where sim-nvme's host agent keeps its state inside the node plugin pod (deploy/overlays/sim). */
export const SIM_HOST_STATE_DIR = "/var/lib/rds-nvme-sim/host";

export function apiClients(): { core: k8s.CoreV1Api; storage: k8s.StorageV1Api } {
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  return { core: kc.makeApiClient(k8s.CoreV1Api), storage: kc.makeApiClient(k8s.StorageV1Api) };
}

export function isNotFound(err: unknown): boolean {
  return err instanceof k8s.ApiException && err.code === 404;
}

export class KubectlError extends Error {
  override readonly name = "KubectlError";
  constructor(
    readonly argv: string[],
    readonly stdout: string,
    readonly stderr: string,
    cause: unknown,
  ) {
    super(`kubectl ${argv.join(" ")} failed: ${stderr.trim() || String(cause)}`, { cause });
  }
}

/** Runs kubectl with an argv array (no shell on this side) and kills it after timeoutMs. */
export function kubectl(argv: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "kubectl",
      argv,
      { timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 16 * 1024 * 1024, encoding: "utf8" },
      (err, stdout, stderr) => {
        if (err) reject(new KubectlError(argv, stdout, stderr, err));
        else resolve(stdout);
      },
    );
  });
}

/** Thrown by a waitFor probe to stop waiting at once: the awaited state can no longer come. */
export class GiveUp extends Error {
  override readonly name = "GiveUp";
}

/**
 * Polls `probe` every intervalMs until it returns a value other than undefined. On the deadline
 * it throws, naming what it waited for and the last thing it saw (`describe`), so a failed run
 * says why. This waits for the cluster; it asserts nothing about how long that took.
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  describe?: () => Promise<string>,
  intervalMs = 2_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const seen = describe
        ? await describe().catch((e: unknown) => `(describe failed: ${String(e)})`)
        : "";
      const last =
        lastError === undefined
          ? ""
          : `; last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)}`;
      throw new Error(`timed out waiting for ${what}${last}${seen ? `\n${seen}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Core/v1 view of the events whose involvedObject is the given PVC (events.k8s.io ones too). */
export async function pvcEvents(
  core: k8s.CoreV1Api,
  namespace: string,
  pvcName: string,
): Promise<k8s.CoreV1Event[]> {
  const list = await core.listNamespacedEvent({
    namespace,
    fieldSelector: `involvedObject.kind=PersistentVolumeClaim,involvedObject.name=${pvcName}`,
  });
  return list.items;
}

export function formatEvents(events: k8s.CoreV1Event[]): string {
  return events
    .map(
      (e) =>
        `${e.type ?? "?"} ${e.reason ?? "?"} (${e.source?.component ?? e.reportingComponent ?? "?"}): ${e.message ?? ""}`,
    )
    .join("\n");
}
