// The signature path end to end on kind, through the real Kubernetes machinery: a PVC is
// provisioned by the controller on the simulated RDS, staged by the node plugin over sim-nvme's
// fabric, and mounted in a pod. Then the NVMe device under the mount is renamed (the kernel
// renumbering a namespace after a reconnect) with sim-nvme's fault injection. The node plugin
// must notice, tell the user with StaleMountDetected and StaleMountRecovered Events on the PVC,
// and the pod must still read what it wrote before and keep writing.
//
// Needs: a kind cluster with deploy/overlays/sim applied and the e2e images loaded
// (.github/workflows/e2e-kind.yml does all of it). Not part of the local vitest projects.
import { randomBytes } from "node:crypto";
import type * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  apiClients,
  DRIVER_NAME,
  DRIVER_NAMESPACE,
  formatEvents,
  GiveUp,
  isNotFound,
  kubectl,
  pvcEvents,
  SIM_HOST_STATE_DIR,
  STORAGE_CLASS,
  waitFor,
} from "./kube.js";

const { core } = apiClients();
const namespace = `rds-e2e-${randomBytes(3).toString("hex")}`;
const PVC = "data";
const POD = "app";
// The sim image is already loaded into kind and has a shell, so the test pulls nothing.
const POD_IMAGE = process.env.E2E_POD_IMAGE ?? "rds-nvme-csi-sim:e2e";
const token = `written-before-the-fault-${randomBytes(8).toString("hex")}`;

let pvName = "";
let nqn = "";
let nodeName = "";

function execInPod(argv: string[], timeoutMs = 60_000): Promise<string> {
  return kubectl(["exec", "-n", namespace, POD, "--", ...argv], timeoutMs);
}

async function describePodAndClaim(): Promise<string> {
  const pod = await core.readNamespacedPod({ name: POD, namespace }).catch(() => undefined);
  const events = await core.listNamespacedEvent({ namespace }).catch(() => undefined);
  return [
    `pod phase: ${pod?.status?.phase ?? "?"}; conditions: ${JSON.stringify(pod?.status?.conditions ?? [])}`,
    `events in ${namespace}:`,
    formatEvents(events?.items ?? []),
  ].join("\n");
}

beforeAll(async () => {
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await core.createNamespacedPersistentVolumeClaim({
    namespace,
    body: {
      metadata: { name: PVC },
      spec: {
        storageClassName: STORAGE_CLASS,
        accessModes: ["ReadWriteOnce"],
        resources: { requests: { storage: "1Gi" } },
      },
    },
  });
  const pod: k8s.V1Pod = {
    metadata: { name: POD },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: "app",
          image: POD_IMAGE,
          imagePullPolicy: "IfNotPresent",
          command: ["sleep", "infinity"],
          volumeMounts: [{ name: "data", mountPath: "/data" }],
        },
      ],
      volumes: [{ name: "data", persistentVolumeClaim: { claimName: PVC } }],
    },
  };
  await core.createNamespacedPod({ namespace, body: pod });

  const running = await waitFor(
    "the pod using the PVC to run",
    300_000,
    async () => {
      const p = await core.readNamespacedPod({ name: POD, namespace });
      if (p.status?.phase === "Failed") throw new GiveUp(`pod failed: ${JSON.stringify(p.status)}`);
      return p.status?.phase === "Running" ? p : undefined;
    },
    describePodAndClaim,
  );
  nodeName = running.spec?.nodeName ?? "";

  const claim = await core.readNamespacedPersistentVolumeClaim({ name: PVC, namespace });
  pvName = claim.spec?.volumeName ?? "";
  const pv = await core.readPersistentVolume({ name: pvName });
  nqn = pv.spec?.csi?.volumeAttributes?.nqn ?? "";

  // Written and synced before the fault, read back after it.
  await execInPod(["sh", "-c", 'printf %s "$1" > /data/probe.txt && sync', "sh", token]);
});

afterAll(async () => {
  // Best effort: the CI cluster is thrown away anyway, but a local run should not leak.
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
});

