import { describe, expect, it } from "vitest";
import { classifyConnect, classifyDisconnect, listSubsysMeansEmpty, parseConnectStdout } from "./cli-results.js";

describe("classifyConnect", () => {
  it("success: controller name from every stdout form", () => {
    expect(classifyConnect(0, "device: nvme3\n", "")).toEqual({ kind: "connected", controller: "nvme3" });
    expect(classifyConnect(0, "connecting to device: nvme12\n", "")).toEqual({ kind: "connected", controller: "nvme12" });
    expect(classifyConnect(0, '{\n  "device":"nvme0"\n}\n', "")).toEqual({ kind: "connected", controller: "nvme0" });
    expect(classifyConnect(0, "", "")).toEqual({ kind: "connected" });
    expect(parseConnectStdout("nothing")).toBeUndefined();
  });

  it.each([
    ["already connected\n"],
    ["could not add new controller: already connected\n"],
    ["no controller found: already connected\n"],
    ["already connected to hostnqn=nqn.x,nqn=nqn.y,transport=tcp,traddr=127.0.0.1,trsvcid=4420\n"],
  ])("already connected: %j", (stderr) => {
    expect(classifyConnect(1, "", stderr)).toEqual({ kind: "already-connected" });
  });

  it.each([
    ["could not add new controller: connection refused\n", "refused"],
    ["could not add new controller: failed to write to nvme-fabrics device\n", "unreachable"],
    ["no controller found: failed to write to nvme-fabrics device\n", "unreachable"],
    ["could not add new controller: invalid arguments/configuration\n", "host-identity"],
    ["could not add new controller: failed to open nvme-fabrics device\n", "fabrics-missing"],
    ["Failed to scan topology: No such file or directory\n", "fabrics-missing"],
    ["something new\n", "unknown"],
  ])("failure %j → %s", (stderr, reason) => {
    expect(classifyConnect(1, "", stderr)).toEqual({ kind: "failed", reason });
  });
});

describe("classifyDisconnect", () => {
  it("counts controllers, zero included", () => {
    expect(classifyDisconnect(0, "NQN:nqn.2000-02.com.mikrotik:pvc-a disconnected 2 controller(s)\n", "")).toEqual({
      kind: "disconnected",
      count: 2,
    });
    expect(classifyDisconnect(0, "NQN:nqn.x disconnected 0 controller(s)\n", "")).toEqual({ kind: "disconnected", count: 0 });
    // 3.0 prints nothing without -v
    expect(classifyDisconnect(0, "", "")).toEqual({ kind: "disconnected", count: 0 });
  });
  it("modules not loaded (2.3–2.9) means nothing was connected", () => {
    expect(classifyDisconnect(1, "", "Failed to scan topology: No such file or directory\n")).toEqual({ kind: "disconnected", count: 0 });
    expect(listSubsysMeansEmpty(1, "Failed to scan topology: No such file or directory\n")).toBe(true);
    expect(listSubsysMeansEmpty(1, "boom")).toBe(false);
  });
  it("other failures are failures", () => {
    expect(classifyDisconnect(1, "", "permission denied")).toEqual({ kind: "failed" });
  });
});
