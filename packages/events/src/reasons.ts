// The driver's reason catalogue: every Event reason it emits, its type, and a helper that builds
// the message. Messages name the volume, the node, the devices (name and major:minor), the
// attempts and the error, so `kubectl describe pvc` alone tells what happened.
import type { EventSpec, EventType } from "./types.js";

export const Reasons = {
  StaleMountDetected: { reason: "StaleMountDetected", type: "Warning" },
  StaleMountRecovered: { reason: "StaleMountRecovered", type: "Normal" },
  RecoveryFailed: { reason: "RecoveryFailed", type: "Warning" },
  MountFailure: { reason: "MountFailure", type: "Warning" },
  UnmountFailure: { reason: "UnmountFailure", type: "Warning" },
  FormatRefused: { reason: "FormatRefused", type: "Warning" },
  ConnectionFailure: { reason: "ConnectionFailure", type: "Warning" },
  ConnectionRecovered: { reason: "ConnectionRecovered", type: "Normal" },
  VolumeConditionAbnormal: { reason: "VolumeConditionAbnormal", type: "Warning" },
  VolumeConditionNormal: { reason: "VolumeConditionNormal", type: "Normal" },
  ExpansionFailed: { reason: "ExpansionFailed", type: "Warning" },
  VolumeResized: { reason: "VolumeResized", type: "Normal" },
} as const satisfies Record<string, { reason: string; type: EventType }>;

export type ReasonName = keyof typeof Reasons;

/** A block device as the events describe it: kernel name and device number. */
export interface DeviceId {
  name: string;
  major: number;
  minor: number;
}

/** "nvme1n1 (259:3)"; "none" when there is no device. */
export function formatDevice(dev: DeviceId | undefined): string {
  return dev ? `${dev.name} (${dev.major}:${dev.minor})` : "none";
}

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

function spec(name: ReasonName, message: string): EventSpec {
  const { reason, type } = Reasons[name];
  return { type, reason, message };
}

/** Why the health monitor calls a mount stale (mountinfo's StaleChecker verdicts). */
export type StaleCause =
  "mount_not_found" | "device_disappeared" | "device_mismatch" | "controllers_down" | (string & {});

const staleCauseText: Record<string, string> = {
  mount_not_found: "the staging mount is gone",
  device_disappeared: "the NVMe device disappeared",
  device_mismatch: "the NVMe device was renumbered",
  controllers_down: "no NVMe controller is live",
};

export function staleMountDetected(a: {
  volumeId: string;
  node: string;
  cause: StaleCause;
  mountedDevice?: DeviceId;
  currentDevice?: DeviceId;
  controllerStates?: string[];
}): EventSpec {
  const controllers =
    a.controllerStates && a.controllerStates.length > 0
      ? `; controllers: ${a.controllerStates.join(", ")}`
      : "";
  return spec(
    "StaleMountDetected",
    `Stale mount of volume ${a.volumeId} on node ${a.node}: ${staleCauseText[a.cause] ?? a.cause} (${a.cause}); ` +
      `mounted device ${formatDevice(a.mountedDevice)}, current device ${formatDevice(a.currentDevice)}${controllers}`,
  );
}

export function staleMountRecovered(a: {
  volumeId: string;
  node: string;
  oldDevice?: DeviceId;
  newDevice: DeviceId;
  attempts: number;
  targets?: number;
  durationMs?: number;
}): EventSpec {
  const targets = a.targets === undefined ? "" : `, ${a.targets} publish target(s) re-bound`;
  const took = a.durationMs === undefined ? "" : ` in ${Math.round(a.durationMs)} ms`;
  return spec(
    "StaleMountRecovered",
    `Recovered stale mount of volume ${a.volumeId} on node ${a.node}: remounted from ${formatDevice(a.oldDevice)} to ${formatDevice(a.newDevice)}` +
      `${targets} after ${a.attempts} attempt(s)${took}`,
  );
}

