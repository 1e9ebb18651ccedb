// The generated CSI messages survive a protobuf wire round trip, and put every field under the
// field number the CSI v1.12.0 spec gives it (a wrong number would break the wire silently).
import { describe, expect, it } from "vitest";
import { csi } from "./index.js";

const TiB = 1024n ** 4n;

function mountCapability(mode: csi.VolumeCapability_AccessMode_Mode): csi.VolumeCapability {
  return csi.VolumeCapability.create({
    accessType: {
      $case: "mount",
      value: { fsType: "ext4", mountFlags: ["noatime", "discard"], volumeMountGroup: "2000" },
    },
    accessMode: { mode },
  });
}

function blockCapability(mode: csi.VolumeCapability_AccessMode_Mode): csi.VolumeCapability {
  return csi.VolumeCapability.create({
    accessType: { $case: "block", value: {} },
    accessMode: { mode },
  });
}

describe("wire round trip", () => {
  it("CreateVolumeRequest keeps every field, int64 sizes exact as bigint", () => {
    const sent = csi.CreateVolumeRequest.create({
      name: "pvc-0c1e6a57-8d3b-4c8e-9a0e-2f4d1c1b7e11",
      capacityRange: { requiredBytes: 16n * TiB - 4096n, limitBytes: 16n * TiB },
      volumeCapabilities: [
        mountCapability(csi.VolumeCapability_AccessMode_Mode.SINGLE_NODE_WRITER),
        blockCapability(csi.VolumeCapability_AccessMode_Mode.SINGLE_NODE_MULTI_WRITER),
      ],
      parameters: { fsType: "xfs", "csi.storage.k8s.io/pvc/name": "data", empty: "" },
      secrets: { username: "admin", password: "s3cret" },
      accessibilityRequirements: {
        requisite: [{ segments: { "topology.rds-nvme.csi.dev/zone": "a" } }],
        preferred: [
          { segments: { "topology.rds-nvme.csi.dev/zone": "a" } },
          { segments: { "topology.rds-nvme.csi.dev/zone": "b", rack: "r7" } },
        ],
      },
      mutableParameters: { iops: "5000" },
    });

    const bytes = csi.CreateVolumeRequest.encode(sent).finish();
    const got = csi.CreateVolumeRequest.decode(bytes);

    expect(got.name).toBe(sent.name);
    expect(got.capacityRange?.requiredBytes).toBe(17_592_186_040_320n);
    expect(got.capacityRange?.limitBytes).toBe(17_592_186_044_416n);
    expect(typeof got.capacityRange?.limitBytes).toBe("bigint");
    expect(got.volumeCapabilities).toHaveLength(2);
    const [mount, block] = got.volumeCapabilities;
    expect(mount?.accessType).toStrictEqual({
      $case: "mount",
      value: { fsType: "ext4", mountFlags: ["noatime", "discard"], volumeMountGroup: "2000" },
    });
    expect(mount?.accessMode?.mode).toBe(csi.VolumeCapability_AccessMode_Mode.SINGLE_NODE_WRITER);
    expect(block?.accessType).toStrictEqual({ $case: "block", value: {} });
    expect(block?.accessMode?.mode).toBe(
      csi.VolumeCapability_AccessMode_Mode.SINGLE_NODE_MULTI_WRITER,
    );
    expect(got.parameters).toStrictEqual({
      fsType: "xfs",
      "csi.storage.k8s.io/pvc/name": "data",
      empty: "",
    });
    expect(got.secrets).toStrictEqual({ username: "admin", password: "s3cret" });
    expect(got.volumeContentSource).toBeUndefined();
    expect(got.accessibilityRequirements?.requisite).toStrictEqual([
      { segments: { "topology.rds-nvme.csi.dev/zone": "a" } },
    ]);
    expect(got.accessibilityRequirements?.preferred).toStrictEqual([
      { segments: { "topology.rds-nvme.csi.dev/zone": "a" } },
      { segments: { "topology.rds-nvme.csi.dev/zone": "b", rack: "r7" } },
    ]);
    expect(got.mutableParameters).toStrictEqual({ iops: "5000" });
    // Nothing added, nothing lost.
    expect(got).toStrictEqual(sent);
  });

  it("CreateVolumeRequest with a content source keeps the oneof case", () => {
    const sent = csi.CreateVolumeRequest.create({
      name: "clone",
      volumeContentSource: { type: { $case: "volume", value: { volumeId: "pvc-src" } } },
    });
    const got = csi.CreateVolumeRequest.decode(csi.CreateVolumeRequest.encode(sent).finish());
    expect(got.volumeContentSource?.type).toStrictEqual({
      $case: "volume",
      value: { volumeId: "pvc-src" },
    });
    expect(got).toStrictEqual(sent);
  });

  it("NodeStageVolumeRequest keeps every field", () => {
    const sent = csi.NodeStageVolumeRequest.create({
      volumeId: "pvc-0c1e6a57",
      publishContext: { attachedAs: "nvme" },
      stagingTargetPath:
        "/var/lib/kubelet/plugins/kubernetes.io/csi/rds-nvme.csi.dev/abc/globalmount",
      volumeCapability: mountCapability(
        csi.VolumeCapability_AccessMode_Mode.SINGLE_NODE_SINGLE_WRITER,
      ),
      secrets: { chapSecret: "xyz" },
      volumeContext: {
        nqn: "nqn.2000-02.com.mikrotik:pvc-0c1e6a57",
        nvmeAddress: "127.0.0.1",
        nvmePort: "4420",
        "csi.storage.k8s.io/pvc/namespace": "default",
      },
    });

    const got = csi.NodeStageVolumeRequest.decode(csi.NodeStageVolumeRequest.encode(sent).finish());

    expect(got.volumeId).toBe("pvc-0c1e6a57");
    expect(got.publishContext).toStrictEqual({ attachedAs: "nvme" });
    expect(got.stagingTargetPath).toBe(sent.stagingTargetPath);
    expect(got.volumeCapability?.accessType?.$case).toBe("mount");
    expect(got.volumeCapability?.accessMode?.mode).toBe(
      csi.VolumeCapability_AccessMode_Mode.SINGLE_NODE_SINGLE_WRITER,
    );
    expect(got.secrets).toStrictEqual({ chapSecret: "xyz" });
    expect(got.volumeContext).toStrictEqual(sent.volumeContext);
    expect(got).toStrictEqual(sent);
  });

  it("int64 beyond 2^53 and a Timestamp with nanoseconds stay exact", () => {
    const sent = csi.Snapshot.create({
      sizeBytes: 2n ** 62n + 1n,
      snapshotId: "snap-1",
      creationTime: { seconds: 1_764_370_000n, nanos: 123_456_789 },
      readyToUse: true,
    });
    const got = csi.Snapshot.decode(csi.Snapshot.encode(sent).finish());
    expect(got.sizeBytes).toBe(4_611_686_018_427_387_905n);
    expect(got.creationTime).toStrictEqual({ seconds: 1_764_370_000n, nanos: 123_456_789 });
    expect(got).toStrictEqual(sent);
  });
});

