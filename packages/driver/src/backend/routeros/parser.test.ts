// Parser tests on recorded output shapes (rds-routeros.md §2.2) and on the harder variants real
// RouterOS produces: wrapped lines, digit groups, wraps inside values, legends, comments,
// flags, missing fields, CRLF.
import { describe, expect, it } from "vitest";
import { RouterOSParseError } from "../../errors.js";
import { detectError, parseDetail, parseDisks, parseKeyValueLines, parseSize } from "./parser.js";

// Shape of the Go driver's unit-test fixture (from real hardware): index-less single item,
// continuation lines indented by five spaces, digit-grouped size, rounded file-size.
const REAL_SINGLE = `type=file slot="pvc-test-123" slot-default="" parent="" fs=-
     model="/storage-pool/test.img"
     size=53 687 091 200 mount-filesystem=yes mount-read-only=no
     nvme-tcp-export=yes nvme-tcp-server-port=4420
     nvme-tcp-server-nqn="nqn.2000-02.com.mikrotik:pvc-test-123"
     nvme-tcp-server-allow-host-name="" iscsi-export=no
     file-path=/storage-pool/test.img
     file-size=50.0GiB file-offset=0
`;

// A list: legend (wrapped), indices, blank line between entries, CRLF, a comment, a flag.
const REAL_LIST = [
  "Flags: X - disabled, E - empty, B - block-device, M - mounted; ",
  "       R - raid-member",
  " 0  M type=partition slot=\"storage-pool\" slot-default=\"\" parent=\"nvme1\" fs=btrfs",
  "      model=\"RDS storage pool\" size=7 949 127 950 336 mount-point=\"storage-pool\"",
  "      file-system=btrfs free=5 963 595 964 416 use=25%",
  "",
  " 1    ;;; created by csi",
  "      type=file slot=\"pvc-a\" slot-default=\"\" parent=\"\" fs=-",
  "      size=1 073 741 824 nvme-tcp-export=yes nvme-tcp-server-port=4420",
  "      nvme-tcp-server-nqn=\"nqn.2000-02.com.mikrotik:pvc-a\" file-path=/storage-pool/csi/pvc-a.img",
  "      file-size=1.0GiB",
  "",
  " 2 X  type=file slot=\"pvc-b\" model=\"disabled by admin\" size=2 147 483 648",
  "      nvme-tcp-export=no file-path=/storage-pool/csi/pvc-b.img",
  "",
].join("\r\n");

