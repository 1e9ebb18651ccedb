// Every field of csi.proto marked `[(csi_secret) = true]`. The spec says these MUST never be
// logged. ts-proto does not expose field options at run time without `outputSchema` (which does
// not compile with protoc 36), so the list is kept by hand; secret-fields.test.ts parses
// proto/csi.proto and fails when this list and the proto disagree.

/** One secret field: its name in csi.proto and the property name ts-proto generates for it. */
export interface SecretField {
  readonly proto: string;
  readonly ts: string;
}

const secrets: readonly SecretField[] = [{ proto: "secrets", ts: "secrets" }];

/** Message name (as in csi.proto, package-relative) → its `csi_secret` fields. */
export const SECRET_FIELDS: Readonly<Record<string, readonly SecretField[]>> = {
  // Controller
  CreateVolumeRequest: secrets,
  DeleteVolumeRequest: secrets,
  ControllerPublishVolumeRequest: secrets,
  ControllerUnpublishVolumeRequest: secrets,
  ValidateVolumeCapabilitiesRequest: secrets,
  ControllerModifyVolumeRequest: secrets,
  CreateSnapshotRequest: secrets,
  DeleteSnapshotRequest: secrets,
  ListSnapshotsRequest: secrets,
  GetSnapshotRequest: secrets,
  ControllerExpandVolumeRequest: secrets,
  // Node
  NodeStageVolumeRequest: secrets,
  NodePublishVolumeRequest: secrets,
  NodeExpandVolumeRequest: secrets,
  // GroupController
  CreateVolumeGroupSnapshotRequest: secrets,
  DeleteVolumeGroupSnapshotRequest: secrets,
  GetVolumeGroupSnapshotRequest: secrets,
  // SnapshotMetadata
  GetMetadataAllocatedRequest: secrets,
  GetMetadataDeltaRequest: secrets,
};

/** Every ts-proto property name that is a secret in at least one message. */
const ANY_SECRET_TS_NAME: ReadonlySet<string> = new Set(
  Object.values(SECRET_FIELDS).flatMap((fields) => fields.map((f) => f.ts)),
);

export const REDACTED = "***";

/**
 * The request message name of a gRPC method path or bare method name:
 * `/csi.v1.Controller/CreateVolume` and `CreateVolume` both give `CreateVolumeRequest`
 * (every CSI RPC `X` takes `XRequest`).
 */
export function requestMessageName(method: string): string {
  const slash = method.lastIndexOf("/");
  return `${method.slice(slash + 1)}Request`;
}

/**
 * A deep copy of `message` (a ts-proto request object) whose secret map fields keep their keys
 * but have every value replaced by "***". With a `messageName` listed in SECRET_FIELDS only
 * that message's `csi_secret` fields are redacted; without one, or with a name the list does not
 * know, every property named like a secret field of any CSI message is, which errs on the side
 * of hiding. Only top-level fields are looked at: CSI has no nested secret fields. The input is
 * never modified.
 */
export function redactSecrets<T>(message: T, messageName?: string): T {
  const copy = structuredClone(message);
  if (copy === null || typeof copy !== "object") return copy;
  const listed = messageName === undefined ? undefined : SECRET_FIELDS[messageName];
  const names = listed === undefined ? ANY_SECRET_TS_NAME : listed.map((f) => f.ts);
  const record = copy as Record<string, unknown>;
  for (const name of names) {
    const value = record[name];
    if (value === undefined || value === null) continue;
    if (typeof value === "object") {
      record[name] = Object.fromEntries(Object.keys(value).map((key) => [key, REDACTED]));
    } else {
      // Not a map (cannot happen with today's proto): hide the whole value.
      record[name] = REDACTED;
    }
  }
  return copy;
}
