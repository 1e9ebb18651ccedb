// Composition of the node plugin: host identity, state store, NVMe connector, mounter, stale
// checker, recoverer, events, health monitor and the Node service. main.ts calls startNodePlugin()
// in node mode and registers `service` on the gRPC server; `stop()` ends the monitor and flushes
// events.
import { createEventRecorder, resolveKubeConfig, type EventRecorder } from "@rds-nvme-csi/events";
import { DeviceResolver, Mounter, Recoverer, StaleChecker } from "@rds-nvme-csi/mountinfo";
import type { Logger } from "pino";
import { pvClaimRefLookup } from "./claim-ref.js";
import { FileEventSink } from "./events-file-sink.js";
import type * as csi from "./gen/csi.js";
import { HealthMonitor } from "./health-monitor.js";
import { KeyedLocks } from "./locks.js";
import type { Metrics } from "./metrics.js";
import type { NodePluginConfig } from "./node-config.js";
import { NodeEvents, type ClaimRefLookup } from "./node-events.js";
import { NodeService } from "./node.js";
import { readHostIdentity } from "./nvme/host-identity.js";
import { NvmeConnector } from "./nvme/connector.js";
import type { ServiceImplementation } from "./server.js";
import { StateStore } from "./state.js";

export interface NodePlugin {
  service: ServiceImplementation<typeof csi.NodeService>;
  node: NodeService;
  monitor: HealthMonitor;
  state: StateStore;
  stop(): Promise<void>;
}

export const NODE_EVENT_COMPONENT = "rds-nvme-csi-node";

export async function startNodePlugin(cfg: NodePluginConfig, deps: { logger: Logger; metrics?: Metrics }): Promise<NodePlugin> {
  const log = deps.logger.child({ component: "node" });
  const host = await readHostIdentity({ configDir: cfg.nvmeConfigDir, hostNqn: cfg.hostNqn });
  log.info({ hostNqn: host.hostNqn, hostId: host.hostId }, "NVMe host identity");

  const state = new StateStore(cfg.stateDir);
  const opened = await state.open();
  for (const c of opened.corrupt) log.error({ file: c.file, err: c.message }, "unreadable volume record left in place");
  log.info({ stateDir: cfg.stateDir, volumes: opened.loaded }, "volume records loaded");

  const resolver = new DeviceResolver({ sysfsRoot: cfg.sysfsRoot, devRoot: cfg.devRoot });
  const mounter = new Mounter({ procRoot: cfg.procRoot });
  const checker = new StaleChecker({ procRoot: cfg.procRoot, sysfsRoot: cfg.sysfsRoot });
  // Few, quick in-place attempts: the monitor retries a failed recovery itself, with backoff.
  const recoverer = new Recoverer({ mounter, resolver, maxAttempts: 2, initialBackoffMs: 200, maxBackoffMs: 1000 });
  const connector = new NvmeConnector({ nvmeCli: cfg.nvmeCli, host, resolver });
  const locks = new KeyedLocks();

  let recorder: EventRecorder;
  let claimRefLookup: ClaimRefLookup | undefined;
  const eventLogger = deps.logger.child({ component: "events" });
  if (cfg.eventsFile) {
    recorder = createEventRecorder({ component: NODE_EVENT_COMPONENT, instance: cfg.nodeId, sink: new FileEventSink(cfg.eventsFile), logger: eventLogger });
  } else {
    recorder = createEventRecorder({ component: NODE_EVENT_COMPONENT, instance: cfg.nodeId, kubeConfig: cfg.kubeconfig, logger: eventLogger });
    try {
      const kc = resolveKubeConfig(cfg.kubeconfig);
      if (kc) claimRefLookup = pvClaimRefLookup(kc.kubeConfig, cfg.driverName);
    } catch (err) {
      log.warn({ err: (err as Error).message }, "no cluster access for PV claimRef lookups");
    }
  }
  if (!recorder.enabled) log.info("no cluster: Events are logged only");
  const events = new NodeEvents(recorder, cfg.nodeId, log, claimRefLookup);

  const monitor = new HealthMonitor({
    nodeId: cfg.nodeId,
    state,
    resolver,
    checker,
    recoverer,
    connector,
    locks,
    events,
    logger: log.child({ component: "health-monitor" }),
    devRoot: cfg.devRoot,
    intervalMs: cfg.healthIntervalMs,
    registry: deps.metrics?.registry,
  });
  const node = new NodeService({
    nodeId: cfg.nodeId,
    connector,
    resolver,
    mounter,
    state,
    locks,
    events,
    connectDefaults: cfg.connectDefaults,
    conditions: monitor,
    procRoot: cfg.procRoot,
  });
  // The first pass reconciles the records with mountinfo and sysfs (volumes staged before a restart).
  monitor.start();
  return {
    service: node.handlers(),
    node,
    monitor,
    state,
    stop: async () => {
      await monitor.stop();
      await events.shutdown(5000);
    },
  };
}