describe("stale mount on kind (sim-nvme fabric)", () => {
  it("provisions the PVC with our driver and mounts a real filesystem in the pod", async () => {
    const pv = await core.readPersistentVolume({ name: pvName });
    expect(pv.spec?.csi?.driver).toBe(DRIVER_NAME);
    expect(nqn).toMatch(/^nqn\.2000-02\.com\.mikrotik:/);
    const mounts = await execInPod(["cat", "/proc/mounts"]);
    const dataMount = mounts.split("\n").find((line) => line.split(" ")[1] === "/data");
    expect(dataMount, mounts).toBeDefined();
    expect(dataMount?.split(" ")[2]).toBe("ext4");
    expect(await execInPod(["cat", "/data/probe.txt"])).toBe(token);
  });

  it("a renamed NVMe device raises StaleMountDetected then StaleMountRecovered on the PVC", async () => {
    const claim = await core.readNamespacedPersistentVolumeClaim({ name: PVC, namespace });
    const before = await pvcEvents(core, namespace, PVC);
    expect(
      before.filter((e) => e.reason === "StaleMountDetected"),
      formatEvents(before),
    ).toHaveLength(0);

    const plugins = await core.listNamespacedPod({
      namespace: DRIVER_NAMESPACE,
      labelSelector: "app.kubernetes.io/component=node",
      fieldSelector: `spec.nodeName=${nodeName}`,
    });
    const plugin = plugins.items[0]?.metadata?.name;
    expect(plugin, `node plugin pod on ${nodeName}`).toBeDefined();
    await kubectl([
      "exec",
      "-n",
      DRIVER_NAMESPACE,
      plugin ?? "",
      "-c",
      "sim-host",
      "--",
      "sim-nvme",
      "fault",
      "rename",
      nqn,
      `--state-dir=${SIM_HOST_STATE_DIR}`,
    ]);

    const reasons = await waitFor(
      "StaleMountDetected and StaleMountRecovered events on the PVC",
      300_000,
      async () => {
        const events = await pvcEvents(core, namespace, PVC);
        const failed = events.find((e) => e.reason === "RecoveryFailed");
        if (failed) throw new GiveUp(`recovery failed: ${failed.message ?? ""}`);
        const got = new Set(events.map((e) => e.reason));
        return got.has("StaleMountDetected") && got.has("StaleMountRecovered") ? events : undefined;
      },
      async () => formatEvents(await pvcEvents(core, namespace, PVC)),
    );
    for (const e of reasons.filter((x) => x.reason?.startsWith("StaleMount"))) {
      // The events point at this very PVC (uid filled by the recorder), not just a same-named one.
      expect(e.involvedObject.uid).toBe(claim.metadata?.uid);
    }
    const detected = reasons.find((e) => e.reason === "StaleMountDetected");
    expect(detected?.type).toBe("Warning");
    expect(reasons.find((e) => e.reason === "StaleMountRecovered")?.type).toBe("Normal");
  });

  it("the pod still reads what it wrote before the fault and can keep writing", async () => {
    expect(await execInPod(["cat", "/data/probe.txt"])).toBe(token);
    await execInPod(["sh", "-c", "echo after-recovery > /data/after.txt && sync"]);
    expect((await execInPod(["cat", "/data/after.txt"])).trim()).toBe("after-recovery");
  });

  it("deleting the pod and the PVC unstages and deletes the volume", async () => {
    await core.deleteNamespacedPod({ name: POD, namespace });
    await waitFor("the pod to be gone", 180_000, async () => {
      try {
        await core.readNamespacedPod({ name: POD, namespace });
        return undefined;
      } catch (err) {
        if (isNotFound(err)) return true;
        throw err;
      }
    });
    await core.deleteNamespacedPersistentVolumeClaim({ name: PVC, namespace });
    await waitFor(
      `PV ${pvName} to be deleted (DeleteVolume on the simulated RDS)`,
      180_000,
      async () => {
        try {
          await core.readPersistentVolume({ name: pvName });
          return undefined;
        } catch (err) {
          if (isNotFound(err)) return true;
          throw err;
        }
      },
      async () => {
        const pv = await core.readPersistentVolume({ name: pvName }).catch(() => undefined);
        return `PV phase: ${pv?.status?.phase ?? "gone"}; ${pv?.status?.message ?? ""}`;
      },
    );
  });
});
