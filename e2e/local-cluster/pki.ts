// Certificates for one run of the local control plane, made fresh at start with openssl (node:crypto
// cannot issue X.509 certificates): a throwaway CA, the API server's serving certificate for
// 127.0.0.1, an admin client certificate (group system:masters) and the service-account key pair.
// Everything lives in the run's temp dir and is deleted with it.
import { execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Pki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
}

const OPENSSL_TIMEOUT_MS = 30_000;

function openssl(args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      "openssl",
      args,
      { timeout: OPENSSL_TIMEOUT_MS, killSignal: "SIGKILL", shell: false },
      (err, _stdout, stderr) => {
        if (err) reject(new Error(`openssl ${args[0] ?? ""} failed: ${err.message}\n${stderr}`));
        else resolve();
      },
    );
  });
}

// One `openssl req` per certificate: a new EC key, signed by the CA when one is given
// (OpenSSL 3's `req -x509 -CA`), self-signed otherwise.
async function issue(
  dir: string,
  name: string,
  subject: string,
  extensions: readonly string[],
  ca?: { cert: string; key: string },
): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const args = ["req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  args.push("-keyout", key, "-out", cert, "-subj", subject, "-days", "2");
  if (ca) args.push("-CA", ca.cert, "-CAkey", ca.key);
  for (const ext of extensions) args.push("-addext", ext);
  await openssl(args);
  return { cert, key };
}

export async function createPki(dir: string): Promise<Pki> {
  const ca = await issue(dir, "ca", "/CN=rds-nvme-csi-local-cluster-ca", [
    "basicConstraints=critical,CA:TRUE",
    "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
  ]);
  const serving = await issue(
    dir,
    "apiserver",
    "/CN=kube-apiserver",
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
      "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc",
    ],
    ca,
  );
  const admin = await issue(
    dir,
    "admin",
    "/O=system:masters/CN=rds-nvme-csi-admin",
    ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature", "extendedKeyUsage=clientAuth"],
    ca,
  );
  const sa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const serviceAccountKey = join(dir, "sa.key");
  const serviceAccountPub = join(dir, "sa.pub");
  writeFileSync(serviceAccountKey, sa.privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  writeFileSync(serviceAccountPub, sa.publicKey.export({ type: "spki", format: "pem" }));
  return {
    caCert: ca.cert,
    caKey: ca.key,
    servingCert: serving.cert,
    servingKey: serving.key,
    adminCert: admin.cert,
    adminKey: admin.key,
    serviceAccountKey,
    serviceAccountPub,
  };
}