export function recoveryFailed(a: {
  volumeId: string;
  node: string;
  attempts: number;
  error: unknown;
  oldDevice?: DeviceId;
  newDevice?: DeviceId;
}): EventSpec {
  return spec(
    "RecoveryFailed",
    `Could not recover stale mount of volume ${a.volumeId} on node ${a.node} after ${a.attempts} attempt(s) ` +
      `(mounted device ${formatDevice(a.oldDevice)}, current device ${formatDevice(a.newDevice)}): ${errorText(a.error)}`,
  );
}

export function mountFailure(a: {
  volumeId: string;
  node: string;
  target: string;
  device?: DeviceId;
  error: unknown;
}): EventSpec {
  const dev = a.device ? ` from ${formatDevice(a.device)}` : "";
  return spec(
    "MountFailure",
    `Mounting volume ${a.volumeId} at ${a.target}${dev} on node ${a.node} failed: ${errorText(a.error)}`,
  );
}

export function unmountFailure(a: {
  volumeId: string;
  node: string;
  target: string;
  error: unknown;
}): EventSpec {
  return spec(
    "UnmountFailure",
    `Unmounting volume ${a.volumeId} from ${a.target} on node ${a.node} failed: ${errorText(a.error)}`,
  );
}

export function formatRefused(a: {
  volumeId: string;
  node: string;
  device: DeviceId;
  found: string;
}): EventSpec {
  return spec(
    "FormatRefused",
    `Refusing to format volume ${a.volumeId} on node ${a.node}: device ${formatDevice(a.device)} is not empty (${a.found})`,
  );
}

export function connectionFailure(a: {
  volumeId: string;
  node: string;
  nqn: string;
  address: string;
  attempts: number;
  error: unknown;
}): EventSpec {
  return spec(
    "ConnectionFailure",
    `NVMe/TCP connection for volume ${a.volumeId} (${a.nqn} at ${a.address}) from node ${a.node} failed after ${a.attempts} attempt(s): ${errorText(a.error)}`,
  );
}

export function connectionRecovered(a: {
  volumeId: string;
  node: string;
  nqn: string;
  address: string;
  device?: DeviceId;
  attempts?: number;
}): EventSpec {
  const dev = a.device ? `, device ${formatDevice(a.device)}` : "";
  const attempts = a.attempts === undefined ? "" : ` after ${a.attempts} attempt(s)`;
  return spec(
    "ConnectionRecovered",
    `NVMe/TCP connection for volume ${a.volumeId} (${a.nqn} at ${a.address}) from node ${a.node} is live again${dev}${attempts}`,
  );
}

export function volumeConditionAbnormal(a: {
  volumeId: string;
  node: string;
  message: string;
}): EventSpec {
  return spec(
    "VolumeConditionAbnormal",
    `Volume ${a.volumeId} on node ${a.node} is abnormal: ${a.message}`,
  );
}

export function volumeConditionNormal(a: { volumeId: string; node: string }): EventSpec {
  return spec("VolumeConditionNormal", `Volume ${a.volumeId} on node ${a.node} is healthy again`);
}

export function expansionFailed(a: {
  volumeId: string;
  node: string;
  device?: DeviceId;
  requestedBytes?: bigint | number;
  error: unknown;
}): EventSpec {
  const dev = a.device ? ` on ${formatDevice(a.device)}` : "";
  const size = a.requestedBytes === undefined ? "" : ` to ${a.requestedBytes} bytes`;
  return spec(
    "ExpansionFailed",
    `Expanding the filesystem of volume ${a.volumeId}${dev}${size} on node ${a.node} failed: ${errorText(a.error)}`,
  );
}

export function volumeResized(a: {
  volumeId: string;
  node: string;
  device?: DeviceId;
  oldBytes: bigint | number;
  newBytes: bigint | number;
}): EventSpec {
  const dev = a.device ? ` on ${formatDevice(a.device)}` : "";
  return spec(
    "VolumeResized",
    `Filesystem of volume ${a.volumeId}${dev} on node ${a.node} resized from ${a.oldBytes} to ${a.newBytes} bytes`,
  );
}
