// What `nvme connect` needs for one volume, taken from the volume context the controller wrote
// (keys: nqn, nvmeAddress, nvmePort, optional ctrlLossTmo / reconnectDelay / keepAliveTmo) with the
// node's defaults for what the context leaves out, and the argv built from it.
import { isIP } from "node:net";
import { InvalidConnectParamsError } from "./errors.js";

export interface ConnectDefaults {
  /** seconds; -1 = reconnect forever. Passed explicitly so the kernel default never applies silently. */
  ctrlLossTmo: number;
  /** seconds between reconnect attempts */
  reconnectDelay: number;
  /** keep-alive seconds; 0 = leave the kernel default (the -k flag is not passed) */
  keepAliveTmo: number;
}

export interface HostIdentity {
  hostNqn: string;
  hostId: string;
}

export interface ConnectParams extends ConnectDefaults {
  nqn: string;
  address: string;
  port: number;
}

export const CONTEXT_KEYS = {
  nqn: "nqn",
  address: "nvmeAddress",
  port: "nvmePort",
  ctrlLossTmo: "ctrlLossTmo",
  reconnectDelay: "reconnectDelay",
  keepAliveTmo: "keepAliveTmo",
} as const;

// NQN rules: "nqn." prefix, at most 223 bytes (NVMe base spec). nvme-cli turns the arguments into a
// comma-separated "key=value" string written to /dev/nvme-fabrics, so a comma, "=" or whitespace in
// a value could smuggle extra options into that string: reject them.
const NQN_MAX = 223;
const FORBIDDEN = /[\s,=\\]/;

export function validateNqn(nqn: string, field: string = CONTEXT_KEYS.nqn): string {
  if (!nqn) throw new InvalidConnectParamsError(field, "missing");
  if (!nqn.startsWith("nqn.")) throw new InvalidConnectParamsError(field, `"${nqn}" does not start with "nqn."`);
  if (Buffer.byteLength(nqn) > NQN_MAX) throw new InvalidConnectParamsError(field, `longer than ${NQN_MAX} bytes`);
  if (FORBIDDEN.test(nqn)) throw new InvalidConnectParamsError(field, `"${nqn}" contains whitespace, ",", "=" or "\\"`);
  return nqn;
}

function intField(raw: string | undefined, field: string, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === "") return fallback;
  if (!/^-?\d+$/.test(raw)) throw new InvalidConnectParamsError(field, `"${raw}" is not an integer`);
  const n = Number(raw);
  if (n < min || n > max) throw new InvalidConnectParamsError(field, `${n} is outside ${min}..${max}`);
  return n;
}

export function validateDefaults(d: ConnectDefaults): ConnectDefaults {
  intField(String(d.ctrlLossTmo), "ctrl-loss-tmo", 0, -1, 86_400 * 365);
  intField(String(d.reconnectDelay), "reconnect-delay", 0, 1, 3600);
  intField(String(d.keepAliveTmo), "keep-alive-tmo", 0, 0, 3600);
  return d;
}

/** Reads and validates the connect parameters of a volume context. Throws InvalidConnectParamsError. */
export function connectParamsFromContext(ctx: Record<string, string>, defaults: ConnectDefaults): ConnectParams {
  const nqn = validateNqn(ctx[CONTEXT_KEYS.nqn] ?? "");
  const address = ctx[CONTEXT_KEYS.address] ?? "";
  if (!address) throw new InvalidConnectParamsError(CONTEXT_KEYS.address, "missing");
  // An IP literal only: a host name would need DNS on the node and could hide a comma trick.
  if (isIP(address) === 0) throw new InvalidConnectParamsError(CONTEXT_KEYS.address, `"${address}" is not an IP address`);
  const portRaw = ctx[CONTEXT_KEYS.port];
  if (!portRaw) throw new InvalidConnectParamsError(CONTEXT_KEYS.port, "missing");
  const port = intField(portRaw, CONTEXT_KEYS.port, 0, 1, 65_535);
  return {
    nqn,
    address,
    port,
    ctrlLossTmo: intField(ctx[CONTEXT_KEYS.ctrlLossTmo], CONTEXT_KEYS.ctrlLossTmo, defaults.ctrlLossTmo, -1, 86_400 * 365),
    reconnectDelay: intField(ctx[CONTEXT_KEYS.reconnectDelay], CONTEXT_KEYS.reconnectDelay, defaults.reconnectDelay, 1, 3600),
    keepAliveTmo: intField(ctx[CONTEXT_KEYS.keepAliveTmo], CONTEXT_KEYS.keepAliveTmo, defaults.keepAliveTmo, 0, 3600),
  };
}

/**
 * argv (after the binary) of `nvme connect`. Host NQN and host ID are always passed (-q, -I): the
 * kernel treats the pair as one identity, and letting nvme-cli guess one of them inside a
 * container is how the "same hostid but different hostnqn" EINVAL happens.
 */
export function buildConnectArgs(p: ConnectParams, host: HostIdentity): string[] {
  const args = [
    "connect",
    "-t", "tcp",
    "-a", p.address,
    "-s", String(p.port),
    "-n", p.nqn,
    "-q", host.hostNqn,
    "-I", host.hostId,
    "-l", String(p.ctrlLossTmo),
    "-c", String(p.reconnectDelay),
  ];
  if (p.keepAliveTmo > 0) args.push("-k", String(p.keepAliveTmo));
  return args;
}
