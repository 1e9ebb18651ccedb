// Typed errors of the host layer. The driver maps these to gRPC status codes in one place
// (packages/driver/src/errors.ts), so every failure mode that a caller must tell apart has its
// own class and carries the facts needed for a useful message.

/** Base class: lets callers catch "anything from the host layer" with one instanceof. */
export class HostError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A caller passed something we refuse to act on (relative path, empty NQN, ...). */
export class InvalidArgumentError extends HostError {}

// ---------------------------------------------------------------- exec

/** Common shape of every command failure: what ran and what it printed. */
export class CommandError extends HostError {
  constructor(
    message: string,
    readonly argv: readonly string[],
    readonly stdout: string,
    readonly stderr: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The binary could not be started at all (ENOENT, EACCES, ...). */
export class CommandSpawnError extends CommandError {
  constructor(
    argv: readonly string[],
    readonly code: string | undefined,
    cause: unknown,
  ) {
    super(`cannot run ${argv[0] ?? "?"}: ${code ?? String(cause)}`, argv, "", "", { cause });
  }
}

/** The command exited with a status that the caller did not allow. */
export class CommandFailedError extends CommandError {
  constructor(
    argv: readonly string[],
    readonly exitCode: number,
    stdout: string,
    stderr: string,
  ) {
    super(
      `${argv.join(" ")} exited with ${exitCode}: ${firstLine(stderr || stdout)}`,
      argv,
      stdout,
      stderr,
    );
  }
}

/** The command ran past its timeout and was killed (SIGTERM, then SIGKILL after a grace). */
export class CommandTimeoutError extends CommandError {
  constructor(
    argv: readonly string[],
    readonly timeoutMs: number,
    stdout: string,
    stderr: string,
  ) {
    super(`${argv.join(" ")} timed out after ${timeoutMs} ms and was killed`, argv, stdout, stderr);
  }
}

/** The command was ended by a signal that we did not send (or sent because of an abort). */
export class CommandSignalError extends CommandError {
  constructor(
    argv: readonly string[],
    readonly signal: string,
    stdout: string,
    stderr: string,
  ) {
    super(`${argv.join(" ")} was killed by ${signal}`, argv, stdout, stderr);
  }
}

/** stdout or stderr exceeded maxOutputBytes; the process was killed. */
export class CommandOutputTooLargeError extends CommandError {
  constructor(
    argv: readonly string[],
    readonly maxOutputBytes: number,
    stdout: string,
    stderr: string,
  ) {
    super(
      `${argv.join(" ")} printed more than ${maxOutputBytes} bytes and was killed`,
      argv,
      stdout,
      stderr,
    );
  }
}

// ---------------------------------------------------------------- mountinfo

/** A mountinfo line that does not have the kernel's shape. Names the line; nothing is guessed. */
export class MountinfoParseError extends HostError {
  constructor(
    readonly lineNumber: number,
    readonly line: string,
    readonly reason: string,
  ) {
    super(`mountinfo line ${lineNumber}: ${reason}: ${JSON.stringify(line)}`);
  }
}

/** Reading mountinfo did not finish in time (the kernel's namespace lock is held). */
export class MountinfoTimeoutError extends HostError {
  constructor(
    readonly file: string,
    readonly timeoutMs: number,
  ) {
    super(`reading ${file} did not finish within ${timeoutMs} ms`);
  }
}

// ---------------------------------------------------------------- devices

/** No usable block device for this NQN (or the device vanished while we looked). */
export class DeviceNotFoundError extends HostError {
  constructor(
    readonly nqn: string,
    detail?: string,
  ) {
    super(`no block device for ${nqn}${detail ? `: ${detail}` : ""}`);
  }
}

/** waitFor gave up. */
export class DeviceWaitTimeoutError extends HostError {
  constructor(
    readonly nqn: string,
    readonly timeoutMs: number,
    /** the last error seen while looking, if any (e.g. a malformed sysfs attribute) */
    readonly lastError?: string,
  ) {
    super(
      `no block device for ${nqn} appeared within ${timeoutMs} ms${lastError ? ` (last error: ${lastError})` : ""}`,
    );
  }
}

/** A sysfs attribute had a value we cannot interpret (e.g. a `dev` that is not major:minor). */
export class SysfsFormatError extends HostError {
  constructor(
    readonly file: string,
    readonly value: string,
  ) {
    super(`unexpected content in ${file}: ${JSON.stringify(value)}`);
  }
}

// ---------------------------------------------------------------- mounts

export interface MountHolder {
  kind: "mount" | "process";
  /** mount point for kind "mount", the open path for kind "process" */
  path: string;
  pid?: number;
  command?: string;
}

/** Unmount refused: something other than our own bind mounts holds the mount. */
export class MountBusyError extends HostError {
  constructor(
    readonly target: string,
    readonly holders: readonly MountHolder[],
  ) {
    super(`${target} is in use by ${holders.map(describeHolder).join(", ")}`);
  }
}

/** format refused: blkid did not positively say "empty" (exit 2). */
export class FormatRefusedError extends HostError {
  constructor(
    readonly device: string,
    readonly reason: string,
    readonly existingType?: string,
  ) {
    super(`refusing to format ${device}: ${reason}`);
  }
}

export class UnsupportedFilesystemError extends HostError {
  constructor(readonly fsType: string) {
    super(`unsupported filesystem type ${JSON.stringify(fsType)}`);
  }
}

export class NotMountedError extends HostError {
  constructor(readonly path: string) {
    super(`${path} is not a mount point`);
  }
}

/** Recovery gave up after its bounded attempts; `cause` is the last attempt's error. */
export class RecoveryFailedError extends HostError {
  constructor(
    readonly stagingPath: string,
    readonly attempts: number,
    cause: unknown,
  ) {
    super(`recovery of ${stagingPath} failed after ${attempts} attempt(s): ${errorText(cause)}`, {
      cause,
    });
  }
}

function describeHolder(h: MountHolder): string {
  return h.kind === "process"
    ? `pid ${h.pid ?? "?"} (${h.command ?? "?"}) at ${h.path}`
    : `mount ${h.path}`;
}

/** The output condensed to one line for a message (tools often put the reason last). */
function firstLine(s: string): string {
  const line = s
    .trim()
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .join(" | ");
  return line.length > 500 ? `...${line.slice(-500)}` : line;
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
