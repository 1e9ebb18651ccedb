// `npm start` runs `node dist/main.js demo`: a simulated RDS plus the controller on a unix
// socket. This runs that process, follows its printed instructions, and stops it with SIGINT
// (Ctrl-C). No root needed.
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist/main.js");

describe("demo (npm start)", () => {
  it("serves Identity + Controller on the printed socket and stops cleanly on SIGINT", async () => {
    if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: build the driver first`);
    const proc = spawn(process.execPath, [MAIN, "demo"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (out += d.toString()));
    try {
      const deadline = Date.now() + 20_000;
      while (!out.includes("Ctrl-C")) {
        if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`demo did not come up:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const endpoint = /CSI endpoint\s+(unix:\/\/\S+)/.exec(out)?.[1];
      expect(endpoint).toBeDefined();
      const callCli = (...args: string[]) => execFileSync(process.execPath, [MAIN, "call", "--endpoint", endpoint!, ...args], { encoding: "utf8", timeout: 20_000 });
      expect(JSON.parse(callCli("Identity.GetPluginInfo"))).toMatchObject({ name: "rds-nvme.csi.dev" });
      // The example CreateVolume the demo prints works as printed.
      const example = /Controller\.CreateVolume '([^']+)'/.exec(out)?.[1];
      expect(example).toBeDefined();
      expect(JSON.parse(callCli("Controller.CreateVolume", example!))).toMatchObject({ volume: { volumeId: "demo-volume", capacityBytes: "1073741824" } });
      expect((JSON.parse(callCli("Controller.ListVolumes")) as { entries: unknown[] }).entries).toHaveLength(1);

      const stateDir = /state directory\s+(\S+)/.exec(out)?.[1];
      const exited = new Promise<number | null>((r) => proc.once("exit", (c) => r(c)));
      proc.kill("SIGINT");
      expect(await exited).toBe(0);
      expect(fs.existsSync(endpoint!.slice("unix://".length))).toBe(false);
      expect(stateDir && fs.existsSync(stateDir)).toBe(false);
    } finally {
      if (proc.exitCode === null) proc.kill("SIGKILL");
    }
  });
});
