#!/usr/bin/env node
// The `nvme` stand-in: forwards its argv to the host agent and prints what nvme-cli would.
// The agent socket comes from SIM_NVME_AGENT_SOCKET (baked into <stateDir>/bin/nvme).
import { callControlSocket } from "./control-socket.js";
import type { CliResult } from "./host/nvme-cli.js";

async function main(): Promise<number> {
  const socket = process.env.SIM_NVME_AGENT_SOCKET;
  if (!socket) {
    process.stderr.write("Failed to scan topology: No such file or directory\n");
    return 1;
  }
  let r: CliResult;
  try {
    r = (await callControlSocket(socket, { op: "nvme", argv: process.argv.slice(2) })) as CliResult;
  } catch {
    // No agent = no NVMe modules loaded, as far as nvme-cli can tell.
    process.stderr.write("Failed to scan topology: No such file or directory\n");
    return 1;
  }
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  return r.exitCode;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = 1;
  },
);
