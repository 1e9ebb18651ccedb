import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import {
  AbortedError,
  AlreadyExistsError,
  BackendUnavailableError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  OutOfRangeError,
  ResourceExhaustedError,
  RouterOSCommandError,
  RouterOSParseError,
  UnimplementedError,
  statusName,
  toGrpcStatus,
} from "./errors.js";

describe("typed errors → gRPC status", () => {
  it.each([
    [new InvalidArgumentError("x"), status.INVALID_ARGUMENT],
    [new NotFoundError("x"), status.NOT_FOUND],
    [new AlreadyExistsError("x"), status.ALREADY_EXISTS],
    [new OutOfRangeError("x"), status.OUT_OF_RANGE],
    [new ResourceExhaustedError("x"), status.RESOURCE_EXHAUSTED],
    [new AbortedError("x"), status.ABORTED],
    [new FailedPreconditionError("x"), status.FAILED_PRECONDITION],
    [new UnimplementedError("x"), status.UNIMPLEMENTED],
    [new BackendUnavailableError("x"), status.UNAVAILABLE],
    [new RouterOSParseError("x", "out"), status.INTERNAL],
    [new Error("boom"), status.INTERNAL],
    ["a string", status.INTERNAL],
  ])("%s → %s", (err, code) => {
    expect(toGrpcStatus(err).code).toBe(code);
  });

  it("a RouterOS 'not enough space' failure is RESOURCE_EXHAUSTED wherever it was printed", () => {
    expect(toGrpcStatus(new RouterOSCommandError("f", "/disk add", "failure: not enough space\r\n", "", 1)).code).toBe(status.RESOURCE_EXHAUSTED);
    expect(toGrpcStatus(new RouterOSCommandError("f", "/disk add", "", "failure: not enough space", 0)).code).toBe(status.RESOURCE_EXHAUSTED);
    expect(toGrpcStatus(new RouterOSCommandError("f", "/disk add", "syntax error", "", 1)).code).toBe(status.INTERNAL);
  });

  it("command errors carry the command, stdout, stderr and exit code in their message", () => {
    const e = new RouterOSCommandError("failure: no such item", "/disk remove [find slot=\"x\"]", "failure: no such item\r\n", "warn", 1);
    expect(e.message).toContain("/disk remove");
    expect(e.message).toContain("failure: no such item");
    expect(e.message).toContain("warn");
    expect(e.isNoSuchItem).toBe(true);
    expect(toGrpcStatus(e).details).toBe(e.message);
  });

  it("names codes for logs and metric labels", () => {
    expect(statusName(status.NOT_FOUND)).toBe("NOT_FOUND");
    expect(statusName(status.OK)).toBe("OK");
  });
});
