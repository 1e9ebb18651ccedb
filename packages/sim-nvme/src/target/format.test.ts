// The `print detail` column layout once indices reach two, three and four digits: the index is
// right-aligned, never runs into the first field, and continuation lines sit under the first
// field (the shape real RouterOS prints; a listing of ~100 disks once printed ` 100type=file`).
import { describe, expect, it } from "vitest";
import { INDEX_GAP, WIDTH, printDetail } from "./format.js";

const fields = (slot: string): string[] => [
  "type=file",
  `slot="${slot}"`,
  'slot-default=""',
  'parent=""',
  "fs=-",
  `model="/storage/csi/${slot}.img"`,
  "size=1 073 741 824",
  "mount-filesystem=yes",
  "nvme-tcp-export=yes",
  "nvme-tcp-server-port=4420",
  `nvme-tcp-server-nqn="nqn.2000-02.com.mikrotik:${slot}"`,
  `file-path=/storage/csi/${slot}.img`,
  "file-size=1.0GiB",
];

/** Entries of a print: [first line, continuation lines]. */
function entries(out: string): string[][] {
  return out
    .split("\r\n\r\n")
    .map((e) => e.split("\r\n").filter((l) => l !== "" && !l.startsWith("Flags:")))
    .filter((e) => e.length > 0);
}

describe("printDetail column layout", () => {
  it("a one- and two-digit listing: index in two columns, fields and continuations at column 5", () => {
    const out = printDetail("Flags: X - disabled", [
      { index: 0, fields: fields("a") },
      { index: 9, fields: fields("b") },
      { index: 10, fields: fields("c") },
      { index: 99, fields: fields("d") },
    ]);
    const es = entries(out);
    expect(es.map((e) => e[0]?.slice(0, 5 + "type=file".length))).toEqual([
      " 0   type=file",
      " 9   type=file",
      "10   type=file",
      "99   type=file",
    ]);
    for (const e of es) for (const l of e.slice(1)) expect(l).toMatch(/^ {5}[a-z]/);
  });

  it.each([
    [100, 3],
    [1000, 4],
  ])(
    "largest index %i: every index right-aligned in %i columns, continuations under the first field",
    (max, width) => {
      const indices = [2, 9, 10, 99, 100, 1000].filter((i) => i <= max);
      const out = printDetail(
        "Flags: X - disabled",
        indices.map((index) => ({ index, fields: fields(`pvc-${String(index)}`) })),
      );
      const col = width + INDEX_GAP;
      const es = entries(out);
      expect(es).toHaveLength(indices.length);
      es.forEach((e, i) => {
        const index = String(indices[i]);
        const first = `${index.padStart(width)}${" ".repeat(INDEX_GAP)}type=file slot="pvc-${index}" `;
        expect(e[0]?.slice(0, first.length)).toBe(first);
        for (const l of e.slice(1)) {
          expect(l.slice(0, col)).toBe(" ".repeat(col));
          expect(l[col]).toMatch(/[a-z]/);
        }
        for (const l of e) expect(l.length).toBeLessThanOrEqual(WIDTH);
      });
    },
  );

  it("a filtered print of one high index uses that index's width (no leading blanks)", () => {
    const [e] = entries(printDetail("", [{ index: 100, fields: fields("x") }]));
    expect(e?.[0]?.startsWith('100   type=file slot="x"')).toBe(true);
    expect(e?.[1]?.startsWith("      model=")).toBe(true);
  });

  it("an empty listing is the header alone, or nothing without a header", () => {
    expect(printDetail("Flags: X - disabled", [])).toBe("Flags: X - disabled\r\n");
    expect(printDetail("", [])).toBe("");
  });
});
