// Typed errors and THE one place that maps them to gRPC status codes.
//
// Services and backends throw the classes below (or errors from other packages); the server's
// interceptor calls toGrpcStatus() once per failed call. Nothing else chooses a status code.
// To map another package's error types, add a branch to `classify` (helper N: mountinfo errors).
import { status } from "@grpc/grpc-js";
import * as host from "@rds-nvme-csi/mountinfo";
import { HostIdentityError, InvalidConnectParamsError, NvmeCliError, NvmeConnectError, NvmeOutputParseError } from "./nvme/errors.js";
import { StateCorruptError } from "./state.js";

/** Base class: an error that already knows its gRPC status code. */
export class CsiError extends Error {
  constructor(
    readonly code: status,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Malformed request: missing or invalid field. Always raised before any lookup. */
export class InvalidArgumentError extends CsiError {
  constructor(message: string) {
    super(status.INVALID_ARGUMENT, message);
  }
}

/** The object really does not exist (never used for "could not check"). */
export class NotFoundError extends CsiError {
  constructor(message: string) {
    super(status.NOT_FOUND, message);
  }
}

/** Same name, incompatible arguments (size, source). */
export class AlreadyExistsError extends CsiError {
  constructor(message: string) {
    super(status.ALREADY_EXISTS, message);
  }
}

/** Requested size outside what the driver or the RDS can provide. */
export class OutOfRangeError extends CsiError {
  constructor(message: string) {
    super(status.OUT_OF_RANGE, message);
  }
}

/** The storage pool is full. */
export class ResourceExhaustedError extends CsiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(status.RESOURCE_EXHAUSTED, message, options);
  }
}

/** Another operation on the same key is in flight (CSI: "operation pending"). */
export class AbortedError extends CsiError {
  constructor(message: string) {
    super(status.ABORTED, message);
  }
}

export class FailedPreconditionError extends CsiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(status.FAILED_PRECONDITION, message, options);
  }
}

export class UnimplementedError extends CsiError {
  constructor(message: string) {
    super(status.UNIMPLEMENTED, message);
  }
}

/** The storage backend cannot be reached (connect failure, timeout, connection lost). */
export class BackendUnavailableError extends CsiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(status.UNAVAILABLE, message, options);
  }
}

/**
 * A RouterOS command ran but reported a failure. Carries everything it printed so a log line
 * or a test can see why (the Go driver kept only stderr: rds-routeros.md W8).
 */
export class RouterOSCommandError extends Error {
  constructor(
    message: string,
    readonly command: string,
    readonly stdout: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(`${message} (command: ${command}; exit: ${exitCode ?? "none"}; stdout: ${JSON.stringify(stdout.trim())}; stderr: ${JSON.stringify(stderr.trim())})`);
    this.name = "RouterOSCommandError";
  }

  /** `failure: not enough space` and friends: the pool cannot hold the requested size. */
  get isNoSpace(): boolean {
    return /not enough space|no space left|disk full/i.test(this.stdout + "\n" + this.stderr);
  }

  /** `failure: no such item`: the addressed item does not exist. */
  get isNoSuchItem(): boolean {
    return /no such item/i.test(this.stdout + "\n" + this.stderr);
  }
}

/** RouterOS printed something this driver cannot understand. */
export class RouterOSParseError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(`${message}: ${JSON.stringify(output.slice(0, 500))}`);
    this.name = "RouterOSParseError";
  }
}

export interface GrpcStatus {
  code: status;
  details: string;
}

function classify(err: unknown): status {
  if (err instanceof CsiError) return err.code;
  if (err instanceof RouterOSCommandError) {
    if (err.isNoSpace) return status.RESOURCE_EXHAUSTED;
    return status.INTERNAL;
  }
  return classifyNode(err);
}

/** Node side: the host layer (mountinfo), the NVMe connector and the state store. */
function classifyNode(err: unknown): status {
  // NVMe connector
  if (err instanceof InvalidConnectParamsError) return status.INVALID_ARGUMENT;
  if (err instanceof NvmeConnectError) {
    if (err.transient) return status.UNAVAILABLE; // target unreachable or refusing: retry
    if (err.kind === "fabrics-missing") return status.FAILED_PRECONDITION; // node lacks nvme-tcp
    return status.INTERNAL;
  }
  if (err instanceof HostIdentityError) return status.FAILED_PRECONDITION;
  if (err instanceof NvmeCliError || err instanceof NvmeOutputParseError || err instanceof StateCorruptError) return status.INTERNAL;
  // mountinfo
  if (err instanceof host.MountBusyError) return status.FAILED_PRECONDITION; // names the holders
  if (err instanceof host.FormatRefusedError) return status.FAILED_PRECONDITION; // device not positively empty
  if (err instanceof host.UnsupportedFilesystemError) return status.FAILED_PRECONDITION;
  if (err instanceof host.NotMountedError) return status.FAILED_PRECONDITION;
  if (err instanceof host.DeviceWaitTimeoutError || err instanceof host.DeviceNotFoundError) return status.UNAVAILABLE;
  if (err instanceof host.CommandTimeoutError) return status.DEADLINE_EXCEEDED;
  if (err instanceof host.InvalidArgumentError) return status.INVALID_ARGUMENT;
  // the RPC's signal fired (client cancelled or the deadline passed) while we waited
  if (err instanceof Error && err.name === "AbortError") return status.CANCELLED;
  return status.INTERNAL;
}

/** Maps any thrown value to the gRPC status sent to the caller. */
export function toGrpcStatus(err: unknown): GrpcStatus {
  const code = classify(err);
  const details = err instanceof Error ? err.message : String(err);
  return { code, details };
}

/** The canonical upper-case name of a status code (`NOT_FOUND`), for logs and metric labels. */
export function statusName(code: status): string {
  return status[code] ?? String(code);
}
