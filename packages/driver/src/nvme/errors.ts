// Typed errors of the NVMe connector. src/errors.ts maps them to gRPC codes; nothing here knows
// about gRPC.

/** A volume context / connect parameter is malformed (maps to InvalidArgument). */
export class InvalidConnectParamsError extends Error {
  override readonly name = "InvalidConnectParamsError";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/**
 * Why `nvme connect` failed, from nvme-cli's stderr (its exit status is always 1; the cause is
 * only in the text — nvme-sysfs-and-cli.md §c.6).
 * - refused: nothing listens on the target port (ECONNREFUSED)
 * - unreachable: the kernel could not set up the controller: host unreachable, SYN timeout, or
 *   the target rejected the Connect (unknown NQN, host not allowed) — nvme-cli cannot tell these apart
 * - host-identity: the (hostnqn, hostid) pair conflicts with one already in use (EINVAL)
 * - fabrics-missing: nvme-fabrics / nvme-core modules not loaded on this node
 * - unknown: anything else (text kept in the error)
 */
export type ConnectFailureKind = "refused" | "unreachable" | "host-identity" | "fabrics-missing" | "unknown";

/** `nvme connect` failed for a reason other than "already connected". */
export class NvmeConnectError extends Error {
  override readonly name = "NvmeConnectError";
  constructor(
    readonly nqn: string,
    readonly kind: ConnectFailureKind,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`nvme connect ${nqn} failed (${kind}): ${stderr.trim() || `exit ${String(exitCode)}`}`);
  }

  /** Worth retrying later: the target may come back. */
  get transient(): boolean {
    return this.kind === "refused" || this.kind === "unreachable";
  }
}

/** Another nvme-cli command (disconnect, list-subsys, ns-rescan) failed or timed out. */
export class NvmeCliError extends Error {
  override readonly name = "NvmeCliError";
  constructor(
    readonly command: string,
    message: string,
    readonly exitCode: number | null = null,
    readonly stderr = "",
  ) {
    super(`nvme ${command}: ${message}`);
  }
}

/** nvme-cli printed JSON we cannot make sense of. */
export class NvmeOutputParseError extends Error {
  override readonly name = "NvmeOutputParseError";
  constructor(
    readonly command: string,
    message: string,
  ) {
    super(`cannot parse \`nvme ${command}\` output: ${message}`);
  }
}

/** The host identity (host NQN / host ID) cannot be determined. */
export class HostIdentityError extends Error {
  override readonly name = "HostIdentityError";
}
