import { describe, expect, it } from "vitest";
import {
  MountTable,
  MountinfoParseError,
  MountinfoTimeoutError,
  parseMountinfo,
  parseMountinfoLine,
  readMountTable,
} from "./index.js";
import { escapeMountinfo, generateMountinfo, mountinfoLine } from "./mountinfo-fixture.js";
import { execFileSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { tempDir } from "./test-support/host-devices.js";

// Lines as the kernel prints them (taken from proc(5) and real hosts, paths made odd on purpose).
const REAL = [
  "21 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro",
  "22 21 0:20 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw",
  "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue",
  "40 21 259:3 / /var/lib/kubelet/plugins/x/pvc\\040one/globalmount rw,relatime shared:30 - ext4 /dev/nvme0n1 rw",
  "41 21 259:3 / /var/lib/kubelet/pods/p\\011tab/volumes/v\\012nl/mount rw,relatime shared:30 - ext4 /dev/nvme0n1 rw",
  "42 21 259:3 /sub\\134dir /srv/back\\134slash ro,relatime shared:30 - ext4 /dev/nvme0n1 rw",
  "43 21 0:55 / /var/lib/docker/overlay2/abc/merged rw,relatime - overlay overlay rw,lowerdir=/l1:/l2,upperdir=/u,workdir=/w",
  "44 21 0:56 / /home/u/remote rw,nosuid,nodev,relatime shared:40 - fuse.sshfs u@host:/srv\\040data rw,user_id=0,group_id=0",
  "45 21 0:57 / /empty-source rw,relatime propagate_from:7 unbindable - tmpfs  rw,size=1024k",
  "46 21 259:3 / /srv/back\\134slash rw,relatime shared:30 - ext4 /dev/nvme0n1 rw",
];

describe("parseMountinfo", () => {
  const entries = parseMountinfo(`${REAL.join("\n")}\n`);

  it("parses every field of a plain line", () => {
    expect(entries[0]).toMatchObject({
      mountId: 21,
      parentId: 1,
      major: 254,
      minor: 1,
      root: "/",
      mountPoint: "/",
      mountOptions: ["rw", "relatime"],
      shared: 1,
      fsType: "ext4",
      fsBaseType: "ext4",
      source: "/dev/vda1",
      superOptions: ["rw", "errors=remount-ro"],
      line: 1,
      unbindable: false,
    });
  });

  it("parses master, propagate_from and unbindable", () => {
    expect(entries[2]).toMatchObject({ master: 1, root: "/mnt1", mountPoint: "/mnt/parent" });
    expect(entries[8]).toMatchObject({
      propagateFrom: 7,
      unbindable: true,
      optionalFields: ["propagate_from:7", "unbindable"],
    });
  });

  it("decodes space, tab, newline and backslash escapes", () => {
    expect(entries[3].mountPoint).toBe("/var/lib/kubelet/plugins/x/pvc one/globalmount");
    expect(entries[4].mountPoint).toBe("/var/lib/kubelet/pods/p\ttab/volumes/v\nnl/mount");
    expect(entries[5].root).toBe("/sub\\dir");
    expect(entries[5].mountPoint).toBe("/srv/back\\slash");
  });

  it("decodes any \\ooo escape, including bytes of a multi-byte UTF-8 character", () => {
    const [e] = parseMountinfo("50 21 0:60 / /a\\101b\\303\\251 rw - tmpfs t\\040s rw\n");
    expect(e.mountPoint).toBe("/aAbé");
    expect(e.source).toBe("t s");
  });

  it("handles overlay, fuse subtypes and sources with spaces", () => {
    expect(entries[6]).toMatchObject({ fsType: "overlay", source: "overlay" });
    expect(entries[6].superOptions).toContain("lowerdir=/l1:/l2");
    expect(entries[7]).toMatchObject({
      fsType: "fuse.sshfs",
      fsBaseType: "fuse",
      fsSubtype: "sshfs",
      source: "u@host:/srv data",
    });
  });

  it("keeps an empty source", () => {
    expect(entries[8]).toMatchObject({
      fsType: "tmpfs",
      source: "",
      superOptions: ["rw", "size=1024k"],
    });
  });

  it("round-trips the fixture writer's escaping for every odd character", () => {
    const odd = "/mnt/a b\tc\nd\\e";
    const [e] = parseMountinfo(
      mountinfoLine({
        mountId: 9,
        parentId: 1,
        major: 8,
        minor: 1,
        mountPoint: odd,
        fsType: "xfs",
        source: "/dev/x y",
      }),
    );
    expect(e.mountPoint).toBe(odd);
    expect(e.source).toBe("/dev/x y");
    expect(escapeMountinfo(odd)).not.toMatch(/[ \t\n]/);
  });

  const bad: [string, string, RegExp][] = [
    ["too few fields", "21 1 254:1 / / rw - ext4", /at least 10 fields/],
    ["no separator", "21 1 254:1 / / rw shared:1 x ext4 /dev/vda1 rw", /separator/],
    ["bad ids", "x 1 254:1 / / rw - ext4 /dev/vda1 rw", /mount id/],
    ["bad device", "21 1 254-1 / / rw - ext4 /dev/vda1 rw", /major:minor/],
    ["bad escape", "21 1 254:1 / /a\\9 rw - ext4 /dev/vda1 rw", /bad escape/],
    ["bad peer group", "21 1 254:1 / / rw shared:x - ext4 /dev/vda1 rw", /peer group/],
    ["extra fields after -", "21 1 254:1 / / rw - ext4 /dev/vda1 rw extra", /3 fields after/],
    ["too few fields after -", "21 1 254:1 / / rw a b c d - ext4", /3 fields after/],
    ["empty root", "21 1 254:1  / rw - ext4 /dev/vda1 rw", /root is empty/],
    [
      "empty optional field",
      "21 1 254:1 / / rw shared:1  - ext4 /dev/vda1 rw",
      /empty optional field/,
    ],
    ["trailing space", "21 1 254:1 / / rw - ext4 /dev/vda1 rw ", /3 fields after/],
    ["empty type", "21 1 254:1 / / rw -  /dev/vda1 rw", /type is empty/],
  ];
  for (const [what, line, reason] of bad) {
    it(`rejects a malformed line (${what}) with a typed error naming the line`, () => {
      const text = `${REAL[0]}\n${line}\n${REAL[1]}\n`;
      let err: unknown;
      try {
        parseMountinfo(text);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(MountinfoParseError);
      const pe = err as MountinfoParseError;
      expect(pe.lineNumber).toBe(2);
      expect(pe.line).toBe(line);
      expect(pe.message).toMatch(reason);
      expect(pe.message).toContain("line 2");
    });
  }

  it("rejects an empty line in the middle but accepts the final newline", () => {
    expect(() => parseMountinfo(`${REAL[0]}\n\n${REAL[1]}\n`)).toThrow(MountinfoParseError);
    expect(parseMountinfo(`${REAL[0]}\n`)).toHaveLength(1);
    expect(parseMountinfo("")).toHaveLength(0);
  });

  it("parses a generated 10,000-line table", () => {
    const text = generateMountinfo(10_000);
    const all = parseMountinfo(text);
    expect(all).toHaveLength(10_000);
    const t = new MountTable(all);
    expect(
      t.byMountPoint("/var/lib/kubelet/pods/7/volumes/kubernetes.io~projected/kube api access")
        ?.fsType,
    ).toBe("tmpfs");
    expect(t.byDevice(259, 5).map((e) => e.mountPoint)).toHaveLength(2);
  });

  it("reads each line of a whole text exactly as that line alone (escapes anywhere, no final newline)", () => {
    // the whole-text parser walks lines in place and tracks the next backslash across lines;
    // parsing each line on its own must give the same entries
    const lines = [
      ...REAL,
      "50 21 0:60 / /plain rw - tmpfs tmpfs rw",
      "51 21 0:61 / /last\\040one rw - tmpfs t\\134 rw",
    ];
    const whole = parseMountinfo(lines.join("\n"));
    expect(whole.map((e) => e.toJSON())).toEqual(
      lines.map((l, i) => parseMountinfoLine(l, i + 1).toJSON()),
    );
    expect(whole[11]).toMatchObject({ mountPoint: "/last one", source: "t\\", line: 12 });
  });

  it("keeps optional fields as printed, unknown tags included, and [] when there are none", () => {
    const [e, none] = parseMountinfo(
      "60 1 0:1 / /a rw shared:3 foo:bar unbindable:1 master:4 - tmpfs t rw\n" +
        "61 1 0:1 / /b rw - tmpfs t rw\n",
    );
    expect(e).toMatchObject({
      optionalFields: ["shared:3", "foo:bar", "unbindable:1", "master:4"],
      shared: 3,
      master: 4,
      propagateFrom: undefined,
      unbindable: false,
    });
    expect(none.optionalFields).toEqual([]);
    expect(none.shared).toBeUndefined();
  });

  it("gives every field, the lazily split lists too, as plain data (toJSON / JSON.stringify)", () => {
    const plain = JSON.parse(JSON.stringify(entries[8])) as unknown;
    expect(plain).toEqual({
      mountId: 45,
      parentId: 21,
      major: 0,
      minor: 57,
      root: "/",
      mountPoint: "/empty-source",
      mountOptions: ["rw", "relatime"],
      optionalFields: ["propagate_from:7", "unbindable"],
      // shared/master are undefined, which JSON leaves out
      propagateFrom: 7,
      unbindable: true,
      fsType: "tmpfs",
      source: "",
      superOptions: ["rw", "size=1024k"],
      line: 9,
    });
    // a copy of the plain data is complete, unlike a spread of the class instance
    expect({ ...entries[0].toJSON() }.mountOptions).toEqual(["rw", "relatime"]);
  });
});

describe("MountTable", () => {
  const t = new MountTable(parseMountinfo(REAL.join("\n")));

  it("byMountPoint returns the top of an over-mount stack", () => {
    // 42 (ro) and then 46 (rw) over it at the same place: 46 is on top
    expect(t.allAt("/srv/back\\slash").map((e) => e.mountId)).toEqual([42, 46]);
    expect(t.byMountPoint("/srv/back\\slash")?.mountId).toBe(46);
    expect(t.byMountPoint("/srv/back\\slash/")?.mountId).toBe(46);
    expect(t.byMountPoint("/nope")).toBeUndefined();
  });

  it("byMountPoint prefers the child when a later-listed mount is underneath", () => {
    const table = new MountTable(
      parseMountinfo(
        [
          "10 1 8:1 / /x rw - ext4 /dev/a rw",
          "12 11 8:3 / /x rw - ext4 /dev/c rw", // child of 11, listed before it (after a move)
          "11 10 8:2 / /x rw - ext4 /dev/b rw",
        ].join("\n"),
      ),
    );
    expect(table.byMountPoint("/x")?.mountId).toBe(12);
  });

  it("byDevice lists every mount of a major:minor", () => {
    expect(t.byDevice(259, 3).map((e) => e.mountId)).toEqual([40, 41, 42, 46]);
    expect(t.byDevice(1, 1)).toEqual([]);
  });

  it("bindMountsOf finds same device + same root at other places; subtrees on request", () => {
    const staging = t.byMountId(40)!;
    expect(t.bindMountsOf(staging).map((e) => e.mountId)).toEqual([41, 46]);
    expect(t.bindMountsOf(staging, { subtrees: true }).map((e) => e.mountId)).toEqual([41, 42, 46]);
  });

  it("isMountPoint and mountsUnder", () => {
    expect(t.isMountPoint("/proc")).toBe(true);
    expect(t.isMountPoint("/proc/1")).toBe(false);
    expect(t.mountsUnder("/srv").map((e) => e.mountId)).toEqual([42, 46]);
    expect(t.mountsUnder("/sr")).toEqual([]);
  });
});

describe("readMountTable", () => {
  it("reads <procRoot>/<pid>/mountinfo", async () => {
    const root = tempDir();
    mkdirSync(path.join(root, "1234"));
    writeFileSync(path.join(root, "1234", "mountinfo"), `${REAL.join("\n")}\n`);
    const t = await readMountTable(root, 1234);
    expect(t.entries).toHaveLength(REAL.length);
  });

  it("stops waiting with MountinfoTimeoutError when the read blocks", async () => {
    const root = tempDir();
    mkdirSync(path.join(root, "self"));
    const fifo = path.join(root, "self", "mountinfo");
    execFileSync("mkfifo", [fifo]); // opening a FIFO with no writer blocks, like a held lock
    try {
      const e = (await readMountTable(root, "self", { timeoutMs: 200 }).catch(
        (x: unknown) => x,
      )) as MountinfoTimeoutError;
      expect(e).toBeInstanceOf(MountinfoTimeoutError);
      expect(e.file).toBe(fifo);
    } finally {
      closeSync(openSync(fifo, "w")); // release the blocked thread-pool read
    }
  });

  it("reads this process's real table", async () => {
    const t = await readMountTable();
    expect(t.byMountPoint("/")).toBeDefined();
  });
});
