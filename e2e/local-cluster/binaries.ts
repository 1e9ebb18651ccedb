// The upstream binaries, built (once per pinned version set) by tools/build.sh into the cache
// dir outside the repo. A first build takes many minutes on 2 cores; later calls only hash the
// pins and print the cached paths.
import { execFile } from "node:child_process";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface Binaries {
  etcd: string;
  "kube-apiserver": string;
  "kube-controller-manager": string;
  "csi-provisioner": string;
  "csi-resizer": string;
  kustomize: string;
  "csi-snapshotter": string;
  "snapshot-controller": string;
  /** A directory with the VolumeSnapshot CRDs of the same external-snapshotter release. */
  "snapshot-crds": string;
}

// This module runs from source (vitest) and compiled (dist/, the CLI): find tools/ from either.
const here = dirname(fileURLToPath(import.meta.url));
const BUILD_SCRIPT = join(basename(here) === "dist" ? dirname(here) : here, "tools", "build.sh");
const NAMES: readonly (keyof Binaries)[] = [
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "csi-provisioner",
  "csi-resizer",
  "kustomize",
  "csi-snapshotter",
  "snapshot-controller",
  "snapshot-crds",
];

/** Env var through which a parent (the tier's `run` command) hands the paths to tests. */
export const BINARIES_ENV = "RDS_LOCAL_CLUSTER_BINARIES";

export function ensureBinaries(options: { timeoutMs?: number; log?: (line: string) => void } = {}): Promise<Binaries> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      "bash",
      [BUILD_SCRIPT, "--json"],
      { timeout: options.timeoutMs ?? 60 * 60_000, killSignal: "SIGKILL", maxBuffer: 1 << 20, shell: false },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`building the local control plane binaries failed: ${err.message}\n${stderr.slice(-4000)}`));
          return;
        }
        try {
          resolve(parseBinaries(stdout));
        } catch (parseError) {
          reject(parseError instanceof Error ? parseError : new Error(String(parseError)));
        }
      },
    );
    // Build progress (stderr) is worth seeing live: the first build is long.
    child.stderr?.on("data", (chunk: Buffer) => options.log?.(chunk.toString().trimEnd()));
  });
}

export function parseBinaries(json: string): Binaries {
  const parsed = JSON.parse(json) as Record<string, unknown>;
  const out: Partial<Binaries> = {};
  for (const name of NAMES) {
    const path = parsed[name];
    if (typeof path !== "string" || path === "") throw new Error(`no path for ${name} in ${json}`);
    out[name] = path;
  }
  return out as Binaries;
}

/** The paths handed down through BINARIES_ENV, or undefined when not set. */
export function binariesFromEnv(env: NodeJS.ProcessEnv = process.env): Binaries | undefined {
  const raw = env[BINARIES_ENV];
  return raw ? parseBinaries(raw) : undefined;
}
