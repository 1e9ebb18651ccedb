// A real Kubernetes control plane as plain processes on 127.0.0.1: etcd, kube-apiserver and
// kube-controller-manager (only the controllers volume tests need), with fresh certificates,
// free ports and a temp dir per run. No container engine, no kubelet, no scheduler: the tests
// create API objects and the CSI sidecars act on them.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ensureBinaries, type Binaries } from "./binaries.js";
import { createPki, type Pki } from "./pki.js";
import { freePorts } from "./ports.js";
import { ManagedProcess, waitUntil } from "./processes.js";

/** Env var through which tests find the admin kubeconfig of the running control plane. */
export const KUBECONFIG_ENV = "RDS_TEST_KUBECONFIG";

/**
 * kube-controller-manager controllers that volume tests need: PV/PVC binding (which also marks
 * PVCs for the external provisioner), expansion (marks PVCs for the external resizer), the PVC/PV
 * protection finalizers (else deleting a PVC hangs), namespace deletion, and default service
 * accounts.
 */
export const CONTROLLERS = [
  "persistentvolume-binder-controller",
  "persistentvolume-expander-controller",
  "persistentvolume-protection-controller",
  "persistentvolumeclaim-protection-controller",
  "namespace-controller",
  "serviceaccount-controller",
] as const;

