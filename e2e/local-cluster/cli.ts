// Command line of the local control plane (compiled to dist/cli.js by tsconfig.build.json):
//
//   node e2e/local-cluster/dist/cli.js build
//       build (or find cached) the upstream binaries and print their paths
//   node e2e/local-cluster/dist/cli.js up [--kubeconfig PATH] [--log-dir DIR]
//       start etcd + kube-apiserver + kube-controller-manager, print the kubeconfig path, keep
//       running until Ctrl-C / SIGTERM, then stop everything and remove the temp dir
//   node e2e/local-cluster/dist/cli.js run [--log-dir DIR] [--failure-report FILE.xml] -- CMD ARGS...
//       start the control plane, run CMD with RDS_TEST_KUBECONFIG (and RDS_LOCAL_CLUSTER_BINARIES)
//       set, stop the control plane, exit with CMD's exit code. If the control plane cannot be
//       built or started, exit non-zero and (with --failure-report) write a JUnit XML report with
//       one failed test saying why, so the tier can never pass by not running.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { BINARIES_ENV, ensureBinaries } from "./binaries.js";
import { KUBECONFIG_ENV, startLocalCluster, type LocalCluster } from "./cluster.js";

const log = (line: string) => process.stderr.write(`[local-cluster] ${line}\n`);

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      kubeconfig: { type: "string" },
      "log-dir": { type: "string" },
      "failure-report": { type: "string" },
    },
  });
  switch (command) {
    case "build": {
      const binaries = await ensureBinaries({ log });
      for (const [name, path] of Object.entries(binaries)) process.stdout.write(`${name}\t${path}\n`);
      return 0;
    }
    case "up":
      return up(values.kubeconfig, values["log-dir"]);
    case "run":
      if (positionals.length === 0) throw new Error("run: missing the command to run after --");
      return run(positionals, values["log-dir"], values["failure-report"]);
    default:
      process.stderr.write("usage: cli.js build | up [--kubeconfig PATH] [--log-dir DIR] | run [--log-dir DIR] [--failure-report FILE] -- CMD...\n");
      return 2;
  }
}

async function up(kubeconfigPath: string | undefined, logDir: string | undefined): Promise<number> {
  const cluster = await startLocalCluster({ kubeconfigPath, logDir, log });
  process.stdout.write(`export ${KUBECONFIG_ENV}=${kubeconfigPath ?? cluster.kubeconfigPath}\n`);
  log(`server ${cluster.server}; logs in ${cluster.logDir}; Ctrl-C to stop`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  log("stopping");
  await cluster.stop();
  return 0;
}

async function run(command: string[], logDir: string | undefined, failureReport: string | undefined): Promise<number> {
  let cluster: LocalCluster;
  try {
    cluster = await startLocalCluster({ logDir, log });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log(`LOCAL CONTROL PLANE DID NOT START: ${message}`);
    if (failureReport) writeFailureReport(failureReport, message);
    return 1;
  }
  let stopping = false;
  const child = spawn(command[0], command.slice(1), {
    stdio: "inherit",
    shell: false,
    env: { ...process.env, [KUBECONFIG_ENV]: cluster.kubeconfigPath, [BINARIES_ENV]: JSON.stringify(cluster.binaries) },
  });
  const forward = (signal: NodeJS.Signals) => {
    stopping = true;
    child.kill(signal);
  };
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  const code = await new Promise<number>((resolve) => {
    child.once("error", (err) => {
      log(`cannot run ${command[0]}: ${err.message}`);
      resolve(127);
    });
    child.once("exit", (exitCode, signal) => resolve(exitCode ?? (signal ? 128 : 1)));
  });
  let healthy = true;
  try {
    cluster.assertHealthy();
  } catch (err) {
    healthy = false;
    log(`a control plane component died during the run: ${err instanceof Error ? err.message : String(err)}`);
  }
  await cluster.stop();
  log(stopping ? "interrupted; control plane stopped" : "control plane stopped");
  return code !== 0 ? code : healthy ? 0 : 1;
}

function writeFailureReport(path: string, message: string): void {
  const esc = (s: string) =>
    s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  writeFileSync(
    path,
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
      `<testsuites><testsuite name="local control plane" tests="1" failures="1" errors="0" skipped="0">\n` +
      `<testcase classname="local-cluster" name="control plane starts"><failure message="${esc(message.split("\n")[0] ?? "")}">${esc(message)}</failure></testcase>\n` +
      `</testsuite></testsuites>\n`,
  );
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
