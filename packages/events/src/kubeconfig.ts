// Where the recorder's API credentials come from.
import * as fs from "node:fs";
import * as path from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { clientNode } from "./client-node.js";

/**
 * "auto": the in-cluster service account if there is one, else the first file of $KUBECONFIG,
 * else no cluster. "none": no cluster. A path: that kubeconfig file. Or a ready KubeConfig.
 */
export type KubeConfigSpec = "auto" | "none" | (string & {}) | KubeConfig;

export interface ResolveKubeConfigOptions {
  /** Environment to read KUBERNETES_SERVICE_HOST and KUBECONFIG from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Prefix of /var/run/secrets/... (tests point it at a fixture tree; default ""). */
  rootPrefix?: string;
}

export interface ResolvedKubeConfig {
  kubeConfig: KubeConfig;
  /** "in-cluster", "KUBECONFIG=<path>", "file <path>" or "given". */
  source: string;
}

const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/** Thrown for a kubeconfig file that cannot be loaded (a given path, or the one in KUBECONFIG). */
export class KubeConfigError extends Error {
  override readonly name = "KubeConfigError";
}

export function resolveKubeConfig(
  spec: KubeConfigSpec,
  opts: ResolveKubeConfigOptions = {},
): ResolvedKubeConfig | undefined {
  // A KubeConfig object (the only non-string spec): its caller has client-node loaded already.
  if (typeof spec !== "string") return { kubeConfig: spec, source: "given" };
  if (spec === "none") return undefined;
  if (spec !== "auto") return { kubeConfig: loadFile(spec), source: `file ${spec}` };

  const env = opts.env ?? process.env;
  const prefix = opts.rootPrefix ?? "";
  if (env.KUBERNETES_SERVICE_HOST && fs.existsSync(prefix + SERVICE_ACCOUNT_TOKEN)) {
    const kc = new (clientNode().KubeConfig)();
    kc.loadFromCluster(prefix);
    return { kubeConfig: kc, source: "in-cluster" };
  }
  // Like kubectl, KUBECONFIG may be a list; we use its first existing file (no merging).
  const candidates = (env.KUBECONFIG ?? "").split(path.delimiter).filter((p) => p.length > 0);
  const file = candidates.find((p) => fs.existsSync(p));
  if (file) return { kubeConfig: loadFile(file), source: `KUBECONFIG=${file}` };
  return undefined;
}

function loadFile(file: string): KubeConfig {
  const kc = new (clientNode().KubeConfig)();
  try {
    kc.loadFromFile(file);
  } catch (err) {
    throw new KubeConfigError(
      `cannot load kubeconfig ${file}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  if (!kc.getCurrentCluster())
    throw new KubeConfigError(`kubeconfig ${file} has no current cluster`);
  return kc;
}