// Wire types (protobuf encoding): VARINT for int/bool/enum, LEN for string/bytes/message/map.
const VARINT = 0;
const LEN = 2;

/** Field number and wire type of the first tag in an encoded message (the tag is a varint). */
function firstTag(bytes: Uint8Array): { field: number; wireType: number } {
  let tag = 0;
  let shift = 0;
  for (const byte of bytes) {
    tag += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return { field: Math.floor(tag / 8), wireType: tag % 8 };
    shift += 7;
  }
  throw new Error(`no complete tag in ${bytes.length} bytes`);
}

/** [label, expected field number, expected wire type, the encoded message] */
type Case = [string, number, number, Uint8Array];

/**
 * One case per row: the message with only that row's field set, encoded. Rows are
 * [expected field number, expected wire type, the one-field message].
 */
function fieldsOf<T>(
  name: string,
  fns: csi.MessageFns<T>,
  rows: [number, number, csi.DeepPartial<T>][],
): Case[] {
  return rows.map(([number, wireType, partial]) => {
    const field = Object.keys(partial as object).join(",");
    // `as never`: fromPartial's Exact<> constraint cannot be checked for a generic T; the rows
    // themselves are type-checked against DeepPartial<T> above.
    const bytes = fns.encode(fns.fromPartial(partial as never)).finish();
    return [`${name}.${field}`, number, wireType, bytes];
  });
}

