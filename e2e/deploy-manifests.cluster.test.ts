// Every manifest under deploy/ validated by the real API server (issue #9, part 3): each
// kustomization is rendered with the pinned kustomize (generators, patches and image overrides
// applied, exactly what `kubectl apply -k` sends) and every object is sent as a server-side apply
// with dryRun=All, so schema, defaulting and validation run and nothing is stored. YAML files that
// no kustomization references are validated as they are, so no manifest escapes.
import * as k8s from "@kubernetes/client-node";
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { binariesFromEnv, ensureBinaries } from "./local-cluster/binaries.js";
import { ensureSnapshotCrds, loadKubeConfig } from "./support/kube.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const deployDir = join(repoRoot, "deploy");
const FIELD_MANAGER = "rds-nvme-csi-e2e";

interface Kustomization {
  resources?: string[];
  patches?: { path?: string }[];
  patchesStrategicMerge?: string[];
  components?: string[];
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}

const allYaml = walk(deployDir).filter((f) => /\.ya?ml$/.test(f));
const kustomizationDirs = allYaml.filter((f) => /(^|\/)kustomization\.ya?ml$/.test(f)).map((f) => dirname(f));

/** Files a kustomization pulls in (resources, patches), so they are covered by its render. */
function referencedFiles(): Set<string> {
  const seen = new Set<string>();
  for (const dir of kustomizationDirs) {
    const file = allYaml.find((f) => dirname(f) === dir && /kustomization\.ya?ml$/.test(f))!;
    seen.add(file);
    const k = k8s.loadYaml<Kustomization>(readFileSync(file, "utf8"));
    const refs = [...(k.resources ?? []), ...(k.patchesStrategicMerge ?? []), ...(k.components ?? [])];
    for (const p of k.patches ?? []) if (p.path) refs.push(p.path);
    for (const r of refs) seen.add(resolve(dir, r));
  }
  return seen;
}

function kustomizeBuild(kustomize: string, dir: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      kustomize,
      ["build", dir],
      { timeout: 60_000, killSignal: "SIGKILL", maxBuffer: 16 << 20, shell: false },
      (err, stdout, stderr) => (err ? reject(new Error(`kustomize build ${dir}: ${err.message}\n${stderr}`)) : resolvePromise(stdout)),
    );
  });
}

function describeObject(o: k8s.KubernetesObject): string {
  return `${o.kind ?? "?"} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata?.name ?? "?"}`;
}

function errorText(err: unknown): string {
  if (err instanceof k8s.ApiException) {
    const body: unknown = err.body;
    return `HTTP ${err.code}: ${typeof body === "string" ? body : JSON.stringify(body)}`;
  }
  return err instanceof Error ? err.message : String(err);
}

describe("deploy/ manifests against the real API server (server-side dry run)", () => {
  let api: k8s.KubernetesObjectApi;
  let core: k8s.CoreV1Api;
  let kustomize: string;
  const createdNamespaces: string[] = [];

  beforeAll(async () => {
    const kc = loadKubeConfig();
    api = k8s.KubernetesObjectApi.makeApiClient(kc);
    core = kc.makeApiClient(k8s.CoreV1Api);
    const binaries = binariesFromEnv() ?? (await ensureBinaries());
    kustomize = binaries.kustomize;
    // deploy/ expects the VolumeSnapshot CRDs to be installed (a VolumeSnapshotClass needs them).
    await ensureSnapshotCrds(kc, binaries["snapshot-crds"]);
  });

  afterAll(async () => {
    for (const name of createdNamespaces) await core?.deleteNamespace({ name }).catch(() => undefined);
  });

  // Namespaced objects can only be dry-run inside an existing namespace: create those the
  // manifests declare for real first (that apply validates the Namespace objects too).
  async function applyNamespaces(objects: k8s.KubernetesObject[]): Promise<void> {
    for (const o of objects.filter((x) => x.kind === "Namespace" && x.apiVersion === "v1")) {
      const name = o.metadata?.name;
      if (!name || createdNamespaces.includes(name)) continue;
      await api.patch(o, undefined, undefined, FIELD_MANAGER, true, k8s.PatchStrategy.ServerSideApply);
      createdNamespaces.push(name);
    }
  }

  async function dryRunAll(objects: k8s.KubernetesObject[]): Promise<string[]> {
    const failures: string[] = [];
    for (const o of objects) {
      try {
        await api.patch(o, undefined, "All", FIELD_MANAGER, true, k8s.PatchStrategy.ServerSideApply);
      } catch (err) {
        failures.push(`${describeObject(o)}: ${errorText(err)}`);
      }
    }
    return failures;
  }

  it("finds manifests to validate", () => {
    expect(kustomizationDirs.length).toBeGreaterThan(0);
  });

  it.each(kustomizationDirs.map((d) => [relative(repoRoot, d), d]))("%s renders and every object passes", async (_name, dir) => {
    const objects = k8s.loadAllYaml(await kustomizeBuild(kustomize, dir)) as k8s.KubernetesObject[];
    expect(objects.length).toBeGreaterThan(0);
    await applyNamespaces(objects);
    expect(await dryRunAll(objects)).toEqual([]);
  });

  it("validates YAML files no kustomization references", async () => {
    const referenced = referencedFiles();
    const loose = allYaml.filter((f) => !referenced.has(f));
    const failures: string[] = [];
    for (const file of loose) {
      const objects = (k8s.loadAllYaml(readFileSync(file, "utf8")) as (k8s.KubernetesObject | null)[]).filter(
        (o): o is k8s.KubernetesObject => o !== null,
      );
      await applyNamespaces(objects);
      failures.push(...(await dryRunAll(objects)).map((f) => `${relative(repoRoot, file)}: ${f}`));
    }
    expect(failures).toEqual([]);
  });
});
