// Public surface of @rds-nvme-csi/sim-nvme.
export { startTarget, Target } from "./target/target.js";
export type { TargetOptions, TargetStatus, SshInfo } from "./target/target.js";
export { RouterOsInterpreter } from "./target/routeros.js";
export type { CommandResult } from "./target/routeros.js";
export {
  parseCommandLine,
  RouterOsSyntaxError,
  BadCommandError,
} from "./target/routeros-parser.js";
export type { ParsedCommand, Condition } from "./target/routeros-parser.js";
export { DiskStore, DiskStoreError } from "./target/disk-store.js";
export type { Disk } from "./target/disk-store.js";
export { parseSize, groupDigits, formatBinarySize } from "./units.js";
export { startSim } from "./sim.js";
export type { Sim, SimOptions, SimFaults, SimStatus } from "./sim.js";
export { startHost, writeNvmeWrapper } from "./host/host.js";
export type { Host, HostOptions } from "./host/host.js";
export { HostAgent, AlreadyConnectedError, ConnectFailedError } from "./host/agent.js";
export type {
  HostAgentOptions,
  ConnectParams,
  ControllerView,
  SubsystemView,
  HostStatus,
} from "./host/agent.js";
export { runNvmeCli, jsonCPretty, NVME_CLI_VERSION } from "./host/nvme-cli.js";
export type { CliResult } from "./host/nvme-cli.js";
export { cleanupFromJournal } from "./host/journal.js";
export type { CleanupReport } from "./host/journal.js";
