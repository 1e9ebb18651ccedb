// SSH key material in the state dir: the target's host key (persisted so the driver's host key
// verification survives restarts) and a client key pair the driver logs in with.
import fs from "node:fs";
import path from "node:path";
import ssh2 from "ssh2";

const { utils } = ssh2;

export interface KeyPairFiles {
  privateKeyPath: string;
  publicKeyPath: string;
  /** OpenSSH public key line, e.g. `ecdsa-sha2-nistp256 AAAA... comment`. */
  publicKey: string;
}

/** Loads `<dir>/<name>` and `<name>.pub`, generating an ecdsa P-256 pair when absent. */
export function ensureKeyPair(dir: string, name: string, comment: string): KeyPairFiles {
  const privateKeyPath = path.join(dir, name);
  const publicKeyPath = `${privateKeyPath}.pub`;
  if (!fs.existsSync(privateKeyPath) || !fs.existsSync(publicKeyPath)) {
    fs.mkdirSync(dir, { recursive: true });
    // ecdsa, not ed25519: ssh2 1.17's ed25519 keygen makes an unparseable key now and then.
    const kp = utils.generateKeyPairSync("ecdsa", { bits: 256, comment });
    fs.writeFileSync(privateKeyPath, kp.private, { mode: 0o600 });
    fs.writeFileSync(publicKeyPath, `${kp.public.trim()}\n`, { mode: 0o644 });
  }
  return {
    privateKeyPath,
    publicKeyPath,
    publicKey: fs.readFileSync(publicKeyPath, "utf8").trim(),
  };
}
