import { describe, expect, it } from "vitest";
import {
  isVolumeId,
  nqnForVolume,
  parseSnapshotFile,
  parseSnapshotId,
  parseVolumeFile,
  snapshotFilePath,
  snapshotIdFor,
  volumeFilePath,
  volumeIdForName,
} from "./volume-id.js";
import { checkValue } from "./backend/routeros/commands.js";

describe("volume IDs from CSI names", () => {
  it("keeps safe names as they are", () => {
    expect(volumeIdForName("pvc-0c1e2d3f-aaaa-bbbb-cccc-0123456789ab")).toBe("pvc-0c1e2d3f-aaaa-bbbb-cccc-0123456789ab");
    expect(volumeIdForName("a")).toBe("a");
    expect(volumeIdForName("x".repeat(63))).toBe("x".repeat(63));
  });

  it.each([
    "x".repeat(64),
    "y".repeat(128),
    "sanity-max-attach-limit-vol+1-ABC",
    "Upper",
    "-leading-dash",
    "ünïcødé-名前-🚀",
    "with space",
    "semi;colon",
    "new\nline",
    "[find]",
    "$var",
  ])("hashes %j into vol-<32 hex>, deterministically", (name) => {
    const id = volumeIdForName(name);
    expect(id).toMatch(/^vol-[0-9a-f]{32}$/);
    expect(volumeIdForName(name)).toBe(id);
    expect(isVolumeId(id)).toBe(true);
    expect(checkValue("slot", id)).toBe(id);
  });

  it("different names give different IDs", () => {
    expect(volumeIdForName("a".repeat(128))).not.toBe(volumeIdForName("a".repeat(127) + "b"));
  });

  it("every ID gives a valid NQN", () => {
    expect(nqnForVolume("pvc-1")).toBe("nqn.2000-02.com.mikrotik:pvc-1");
    expect(checkValue("nqn", nqnForVolume(volumeIdForName("ünïcødé")))).toBeTruthy();
  });

  it("unknown IDs from csi-sanity are simply not volume IDs (→ NOT_FOUND, never INVALID_ARGUMENT)", () => {
    expect(isVolumeId("fake-vol-id-12345")).toBe(true); // well-formed, just absent
    expect(isVolumeId("Fake+Id")).toBe(false);
  });
});

describe("snapshot IDs carry their source volume", () => {
  it("encodes name key and source volume, within 128 bytes, parseable back", () => {
    const longVol = "v".repeat(63);
    for (const name of ["snapshot-1", "s".repeat(128), "ünïcødé 📸", "x".repeat(58), "x".repeat(59)]) {
      const id = snapshotIdFor(name, longVol);
      expect(Buffer.byteLength(id)).toBeLessThanOrEqual(128);
      expect(parseSnapshotId(id)).toEqual({ key: expect.any(String) as string, sourceVolumeId: longVol });
      expect(checkValue("slot", id)).toBe(id);
    }
    expect(snapshotIdFor("snapshot-1", "pvc-1")).toBe("snap-snapshot-1.pvc-1");
    expect(snapshotIdFor("Snapshot 1", "pvc-1")).toMatch(/^snap-[0-9a-f]{32}\.pvc-1$/);
  });

  it("the same name from another source gives the same key but another ID", () => {
    const a = parseSnapshotId(snapshotIdFor("n", "pvc-a"));
    const b = parseSnapshotId(snapshotIdFor("n", "pvc-b"));
    expect(a?.key).toBe(b?.key);
    expect(a?.sourceVolumeId).not.toBe(b?.sourceVolumeId);
  });

  it.each(["reallyfakesnapshotid", "non-existing-snapshot-id", "snap-x", "snap-x.", "snap-.pvc", "snap-A.pvc-1"])("%j is not a snapshot ID", (id) => {
    expect(parseSnapshotId(id)).toBeUndefined();
  });
});

describe("backing file names", () => {
  const pool = "/storage/csi";
  it("round-trips volume files with and without a source", () => {
    expect(volumeFilePath(pool, "pvc-1")).toBe("/storage/csi/pvc-1.img");
    expect(parseVolumeFile(pool, "/storage/csi/pvc-1.img")).toEqual({ volumeId: "pvc-1", sourceId: undefined });
    const fromSnap = volumeFilePath(pool, "pvc-2", "snap-s.pvc-1");
    expect(parseVolumeFile(pool, fromSnap)).toEqual({ volumeId: "pvc-2", sourceId: "snap-s.pvc-1" });
    expect(parseVolumeFile(pool, volumeFilePath(pool, "pvc-3", "pvc-1"))).toEqual({ volumeId: "pvc-3", sourceId: "pvc-1" });
  });

  it("round-trips snapshot files with their creation time", () => {
    const p = snapshotFilePath(pool, "snap-s.pvc-1", 1_700_000_000.7);
    expect(p).toBe("/storage/csi/snap-s.pvc-1.t1700000000.img");
    expect(parseSnapshotFile(pool, p)).toEqual({ snapshotId: "snap-s.pvc-1", createdAtSeconds: 1_700_000_000 });
  });

  it("ignores files outside the pool or not named by this driver", () => {
    expect(parseVolumeFile(pool, "/storage/other/pvc-1.img")).toBeUndefined();
    expect(parseVolumeFile(pool, "/storage/csi/sub/pvc-1.img")).toBeUndefined();
    expect(parseVolumeFile(pool, "/storage/csi/pvc-1.raw")).toBeUndefined();
    expect(parseVolumeFile(pool, "/storage/csi/pvc-1.from-BAD.img")).toBeUndefined();
    expect(parseVolumeFile(pool, undefined)).toBeUndefined();
    expect(parseSnapshotFile(pool, "/storage/csi/snap-s.pvc-1.img")).toBeUndefined();
  });
});
