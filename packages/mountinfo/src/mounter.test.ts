// Mounter pieces that need no root: blkid/mkfs on image FILES, statfs, holder discovery through
// /proc, and argument validation. Real block devices and mounts are in mounter.int.test.ts.
import { spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  CommandFailedError,
  FormatRefusedError,
  InvalidArgumentError,
  Mounter,
  NotMountedError,
  MountTable,
  UnsupportedFilesystemError,
  mountinfoLine,
  parseMountinfo,
  processHolders,
  findHolders,
} from "./index.js";
import { tempDir } from "./test-support/host-devices.js";
import { statSync } from "node:fs";
import { splitDevT } from "./devnum.js";

const mounter = new Mounter();

function image(sizeMiB: number): string {
  const f = path.join(tempDir(), "disk.img");
  closeSync(openSync(f, "w"));
  truncateSync(f, sizeMiB * 1024 * 1024);
  return f;
}

describe("Mounter.format and probe (on image files)", () => {
  it("formats an empty image as ext4, then probe sees it and a second format refuses", async () => {
    const img = image(16);
    expect(await mounter.probe(img)).toBeUndefined();
    await mounter.format(img, "ext4");
    const p = await mounter.probe(img);
    expect(p?.type).toBe("ext4");
    expect(p?.uuid).toMatch(/^[0-9a-f-]{36}$/);
    const e = (await mounter.format(img, "ext4").catch((x: unknown) => x)) as FormatRefusedError;
    expect(e).toBeInstanceOf(FormatRefusedError);
    expect(e.existingType).toBe("ext4");
  });

  it("formats xfs (300 MiB: mkfs.xfs's minimum)", async () => {
    const img = image(300);
    await mounter.format(img, "xfs");
    expect((await mounter.probe(img))?.type).toBe("xfs");
    await expect(mounter.format(img, "ext4")).rejects.toBeInstanceOf(FormatRefusedError);
  });

  it("refuses a device with a partition table", async () => {
    const img = image(16);
    // a minimal MBR: one partition entry and the 0x55AA signature
    const mbr = Buffer.alloc(512);
    mbr[446 + 4] = 0x83;
    mbr.writeUInt32LE(2048, 446 + 8);
    mbr.writeUInt32LE(8192, 446 + 12);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    const fd = openSync(img, "r+");
    writeFileSync(fd, mbr);
    closeSync(fd);
    const e = (await mounter.format(img, "ext4").catch((x: unknown) => x)) as FormatRefusedError;
    expect(e).toBeInstanceOf(FormatRefusedError);
    expect(e.message).toMatch(/partition table dos/);
  });

  it("refuses a missing device and a zero-sized one, although blkid exits 2 for both", async () => {
    const dir = tempDir();
    await expect(mounter.format(path.join(dir, "missing"), "ext4")).rejects.toBeInstanceOf(
      FormatRefusedError,
    );
    const empty = path.join(dir, "zero.img");
    writeFileSync(empty, "");
    await expect(mounter.format(empty, "ext4")).rejects.toBeInstanceOf(FormatRefusedError);
  });

  it("refuses when blkid says 1, times out, or is a liar about stderr", async () => {
    const img = image(16);
    const dir = tempDir();
    const fake = (name: string, body: string) => {
      const p = path.join(dir, name);
      writeFileSync(p, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
      return p;
    };
    const mkfsMarker = path.join(dir, "mkfs-ran");
    const mkfs = fake("mkfs", `touch ${mkfsMarker}`);
    for (const blkid of [
      fake("blkid1", "exit 1"),
      fake("blkid-slow", "sleep 30"),
      fake("blkid2-err", "echo 'blkid: error: permission denied' >&2; exit 2"),
      fake("blkid4", "exit 4"),
    ]) {
      const m = new Mounter({ binaries: { blkid, mkfsExt4: mkfs }, timeouts: { blkid: 300 } });
      await expect(m.format(img, "ext4")).rejects.toBeInstanceOf(FormatRefusedError);
    }
    expect(() => statSync(mkfsMarker)).toThrow();
    // and the positive control: a blkid that exits 2 cleanly does lead to mkfs
    const ok = new Mounter({ binaries: { blkid: fake("blkid2", "exit 2"), mkfsExt4: mkfs } });
    await ok.format(img, "ext4");
    expect(statSync(mkfsMarker).isFile()).toBe(true);
  });

  it("rejects unsupported filesystems and relative paths before running anything", async () => {
    await expect(mounter.format("/dev/null", "btrfs")).rejects.toBeInstanceOf(
      UnsupportedFilesystemError,
    );
    await expect(mounter.format("-rf", "ext4")).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(mounter.mount("/dev/x", "rel/target", "ext4")).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(mounter.mount("/dev/x", "/t", "ext4 -o x")).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(mounter.mount("/dev/x", "/t", "ext4", ["a,b"])).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });
});

describe("Mounter.resize", () => {
  it("refuses when nothing is mounted at the mount path", async () => {
    const img = image(16);
    await expect(
      mounter.resize(img, path.join(tempDir(), "not-mounted"), "ext4"),
    ).rejects.toBeInstanceOf(NotMountedError);
  });
});

describe("Mounter.statfs", () => {
  it("reports bytes and inodes of the filesystem holding a path", async () => {
    const s = await mounter.statfs(tempDir());
    expect(s.totalBytes).toBeGreaterThan(0);
    expect(s.usedBytes + s.availableBytes).toBeLessThanOrEqual(s.totalBytes);
    expect(s.usedInodes).toBe(s.totalInodes - s.freeInodes);
  });
});

describe("holders", () => {
  const children: ReturnType<typeof spawn>[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) c.kill("SIGKILL");
  });

  it("finds a process with an open file on the filesystem, by device number", async () => {
    const dir = tempDir();
    const file = path.join(dir, "held");
    writeFileSync(file, "x");
    // the file is handed to `sleep` as its fd 3; we close our copy, so only sleep holds it
    const fd = openSync(file, "r");
    const child = spawn("sleep", ["60"], { stdio: ["ignore", "ignore", "ignore", fd] });
    children.push(child);
    await new Promise((r) => child.once("spawn", r));
    closeSync(fd);
    const dev = splitDevT(statSync(file, { bigint: true }).dev);
    const holders = await processHolders(dev, false);
    expect(holders.map((h) => h.pid)).toContain(child.pid);
    expect(holders.find((h) => h.pid === child.pid)).toMatchObject({
      kind: "process",
      command: "sleep",
      path: file,
    });
  });

  it("counts other mounts of the filesystem and submounts, except our own", async () => {
    const table = new MountTable(
      parseMountinfo(
        [
          mountinfoLine({
            mountId: 1,
            parentId: 0,
            major: 8,
            minor: 1,
            mountPoint: "/",
            fsType: "ext4",
            source: "/dev/sda1",
          }),
          mountinfoLine({
            mountId: 10,
            parentId: 1,
            major: 7,
            minor: 250,
            mountPoint: "/staging",
            fsType: "ext4",
            source: "/dev/x",
          }),
          mountinfoLine({
            mountId: 11,
            parentId: 1,
            major: 7,
            minor: 250,
            mountPoint: "/pod/a",
            fsType: "ext4",
            source: "/dev/x",
          }),
          mountinfoLine({
            mountId: 12,
            parentId: 1,
            major: 7,
            minor: 250,
            root: "/sub",
            mountPoint: "/pod/b",
            fsType: "ext4",
            source: "/dev/x",
          }),
          mountinfoLine({
            mountId: 13,
            parentId: 10,
            major: 0,
            minor: 99,
            mountPoint: "/staging/inner",
            fsType: "tmpfs",
            source: "tmpfs",
          }),
        ].join("\n"),
      ),
    );
    const entry = table.byMountId(10)!;
    const all = await findHolders({ entry, table, budgetMs: 0 });
    expect(all.map((h) => h.path).sort()).toEqual(["/pod/a", "/pod/b", "/staging/inner"]);
    const notOurs = await findHolders({
      entry,
      table,
      ownMounts: ["/pod/a", "/pod/b"],
      budgetMs: 0,
    });
    expect(notOurs.map((h) => h.path)).toEqual(["/staging/inner"]);
  });
});

