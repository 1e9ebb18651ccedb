// nvme-cli's command line, answered from the host agent's state. Shapes, texts and exit codes
// are those of nvme-cli 2.3 with libnvme 1.3 (Debian 12's packages; nvme-sysfs-and-cli.md §c):
// JSON printed json-c "pretty" style (`"Key":value`, two-space indent), failing subcommands exit
// 1 with the message on stderr, `disconnect -n` prints a count line and exits 0 even for 0.
import path from "node:path";
import { AlreadyConnectedError, ConnectFailedError, type HostAgent } from "./agent.js";

export const NVME_CLI_VERSION = "2.3";
export const LIBNVME_VERSION = "1.3";

export interface CliResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

/** json-c's JSON_C_TO_STRING_PRETTY layout (slashes not escaped, as nvme-cli prints them). */
export function jsonCPretty(v: Json, level = 0): string {
  const ind = (n: number): string => "  ".repeat(n);
  if (Array.isArray(v)) {
    if (v.length === 0) return `[\n${ind(level)}]`;
    return `[\n${v.map((x) => ind(level + 1) + jsonCPretty(x, level + 1)).join(",\n")}\n${ind(level)}]`;
  }
  if (v !== null && typeof v === "object") {
    const entries = Object.entries(v);
    if (entries.length === 0) return `{\n${ind(level)}}`;
    return `{\n${entries.map(([k, x]) => `${ind(level + 1)}${JSON.stringify(k)}:${jsonCPretty(x, level + 1)}`).join(",\n")}\n${ind(level)}}`;
  }
  return JSON.stringify(v);
}

const ok = (stdout = ""): CliResult => ({ stdout, stderr: "", exitCode: 0 });
const err = (stderr: string, exitCode = 1): CliResult => ({
  stdout: "",
  stderr: stderr.endsWith("\n") ? stderr : `${stderr}\n`,
  exitCode,
});

interface Opt {
  long: string;
  short?: string;
  flag?: boolean;
}

/** getopt_long-style parsing: `-n x`, `-nx`, `--nqn x`, `--nqn=x`. */
function parseOpts(
  args: string[],
  spec: Opt[],
): { opts: Map<string, string>; positional: string[] } | string {
  const opts = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    let o: Opt | undefined;
    let inline: string | undefined;
    if (a.startsWith("--")) {
      const [name, val] = a.slice(2).split(/=(.*)/s, 2);
      o = spec.find((s) => s.long === name);
      inline = val;
      if (!o) return `unrecognized option '${a}'`;
    } else if (a.startsWith("-") && a.length > 1) {
      o = spec.find((s) => s.short === a[1]);
      if (!o) return `invalid option -- '${a[1] ?? ""}'`;
      if (a.length > 2) inline = a.slice(2);
    } else {
      positional.push(a);
      continue;
    }
    if (o.flag) {
      opts.set(o.long, "true");
      continue;
    }
    const val = inline ?? args[++i];
    if (val === undefined) return `option requires an argument -- '${o.short ?? o.long}'`;
    opts.set(o.long, val);
  }
  return { opts, positional };
}

const OUTPUT: Opt = { long: "output-format", short: "o" };
const VERBOSE: Opt = { long: "verbose", short: "v", flag: true };

function badFormat(fmt: string | undefined): CliResult | undefined {
  if (fmt === undefined || fmt === "normal" || fmt === "json") return undefined;
  return err(`Invalid output format: ${fmt}`);
}

