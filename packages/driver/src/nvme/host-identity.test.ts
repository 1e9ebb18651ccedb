import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readHostIdentity } from "./host-identity.js";
import { HostIdentityError } from "./errors.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "hostid-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const NQN = "nqn.2014-08.org.nvmexpress:uuid:6b0f0c1e-8a1d-4c43-9d7e-2f5a7c0e4b11";

describe("readHostIdentity", () => {
  it("reads both files (first line, trimmed, NUL padding dropped)", async () => {
    writeFileSync(path.join(dir, "hostnqn"), `${NQN}  \nsecond line\n`);
    writeFileSync(path.join(dir, "hostid"), "0F0E0D0C-1111-4222-8333-444455556666\0\0\0");
    expect(await readHostIdentity({ configDir: dir })).toEqual({ hostNqn: NQN, hostId: "0f0e0d0c-1111-4222-8333-444455556666" });
  });

  it("derives the host ID from a uuid host NQN when hostid is missing", async () => {
    writeFileSync(path.join(dir, "hostnqn"), `${NQN}\n`);
    expect(await readHostIdentity({ configDir: dir })).toEqual({ hostNqn: NQN, hostId: "6b0f0c1e-8a1d-4c43-9d7e-2f5a7c0e4b11" });
  });

  it("an explicit host NQN wins over the file", async () => {
    writeFileSync(path.join(dir, "hostnqn"), "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000000\n");
    writeFileSync(path.join(dir, "hostid"), "11111111-2222-4333-8444-555555555555\n");
    expect(await readHostIdentity({ configDir: dir, hostNqn: "nqn.2024-01.dev.test:node-1" })).toEqual({
      hostNqn: "nqn.2024-01.dev.test:node-1",
      hostId: "11111111-2222-4333-8444-555555555555",
    });
  });

  it("fails clearly instead of inventing an identity", async () => {
    await expect(readHostIdentity({ configDir: dir })).rejects.toThrow(HostIdentityError);
    await expect(readHostIdentity({ configDir: dir, hostNqn: "nqn.2024-01.dev.test:node-1" })).rejects.toThrow(/no host ID/);
    writeFileSync(path.join(dir, "hostnqn"), "not-an-nqn\n");
    await expect(readHostIdentity({ configDir: dir })).rejects.toThrow(/nqn\./);
    writeFileSync(path.join(dir, "hostnqn"), `${NQN}\n`);
    writeFileSync(path.join(dir, "hostid"), "xyz\n");
    await expect(readHostIdentity({ configDir: dir })).rejects.toThrow(/not a UUID/);
  });
});
