import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { addDriverOptions, addNodeOptions, configFromOptions, type RawOptions } from "./config.js";

let dir: string;
let keyFile: string;
let hostKeyFile: string;
const saved = { ...process.env };

function parse(args: string[]) {
  const cmd = addNodeOptions(addDriverOptions(new Command("t"))).exitOverride();
  cmd.parse(["node", "t", ...args]);
  return configFromOptions(cmd.opts<RawOptions>());
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "rdsnvme-config-"));
  keyFile = path.join(dir, "id");
  hostKeyFile = path.join(dir, "host.pub");
  fs.writeFileSync(keyFile, "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n");
  fs.writeFileSync(hostKeyFile, "ecdsa-sha2-nistp256 AAAAE2VjZHNh host\n");
  for (const k of Object.keys(process.env)) if (/^(CSI_|RDS_|NVME_|METRICS_|LOG_LEVEL|SHUTDOWN_)/.test(k)) delete process.env[k];
});
afterEach(() => {
  process.env = { ...saved };
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("configuration from flags and env", () => {
  it("controller mode: reads keys, defaults the rest", () => {
    const c = parse(["--mode", "controller", "--rds-address", "10.0.0.1", "--rds-private-key", keyFile, "--rds-host-key", hostKeyFile]);
    expect(c).toMatchObject({
      endpoint: "unix:///csi/csi.sock",
      mode: "controller",
      driverName: "rds-nvme.csi.dev",
      logLevel: "info",
      metricsAddress: undefined,
      node: undefined,
      rds: { address: "10.0.0.1", port: 22, user: "admin", hostKey: "ecdsa-sha2-nistp256 AAAAE2VjZHNh host", insecureSkipHostKeyVerification: false, poolSize: 4 },
      controller: { poolDir: "/storage/csi", nvmeAddress: "10.0.0.1", nvmePort: 4420 },
    });
    expect(c.rds?.privateKey).toContain("OPENSSH PRIVATE KEY");
  });

  it("env vars fill in, flags win over env", () => {
    Object.assign(process.env, {
      CSI_ENDPOINT: "unix:///tmp/x.sock",
      CSI_MODE: "controller",
      RDS_ADDRESS: "10.0.0.2",
      RDS_PRIVATE_KEY: keyFile,
      RDS_HOST_KEY: "SHA256:abc",
      RDS_POOL_SIZE: "0",
      NVME_PORT: "4421",
      LOG_LEVEL: "debug",
    });
    const c = parse(["--rds-address", "10.0.0.3"]);
    expect(c.endpoint).toBe("unix:///tmp/x.sock");
    expect(c.rds).toMatchObject({ address: "10.0.0.3", hostKey: "SHA256:abc", poolSize: 0 });
    expect(c.controller?.nvmePort).toBe(4421);
    expect(c.logLevel).toBe("debug");
  });

  it("host key verification is mandatory unless explicitly skipped", () => {
    expect(() => parse(["--mode", "controller", "--rds-address", "h", "--rds-private-key", keyFile])).toThrow(/--rds-host-key is required/);
    const c = parse(["--mode", "controller", "--rds-address", "h", "--rds-private-key", keyFile, "--rds-insecure-skip-host-key-verification"]);
    expect(c.rds).toMatchObject({ hostKey: undefined, insecureSkipHostKeyVerification: true });
  });

  it("rejects missing or malformed settings with a message", () => {
    expect(() => parse(["--mode", "controller", "--rds-private-key", keyFile, "--rds-host-key", "x"])).toThrow(/--rds-address/);
    expect(() => parse(["--mode", "node"])).toThrow(/--node-id/);
    expect(() => parse(["--mode", "node", "--node-id", "n1", "--driver-name", "ends-with-digit1"])).toThrow(/--driver-name/);
    expect(() => parse(["--mode", "bogus"])).toThrow();
    expect(() => parse(["--mode", "controller", "--rds-address", "h", "--rds-private-key", keyFile, "--rds-host-key", "x", "--rds-pool-dir", "/storage/a b"])).toThrow(
      /--rds-pool-dir/,
    );
    expect(() => parse(["--rds-port", "twenty-two"])).toThrow();
    expect(() => parse(["--mode", "controller", "--rds-address", "h", "--rds-private-key", keyFile, "--rds-host-key", "x", "--nvme-address", "1.2.3.4;x"])).toThrow(/--nvme-address/);
  });

  it("node mode needs no RDS settings", () => {
    const c = parse(["--mode", "node", "--node-id", "worker-1", "--metrics-address", "127.0.0.1:9809"]);
    expect(c).toMatchObject({ mode: "node", rds: undefined, controller: undefined, node: { nodeId: "worker-1" }, metricsAddress: "127.0.0.1:9809" });
  });
});