async function connect(agent: HostAgent, args: string[]): Promise<CliResult> {
  const spec: Opt[] = [
    { long: "transport", short: "t" },
    { long: "traddr", short: "a" },
    { long: "trsvcid", short: "s" },
    { long: "nqn", short: "n" },
    { long: "hostnqn", short: "q" },
    { long: "hostid", short: "I" },
    { long: "ctrl-loss-tmo", short: "l" },
    { long: "reconnect-delay", short: "c" },
    { long: "keep-alive-tmo", short: "k" },
    { long: "nr-io-queues", short: "i" },
    { long: "host-traddr", short: "w" },
    { long: "duplicate-connect", short: "D", flag: true },
    OUTPUT,
    VERBOSE,
  ];
  const p = parseOpts(args, spec);
  if (typeof p === "string") return err(p);
  const o = p.opts;
  const bad = badFormat(o.get("output-format"));
  if (bad) return bad;
  const nqn = o.get("nqn");
  if (!nqn) return err("need a -n argument");
  const transport = o.get("transport");
  if (!transport) return err("need a transport (-t) argument");
  const traddr = o.get("traddr");
  if (!traddr) return err("need a address (-a) argument");
  const num = (name: string): number | undefined | "bad" => {
    const v = o.get(name);
    if (v === undefined) return undefined;
    return /^-?\d+$/.test(v) ? Number(v) : "bad";
  };
  const l = num("ctrl-loss-tmo");
  const c = num("reconnect-delay");
  const k = num("keep-alive-tmo");
  if (l === "bad" || c === "bad" || k === "bad")
    return err("could not add new controller: invalid arguments/configuration");
  if ((c !== undefined && c < 1) || (k !== undefined && k < 0))
    return err("could not add new controller: invalid arguments/configuration");
  try {
    const name = await agent.connect({
      transport,
      traddr,
      trsvcid: o.get("trsvcid") ?? "4420",
      nqn,
      hostnqn: o.get("hostnqn"),
      hostid: o.get("hostid"),
      ctrlLossTmo: l,
      reconnectDelay: c,
      kato: k,
    });
    return ok(
      o.get("output-format") === "json"
        ? `${jsonCPretty({ device: name })}\n`
        : `device: ${name}\n`,
    );
  } catch (e) {
    if (e instanceof AlreadyConnectedError) return err("already connected");
    if (e instanceof ConnectFailedError) {
      if (e.kind === "refused") return err("could not add new controller: connection refused");
      if (e.kind === "invalid")
        return err("could not add new controller: invalid arguments/configuration");
      return err("could not add new controller: failed to write to nvme-fabrics device");
    }
    return err(`could not add new controller: ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function disconnect(agent: HostAgent, args: string[]): Promise<CliResult> {
  const p = parseOpts(args, [{ long: "nqn", short: "n" }, { long: "device", short: "d" }, VERBOSE]);
  if (typeof p === "string") return err(p);
  const nqn = p.opts.get("nqn");
  const dev = p.opts.get("device");
  if (!nqn && !dev) return err("need a -n or -d argument");
  let out = "";
  if (nqn) {
    // nvme-cli accepts a comma-separated list of NQNs.
    for (const n of nqn.split(",")) {
      const count = await agent.disconnectNqn(n);
      out += `NQN:${n} disconnected ${String(count)} controller(s)\n`;
    }
  }
  if (dev) {
    for (const d of dev.split(",")) {
      const name = path.basename(d);
      // `-d` takes a controller name; 2.3 reports an unknown one on stderr and still exits 0.
      if (!/^nvme\d+$/.test(name) || !(await agent.disconnectDevice(name))) {
        return { stdout: out, stderr: `Did not find device ${name}\n`, exitCode: 0 };
      }
    }
  }
  return ok(out);
}

async function listSubsys(agent: HostAgent, args: string[]): Promise<CliResult> {
  const p = parseOpts(args, [OUTPUT, VERBOSE]);
  if (typeof p === "string") return err(p);
  const fmt = p.opts.get("output-format");
  const bad = badFormat(fmt);
  if (bad) return bad;
  const subsystems = await agent.snapshot();
  // Hosts come from the controllers' hostnqn; controller-less subsystems fall under the default host.
  const hosts = new Map<
    string,
    { hostid: string; subs: Map<string, { Name: string; NQN: string; Paths: Json[] }> }
  >();
  const hostEntry = (nqn: string, id: string): NonNullable<ReturnType<typeof hosts.get>> => {
    let h = hosts.get(nqn);
    if (!h) {
      h = { hostid: id, subs: new Map() };
      hosts.set(nqn, h);
    }
    return h;
  };
  for (const s of subsystems) {
    if (s.controllers.length === 0)
      hostEntry(agent.hostnqn, agent.hostid).subs.set(s.name, {
        Name: s.name,
        NQN: s.nqn,
        Paths: [],
      });
    for (const c of s.controllers) {
      const h = hostEntry(c.hostnqn, c.hostid);
      let sub = h.subs.get(s.name);
      if (!sub) {
        sub = { Name: s.name, NQN: s.nqn, Paths: [] };
        h.subs.set(s.name, sub);
      }
      sub.Paths.push({ Name: c.name, Transport: c.transport, Address: c.address, State: c.state });
    }
  }
  if (fmt === "json") {
    const root: Json = [...hosts].map(([nqn, h]) => ({
      HostNQN: nqn,
      HostID: h.hostid,
      Subsystems: [...h.subs.values()],
    }));
    return ok(`${jsonCPretty(root)}\n`);
  }
  let out = "";
  for (const h of hosts.values()) {
    for (const s of h.subs.values()) {
      out += `${s.Name} - NQN=${s.NQN}\n\\\n`;
      for (const pth of s.Paths as {
        Name: string;
        Transport: string;
        Address: string;
        State: string;
      }[]) {
        out += ` +- ${pth.Name} ${pth.Transport} ${pth.Address} ${pth.State}\n`;
      }
    }
  }
  return ok(out);
}

async function list(agent: HostAgent, args: string[]): Promise<CliResult> {
  const p = parseOpts(args, [OUTPUT, VERBOSE]);
  if (typeof p === "string") return err(p);
  const fmt = p.opts.get("output-format");
  const bad = badFormat(fmt);
  if (bad) return bad;
  interface Device {
    [k: string]: Json;
    NameSpace: number;
    DevicePath: string;
    Firmware: string;
    ModelNumber: string;
    SerialNumber: string;
    UsedBytes: number;
    MaximumLBA: number;
    PhysicalSize: number;
    SectorSize: number;
  }
  const devices: Device[] = [];
  for (const s of await agent.snapshot()) {
    for (const c of s.controllers) {
      const ns = c.namespace;
      if (!ns) continue;
      // A multipath head is listed once, however many paths lead to it.
      if (devices.some((d) => d.DevicePath === ns.devPath)) continue;
      const lbas = Math.floor(ns.sizeBytes / 512);
      devices.push({
        NameSpace: ns.nsid,
        DevicePath: ns.devPath,
        Firmware: c.firmware,
        ModelNumber: c.model,
        SerialNumber: c.serial,
        UsedBytes: ns.sizeBytes,
        MaximumLBA: lbas,
        PhysicalSize: lbas * 512,
        SectorSize: 512,
      });
    }
  }
  if (fmt === "json") return ok(`${jsonCPretty({ Devices: devices })}\n`);
  let out =
    "Node                  SN                   Model                                    Namespace Usage                      Format           FW Rev  \n" +
    "--------------------- -------------------- ---------------------------------------- --------- -------------------------- ---------------- --------\n";
  for (const d of devices) {
    const gb = (d.PhysicalSize / 1e9).toFixed(2);
    out += `${d.DevicePath.padEnd(21)} ${d.SerialNumber.padEnd(20)} ${d.ModelNumber.padEnd(40)} ${String(d.NameSpace).padEnd(9)} ${`${gb}  GB /  ${gb}  GB`.padEnd(26)} ${"512   B +  0 B".padEnd(16)} ${d.Firmware.padEnd(8)}\n`;
  }
  return ok(out);
}

async function nsRescan(agent: HostAgent, args: string[]): Promise<CliResult> {
  const dev = args.find((a) => !a.startsWith("-"));
  if (!dev) return err("ns-rescan: Invalid argument");
  const name = path.basename(dev);
  if (!(await agent.rescan(name))) return err(`Failed to open ${dev}: No such file or directory`);
  return ok();
}

/** Runs one `nvme` invocation (argv without the program name). */
export async function runNvmeCli(agent: HostAgent, argv: string[]): Promise<CliResult> {
  const [cmd, ...args] = argv;
  switch (cmd) {
    case "connect":
      return connect(agent, args);
    case "disconnect":
      return disconnect(agent, args);
    case "list-subsys":
      return listSubsys(agent, args);
    case "list":
      return list(agent, args);
    case "ns-rescan":
      return nsRescan(agent, args);
    case "show-hostnqn":
      return ok(`${agent.hostnqn}\n`);
    case "version":
    case "--version":
      return ok(
        `nvme version ${NVME_CLI_VERSION} (git ${NVME_CLI_VERSION})\nlibnvme version ${LIBNVME_VERSION} (git ${LIBNVME_VERSION})\n`,
      );
    case undefined:
    case "help":
    case "--help":
      return err(
        `usage: nvme <command> [<device>] [<args>]\n(sim-nvme stand-in of nvme-cli ${NVME_CLI_VERSION}: connect, disconnect, list, list-subsys, ns-rescan, show-hostnqn, version)`,
      );
    default:
      return err(`ERROR: Invalid sub-command '${cmd}' for plugin ''`);
  }
}
