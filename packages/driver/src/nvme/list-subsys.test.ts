import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseAddress, parseListSubsys } from "./list-subsys.js";
import { NvmeOutputParseError } from "./errors.js";

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8");

describe("parseListSubsys", () => {
  it("2.0: deduplicates the per-namespace repeated paths and keeps ANAState", () => {
    const subs = parseListSubsys(fixture("list-subsys-2.0.json"));
    expect(subs).toHaveLength(1);
    expect(subs[0]?.paths).toEqual([
      {
        name: "nvme0",
        transport: "tcp",
        rawAddress: "traddr=10.0.0.5,trsvcid=4420",
        address: { traddr: "10.0.0.5", trsvcid: "4420" },
        state: "live",
        anaState: "optimized",
      },
    ]);
    expect(subs[0]?.hostId).toBe("6b0f0c1e-8a1d-4c43-9d7e-2f5a7c0e4b11");
  });

  it("2.3: several hosts, HostID omitted, controller-less subsystem, IPv6 address", () => {
    const subs = parseListSubsys(fixture("list-subsys-2.3.json"));
    expect(subs.map((s) => [s.name, s.nqn, s.paths.length, s.hostNqn?.slice(-12)])).toEqual([
      ["nvme-subsys0", "nqn.2000-02.com.mikrotik:pvc-a", 2, "2f5a7c0e4b11"],
      ["nvme-subsys2", "nqn.2000-02.com.mikrotik:pvc-stale", 0, "2f5a7c0e4b11"],
      ["nvme-subsys3", "nqn.2000-02.com.mikrotik:pvc-b", 1, "000000000001"],
    ]);
    expect(subs[2]?.hostId).toBeUndefined();
    expect(subs[0]?.paths[1]).toMatchObject({ name: "nvme1", state: "connecting", address: { traddr: "10.0.1.5" } });
    expect(subs[2]?.paths[0]?.address).toEqual({ traddr: "::1", trsvcid: "4420", src_addr: "::1" });
  });

  it("2.3 with nothing connected prints an empty array", () => {
    expect(parseListSubsys(fixture("list-subsys-2.3-empty.json"))).toEqual([]);
    expect(parseListSubsys("")).toEqual([]);
  });

  it("2.11: ignores IOPolicy and Type", () => {
    const subs = parseListSubsys(fixture("list-subsys-2.11.json"));
    expect(subs).toEqual([
      expect.objectContaining({ name: "nvme-subsys1", nqn: "nqn.2000-02.com.mikrotik:pvc-a", paths: [expect.objectContaining({ name: "nvme1", state: "live" })] }),
    ]);
  });

  it("2.14 -v: ignores Model/Serial/Firmware padding, keeps the path", () => {
    const [sub] = parseListSubsys(fixture("list-subsys-2.14-verbose.json"));
    expect(sub?.paths[0]).toMatchObject({ name: "nvme1", state: "connecting", anaState: "optimized" });
  });

  it("2.16: several subsystems under one host", () => {
    const subs = parseListSubsys(fixture("list-subsys-2.16.json"));
    expect(subs.map((s) => s.nqn)).toEqual(["nqn.2000-02.com.mikrotik:pvc-a", "nqn.2000-02.com.mikrotik:pvc-b"]);
  });

  it("1.9+: object root with nested Paths and space-separated Address", () => {
    const [sub] = parseListSubsys(fixture("list-subsys-1.16.json"));
    expect(sub).toMatchObject({ name: "nvme-subsys0", nqn: "nqn.2000-02.com.mikrotik:pvc-a" });
    expect(sub?.hostNqn).toBeUndefined();
    expect(sub?.paths[0]?.address).toEqual({ traddr: "10.0.0.5", trsvcid: "4420" });
  });

  it("≤ 1.8: attaches each separate Paths element to the subsystem before it", () => {
    const subs = parseListSubsys(fixture("list-subsys-1.8.json"));
    expect(subs.map((s) => [s.nqn, s.paths.map((p) => `${p.name}:${p.state ?? ""}:${p.address.trsvcid ?? ""}`)])).toEqual([
      ["nqn.2000-02.com.mikrotik:pvc-a", ["nvme0:live:4420"]],
      ["nqn.2000-02.com.mikrotik:pvc-b", ["nvme1:connecting:4421"]],
    ]);
  });

  it("rejects output that is not list-subsys JSON with a typed error", () => {
    expect(() => parseListSubsys("Failed to scan topology")).toThrow(NvmeOutputParseError);
    expect(() => parseListSubsys("42")).toThrow(NvmeOutputParseError);
    expect(() => parseListSubsys('[{"Subsystems":[{"Name":"nvme-subsys0"}]}]')).toThrow(/NQN.*missing/);
    expect(() => parseListSubsys('[{"Subsystems":[{"Name":"x","NQN":"y","Paths":{}}]}]')).toThrow(/not an array/);
    expect(() => parseListSubsys('{"Subsystems":[{"Paths":[]}]}')).toThrow(/no subsystem before/);
  });
});

describe("parseAddress", () => {
  it("splits on commas and on spaces, ignores junk", () => {
    expect(parseAddress("traddr=1.2.3.4,trsvcid=4420,host_traddr=5.6.7.8")).toEqual({
      traddr: "1.2.3.4",
      trsvcid: "4420",
      host_traddr: "5.6.7.8",
    });
    expect(parseAddress("traddr=1.2.3.4 trsvcid=4420")).toEqual({ traddr: "1.2.3.4", trsvcid: "4420" });
    expect(parseAddress("")).toEqual({});
    expect(parseAddress("0000:00:05.0")).toEqual({});
  });
});