describe("parseDetail / parseDisks", () => {
  it("reads the real single-item shape without an index", () => {
    const [d, ...rest] = parseDisks(REAL_SINGLE);
    expect(rest).toEqual([]);
    expect(d).toEqual({
      slot: "pvc-test-123",
      type: "file",
      filePath: "/storage-pool/test.img",
      sizeBytes: 53_687_091_200n,
      nvmeExport: true,
      nvmePort: 4420,
      nqn: "nqn.2000-02.com.mikrotik:pvc-test-123",
      disabled: false,
    });
  });

  it("splits indexed entries, skips the wrapped legend, keeps comments and flags", () => {
    const recs = parseDetail(REAL_LIST);
    expect(recs.map((r) => r.index)).toEqual([0, 1, 2]);
    expect(recs[0]?.flags).toBe("M");
    expect(recs[0]?.fields.get("free")).toBe("5963595964416");
    expect(recs[1]?.comment).toBe("created by csi");
    expect(recs[1]?.fields.get("slot")).toBe("pvc-a");
    const disks = parseDisks(REAL_LIST);
    expect(disks.map((d) => [d.slot, d.sizeBytes, d.nvmeExport, d.disabled])).toEqual([
      ["storage-pool", 7_949_127_950_336n, false, false],
      ["pvc-a", 1_073_741_824n, true, false],
      ["pvc-b", 2_147_483_648n, false, true],
    ]);
  });

  it("does not drop a line because a value contains 'disabled' (rds-csi W30)", () => {
    const b = parseDisks(REAL_LIST).find((d) => d.slot === "pvc-b");
    expect(b?.filePath).toBe("/storage-pool/csi/pvc-b.img");
    expect(parseDetail(REAL_LIST)[2]?.fields.get("model")).toBe("disabled by admin");
  });

  it("glues a value wrapped mid-token and a quoted value wrapped across lines", () => {
    const out = [
      " 0  type=file slot=\"snap-abc.pvc-0c1e2d3f-aaaa-bbbb-cccc-0123456789ab\" nvme-tcp-server-nqn=\"nqn.2000-02.com.mik",
      "     rotik:pvc-x\" file-path=/storage/csi/snap-abc.pvc-0c1e2d3f-aaaa-bbbb-cccc-01234",
      "     56789ab.t1700000000.img size=10 737",
      "     418 240",
      "",
    ].join("\n");
    const [d] = parseDisks(out);
    expect(d?.nqn).toBe("nqn.2000-02.com.mikrotik:pvc-x");
    expect(d?.filePath).toBe("/storage/csi/snap-abc.pvc-0c1e2d3f-aaaa-bbbb-cccc-0123456789ab.t1700000000.img");
    expect(d?.sizeBytes).toBe(10_737_418_240n);
  });

  it("tolerates missing fields and falls back to file-size when size= is absent", () => {
    const [d] = parseDisks('type=file slot="v1" file-size=1.5GiB\n');
    expect(d).toMatchObject({ slot: "v1", filePath: undefined, sizeBytes: 1_610_612_736n, nvmeExport: false, nvmePort: undefined, nqn: undefined });
  });

  it("empty output, or only a legend, is no disks", () => {
    expect(parseDisks("")).toEqual([]);
    expect(parseDisks("Flags: X - disabled, E - empty\r\n\r\n")).toEqual([]);
  });

  it("keeps escaped quotes and backslashes inside quoted values", () => {
    const [r] = parseDetail(' 0  comment="a \\"b\\" \\\\ c" slot="x"\n');
    expect(r?.fields.get("comment")).toBe('a "b" \\ c');
  });

  it("joins wrapped date values with a space", () => {
    const [r] = parseDetail(" 0   name=storage/csi/x.img type=.img file size=10.0GiB last-modified=2025-11-11\n      14:32:41\n");
    expect(r?.fields.get("last-modified")).toBe("2025-11-11 14:32:41");
  });

  it("rejects an unterminated quoted value instead of guessing", () => {
    expect(() => parseDetail(' 0  slot="abc\n')).toThrow(/unterminated/);
  });
});

// A listing long enough for four-digit indices, in the real column layout (MikroTik's own
// examples: ` 9    chain=…` / `10 X  chain=…`, continuation lines under the first field): every
// index right-aligned to the widest one, a flag column, continuation at column 8. Includes a
// comment entry, a disabled entry and a digit-grouped size wrapped so that a continuation line
// starts with `200 mount-filesystem=` — which looks like an index unless indentation is read.
const disk = (slot: string): string[] => [
  `type=file slot="${slot}" slot-default="" parent="" fs=-`,
  `        model="/storage-pool/csi/${slot}.img" size=53 687 091`,
  `        200 mount-filesystem=yes mount-read-only=no nvme-tcp-export=yes`,
  `        nvme-tcp-server-port=4420 nvme-tcp-server-nqn="nqn.2000-02.com.mikrotik:${slot}"`,
  `        file-path=/storage-pool/csi/${slot}.img file-size=50.0GiB`,
];
const WIDE_LIST = [
  "Flags: X - disabled, E - empty, B - block-device, M - mounted; ",
  "       R - raid-member",
  `   9    ${disk("pvc-9")[0]}`,
  ...disk("pvc-9").slice(1),
  "",
  "  10    ;;; created by csi",
  `        ${disk("pvc-10")[0]}`,
  ...disk("pvc-10").slice(1),
  "",
  `  99 X  ${disk("pvc-99")[0]}`,
  ...disk("pvc-99").slice(1),
  "",
  ` 100    ${disk("pvc-100")[0]}`,
  ...disk("pvc-100").slice(1),
  "",
  `1000    ${disk("pvc-1000")[0]}`,
  ...disk("pvc-1000").slice(1),
  "",
].join("\r\n");

