// Parser for `nvme list-subsys -o json`, every shape nvme-cli has printed (nvme-sysfs-and-cli.md
// §c.1, §c.4):
// - 2.x: root array of host objects {HostNQN, HostID? (omitted when unknown from 2.2), Subsystems:
//   [{Name, NQN, IOPolicy? (2.6–2.12), Type? (2.11–2.12), Model/Serial/Firmware (2.13+ with -v),
//   Paths: [{Name, Transport, Address, State, ANAState?}]}]}. 2.0 listed one path entry per
//   namespace × path (duplicates); 2.15+ skips controller-less subsystems, older ones print them
//   with an empty Paths.
// - 1.9+: root object {Subsystems: [{Name, NQN, Paths: [...]}]}, Address with spaces for commas.
// - ≤ 1.8: root object whose Subsystems array alternates {Name, NQN} and a separate {Paths: [...]}.
// Key order, extra keys and whitespace never matter; unknown extra keys are ignored.
import { NvmeOutputParseError } from "./errors.js";

export interface ListedPath {
  /** controller name, nvme<C> */
  name: string;
  transport: string;
  /** the raw address string as printed */
  rawAddress: string;
  /** address split into key=value pairs (traddr, trsvcid, src_addr, host_traddr, …) */
  address: Record<string, string>;
  /** live / connecting / resetting / deleting / …; absent when not printed */
  state?: string;
  anaState?: string;
}

export interface ListedSubsystem {
  /** nvme-subsys<S> */
  name: string;
  nqn: string;
  /** the host object this subsystem was listed under (2.x only) */
  hostNqn?: string;
  hostId?: string;
  paths: ListedPath[];
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

function str(obj: Json, key: string, where: string, required: true): string;
function str(obj: Json, key: string, where: string, required: false): string | undefined;
function str(obj: Json, key: string, where: string, required: boolean): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (required) throw new NvmeOutputParseError("list-subsys", `${where}: "${key}" missing`);
    return undefined;
  }
  if (typeof v !== "string") throw new NvmeOutputParseError("list-subsys", `${where}: "${key}" is not a string`);
  return v.trim();
}

/** "traddr=10.0.0.5,trsvcid=4420,src_addr=10.0.0.9" (2.x) or with spaces (1.x) → pairs. */
export function parseAddress(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of raw.split(/[,\s]+/)) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

function parsePaths(value: unknown, where: string): ListedPath[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new NvmeOutputParseError("list-subsys", `${where}: "Paths" is not an array`);
  const byName = new Map<string, ListedPath>();
  value.forEach((p, i) => {
    const w = `${where}.Paths[${i}]`;
    if (!isObject(p)) throw new NvmeOutputParseError("list-subsys", `${w} is not an object`);
    const rawAddress = str(p, "Address", w, false) ?? "";
    const path: ListedPath = {
      name: str(p, "Name", w, true),
      transport: str(p, "Transport", w, false) ?? "",
      rawAddress,
      address: parseAddress(rawAddress),
    };
    const state = str(p, "State", w, false);
    if (state !== undefined) path.state = state;
    const ana = str(p, "ANAState", w, false);
    if (ana !== undefined) path.anaState = ana;
    // 2.0 repeats a controller once per namespace: keep one entry per controller.
    if (!byName.has(path.name)) byName.set(path.name, path);
  });
  return [...byName.values()];
}

function parseSubsystemArray(arr: unknown, where: string, host?: { hostNqn?: string; hostId?: string }): ListedSubsystem[] {
  if (!Array.isArray(arr)) throw new NvmeOutputParseError("list-subsys", `${where}: "Subsystems" is not an array`);
  const out: ListedSubsystem[] = [];
  arr.forEach((s, i) => {
    const w = `${where}.Subsystems[${i}]`;
    if (!isObject(s)) throw new NvmeOutputParseError("list-subsys", `${w} is not an object`);
    // ≤ 1.8: a bare {Paths:[…]} element belongs to the subsystem printed just before it.
    if (!("NQN" in s) && !("Name" in s) && "Paths" in s) {
      const prev = out[out.length - 1];
      if (!prev) throw new NvmeOutputParseError("list-subsys", `${w}: Paths element with no subsystem before it`);
      prev.paths.push(...parsePaths(s.Paths, w));
      return;
    }
    const sub: ListedSubsystem = {
      name: str(s, "Name", w, true),
      nqn: str(s, "NQN", w, true),
      paths: parsePaths(s.Paths, w),
    };
    if (host?.hostNqn !== undefined) sub.hostNqn = host.hostNqn;
    if (host?.hostId !== undefined) sub.hostId = host.hostId;
    out.push(sub);
  });
  return out;
}

/**
 * Parses the stdout of `nvme list-subsys -o json`. Returns one entry per (host, subsystem) pair
 * (a subsystem connected under two host NQNs appears twice). Empty output means no subsystems.
 */
export function parseListSubsys(stdout: string): ListedSubsystem[] {
  const text = stdout.trim();
  if (text === "") return [];
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (err) {
    throw new NvmeOutputParseError("list-subsys", `not JSON (${(err as Error).message})`);
  }
  if (Array.isArray(root)) {
    // 2.x: array of hosts
    const out: ListedSubsystem[] = [];
    root.forEach((h, i) => {
      const w = `[${i}]`;
      if (!isObject(h)) throw new NvmeOutputParseError("list-subsys", `${w} is not an object`);
      const host: { hostNqn?: string; hostId?: string } = {};
      const hostNqn = str(h, "HostNQN", w, false);
      const hostId = str(h, "HostID", w, false);
      if (hostNqn !== undefined) host.hostNqn = hostNqn;
      if (hostId !== undefined) host.hostId = hostId;
      out.push(...parseSubsystemArray(h.Subsystems ?? [], w, host));
    });
    return out;
  }
  if (isObject(root)) {
    // 1.x: {Subsystems: [...]}
    return parseSubsystemArray(root.Subsystems ?? [], "root");
  }
  throw new NvmeOutputParseError("list-subsys", "root is neither an array nor an object");
}
