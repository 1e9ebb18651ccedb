import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeConfigError, resolveKubeConfig } from "./kubeconfig.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "events-kc-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function writeKubeconfig(file: string, server: string): string {
  fs.writeFileSync(
    file,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters: [{name: c, cluster: {server: " + server + ", insecure-skip-tls-verify: true}}]",
      "users: [{name: u, user: {token: t}}]",
      "contexts: [{name: x, context: {cluster: c, user: u}}]",
      "current-context: x",
    ].join("\n"),
  );
  return file;
}

function writeServiceAccount(root: string): void {
  const sa = path.join(root, "var/run/secrets/kubernetes.io/serviceaccount");
  fs.mkdirSync(sa, { recursive: true });
  fs.writeFileSync(path.join(sa, "token"), "sa-token");
  fs.writeFileSync(path.join(sa, "ca.crt"), "");
  fs.writeFileSync(path.join(sa, "namespace"), "kube-system");
}

describe("resolveKubeConfig", () => {
  it('"none" means no cluster', () => {
    expect(resolveKubeConfig("none")).toBeUndefined();
  });

  it('"auto" without service account or KUBECONFIG means no cluster', () => {
    expect(resolveKubeConfig("auto", { env: {}, rootPrefix: dir })).toBeUndefined();
  });

  it('"auto" prefers the in-cluster service account', () => {
    writeServiceAccount(dir);
    const file = writeKubeconfig(path.join(dir, "kc"), "https://127.0.0.1:1");
    const resolved = resolveKubeConfig("auto", {
      env: { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBECONFIG: file },
      rootPrefix: dir,
    });
    expect(resolved?.source).toBe("in-cluster");
    expect(resolved?.kubeConfig.getCurrentUser()?.authProvider).toMatchObject({
      config: { tokenFile: dir + "/var/run/secrets/kubernetes.io/serviceaccount/token" },
    });
  });

  it('"auto" ignores the service account directory without KUBERNETES_SERVICE_HOST', () => {
    writeServiceAccount(dir);
    expect(resolveKubeConfig("auto", { env: {}, rootPrefix: dir })).toBeUndefined();
  });

  it('"auto" falls back to the first existing file of KUBECONFIG', () => {
    const file = writeKubeconfig(path.join(dir, "kc"), "https://127.0.0.1:6443");
    const resolved = resolveKubeConfig("auto", {
      env: { KUBECONFIG: [path.join(dir, "missing"), file].join(path.delimiter) },
      rootPrefix: dir,
    });
    expect(resolved?.source).toBe(`KUBECONFIG=${file}`);
    expect(resolved?.kubeConfig.getCurrentCluster()?.server).toBe("https://127.0.0.1:6443");
  });

  it("loads an explicit path, and throws a typed error for a broken one", () => {
    const file = writeKubeconfig(path.join(dir, "kc"), "https://127.0.0.1:6443");
    expect(resolveKubeConfig(file)?.source).toBe(`file ${file}`);
    expect(() => resolveKubeConfig(path.join(dir, "missing"))).toThrow(KubeConfigError);
    fs.writeFileSync(path.join(dir, "empty"), "apiVersion: v1\nkind: Config\n");
    expect(() => resolveKubeConfig(path.join(dir, "empty"))).toThrow(/no current cluster/);
  });

  it("passes a KubeConfig object through", () => {
    const kc = new KubeConfig();
    expect(resolveKubeConfig(kc)?.kubeConfig).toBe(kc);
  });
});