export interface StartClusterOptions {
  /** Paths of the upstream binaries; default: ensureBinaries() (builds on first use). */
  binaries?: Binaries;
  /** Where the process logs go (kept after stop); default: inside the run's temp dir (deleted). */
  logDir?: string;
  /** Also write the admin kubeconfig here (deleted on stop). */
  kubeconfigPath?: string;
  /** Per-component start timeout. */
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface LocalCluster {
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** Admin kubeconfig (client certificate in group system:masters). */
  readonly kubeconfigPath: string;
  /** The run's temp dir: certificates, etcd data, kubeconfig; removed by stop(). */
  readonly dir: string;
  readonly logDir: string;
  readonly binaries: Binaries;
  readonly pki: Pki;
  /** Throws (with the log tail) if a component has died since start. */
  assertHealthy(): void;
  /** Stops every component (controller-manager, API server, etcd) and removes the temp dir. */
  stop(): Promise<void>;
}

export async function startLocalCluster(options: StartClusterOptions = {}): Promise<LocalCluster> {
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.startTimeoutMs ?? 120_000;
  const binaries = options.binaries ?? (await ensureBinaries({ log }));
  const dir = mkdtempSync(join(tmpdir(), "rds-local-cluster-"));
  const logDir = options.logDir ? resolve(options.logDir) : join(dir, "logs");
  mkdirSync(logDir, { recursive: true });
  const started: ManagedProcess[] = [];
  const extraFiles: string[] = [];

  const stop = async () => {
    // Reverse start order: clients before the API server, the API server before etcd.
    for (const p of [...started].reverse()) await p.stop();
    started.length = 0;
    for (const f of extraFiles) rmSync(f, { force: true });
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const pki = await createPki(dir);

    // etcd: a single member, data in the temp dir. fsync is off: the data dies with the run.
    const [etcdClientPort, etcdPeerPort, apiPort, kcmPort] = await freePorts(4);
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    log(`starting etcd on ${etcdUrl}`);
    const etcd = await ManagedProcess.start({
      name: "etcd",
      logFile: join(logDir, "etcd.log"),
      argv: [
        binaries.etcd,
        "--name=local",
        `--data-dir=${join(dir, "etcd")}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=local=${peerUrl}`,
        "--unsafe-no-fsync=true",
        "--log-level=warn",
      ],
    });
    started.push(etcd);
    await waitUntil("etcd /health", async () => (await httpGet(`${etcdUrl}/health`)).includes('"health":"true"'), {
      timeoutMs,
      process: etcd,
    });

    const server = `https://127.0.0.1:${apiPort}`;
    log(`starting kube-apiserver on ${server}`);
    const apiserver = await ManagedProcess.start({
      name: "kube-apiserver",
      logFile: join(logDir, "kube-apiserver.log"),
      argv: [
        binaries["kube-apiserver"],
        `--etcd-servers=${etcdUrl}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${apiPort}`,
        `--tls-cert-file=${pki.servingCert}`,
        `--tls-private-key-file=${pki.servingKey}`,
        `--client-ca-file=${pki.caCert}`,
        `--service-account-key-file=${pki.serviceAccountPub}`,
        `--service-account-signing-key-file=${pki.serviceAccountKey}`,
        "--service-account-issuer=https://kubernetes.default.svc",
        // An allocation range for Service IPs only; nothing is ever sent to it.
        "--service-cluster-ip-range=10.0.0.0/24",
        // The `kubernetes` Service's endpoints would point at 127.0.0.1, which validation
        // rejects; nothing here needs that Service.
        "--endpoint-reconciler-type=none",
        "--authorization-mode=Node,RBAC",
        "--allow-privileged=true",
        "--profiling=false",
        `--cert-dir=${join(dir, "apiserver-certs")}`,
        "--v=1",
      ],
    });
    started.push(apiserver);
    const tls = {
      ca: readFileSync(pki.caCert),
      cert: readFileSync(pki.adminCert),
      key: readFileSync(pki.adminKey),
    };
    await waitUntil("kube-apiserver /readyz", async () => (await httpsGet(`${server}/readyz`, tls)) === "ok", {
      timeoutMs,
      process: apiserver,
    });

    const kubeconfigPath = join(dir, "kubeconfig");
    const kubeconfig = adminKubeconfig(server, pki);
    writeFileSync(kubeconfigPath, kubeconfig, { mode: 0o600 });
    if (options.kubeconfigPath) {
      writeFileSync(options.kubeconfigPath, kubeconfig, { mode: 0o600 });
      extraFiles.push(options.kubeconfigPath);
    }

    log(`starting kube-controller-manager (${CONTROLLERS.join(",")})`);
    const kcm = await ManagedProcess.start({
      name: "kube-controller-manager",
      logFile: join(logDir, "kube-controller-manager.log"),
      argv: [
        binaries["kube-controller-manager"],
        `--kubeconfig=${kubeconfigPath}`,
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        "--bind-address=127.0.0.1",
        `--secure-port=${kcmPort}`,
        `--cert-dir=${join(dir, "kcm-certs")}`,
        "--leader-elect=false",
        `--controllers=${CONTROLLERS.join(",")}`,
        "--profiling=false",
        "--v=1",
      ],
    });
    started.push(kcm);
    await waitUntil(
      "kube-controller-manager /healthz",
      async () => (await httpsGet(`https://127.0.0.1:${kcmPort}/healthz`, { insecure: true })) === "ok",
      { timeoutMs, process: kcm },
    );
    log("local control plane ready");

    return {
      server,
      kubeconfigPath,
      dir,
      logDir,
      binaries,
      pki,
      assertHealthy: () => {
        for (const p of started) p.assertRunning();
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A kubeconfig (JSON is valid YAML) that refers to the certificate files by absolute path. */
function adminKubeconfig(server: string, pki: Pki): string {
  return JSON.stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "local", cluster: { server, "certificate-authority": pki.caCert } }],
      users: [{ name: "admin", user: { "client-certificate": pki.adminCert, "client-key": pki.adminKey } }],
      contexts: [{ name: "local", context: { cluster: "local", user: "admin", namespace: "default" } }],
      "current-context": "local",
    },
    null,
    2,
  );
}

const PROBE_TIMEOUT_MS = 5000;

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { timeout: PROBE_TIMEOUT_MS }, (res) => collect(res, resolve, reject));
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

function httpsGet(
  url: string,
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; insecure?: boolean },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        timeout: PROBE_TIMEOUT_MS,
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        // Only for the controller-manager's own self-signed health endpoint.
        rejectUnauthorized: !tls.insecure,
      },
      (res) => collect(res, resolve, reject),
    );
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

function collect(
  res: import("node:http").IncomingMessage,
  resolve: (body: string) => void,
  reject: (err: Error) => void,
): void {
  const chunks: Buffer[] = [];
  res.on("data", (c: Buffer) => chunks.push(c));
  res.on("error", reject);
  res.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    if (res.statusCode === 200) resolve(body.trim());
    else reject(new Error(`HTTP ${String(res.statusCode)}: ${body.slice(0, 500)}`));
  });
}
