// NodeService without root: everything that must be decided before touching the host —
// argument validation (INVALID_ARGUMENT first), lookups of paths that are not ours (NOT_FOUND,
// csi-sanity's relative `some/path`), unknown volumes on unpublish/unstage (OK), capabilities.
// The host parts are real objects pointed at an empty temp tree; these cases never reach them.
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { status } from "@grpc/grpc-js";
import { DeviceResolver, Mounter, mountinfoLine } from "@rds-nvme-csi/mountinfo";
import { NoopEventRecorder } from "@rds-nvme-csi/events";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { toGrpcStatus } from "./errors.js";
import * as csi from "./gen/csi.js";
import { KeyedLocks } from "./locks.js";
import { NodeEvents } from "./node-events.js";
import { NodeService } from "./node.js";
import { NvmeConnector } from "./nvme/connector.js";
import type { RpcContext } from "./server.js";
import { StateStore, type VolumeRecord } from "./state.js";

const log = pino({ level: "silent" });
const ctx: RpcContext = { requestId: "t", method: "m", service: "Node", log, signal: new AbortController().signal };
const Mode = csi.VolumeCapability_AccessMode_Mode;
const mountCap = (fsType = "ext4", mode = Mode.SINGLE_NODE_WRITER): csi.VolumeCapability => ({
  accessType: { $case: "mount", value: { fsType, mountFlags: [], volumeMountGroup: "" } },
  accessMode: { mode },
});
const context = { nqn: "nqn.2000-02.com.mikrotik:pvc-1", nvmeAddress: "127.0.0.1", nvmePort: "4420" };

let dir: string;
let state: StateStore;
let node: NodeService;

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "node-unit-"));
  mkdirSync(path.join(dir, "proc", "self"), { recursive: true });
  writeFileSync(
    path.join(dir, "proc", "self", "mountinfo"),
    mountinfoLine({ mountId: 1, parentId: 0, major: 254, minor: 1, mountPoint: "/", fsType: "ext4", source: "/dev/vda1" }) + "\n",
  );
  state = new StateStore(path.join(dir, "state"));
  await state.open();
  const resolver = new DeviceResolver({ sysfsRoot: path.join(dir, "sys"), devRoot: path.join(dir, "dev") });
  node = new NodeService({
    nodeId: "node-1",
    connector: new NvmeConnector({ nvmeCli: path.join(dir, "no-nvme"), host: { hostNqn: "nqn.2014-08.org.nvmexpress:uuid:x", hostId: "00000000-0000-4000-8000-000000000000" }, resolver }),
    resolver,
    mounter: new Mounter({ procRoot: path.join(dir, "proc") }),
    state,
    locks: new KeyedLocks(),
    events: new NodeEvents(new NoopEventRecorder(), "node-1", log),
    connectDefaults: { ctrlLossTmo: 600, reconnectDelay: 5, keepAliveTmo: 0 },
    procRoot: path.join(dir, "proc"),
  });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "OK";
  } catch (err) {
    return status[toGrpcStatus(err).code];
  }
}

function record(extra: Partial<VolumeRecord> = {}): VolumeRecord {
  return {
    version: 1,
    volumeId: "pvc-1",
    nqn: context.nqn,
    connect: { address: "127.0.0.1", port: 4420, ctrlLossTmo: 600, reconnectDelay: 5, keepAliveTmo: 0 },
    stagingPath: "/staging/pvc-1",
    accessType: "mount",
    fsType: "ext4",
    mountFlags: [],
    accessMode: Mode.SINGLE_NODE_WRITER,
    device: { name: "nvme0n1", devPath: "/dev/nvme0n1", major: 259, minor: 0 },
    publishTargets: [{ targetPath: "/pods/a/target", readonly: false, mountFlags: [] }],
    stagedAt: "",
    updatedAt: "",
    ...extra,
  };
}

