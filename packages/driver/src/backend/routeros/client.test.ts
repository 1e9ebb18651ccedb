// The SSH client against real SSH servers: sim-nvme's RDS target, and for the timeout case a
// bare ssh2 server that accepts a command and never answers.
import { createHash } from "node:crypto";
import net from "node:net";
import ssh2 from "ssh2";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BackendUnavailableError } from "../../errors.js";
import { startSimTarget, type SimTarget } from "../../test-support/sim-target.js";
import { RouterOSClient, commandVerb, hostKeyVerifier } from "./client.js";

const { Server, utils } = ssh2;

let sim: SimTarget;
const clients: RouterOSClient[] = [];
function client(extra: Partial<ConstructorParameters<typeof RouterOSClient>[0]> = {}): RouterOSClient {
  const c = new RouterOSClient({ ...sim.clientOptions, acquireTimeoutMs: 3_000, backoffMs: 50, maxBackoffMs: 200, ...extra });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  sim = await startSimTarget();
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  if (!sim.target.status().up) await sim.target.up();
});
afterAll(async () => {
  await sim.close();
});

describe("RouterOSClient against the simulated RDS", () => {
  it("runs a command and returns stdout, stderr and exit code", async () => {
    const c = client();
    const r = await c.run("/system resource print");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/board-name: RDS2216/);
    const bad = await c.run("/frobnicate print");
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stdout + bad.stderr).toMatch(/bad command name|syntax error/);
  });

  it("keeps at most poolSize connections open and reuses them", async () => {
    const events: string[] = [];
    const c = client({ poolSize: 2, onCommand: (e) => events.push(e.outcome) });
    await Promise.all(Array.from({ length: 12 }, () => c.run("/system resource print")));
    expect(c.openConnections).toBeLessThanOrEqual(2);
    expect(c.openConnections).toBeGreaterThan(0);
    expect(events).toEqual(Array(12).fill("ok"));
  });

  it("with poolSize 0 opens a connection per command and keeps none", async () => {
    const c = client({ poolSize: 0 });
    await Promise.all(Array.from({ length: 3 }, () => c.run("/system resource print")));
    expect(c.openConnections).toBe(0);
  });

  it("refuses a server whose host key does not match", async () => {
    const other = utils.generateKeyPairSync("ecdsa", { bits: 256 });
    const c = client({ hostKey: other.public, acquireTimeoutMs: 500 });
    await expect(c.run("/system resource print")).rejects.toThrow(BackendUnavailableError);
  });

  it("requires a host key unless verification is explicitly skipped", async () => {
    expect(() => new RouterOSClient({ ...sim.clientOptions, hostKey: undefined })).toThrow(/host key is required/);
    const c = client({ hostKey: undefined, insecureSkipHostKeyVerification: true });
    expect((await c.run("/system resource print")).exitCode).toBe(0);
  });

  it("fails with Unavailable while the target is down and recovers when it returns", async () => {
    const c = client({ acquireTimeoutMs: 3_000 });
    await c.run("/system resource print"); // a pooled connection exists now
    await sim.target.down();
    await expect(c.run("/system resource print", { readOnly: true })).rejects.toThrow(BackendUnavailableError);
    await sim.target.up();
    // The pooled connection died with the server; the client reconnects (after its backoff).
    const r = await c.run("/system resource print", { readOnly: true });
    expect(r.exitCode).toBe(0);
  });
});

describe("command deadline", () => {
  let server: InstanceType<typeof Server>;
  let port: number;
  const hostKey = utils.generateKeyPairSync("ecdsa", { bits: 256 });
  beforeAll(async () => {
    server = new Server({ hostKeys: [hostKey.private] }, (conn) => {
      conn.on("error", () => undefined);
      conn.on("authentication", (ctx) => ctx.accept());
      conn.on("ready", () => {
        conn.on("session", (accept) => {
          const session = accept();
          session.on("exec", (acceptExec) => {
            acceptExec(); // …and never write, never exit
          });
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("a command that never finishes fails with Unavailable after its timeout and its connection is dropped", async () => {
    const c = new RouterOSClient({
      host: "127.0.0.1",
      port,
      username: "admin",
      privateKey: utils.generateKeyPairSync("ecdsa", { bits: 256 }).private,
      hostKey: hostKey.public,
      commandTimeoutMs: 300,
    });
    try {
      await expect(c.run("/system resource print")).rejects.toThrow(/timed out/);
      expect(c.openConnections).toBe(0);
    } finally {
      await c.close();
    }
  });
});

describe("helpers", () => {
  it("verifies host keys given as OpenSSH line, known_hosts line or SHA256 fingerprint", () => {
    const kp = utils.generateKeyPairSync("ecdsa", { bits: 256 });
    const parsed = utils.parseKey(kp.public);
    if (parsed instanceof Error) throw parsed;
    const blob = parsed.getPublicSSH();
    const fp = "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
    const wrong = Buffer.from(blob);
    wrong[wrong.length - 1] ^= 1;
    for (const expected of [kp.public, `rds.example ${kp.public}`, fp]) {
      const verify = hostKeyVerifier(expected);
      expect(verify(blob)).toBe(true);
      expect(verify(wrong)).toBe(false);
    }
    expect(() => hostKeyVerifier("not a key")).toThrow();
  });

  it("names a command by menu and verb, never by values", () => {
    expect(commandVerb('/disk add type=file slot=secret')).toBe("/disk add");
    expect(commandVerb("/system resource print")).toBe("/system resource");
  });
});
