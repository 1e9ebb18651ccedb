// The host side as a service: the agent, its unix socket (`<stateDir>/agent.sock`) and the
// `nvme` wrapper (`<stateDir>/bin/nvme`) that the driver runs via --nvme-cli. Runs in-process
// (tests, startSim) or as its own process (`sim-nvme host`, e.g. per node in kind).
import fs from "node:fs";
import type net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { closeServer, serveControlSocket } from "../control-socket.js";
import { HostAgent, type HostAgentOptions, type HostStatus } from "./agent.js";
import { runNvmeCli } from "./nvme-cli.js";

export interface HostOptions extends HostAgentOptions {
  /** Agent socket path (default `<stateDir>/agent.sock`; keep it under 108 bytes). */
  socketPath?: string;
}

export interface Host {
  agent: HostAgent;
  socketPath: string;
  /** Executable `nvme` stand-in with this agent's socket baked in. */
  nvmeCliPath: string;
  status(): HostStatus;
  close(): Promise<void>;
}

/** The compiled stand-in entry (dist/nvme-standin.js), also when running from sources. */
export function standinScript(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const sibling = path.resolve(here, "..", "nvme-standin.js");
  if (fs.existsSync(sibling)) return sibling;
  return path.resolve(here, "..", "..", "dist", "nvme-standin.js");
}

export function writeNvmeWrapper(stateDir: string, socketPath: string): string {
  const bin = path.join(stateDir, "bin");
  fs.mkdirSync(bin, { recursive: true });
  const file = path.join(bin, "nvme");
  const script = standinScript();
  for (const p of [socketPath, script, process.execPath]) {
    if (p.includes("'"))
      throw new Error(`path with a quote cannot be baked into the wrapper: ${p}`);
  }
  const body = `#!/bin/sh\n# sim-nvme stand-in for nvme-cli; talks to the host agent at ${socketPath}\nSIM_NVME_AGENT_SOCKET='${socketPath}' exec '${process.execPath}' '${script}' "$@"\n`;
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, body, { mode: 0o755 });
  fs.renameSync(tmp, file);
  return file;
}

export async function handleHostRequest(
  agent: HostAgent,
  req: Record<string, unknown>,
): Promise<unknown> {
  const nqn = typeof req.nqn === "string" ? req.nqn : "";
  switch (req.op) {
    case "nvme":
      return runNvmeCli(agent, Array.isArray(req.argv) ? req.argv.map(String) : []);
    case "status":
      return agent.status();
    case "rename":
      return agent.rename(nqn);
    case "drop":
      return agent.drop(nqn);
    case "orphan":
      return agent.orphan(nqn);
    case "slow-appear":
      agent.setSlowAppear(Number(req.ms));
      return agent.status();
    case "settle":
      await agent.settle();
      return agent.status();
    default:
      throw new Error(`unknown host request ${String(req.op)}`);
  }
}

export async function startHost(opts: HostOptions): Promise<Host> {
  const stateDir = path.resolve(opts.stateDir);
  const agent = await HostAgent.create({ ...opts, stateDir });
  const socketPath = opts.socketPath ?? path.join(stateDir, "agent.sock");
  let server: net.Server | undefined = await serveControlSocket(socketPath, (req) =>
    handleHostRequest(agent, req),
  );
  const nvmeCliPath = writeNvmeWrapper(stateDir, socketPath);
  return {
    agent,
    socketPath,
    nvmeCliPath,
    status: () => agent.status(),
    close: async () => {
      if (server) await closeServer(server);
      server = undefined;
      fs.rmSync(socketPath, { force: true });
      await agent.close();
    },
  };
}