describe("NodeService validation", () => {
  const stage = (r: Partial<csi.NodeStageVolumeRequest>) => node.nodeStageVolume(csi.NodeStageVolumeRequest.fromPartial(r), ctx);
  const publish = (r: Partial<csi.NodePublishVolumeRequest>) => node.nodePublishVolume(csi.NodePublishVolumeRequest.fromPartial(r), ctx);

  it.each([
    ["no volume id", { stagingTargetPath: "/s", volumeCapability: mountCap(), volumeContext: context }],
    ["no staging path", { volumeId: "v", volumeCapability: mountCap(), volumeContext: context }],
    ["relative staging path", { volumeId: "v", stagingTargetPath: "s", volumeCapability: mountCap(), volumeContext: context }],
    ["no capability", { volumeId: "v", stagingTargetPath: "/s", volumeContext: context }],
    ["no access type", { volumeId: "v", stagingTargetPath: "/s", volumeCapability: { accessMode: { mode: Mode.SINGLE_NODE_WRITER } }, volumeContext: context }],
    ["no access mode", { volumeId: "v", stagingTargetPath: "/s", volumeCapability: { accessType: mountCap().accessType }, volumeContext: context }],
    ["no nqn", { volumeId: "v", stagingTargetPath: "/s", volumeCapability: mountCap(), volumeContext: { ...context, nqn: "" } }],
    ["host name address", { volumeId: "v", stagingTargetPath: "/s", volumeCapability: mountCap(), volumeContext: { ...context, nvmeAddress: "rds.local" } }],
    ["bad port", { volumeId: "v", stagingTargetPath: "/s", volumeCapability: mountCap(), volumeContext: { ...context, nvmePort: "0" } }],
    ["bad ctrlLossTmo", { volumeId: "v", stagingTargetPath: "/s", volumeCapability: mountCap(), volumeContext: { ...context, ctrlLossTmo: "x" } }],
  ])("NodeStageVolume %s → INVALID_ARGUMENT", async (_name, req) => {
    expect(await codeOf(stage(req))).toBe("INVALID_ARGUMENT");
  });

  it("unsupported filesystem or a multi-node writer on a filesystem → FAILED_PRECONDITION", async () => {
    expect(await codeOf(stage({ volumeId: "v", stagingTargetPath: "/s", volumeCapability: mountCap("btrfs"), volumeContext: context }))).toBe("FAILED_PRECONDITION");
    expect(await codeOf(stage({ volumeId: "v", stagingTargetPath: "/s", volumeCapability: mountCap("ext4", Mode.MULTI_NODE_MULTI_WRITER), volumeContext: context }))).toBe(
      "FAILED_PRECONDITION",
    );
  });

  it("NodePublishVolume: missing fields → INVALID_ARGUMENT; no staging path or not staged → FAILED_PRECONDITION", async () => {
    expect(await codeOf(publish({ targetPath: "/t", stagingTargetPath: "/s", volumeCapability: mountCap() }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(publish({ volumeId: "v", stagingTargetPath: "/s", volumeCapability: mountCap() }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(publish({ volumeId: "v", targetPath: "/t", stagingTargetPath: "/s" }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(publish({ volumeId: "v", targetPath: "/t", volumeCapability: mountCap() }))).toBe("FAILED_PRECONDITION");
    expect(await codeOf(publish({ volumeId: "v", targetPath: "/t", stagingTargetPath: "/s", volumeCapability: mountCap() }))).toBe("FAILED_PRECONDITION");
  });

  it("NodePublishVolume on a recorded target with other arguments → ALREADY_EXISTS; wrong staging path → FAILED_PRECONDITION", async () => {
    await state.save(record());
    expect(
      await codeOf(publish({ volumeId: "pvc-1", targetPath: "/pods/a/target", stagingTargetPath: "/staging/pvc-1", volumeCapability: mountCap(), readonly: true })),
    ).toBe("ALREADY_EXISTS");
    expect(await codeOf(publish({ volumeId: "pvc-1", targetPath: "/pods/a/target", stagingTargetPath: "/elsewhere", volumeCapability: mountCap() }))).toBe(
      "FAILED_PRECONDITION",
    );
  });

  it("NodePublishVolume with a mount flag that is not one option → INVALID_ARGUMENT; no target, no record change", async () => {
    await state.save(record());
    const target = path.join(dir, "pod-b");
    for (const bad of ["nosuid,suid", "nodev exec", ""]) {
      const cap = mountCap();
      cap.accessType = { $case: "mount", value: { fsType: "ext4", mountFlags: ["nodev", bad], volumeMountGroup: "" } };
      expect(await codeOf(publish({ volumeId: "pvc-1", targetPath: target, stagingTargetPath: "/staging/pvc-1", volumeCapability: cap }))).toBe("INVALID_ARGUMENT");
    }
    expect(existsSync(target)).toBe(false);
    expect(state.get("pvc-1")?.publishTargets.map((t) => t.targetPath)).toEqual(["/pods/a/target"]);
  });

  it("NodeGetVolumeStats / NodeExpandVolume: only this volume's own paths; relative some/path → NOT_FOUND", async () => {
    await state.save(record());
    const stats = (volumeId: string, volumePath: string) => node.nodeGetVolumeStats({ volumeId, volumePath, stagingTargetPath: "" }, ctx);
    const expand = (volumeId: string, volumePath: string) => node.nodeExpandVolume(csi.NodeExpandVolumeRequest.fromPartial({ volumeId, volumePath }), ctx);
    expect(await codeOf(stats("", "/x"))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(stats("pvc-1", ""))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(stats("pvc-1", "some/path"))).toBe("NOT_FOUND");
    expect(await codeOf(stats("unknown", "some/path"))).toBe("NOT_FOUND");
    expect(await codeOf(stats("pvc-1", "/pods/b/target"))).toBe("NOT_FOUND");
    // ours, but the path does not exist on this machine
    expect(await codeOf(stats("pvc-1", "/pods/a/target"))).toBe("NOT_FOUND");
    expect(await codeOf(expand("", "/x"))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(expand("pvc-1", ""))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(expand("unknown", "some/path"))).toBe("NOT_FOUND");
    expect(await codeOf(expand("pvc-1", "/not/ours"))).toBe("NOT_FOUND");
  });

  it("NodeUnpublishVolume / NodeUnstageVolume of unknown volumes → OK; missing fields → INVALID_ARGUMENT", async () => {
    const target = path.join(dir, "never-published");
    expect(await codeOf(node.nodeUnpublishVolume({ volumeId: "nope", targetPath: target }, ctx))).toBe("OK");
    expect(await codeOf(node.nodeUnstageVolume({ volumeId: "nope", stagingTargetPath: path.join(dir, "staging") }, ctx))).toBe("OK");
    expect(await codeOf(node.nodeUnpublishVolume({ volumeId: "", targetPath: target }, ctx))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(node.nodeUnpublishVolume({ volumeId: "v", targetPath: "" }, ctx))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(node.nodeUnstageVolume({ volumeId: "", stagingTargetPath: "/s" }, ctx))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(node.nodeUnstageVolume({ volumeId: "v", stagingTargetPath: "" }, ctx))).toBe("INVALID_ARGUMENT");
  });

  it("advertises exactly the four node capabilities and the node ID", async () => {
    const T = csi.NodeServiceCapability_RPC_Type;
    expect((await node.nodeGetCapabilities()).capabilities.map((c) => c.type?.value.type)).toEqual([
      T.STAGE_UNSTAGE_VOLUME,
      T.GET_VOLUME_STATS,
      T.EXPAND_VOLUME,
      T.VOLUME_CONDITION,
    ]);
    expect(await node.nodeGetInfo()).toEqual({ nodeId: "node-1", maxVolumesPerNode: 0n });
  });
});
