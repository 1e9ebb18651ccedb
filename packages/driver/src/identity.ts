// CSI Identity service.
//   GetPluginInfo: driver name + version from package.json.
//   GetPluginCapabilities: CONTROLLER_SERVICE when this process serves the controller, ONLINE
//     volume expansion; no VOLUME_ACCESSIBILITY_CONSTRAINTS (no topology is used).
//   Probe: with the controller, the RDS must answer over SSH; otherwise FAILED_PRECONDITION
//     (spec: "not healthy / missing dependency"). A node-only process is always ready.
import { readFileSync } from "node:fs";
import {
  type GetPluginCapabilitiesResponse,
  type GetPluginInfoResponse,
  type IdentityService,
  PluginCapability_Service_Type,
  PluginCapability_VolumeExpansion_Type,
  type ProbeResponse,
} from "./gen/csi.js";
import { BackendUnavailableError, FailedPreconditionError } from "./errors.js";
import type { ServiceImplementation } from "./server.js";

/** Version of this package, read once from package.json next to dist/ or src/. */
export const DRIVER_VERSION: string = (() => {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version?: string };
  return pkg.version ?? "0.0.0";
})();

export interface IdentityOptions {
  driverName: string;
  version?: string;
  /** True when this process also serves the Controller service. */
  controller: boolean;
  /** Readiness check of this process's dependencies (the RDS for a controller); throws if not ready. */
  probe?: () => Promise<void>;
}

export function createIdentityService(options: IdentityOptions): ServiceImplementation<typeof IdentityService> {
  const capabilities: GetPluginCapabilitiesResponse = {
    capabilities: [
      ...(options.controller
        ? [{ type: { $case: "service" as const, value: { type: PluginCapability_Service_Type.CONTROLLER_SERVICE } } }]
        : []),
      { type: { $case: "volumeExpansion" as const, value: { type: PluginCapability_VolumeExpansion_Type.ONLINE } } },
    ],
  };
  return {
    getPluginInfo: async (): Promise<GetPluginInfoResponse> => ({
      name: options.driverName,
      vendorVersion: options.version ?? DRIVER_VERSION,
      manifest: {},
    }),
    getPluginCapabilities: async () => capabilities,
    probe: async (): Promise<ProbeResponse> => {
      if (options.probe) {
        try {
          await options.probe();
        } catch (err) {
          const why = err instanceof BackendUnavailableError ? err.message : `${(err as Error).message}`;
          throw new FailedPreconditionError(`not ready: ${why}`, { cause: err });
        }
      }
      return { ready: true };
    },
  };
}