const cap = mountCapability(csi.VolumeCapability_AccessMode_Mode.SINGLE_NODE_WRITER);
const topo = { segments: { zone: "a" } };
const map = { k: "v" };

// Expected numbers transcribed from the CSI v1.12.0 spec (csi.proto), not from our proto.
const cases: Case[] = [
  ...fieldsOf("CreateVolumeRequest", csi.CreateVolumeRequest, [
    [1, LEN, { name: "n" }],
    [2, LEN, { capacityRange: { requiredBytes: 1n } }],
    [3, LEN, { volumeCapabilities: [cap] }],
    [4, LEN, { parameters: map }],
    [5, LEN, { secrets: map }],
    [6, LEN, { volumeContentSource: { type: { $case: "snapshot", value: { snapshotId: "s" } } } }],
    [7, LEN, { accessibilityRequirements: { requisite: [topo] } }],
    [8, LEN, { mutableParameters: map }],
  ]),
  ...fieldsOf("Volume", csi.Volume, [
    [1, VARINT, { capacityBytes: 1n }],
    [2, LEN, { volumeId: "v" }],
    [3, LEN, { volumeContext: map }],
    [4, LEN, { contentSource: { type: { $case: "volume", value: { volumeId: "v" } } } }],
    [5, LEN, { accessibleTopology: [topo] }],
  ]),
  ...fieldsOf("NodeStageVolumeRequest", csi.NodeStageVolumeRequest, [
    [1, LEN, { volumeId: "v" }],
    [2, LEN, { publishContext: map }],
    [3, LEN, { stagingTargetPath: "/s" }],
    [4, LEN, { volumeCapability: cap }],
    [5, LEN, { secrets: map }],
    [6, LEN, { volumeContext: map }],
  ]),
  ...fieldsOf("NodePublishVolumeRequest", csi.NodePublishVolumeRequest, [
    [1, LEN, { volumeId: "v" }],
    [2, LEN, { publishContext: map }],
    [3, LEN, { stagingTargetPath: "/s" }],
    [4, LEN, { targetPath: "/t" }],
    [5, LEN, { volumeCapability: cap }],
    [6, VARINT, { readonly: true }],
    [7, LEN, { secrets: map }],
    [8, LEN, { volumeContext: map }],
  ]),
  ...fieldsOf("ControllerExpandVolumeRequest", csi.ControllerExpandVolumeRequest, [
    [1, LEN, { volumeId: "v" }],
    [2, LEN, { capacityRange: { limitBytes: 1n } }],
    [3, LEN, { secrets: map }],
    [4, LEN, { volumeCapability: cap }],
  ]),
  ...fieldsOf("ControllerExpandVolumeResponse", csi.ControllerExpandVolumeResponse, [
    [1, VARINT, { capacityBytes: 1n }],
    [2, VARINT, { nodeExpansionRequired: true }],
  ]),
  ...fieldsOf("ListVolumesResponse", csi.ListVolumesResponse, [
    [1, LEN, { entries: [{ volume: { volumeId: "v" } }] }],
    [2, LEN, { nextToken: "t" }],
  ]),
  ...fieldsOf("ListVolumesResponse.Entry", csi.ListVolumesResponse_Entry, [
    [1, LEN, { volume: { volumeId: "v" } }],
    [2, LEN, { status: { publishedNodeIds: ["n"] } }],
  ]),
  ...fieldsOf("ListVolumesResponse.VolumeStatus", csi.ListVolumesResponse_VolumeStatus, [
    [1, LEN, { publishedNodeIds: ["n"] }],
    [2, LEN, { volumeCondition: { abnormal: true } }],
  ]),
  ...fieldsOf("Snapshot", csi.Snapshot, [
    [1, VARINT, { sizeBytes: 1n }],
    [2, LEN, { snapshotId: "s" }],
    [3, LEN, { sourceVolumeId: "v" }],
    [4, LEN, { creationTime: { seconds: 1n, nanos: 0 } }],
    [5, VARINT, { readyToUse: true }],
    [6, LEN, { groupSnapshotId: "g" }],
  ]),
  ...fieldsOf("VolumeCapability", csi.VolumeCapability, [
    [1, LEN, { accessType: { $case: "block", value: {} } }],
    [2, LEN, { accessType: { $case: "mount", value: { fsType: "ext4" } } }],
    [3, LEN, { accessMode: { mode: csi.VolumeCapability_AccessMode_Mode.SINGLE_NODE_WRITER } }],
  ]),
  ...fieldsOf("VolumeCapability.MountVolume", csi.VolumeCapability_MountVolume, [
    [1, LEN, { fsType: "ext4" }],
    [2, LEN, { mountFlags: ["ro"] }],
    [3, LEN, { volumeMountGroup: "1" }],
  ]),
  ...fieldsOf("VolumeCapability.AccessMode", csi.VolumeCapability_AccessMode, [
    [1, VARINT, { mode: csi.VolumeCapability_AccessMode_Mode.MULTI_NODE_MULTI_WRITER }],
  ]),
  ...fieldsOf("CapacityRange", csi.CapacityRange, [
    [1, VARINT, { requiredBytes: 1n }],
    [2, VARINT, { limitBytes: 1n }],
  ]),
  ...fieldsOf("NodeGetInfoResponse", csi.NodeGetInfoResponse, [
    [1, LEN, { nodeId: "n" }],
    [2, VARINT, { maxVolumesPerNode: 1n }],
    [3, LEN, { accessibleTopology: topo }],
  ]),
  ...fieldsOf("NodeGetVolumeStatsResponse", csi.NodeGetVolumeStatsResponse, [
    [1, LEN, { usage: [{ total: 1n }] }],
    [2, LEN, { volumeCondition: { abnormal: true } }],
  ]),
  ...fieldsOf("NodeExpandVolumeRequest", csi.NodeExpandVolumeRequest, [
    [5, LEN, { volumeCapability: cap }],
    [6, LEN, { secrets: map }],
  ]),
  ...fieldsOf("GetPluginCapabilitiesResponse", csi.GetPluginCapabilitiesResponse, [
    [1, LEN, { capabilities: [{}] }],
  ]),
  ...fieldsOf("PluginCapability", csi.PluginCapability, [
    [1, LEN, { type: { $case: "service", value: {} } }],
    [2, LEN, { type: { $case: "volumeExpansion", value: {} } }],
  ]),
];

