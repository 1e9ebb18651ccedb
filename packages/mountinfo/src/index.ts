// Public surface of @rds-nvme-csi/mountinfo: host facts (mountinfo, NVMe sysfs) and host
// actions (mount, format, resize, recover). No Kubernetes, no gRPC.
export * from "./errors.js";
export { runCommand, type RunOptions, type RunResult } from "./exec.js";
export {
  MountTable,
  MountEntry,
  type BindMountQuery,
  type ReadMountTableOptions,
  parseMountinfo,
  parseMountinfoLine,
  readMountTable,
  isReadOnly,
  isInside,
} from "./mountinfo.js";
export {
  type DeviceNumber,
  blockDeviceNumber,
  formatDev,
  parseDev,
  sameDev,
  splitDevT,
} from "./devnum.js";
export {
  NvmeSysfsModel,
  type NvmeController,
  type NvmeNamespace,
  type NvmePath,
  type NvmeSubsystem,
  type SysfsDetail,
  parseAddress,
  readNvmeSysfs,
} from "./sysfs.js";
export {
  DeviceResolver,
  type ControllerInfo,
  type DeviceResolverOptions,
  type ResolvedDevice,
  type WaitOptions,
} from "./resolver.js";
export {
  Mounter,
  SUPPORTED_FILESYSTEMS,
  type BindOptions,
  type FormatOptions,
  type FsStats,
  type MounterBinaries,
  type MounterOptions,
  type MounterTimeouts,
  type ProbeResult,
  type UnmountOptions,
  type UnmountResult,
} from "./mounter.js";
export { findHolders, processHolders, type HolderQuery } from "./holders.js";
export {
  StaleChecker,
  verdictFor,
  type StaleCheckItem,
  type StaleCheckerOptions,
  type StaleReason,
  type StaleVerdict,
} from "./stale.js";
export {
  Recoverer,
  type BlockRecoveryRequest,
  type FilesystemRecoveryRequest,
  type RecovererOptions,
  type RecoveryResult,
  type ReboundTarget,
} from "./recoverer.js";
// Fixture writers (kernel-shaped sysfs trees, mountinfo text) for tests here and in the driver.
export {
  SysfsFixture,
  type FixtureControllerOptions,
  type FixtureNamespaceOptions,
} from "./sysfs-fixture.js";
export {
  escapeMountinfo,
  generateMountinfo,
  mountinfoLine,
  type MountinfoLineSpec,
} from "./mountinfo-fixture.js";
export { hostBlockDevices, type HostBlockDevice } from "./host-block-devices.js";
