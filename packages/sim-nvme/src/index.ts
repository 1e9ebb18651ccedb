// Public surface of @rds-nvme-csi/sim-nvme.
export { startTarget, Target } from "./target/target.js";
export type { TargetOptions, TargetStatus, SshInfo } from "./target/target.js";
export { RouterOsInterpreter } from "./target/routeros.js";
export type { CommandResult } from "./target/routeros.js";
export { parseCommandLine, RouterOsSyntaxError, BadCommandError } from "./target/routeros-parser.js";
export type { ParsedCommand, Condition } from "./target/routeros-parser.js";
export { DiskStore, DiskStoreError } from "./target/disk-store.js";
export type { Disk } from "./target/disk-store.js";
export { parseSize, groupDigits, formatBinarySize } from "./units.js";
