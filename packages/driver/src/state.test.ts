import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { recordFileName, StateStore, type VolumeRecord } from "./state.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "state-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function record(volumeId: string, extra: Partial<VolumeRecord> = {}): VolumeRecord {
  return {
    version: 1,
    volumeId,
    nqn: `nqn.2000-02.com.mikrotik:${volumeId}`,
    connect: { address: "127.0.0.1", port: 4420, ctrlLossTmo: 600, reconnectDelay: 5, keepAliveTmo: 0 },
    stagingPath: `/var/lib/kubelet/staging/${volumeId}`,
    accessType: "mount",
    fsType: "ext4",
    mountFlags: [],
    accessMode: 1,
    device: { name: "nvme0n1", devPath: "/dev/nvme0n1", major: 7, minor: 3 },
    pvc: { namespace: "default", name: "data" },
    publishTargets: [],
    stagedAt: "2026-11-29T00:00:00.000Z",
    updatedAt: "2026-11-29T00:00:00.000Z",
    ...extra,
  };
}

describe("StateStore", () => {
  it("saves, reloads from disk in a new store, finds by path, removes", async () => {
    const a = new StateStore(dir);
    await a.open();
    await a.save(record("pvc-1", { publishTargets: [{ targetPath: "/t/1", readonly: true, mountFlags: [] }] }));
    await a.save(record("pvc-2"));
    const b = new StateStore(dir);
    expect(await b.open()).toEqual({ loaded: 2, corrupt: [] });
    expect(b.get("pvc-1")?.publishTargets).toEqual([{ targetPath: "/t/1", readonly: true, mountFlags: [] }]);
    expect(b.findByPath("/t/1")?.volumeId).toBe("pvc-1");
    expect(b.findByPath("/var/lib/kubelet/staging/pvc-2")?.volumeId).toBe("pvc-2");
    expect(b.findByPath("/nowhere")).toBeUndefined();
    await b.remove("pvc-1");
    await b.remove("pvc-1"); // idempotent
    const c = new StateStore(dir);
    await c.open();
    expect(c.list().map((r) => r.volumeId)).toEqual(["pvc-2"]);
  });

  it("returns copies: mutating a result does not change the store", async () => {
    const s = new StateStore(dir);
    await s.open();
    await s.save(record("pvc-1"));
    const r = s.get("pvc-1");
    r!.publishTargets.push({ targetPath: "/x", readonly: false, mountFlags: [] });
    expect(s.get("pvc-1")?.publishTargets).toEqual([]);
  });

  it("overwrites atomically and leaves no temp files", async () => {
    const s = new StateStore(dir);
    await s.open();
    await s.save(record("pvc-1"));
    await s.save(record("pvc-1", { fsType: "xfs" }));
    const files = readdirSync(path.join(dir, "volumes"));
    expect(files).toEqual(["pvc-1.json"]);
    expect(JSON.parse(readFileSync(path.join(dir, "volumes", "pvc-1.json"), "utf8"))).toMatchObject({ fsType: "xfs" });
  });

  it("hashes unsafe volume IDs into the file name", () => {
    expect(recordFileName("pvc-abc")).toBe("pvc-abc.json");
    expect(recordFileName("../../etc/passwd")).toMatch(/^h-[0-9a-f]{40}\.json$/);
    expect(recordFileName("a/b")).not.toContain("/");
  });

  it("reports corrupt records without losing the good ones, drops temp leftovers", async () => {
    const s = new StateStore(dir);
    await s.open();
    await s.save(record("pvc-good"));
    const vdir = path.join(dir, "volumes");
    writeFileSync(path.join(vdir, "pvc-bad.json"), "{ not json");
    writeFileSync(path.join(vdir, "pvc-half.json"), JSON.stringify({ version: 1, volumeId: "pvc-half" }));
    writeFileSync(path.join(vdir, "pvc-other.json"), JSON.stringify(record("pvc-mismatch")));
    writeFileSync(path.join(vdir, "pvc-good.json.tmp-1-abcd"), "partial");
    const t = new StateStore(dir);
    const res = await t.open();
    expect(res.loaded).toBe(1);
    expect(res.corrupt.map((e) => path.basename(e.file)).sort()).toEqual(["pvc-bad.json", "pvc-half.json", "pvc-other.json"]);
    expect(t.get("pvc-good")).toBeDefined();
    expect(readdirSync(vdir).some((n) => n.includes(".tmp-"))).toBe(false);
  });

  it("refuses use before open", () => {
    expect(() => new StateStore(dir).list()).toThrow(/before open/);
  });
});
