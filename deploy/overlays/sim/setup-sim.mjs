// One-shot setup for the sim overlay (run by Job rds-sim-setup in the sim-nvme image, from
// /app/sim-setup so that /app/node_modules resolves). It makes the SSH key material the
// simulated RDS and the driver share and keeps it only in Secrets, never in the repository:
//   rds-nvme-csi-rds-ssh  ssh-privatekey (the driver's login key), host-publickey (pinned host key)
//   rds-sim-target-keys   the target's key directory as sim-nvme lays it out: its host key pair
//                         ssh_host_ecdsa_key[.pub] and the client pair client_ecdsa_key[.pub]
//                         whose public half it authorizes (it loads existing pairs, so mounting
//                         this Secret as <state-dir>/keys makes it use exactly these keys).
// Idempotent: when both Secrets exist it changes nothing, so a re-run never rotates keys under a
// running controller.
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import ssh2 from "ssh2";

const { utils } = ssh2;
const namespace = process.env.POD_NAMESPACE ?? "rds-nvme-csi";
const DRIVER_SECRET = "rds-nvme-csi-rds-ssh";
const TARGET_SECRET = "rds-sim-target-keys";

const kc = new KubeConfig();
kc.loadFromCluster();
const core = kc.makeApiClient(CoreV1Api);

async function exists(name) {
  try {
    await core.readNamespacedSecret({ name, namespace });
    return true;
  } catch (err) {
    if (err?.code === 404) return false;
    throw err;
  }
}

async function replace(name, stringData) {
  if (await exists(name)) await core.deleteNamespacedSecret({ name, namespace });
  await core.createNamespacedSecret({
    namespace,
    body: {
      metadata: {
        name,
        labels: {
          "app.kubernetes.io/part-of": "rds-nvme-csi",
          "app.kubernetes.io/component": "sim",
        },
      },
      type: "Opaque",
      stringData,
    },
  });
  console.log(`created secret ${namespace}/${name}`);
}

// ecdsa P-256: ssh2 1.17's ed25519 keygen produces an unparseable key now and then.
function keyPair(comment) {
  const kp = utils.generateKeyPairSync("ecdsa", { bits: 256, comment });
  const parsed = utils.parseKey(kp.private);
  if (parsed instanceof Error) throw new Error(`generated key does not parse: ${parsed.message}`);
  return { privateKey: kp.private, publicKey: `${kp.public.trim()}\n` };
}

if ((await exists(DRIVER_SECRET)) && (await exists(TARGET_SECRET))) {
  console.log("SSH secrets already present; nothing to do");
} else {
  const client = keyPair("rds-nvme-csi-driver");
  const host = keyPair("rds-sim-target");
  await replace(TARGET_SECRET, {
    ssh_host_ecdsa_key: host.privateKey,
    "ssh_host_ecdsa_key.pub": host.publicKey,
    client_ecdsa_key: client.privateKey,
    "client_ecdsa_key.pub": client.publicKey,
  });
  await replace(DRIVER_SECRET, {
    "ssh-privatekey": client.privateKey,
    "host-publickey": host.publicKey,
  });
}
