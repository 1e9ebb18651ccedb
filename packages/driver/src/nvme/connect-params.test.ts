import { describe, expect, it } from "vitest";
import { buildConnectArgs, connectParamsFromContext, validateNqn } from "./connect-params.js";
import { InvalidConnectParamsError } from "./errors.js";

const defaults = { ctrlLossTmo: 600, reconnectDelay: 5, keepAliveTmo: 0 };
const host = { hostNqn: "nqn.2014-08.org.nvmexpress:uuid:6b0f0c1e-8a1d-4c43-9d7e-2f5a7c0e4b11", hostId: "6b0f0c1e-8a1d-4c43-9d7e-2f5a7c0e4b11" };
const ctx = { nqn: "nqn.2000-02.com.mikrotik:pvc-a", nvmeAddress: "127.0.0.1", nvmePort: "4420" };

describe("connect parameters", () => {
  it("uses defaults and always passes -q and -I", () => {
    const p = connectParamsFromContext(ctx, defaults);
    expect(buildConnectArgs(p, host)).toEqual([
      "connect", "-t", "tcp", "-a", "127.0.0.1", "-s", "4420", "-n", "nqn.2000-02.com.mikrotik:pvc-a",
      "-q", host.hostNqn, "-I", host.hostId, "-l", "600", "-c", "5",
    ]);
  });

  it("takes overrides from the volume context, -k only when > 0, -1 = forever", () => {
    const p = connectParamsFromContext({ ...ctx, ctrlLossTmo: "-1", reconnectDelay: "2", keepAliveTmo: "7", nvmeAddress: "::1" }, defaults);
    expect(p).toEqual({ nqn: ctx.nqn, address: "::1", port: 4420, ctrlLossTmo: -1, reconnectDelay: 2, keepAliveTmo: 7 });
    expect(buildConnectArgs(p, host).slice(-6)).toEqual(["-l", "-1", "-c", "2", "-k", "7"]);
  });

  it.each([
    [{ ...ctx, nqn: "" }, "nqn"],
    [{ ...ctx, nqn: "iqn.2000-01.x" }, "nqn"],
    [{ ...ctx, nqn: "nqn.2000-02.x:a,traddr=6.6.6.6" }, "nqn"],
    [{ ...ctx, nqn: "nqn." + "a".repeat(230) }, "nqn"],
    [{ ...ctx, nvmeAddress: "" }, "nvmeAddress"],
    [{ ...ctx, nvmeAddress: "rds.example.com" }, "nvmeAddress"],
    [{ ...ctx, nvmeAddress: "127.0.0.1,trsvcid=1" }, "nvmeAddress"],
    [{ ...ctx, nvmePort: "" }, "nvmePort"],
    [{ ...ctx, nvmePort: "0" }, "nvmePort"],
    [{ ...ctx, nvmePort: "65536" }, "nvmePort"],
    [{ ...ctx, nvmePort: "44x" }, "nvmePort"],
    [{ ...ctx, ctrlLossTmo: "-2" }, "ctrlLossTmo"],
    [{ ...ctx, reconnectDelay: "0" }, "reconnectDelay"],
    [{ ...ctx, keepAliveTmo: "soon" }, "keepAliveTmo"],
  ])("rejects %j naming %s", (bad, field) => {
    let err: unknown;
    try {
      connectParamsFromContext(bad, defaults);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidConnectParamsError);
    expect((err as InvalidConnectParamsError).field).toBe(field);
  });

  it("validateNqn accepts the contract's NQN", () => {
    expect(validateNqn("nqn.2000-02.com.mikrotik:vol-0123456789abcdef0123456789abcdef")).toMatch(/^nqn\./);
  });
});