describe("Mounter.isMountPoint", () => {
  it("answers from mountinfo", async () => {
    const procRoot = tempDir();
    mkdirSync(path.join(procRoot, "self"));
    writeFileSync(
      path.join(procRoot, "self", "mountinfo"),
      mountinfoLine({
        mountId: 1,
        parentId: 0,
        major: 8,
        minor: 1,
        mountPoint: "/a b",
        fsType: "ext4",
        source: "/dev/sda1",
      }) + "\n",
    );
    const m = new Mounter({ procRoot });
    expect(await m.isMountPoint("/a b")).toBe(true);
    expect(await m.isMountPoint("/a b/")).toBe(true);
    expect(await m.isMountPoint("/a")).toBe(false);
  });
});

describe("Mounter.bindMount options (fake mount/umount recording their argv)", () => {
  /** A Mounter whose mount and umount append their argv (one per line, then "--") to a log. */
  function recordingMounter(remountExit = 0) {
    const dir = tempDir();
    const log = path.join(dir, "argv.log");
    const bin = (name: string, body: string) => {
      const p = path.join(dir, name);
      writeFileSync(p, `#!/bin/sh\nprintf '%s\\n' "$0" "$@" -- >> '${log}'\n${body}\n`, {
        mode: 0o755,
      });
      return p;
    };
    // the remount is the call with -o; the plain --bind always succeeds
    const mount = bin("mount", `[ "$1" = "-o" ] && exit ${remountExit}\nexit 0`);
    const umount = bin("umount", "exit 0");
    const calls = (): string[][] => {
      if (!existsSync(log)) return [];
      return readFileSync(log, "utf8")
        .split("--\n")
        .filter((c) => c !== "")
        .map((c) => {
          const [exe = "", ...args] = c.trimEnd().split("\n");
          return [path.basename(exe), ...args];
        });
    };
    const source = path.join(dir, "staging");
    mkdirSync(source);
    return { m: new Mounter({ binaries: { mount, umount } }), calls, source, dir };
  }

  it("binds, then applies the options with one remount,bind (ro last)", async () => {
    const { m, calls, source, dir } = recordingMounter();
    const target = path.join(dir, "pod", "mount");
    await m.bindMount(source, target, { mountOptions: ["nosuid", "nodev"], readonly: true });
    expect(calls()).toEqual([
      ["mount", "--bind", source, target],
      ["mount", "-o", "remount,bind,nosuid,nodev,ro", target],
    ]);
  });

  it("options without readonly: remount,bind with just the options", async () => {
    const { m, calls, source, dir } = recordingMounter();
    const target = path.join(dir, "t");
    await m.bindMount(source, target, {
      mountOptions: ["noexec", "context=system_u:object_r:x:s0"],
    });
    expect(calls()[1]).toEqual([
      "mount",
      "-o",
      "remount,bind,noexec,context=system_u:object_r:x:s0",
      target,
    ]);
  });

  it("no options and not readonly: the bind alone, no remount", async () => {
    const { m, calls, source, dir } = recordingMounter();
    const target = path.join(dir, "t");
    await m.bindMount(source, target, { mountOptions: [] });
    expect(calls()).toEqual([["mount", "--bind", source, target]]);
  });

  it("a failed remount undoes the bind and throws the mount error", async () => {
    const { m, calls, source, dir } = recordingMounter(32);
    const target = path.join(dir, "t");
    await expect(m.bindMount(source, target, { mountOptions: ["nosuid"] })).rejects.toBeInstanceOf(
      CommandFailedError,
    );
    expect(calls()).toEqual([
      ["mount", "--bind", source, target],
      ["mount", "-o", "remount,bind,nosuid", target],
      ["umount", target],
    ]);
  });

  it("rejects an option that is not exactly one option, before running or creating anything", async () => {
    const { m, calls, source, dir } = recordingMounter();
    const target = path.join(dir, "never-created");
    for (const bad of ["nosuid,exec", "nodev suid", "a\tb", "a\nb", "", 'x="a"', "a\0b"]) {
      const e = (await m
        .bindMount(source, target, { mountOptions: ["nodev", bad] })
        .catch((x: unknown) => x)) as InvalidArgumentError;
      expect(e, JSON.stringify(bad)).toBeInstanceOf(InvalidArgumentError);
      expect(e.message).toContain(`bad mount option ${JSON.stringify(bad)}`);
    }
    expect(calls()).toEqual([]);
    expect(existsSync(target)).toBe(false);
  });
});
