// What nvme-cli's exit status and texts mean (nvme-sysfs-and-cli.md §c.6). Every failing nvme-cli
// subcommand exits 1; the cause is only in stderr, so classification is by text, with the texts of
// every 2.x release and the 3.0 forms.
import type { ConnectFailureKind } from "./errors.js";

export type ConnectOutcome =
  | { kind: "connected"; controller?: string }
  | { kind: "already-connected" }
  | { kind: "failed"; reason: ConnectFailureKind };

/** Controller name from connect's stdout: "device: nvme3" (≤2.6), "connecting to device: nvme3" (2.7+), {"device":"nvme3"} (-o json). */
export function parseConnectStdout(stdout: string): string | undefined {
  const m = /device"?\s*:\s*"?(nvme\d+)/.exec(stdout);
  return m?.[1];
}

export function classifyConnect(exitCode: number, stdout: string, stderr: string): ConnectOutcome {
  if (exitCode === 0) {
    const controller = parseConnectStdout(stdout);
    return controller ? { kind: "connected", controller } : { kind: "connected" };
  }
  const text = `${stderr}\n${stdout}`.toLowerCase();
  // 2.3+: "already connected" / "could not add new controller: already connected";
  // 2.0–2.2: "no controller found: already connected"; 3.0: "already connected to hostnqn=…".
  if (text.includes("already connected")) return { kind: "already-connected" };
  if (text.includes("connection refused")) return { kind: "failed", reason: "refused" };
  if (text.includes("invalid arguments/configuration")) return { kind: "failed", reason: "host-identity" };
  if (text.includes("failed to open nvme-fabrics device") || text.includes("failed to scan topology")) {
    return { kind: "failed", reason: "fabrics-missing" };
  }
  if (
    text.includes("failed to write to nvme-fabrics device") ||
    text.includes("no route to host") ||
    text.includes("timed out") ||
    text.includes("network is unreachable") ||
    text.includes("host is unreachable")
  ) {
    return { kind: "failed", reason: "unreachable" };
  }
  return { kind: "failed", reason: "unknown" };
}

export type DisconnectOutcome = { kind: "disconnected"; count: number } | { kind: "failed" };

/**
 * `disconnect -n <nqn>`: exit 0 with "NQN:<nqn> disconnected <k> controller(s)" on stdout (k may
 * be 0; 3.0 prints it only with -v). 2.3–2.9 exit 1 with "Failed to scan topology" when the nvme
 * modules are not loaded — nothing can be connected then, so that is "0 disconnected".
 */
export function classifyDisconnect(exitCode: number, stdout: string, stderr: string): DisconnectOutcome {
  if (exitCode === 0) {
    const m = /disconnected\s+(\d+)\s+controller/.exec(stdout);
    return { kind: "disconnected", count: m ? Number(m[1]) : 0 };
  }
  if (/failed to scan topology/i.test(stderr)) return { kind: "disconnected", count: 0 };
  return { kind: "failed" };
}

/** `list-subsys` with no /sys/class/nvme (modules not loaded): exit 1 "Failed to scan topology" = no subsystems. */
export function listSubsysMeansEmpty(exitCode: number, stderr: string): boolean {
  return exitCode !== 0 && /failed to scan topology/i.test(stderr);
}
