// Command building: exact command lines, and the allow-list gate that keeps RouterOS syntax
// (`;`, newline, `[`, `$`, quotes, spaces) out of every value.
import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../errors.js";
import { checkValue, commands, formatFileSize, mountPointOf, roundUpToAllocation } from "./commands.js";

const MiB = 1024n * 1024n;
const GiB = 1024n * MiB;

describe("command lines", () => {
  it("adds an exported file disk", () => {
    expect(
      commands.diskAdd({
        slot: "pvc-1",
        filePath: "/storage/csi/pvc-1.img",
        sizeBytes: 10n * GiB,
        export: { nqn: "nqn.2000-02.com.mikrotik:pvc-1", port: 4420 },
      }),
    ).toBe(
      "/disk add type=file file-path=/storage/csi/pvc-1.img file-size=10G slot=pvc-1 nvme-tcp-export=yes nvme-tcp-server-port=4420 nvme-tcp-server-nqn=nqn.2000-02.com.mikrotik:pvc-1",
    );
  });

  it("copies a disk for a snapshot (not exported, no size)", () => {
    expect(commands.diskAdd({ slot: "snap-s1.pvc-1", filePath: "/storage/csi/snap-s1.pvc-1.t1700000000.img", copyFromSlot: "pvc-1" })).toBe(
      '/disk add type=file copy-from=[find slot="pvc-1"] file-path=/storage/csi/snap-s1.pvc-1.t1700000000.img slot=snap-s1.pvc-1',
    );
  });

  it("prints, resizes, removes", () => {
    expect(commands.diskPrint()).toBe("/disk print detail");
    expect(commands.diskPrint("pvc-1")).toBe('/disk print detail where slot="pvc-1"');
    expect(commands.diskResize("pvc-1", 1536n * MiB)).toBe('/disk set [find slot="pvc-1"] file-size=1536M');
    expect(commands.diskRemove("pvc-1")).toBe('/disk remove [find slot="pvc-1"]');
    expect(commands.fileRemove("/storage/csi/pvc-1.img")).toBe('/file remove [find name="storage/csi/pvc-1.img"]');
    expect(commands.poolPrint("/storage/csi")).toBe('/disk print detail where mount-point="storage"');
    expect(mountPointOf("/storage-pool/a/b")).toBe("storage-pool");
  });
});

describe("allow-list gate", () => {
  const hostile = [
    "pvc-1; /system reboot",
    "pvc-1\n/system reboot",
    "pvc-1\r",
    "[/system reboot]",
    "pvc-$x",
    'pvc-1"',
    "pvc 1",
    "pvc-1\\",
    "PVC-UPPER",
    "",
    "pvc-ü",
  ];
  it.each(hostile)("slot %j is rejected with InvalidArgument", (slot) => {
    expect(() => commands.diskPrint(slot)).toThrow(InvalidArgumentError);
    expect(() => commands.diskRemove(slot)).toThrow(InvalidArgumentError);
  });

  it.each([
    "/storage/csi/a.img; /system reboot",
    "/storage/csi/$x.img",
    "/storage/csi/[find].img",
    "/storage/../etc/passwd",
    "/storage//csi/a.img",
    "storage/csi/a.img",
    '/storage/csi/a".img',
    "/storage/csi/a b.img",
    "/storage/csi/a.img\n",
  ])("path %j is rejected", (filePath) => {
    expect(() => commands.diskAdd({ slot: "pvc-1", filePath, sizeBytes: GiB })).toThrow(InvalidArgumentError);
  });

  it.each(["nqn.2000-02.com.mikrotik:pvc-1;x", "nqn.2000-02.com.mikrotik:$x", "iqn.2000-02.com.mikrotik:a", "nqn.2000-02.com.mikrotik:A"])(
    "nqn %j is rejected",
    (nqn) => {
      expect(() => commands.diskAdd({ slot: "pvc-1", filePath: "/storage/csi/p.img", sizeBytes: GiB, export: { nqn, port: 4420 } })).toThrow(
        InvalidArgumentError,
      );
    },
  );

  it.each([0, 65536, 1.5, -1, Number.NaN])("port %s is rejected", (port) => {
    expect(() =>
      commands.diskAdd({ slot: "pvc-1", filePath: "/storage/csi/p.img", sizeBytes: GiB, export: { nqn: "nqn.2000-02.com.mikrotik:pvc-1", port } }),
    ).toThrow(InvalidArgumentError);
  });

  it("accepts the identifiers the driver produces", () => {
    expect(checkValue("slot", "vol-0123456789abcdef0123456789abcdef")).toBeTruthy();
    expect(checkValue("slot", "snap-0123456789abcdef0123456789abcdef.pvc-1")).toBeTruthy();
    expect(checkValue("path", "/storage/csi/pvc-1.from-snap-a.pvc-2.img")).toBeTruthy();
  });
});

describe("sizes", () => {
  it("rounds UP to whole MiB, never truncates (rds-csi W5)", () => {
    expect(roundUpToAllocation(1n)).toBe(MiB);
    expect(roundUpToAllocation(MiB)).toBe(MiB);
    expect(roundUpToAllocation(MiB + 1n)).toBe(2n * MiB);
    expect(roundUpToAllocation(1536n * MiB - 7n)).toBe(1536n * MiB);
    expect(roundUpToAllocation(0n)).toBe(MiB);
  });

  it("formats exact sizes: whole GiB as G, otherwise M", () => {
    expect(formatFileSize(GiB)).toBe("1G");
    expect(formatFileSize(1536n * MiB)).toBe("1536M");
    expect(formatFileSize(16n * 1024n * GiB)).toBe("16384G");
    expect(() => formatFileSize(MiB + 1n)).toThrow(InvalidArgumentError);
    expect(() => formatFileSize(0n)).toThrow(InvalidArgumentError);
  });
});