describe("field numbers match the CSI v1.12.0 spec", () => {
  it.each(cases)("%s = %i", (_what, number, wireType, bytes) => {
    expect(firstTag(bytes)).toStrictEqual({ field: number, wireType });
  });

  it("enum values on the wire match the spec", () => {
    // An enum travels as its number: check the ones the driver relies on.
    expect(csi.PluginCapability_Service_Type.CONTROLLER_SERVICE).toBe(1);
    expect(csi.PluginCapability_Service_Type.SNAPSHOT_METADATA_SERVICE).toBe(4);
    expect(csi.PluginCapability_VolumeExpansion_Type.ONLINE).toBe(1);
    expect(csi.VolumeCapability_AccessMode_Mode.SINGLE_NODE_SINGLE_WRITER).toBe(6);
    expect(csi.VolumeCapability_AccessMode_Mode.SINGLE_NODE_MULTI_WRITER).toBe(7);
    expect(csi.ControllerServiceCapability_RPC_Type.EXPAND_VOLUME).toBe(9);
    expect(csi.ControllerServiceCapability_RPC_Type.VOLUME_CONDITION).toBe(11);
    expect(csi.ControllerServiceCapability_RPC_Type.MODIFY_VOLUME).toBe(14);
    expect(csi.ControllerServiceCapability_RPC_Type.GET_SNAPSHOT).toBe(15);
    expect(csi.NodeServiceCapability_RPC_Type.STAGE_UNSTAGE_VOLUME).toBe(1);
    expect(csi.NodeServiceCapability_RPC_Type.VOLUME_CONDITION).toBe(4);
    expect(csi.NodeServiceCapability_RPC_Type.VOLUME_MOUNT_GROUP).toBe(6);
    expect(csi.VolumeUsage_Unit.INODES).toBe(2);
  });
});
