// The per-run PKI: a real openssl run, checked with node's X.509 parser.
import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPki, type Pki } from "./pki.js";

describe("createPki", () => {
  let dir: string;
  let pki: Pki;
  const cert = (path: string) => new X509Certificate(readFileSync(path));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "rds-pki-test-"));
    pki = await createPki(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("makes a CA that issued the serving and admin certificates", () => {
    const ca = cert(pki.caCert);
    expect(ca.ca).toBe(true);
    for (const leaf of [cert(pki.servingCert), cert(pki.adminCert)]) {
      expect(leaf.ca).toBe(false);
      expect(leaf.checkIssued(ca)).toBe(true);
      expect(leaf.verify(ca.publicKey)).toBe(true);
    }
  });

  it("serves 127.0.0.1 and authenticates the admin as system:masters", () => {
    const serving = cert(pki.servingCert);
    expect(serving.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(serving.checkHost("localhost")).toBe("localhost");
    expect(cert(pki.adminCert).subject).toContain("O=system:masters");
  });

  it("writes a matching service-account key pair, private key not world-readable", () => {
    const priv = createPrivateKey(readFileSync(pki.serviceAccountKey));
    const pub = createPublicKey(readFileSync(pki.serviceAccountPub));
    expect(createPublicKey(priv).export({ type: "spki", format: "pem" })).toBe(pub.export({ type: "spki", format: "pem" }));
    expect(statSync(pki.serviceAccountKey).mode & 0o077).toBe(0);
  });
});
