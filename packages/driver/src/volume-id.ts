// CSI names -> identifiers that are safe on the RouterOS command line.
//
// CSI names may be any Unicode up to 128 bytes; RouterOS command lines give `;`, newline, `[`,
// `$` and quotes a meaning. So no CSI name ever reaches the RDS: it is mapped deterministically
// to an identifier from a tiny alphabet (contracts.md "Names and identifiers"):
//   - a name that already matches SAFE_NAME is used as is (readable: `pvc-0c1e...`);
//   - anything else becomes `vol-` + the first 32 hex chars of sha256(name).
// The RouterOS slot is the volume ID, the NQN is derived from it, the backing file is named
// after it.
//
// Snapshots carry their lineage in their ID: `snap-<key>.<sourceVolumeId>`. Real RouterOS does
// not print where a disk was copied from (rds-routeros.md §2.2, W15), so the source volume is
// encoded in the slot itself: it survives a controller restart, needs no side store, and is
// printed by every `/disk print`. `.` never occurs in a volume ID, so the split is unambiguous.
import { createHash } from "node:crypto";

/** A CSI name usable verbatim as a volume ID. */
export const SAFE_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** Every volume ID this driver can produce (safe names and `vol-<hash>` both match). */
export const VOLUME_ID = SAFE_NAME;
/** Snapshot key: a shorter safe name, so that `snap-<key>.<volumeId>` stays within 128 bytes. */
const SAFE_SNAPSHOT_KEY = /^[a-z0-9][a-z0-9-]{0,57}$/;
/** `snap-<key>.<sourceVolumeId>`; at most 5 + 58 + 1 + 63 = 127 characters. */
export const SNAPSHOT_ID = /^snap-([a-z0-9][a-z0-9-]{0,57})\.([a-z0-9][a-z0-9-]{0,62})$/;

export const NQN_PREFIX = "nqn.2000-02.com.mikrotik:";

function hash32(name: string): string {
  return createHash("sha256").update(name, "utf8").digest("hex").slice(0, 32);
}

/** Deterministic volume ID for a CSI volume name (any non-empty Unicode string). */
export function volumeIdForName(name: string): string {
  return SAFE_NAME.test(name) ? name : `vol-${hash32(name)}`;
}

/** The name-derived part of a snapshot ID. */
export function snapshotKeyForName(name: string): string {
  return SAFE_SNAPSHOT_KEY.test(name) ? name : hash32(name);
}

/** Deterministic snapshot ID for a CSI snapshot name taken from a given source volume. */
export function snapshotIdFor(name: string, sourceVolumeId: string): string {
  if (!isVolumeId(sourceVolumeId)) throw new TypeError(`not a volume ID: ${JSON.stringify(sourceVolumeId)}`);
  return `snap-${snapshotKeyForName(name)}.${sourceVolumeId}`;
}

export function isVolumeId(id: string): boolean {
  return VOLUME_ID.test(id);
}

export interface ParsedSnapshotId {
  key: string;
  sourceVolumeId: string;
}

/** Parses a snapshot ID; undefined when it is not one this driver could have produced. */
export function parseSnapshotId(id: string): ParsedSnapshotId | undefined {
  const m = SNAPSHOT_ID.exec(id);
  return m ? { key: m[1], sourceVolumeId: m[2] } : undefined;
}

export function nqnForVolume(volumeId: string): string {
  return NQN_PREFIX + volumeId;
}

// Backing files. A plain volume lives in `<pool>/<volumeId>.img` (contracts.md). What RouterOS
// does not print but the driver must remember goes into the file name, which RouterOS prints as
// `file-path=` and which survives controller restarts:
//   - a volume made from a snapshot or a clone: `<pool>/<volumeId>.from-<sourceId>.img`, so an
//     idempotent CreateVolume retry can tell "same name, different source" (→ AlreadyExists);
//   - a snapshot: `<pool>/<snapshotId>.t<unixSeconds>.img`, its creation time.

export function volumeFilePath(poolDir: string, volumeId: string, sourceId?: string): string {
  return `${poolDir}/${volumeId}${sourceId === undefined ? "" : `.from-${sourceId}`}.img`;
}

export function snapshotFilePath(poolDir: string, snapshotId: string, createdAtSeconds: number): string {
  return `${poolDir}/${snapshotId}.t${Math.floor(createdAtSeconds)}.img`;
}

function baseInPool(poolDir: string, filePath: string | undefined): string | undefined {
  if (filePath === undefined || !filePath.startsWith(poolDir + "/") || !filePath.endsWith(".img")) return undefined;
  const base = filePath.slice(poolDir.length + 1, -".img".length);
  return base.includes("/") ? undefined : base;
}

/** The volume a backing file belongs to and its source; undefined if not a volume file of ours. */
export function parseVolumeFile(poolDir: string, filePath: string | undefined): { volumeId: string; sourceId: string | undefined } | undefined {
  const base = baseInPool(poolDir, filePath);
  if (base === undefined) return undefined;
  const m = /^([a-z0-9][a-z0-9-]{0,62})(?:\.from-(.+))?$/.exec(base);
  if (!m) return undefined;
  const sourceId = m[2];
  if (sourceId !== undefined && !isVolumeId(sourceId) && parseSnapshotId(sourceId) === undefined) return undefined;
  return { volumeId: m[1], sourceId };
}

/** The snapshot a backing file belongs to and its creation time (seconds). */
export function parseSnapshotFile(poolDir: string, filePath: string | undefined): { snapshotId: string; createdAtSeconds: number } | undefined {
  const base = baseInPool(poolDir, filePath);
  if (base === undefined) return undefined;
  const m = /^(.+)\.t(\d{1,12})$/.exec(base);
  if (!m || parseSnapshotId(m[1]) === undefined) return undefined;
  return { snapshotId: m[1], createdAtSeconds: Number(m[2]) };
}