describe("multi-digit indices (a listing of 100+ disks)", () => {
  it("reads indices 9, 10, 99, 100 and 1000 with their flags, comments and wrapped fields", () => {
    const recs = parseDetail(WIDE_LIST);
    expect(recs.map((r) => [r.index, r.flags, r.comment])).toEqual([
      [9, "", undefined],
      [10, "", "created by csi"],
      [99, "X", undefined],
      [100, "", undefined],
      [1000, "", undefined],
    ]);
    const disks = parseDisks(WIDE_LIST);
    expect(disks.map((d) => d.slot)).toEqual(["pvc-9", "pvc-10", "pvc-99", "pvc-100", "pvc-1000"]);
    for (const d of disks) {
      expect(d).toMatchObject({
        type: "file",
        filePath: `/storage-pool/csi/${d.slot}.img`,
        sizeBytes: 53_687_091_200n,
        nvmeExport: true,
        nvmePort: 4420,
        nqn: `nqn.2000-02.com.mikrotik:${d.slot}`,
        disabled: d.slot === "pvc-99",
      });
    }
  });

  it("reads a filtered print of one item at index 100, with or without the table's index width", () => {
    for (const first of [" 100    ", "100    ", "100   "]) {
      const out = ["Flags: X - disabled, E - empty, B - block-device, M - mounted", `${first}${disk("pvc-100")[0]}`, ...disk("pvc-100").slice(1), ""].join("\r\n");
      const [d, ...rest] = parseDisks(out);
      expect(rest).toEqual([]);
      expect(d).toMatchObject({ slot: "pvc-100", sizeBytes: 53_687_091_200n, nqn: "nqn.2000-02.com.mikrotik:pvc-100" });
    }
  });

  it("reads MikroTik's two-digit example layout (index 9 → 10, continuation at column 6)", () => {
    const out = [" 9    chain=a action=accept", "      protocol=tcp", "", "10 X  chain=b action=drop", "      protocol=udp", ""].join("\n");
    expect(parseDetail(out).map((r) => [r.index, r.flags, r.fields.get("chain"), r.fields.get("protocol")])).toEqual([
      [9, "", "a", "tcp"],
      [10, "X", "b", "udp"],
    ]);
  });

  it("rejects an index run into the first field instead of returning no disks", () => {
    // The simulator's old shape once the index reached three digits: ` 100type=file …`.
    const out = ["Flags: X - disabled, E - empty, B - block-device, M - mounted", ` 100${disk("pvc-98")[0]}`, ...disk("pvc-98").slice(1), ""].join("\r\n");
    expect(() => parseDisks(out)).toThrow(RouterOSParseError);
    // In a whole-table listing such a line must not be glued onto entry 99 either.
    const list = [` 99   ${disk("pvc-97")[0]}`, ...disk("pvc-97").slice(1), "", ` 100${disk("pvc-98")[0]}`, ...disk("pvc-98").slice(1), ""].join("\r\n");
    expect(() => parseDisks(list)).toThrow(RouterOSParseError);
  });
});

describe("parseSize", () => {
  it.each([
    ["53 687 091 200", 53_687_091_200n],
    ["1073741824", 1_073_741_824n],
    ["50.0GiB", 50n * 1024n ** 3n],
    ["1.5GiB", 1_610_612_736n],
    ["512MiB", 512n * 1024n ** 2n],
    ["10G", 10n * 1024n ** 3n],
    ["2T", 2n * 1024n ** 4n],
    ["4KiB", 4096n],
    ["17B", 17n],
  ])("%s → %s", (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(["", "abc", "1.2.3G", "-5", "12 XB"])("%j is not a size", (text) => {
    expect(parseSize(text)).toBeUndefined();
  });
});

describe("parseKeyValueLines (/system resource print)", () => {
  it("reads right-aligned key: value lines", () => {
    const m = parseKeyValueLines("                   uptime: 1w2d3h\r\n                  version: 7.16 (stable)\r\n               board-name: RDS2216\r\n");
    expect(m.get("version")).toBe("7.16 (stable)");
    expect(m.get("board-name")).toBe("RDS2216");
  });
});

describe("detectError", () => {
  it.each([
    ["failure: not enough space\r\n", "failure: not enough space"],
    ["failure: no such item", "failure: no such item"],
    ["bad command name frobnicate (line 1 column 7)", "bad command name frobnicate (line 1 column 7)"],
    ["syntax error (line 1 column 12)", "syntax error (line 1 column 12)"],
    ["expected end of command (line 1 column 40)", "expected end of command (line 1 column 40)"],
    ["input does not match any value of type", "input does not match any value of type"],
    ["invalid value for argument file-size", "invalid value for argument file-size"],
  ])("finds %j", (out, line) => {
    expect(detectError(out)).toBe(line);
  });

  it("is quiet on normal print output, even with 'disabled' in a legend", () => {
    expect(detectError(REAL_LIST)).toBeUndefined();
    expect(detectError(REAL_SINGLE)).toBeUndefined();
    expect(detectError("")).toBeUndefined();
  });
});
