// @kubernetes/client-node is loaded only when a kubeconfig is actually used. Checked on the BUILT
// package in a fresh node process (vitest itself has client-node loaded): the child creates a
// recorder, then lists every script V8 has parsed (inspector Debugger.enable replays them all:
// ESM, CommonJS and require(esm) alike, no loader hooks involved) and reports whether any file of
// client-node is among them. The kubeconfig-file case is the control that the check can see it.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const DIST_INDEX = fileURLToPath(new URL("../dist/index.js", import.meta.url));

// argv[1]: the recorder options as JSON; {"sink": "memory"} stands for a MemorySink.
const CHILD = `
import { Session } from "node:inspector";
const events = await import(process.env.EVENTS_INDEX);
const opts = JSON.parse(process.argv[1]);
if (opts.sink === "memory") opts.sink = new events.MemorySink();
const recorder = events.createEventRecorder({ component: "c", instance: "n", logger: events.silentLogger, ...opts });
const session = new Session();
session.connect();
const urls = [];
session.on("Debugger.scriptParsed", (m) => urls.push(m.params.url));
session.post("Debugger.enable");
session.disconnect();
console.log(JSON.stringify({
  enabled: recorder.enabled,
  clientNodeFiles: urls.filter((u) => u.includes("/node_modules/@kubernetes/client-node/")).length,
  ourFiles: urls.filter((u) => u.includes("/packages/events/dist/")).length,
}));
await recorder.shutdown(0);
`;

interface ChildReport {
  enabled: boolean;
  clientNodeFiles: number;
  ourFiles: number;
}

function runChild(opts: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): ChildReport {
  // No KUBECONFIG / KUBERNETES_SERVICE_HOST from the machine unless a case sets them.
  const childEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, EVENTS_INDEX: DIST_INDEX, ...env };
  const out = execFileSync(
    process.execPath,
    ["--input-type=module", "-e", CHILD, JSON.stringify(opts)],
    { env: childEnv, encoding: "utf8", timeout: 20_000 },
  );
  return JSON.parse(out.trim().split("\n").at(-1) ?? "") as ChildReport;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "events-lazy-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("client-node is not loaded without a cluster (built package, fresh process)", () => {
  it("the built package exists (npm run build first)", () => {
    expect(fs.existsSync(DIST_INDEX), `${DIST_INDEX} missing`).toBe(true);
  });

  it('kubeConfig "none": no-op recorder, client-node not loaded', () => {
    const r = runChild({ kubeConfig: "none" });
    expect(r.ourFiles).toBeGreaterThan(0);
    expect(r).toMatchObject({ enabled: false, clientNodeFiles: 0 });
  });

  it('kubeConfig "auto" finding no cluster: client-node not loaded', () => {
    expect(runChild({ kubeConfig: "auto" })).toMatchObject({ enabled: false, clientNodeFiles: 0 });
  });

  it("an injected sink: enabled recorder, client-node not loaded", () => {
    expect(runChild({ sink: "memory" })).toMatchObject({ enabled: true, clientNodeFiles: 0 });
  });

  it("control: a kubeconfig file is used, so client-node is loaded (the check sees it)", () => {
    const file = path.join(tmp, "kubeconfig");
    fs.writeFileSync(
      file,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443'}}]",
        "users: [{name: u, user: {token: t}}]",
        "contexts: [{name: x, context: {cluster: c, user: u}}]",
        "current-context: x",
        "",
      ].join("\n"),
    );
    const viaPath = runChild({ kubeConfig: file });
    expect(viaPath.enabled).toBe(true);
    expect(viaPath.clientNodeFiles).toBeGreaterThan(0);
    // The same through "auto" and $KUBECONFIG.
    const viaEnv = runChild({ kubeConfig: "auto" }, { KUBECONFIG: file });
    expect(viaEnv.enabled).toBe(true);
    expect(viaEnv.clientNodeFiles).toBeGreaterThan(0);
  });
});
