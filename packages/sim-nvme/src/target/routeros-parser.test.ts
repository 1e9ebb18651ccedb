import { describe, expect, it } from "vitest";
import { BadCommandError, parseCommandLine, RouterOsSyntaxError } from "../index.js";

describe("RouterOS command line parser", () => {
  it("parses /disk add with plain and quoted values", () => {
    const c = parseCommandLine(
      '/disk add type=file file-path="/storage-pool/a b.img" file-size=10G slot=pvc-1',
    );
    expect(c.menu).toEqual(["disk"]);
    expect(c.command).toBe("add");
    expect(c.args.map((a) => [a.key, a.value])).toEqual([
      ["type", { kind: "text", text: "file" }],
      ["file-path", { kind: "text", text: "/storage-pool/a b.img" }],
      ["file-size", { kind: "text", text: "10G" }],
      ["slot", { kind: "text", text: "pvc-1" }],
    ]);
  });

  it("accepts the v7 slash path and multi-word menus", () => {
    expect(parseCommandLine("/disk/print detail").command).toBe("print");
    const r = parseCommandLine("/system resource print");
    expect([r.menu, r.command]).toEqual([["system", "resource"], "print"]);
  });

  it("parses [find …] as a value and as the unnamed parameter", () => {
    const add = parseCommandLine(
      "/disk add type=file copy-from=[find slot=pvc-1] file-path=/s/x.img slot=snap-1",
    );
    expect(add.args.find((a) => a.key === "copy-from")?.value).toEqual({
      kind: "find",
      conditions: [{ key: "slot", op: "=", value: "pvc-1" }],
    });
    const set = parseCommandLine('/file remove [find where name="storage-pool/x.img"]');
    expect(set.target).toEqual({
      kind: "find",
      conditions: [{ key: "name", op: "=", value: "storage-pool/x.img" }],
    });
  });

  it("parses print flags and where clauses with = and ~", () => {
    const p = parseCommandLine('/disk print detail where slot~"pvc" and type=file');
    expect(p.flags).toEqual(["detail"]);
    expect(p.where).toEqual([
      { key: "slot", op: "~", value: "pvc" },
      { key: "type", op: "=", value: "file" },
    ]);
  });

  it("handles RouterOS escapes in quoted strings", () => {
    const p = parseCommandLine('/file print detail where name~"a\\\\.img\\"x\\_y\\.z\\41"');
    expect(p.where[0]?.value).toBe('a\\.img"x y\\.zA');
  });

  it("reports bad command names with their position", () => {
    expect(() => parseCommandLine("/disk frob")).toThrow(new BadCommandError("frob", 1, 7));
    expect(() => parseCommandLine("/interface print")).toThrow(BadCommandError);
  });

  it.each([
    ["/disk add slot=a;b", 17],
    ["/disk add slot=$a", 16],
    ['/disk add slot="a', 18],
    ["/disk add slot=a]", 17],
    ["/disk remove [find slot=a", 26],
    ["/disk add slot=(a)", 16],
  ])("syntax errors carry a column: %s", (line, column) => {
    try {
      parseCommandLine(line);
      expect.fail("no error");
    } catch (e) {
      expect(e).toBeInstanceOf(RouterOsSyntaxError);
      expect((e as RouterOsSyntaxError).column).toBe(column);
      expect((e as RouterOsSyntaxError).line).toBe(1);
    }
  });

  it("counts lines for a newline", () => {
    expect(() => parseCommandLine("/disk print\n/disk remove 0")).toThrow(
      /syntax error \(line 1 column 12\)/,
    );
  });

  it("rejects words after print that are not flags or where", () => {
    expect(() => parseCommandLine("/disk print bogus")).toThrow(/expected end of command/);
  });
});
