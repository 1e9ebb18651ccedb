import { describe, expect, it } from "vitest";
import { AbortedError } from "./errors.js";
import { KeyedLocks } from "./locks.js";

describe("KeyedLocks", () => {
  it("aborts a second operation on a held key and releases after settling", async () => {
    const locks = new KeyedLocks();
    let release!: () => void;
    const first = locks.withLock("vol-1", "CreateVolume", () => new Promise<string>((r) => (release = () => r("done"))));
    await expect(locks.withLock("vol-1", "DeleteVolume", async () => "x")).rejects.toThrow(AbortedError);
    await expect(locks.withLock("vol-1", "DeleteVolume", async () => "x")).rejects.toThrow(/CreateVolume/);
    expect(await locks.withLock("vol-2", "DeleteVolume", async () => "other key")).toBe("other key");
    release();
    expect(await first).toBe("done");
    expect(await locks.withLock("vol-1", "DeleteVolume", async () => "free again")).toBe("free again");
  });

  it("releases on failure, and takes several keys all-or-nothing", async () => {
    const locks = new KeyedLocks();
    await expect(locks.withLock("a", "op", async () => Promise.reject(new Error("fail")))).rejects.toThrow("fail");
    let release!: () => void;
    const held = locks.withLock("b", "op", () => new Promise<void>((r) => (release = r)));
    await expect(locks.withLock(["a", "b"], "op2", async () => 1)).rejects.toThrow(AbortedError);
    expect(locks.snapshot().has("a")).toBe(false); // "a" was not taken by the failed attempt
    release();
    await held;
    expect(await locks.withLock(["a", "b", "a"], "op2", async () => 2)).toBe(2);
    expect(locks.snapshot().size).toBe(0);
  });

  it("shared holders coexist; an exclusive holder conflicts with them and they with it", async () => {
    const locks = new KeyedLocks();
    let releaseA!: () => void;
    let releaseB!: () => void;
    const a = locks.withLocks({ exclusive: ["vol-a"], shared: ["snap-1"] }, "CreateVolume", () => new Promise<void>((r) => (releaseA = r)));
    const b = locks.withLocks({ exclusive: ["vol-b"], shared: ["snap-1"] }, "CreateVolume", () => new Promise<void>((r) => (releaseB = r)));
    await expect(locks.withLock("snap-1", "DeleteSnapshot", async () => 0)).rejects.toThrow(AbortedError);
    releaseA();
    await a;
    await expect(locks.withLock("snap-1", "DeleteSnapshot", async () => 0)).rejects.toThrow(/CreateVolume/);
    releaseB();
    await b;
    expect(locks.snapshot().size).toBe(0);
    let releaseD!: () => void;
    const d = locks.withLock("snap-1", "DeleteSnapshot", () => new Promise<void>((r) => (releaseD = r)));
    await expect(locks.withLocks({ exclusive: ["vol-c"], shared: ["snap-1"] }, "CreateVolume", async () => 0)).rejects.toThrow(AbortedError);
    expect(locks.snapshot().has("vol-c")).toBe(false);
    releaseD();
    await d;
  });
});
