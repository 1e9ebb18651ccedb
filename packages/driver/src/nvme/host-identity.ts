// The host NQN and host ID this node connects with. Read from the host's nvme-cli configuration
// (<dir>/hostnqn, <dir>/hostid, first line each) unless the host NQN is given explicitly. The host
// ID falls back to the UUID inside a `…:uuid:<uuid>` host NQN, the same order nvme-cli uses
// (nvme-sysfs-and-cli.md §d). Nothing is generated: a made-up identity would differ from the one
// the host's own nvme-cli uses and the kernel would refuse the pair.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { HostIdentityError } from "./errors.js";
import { validateNqn, type HostIdentity } from "./connect-params.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function firstLine(file: string): Promise<string | undefined> {
  try {
    const text = await readFile(file, "utf8");
    // Trim padding and stop at a NUL (fixture dumps are NUL-padded).
    const line = (text.split(/\r?\n/)[0] ?? "").replace(/\0.*$/s, "").trim();
    return line || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new HostIdentityError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

export interface HostIdentityOptions {
  /** Directory holding hostnqn / hostid; default /etc/nvme. */
  configDir?: string;
  /** Explicit host NQN (--host-nqn); wins over <configDir>/hostnqn. */
  hostNqn?: string;
}

export async function readHostIdentity(opts: HostIdentityOptions = {}): Promise<HostIdentity> {
  const dir = opts.configDir ?? "/etc/nvme";
  const hostNqn = opts.hostNqn || (await firstLine(path.join(dir, "hostnqn")));
  if (!hostNqn) {
    throw new HostIdentityError(`no host NQN: pass --host-nqn or create ${path.join(dir, "hostnqn")} (nvme gen-hostnqn)`);
  }
  try {
    validateNqn(hostNqn, "host NQN");
  } catch (err) {
    throw new HostIdentityError((err as Error).message);
  }
  let hostId = await firstLine(path.join(dir, "hostid"));
  if (!hostId) {
    const m = /:uuid:([0-9a-f-]{36})$/i.exec(hostNqn);
    hostId = m?.[1];
  }
  if (!hostId) {
    throw new HostIdentityError(
      `no host ID: ${path.join(dir, "hostid")} is missing and the host NQN "${hostNqn}" carries no uuid`,
    );
  }
  if (!UUID.test(hostId)) throw new HostIdentityError(`host ID "${hostId}" is not a UUID`);
  return { hostNqn, hostId: hostId.toLowerCase() };
}
