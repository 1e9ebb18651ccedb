// The NVMe connector of the node plugin.
export * from "./errors.js";
export * from "./connect-params.js";
export * from "./cli-results.js";
export * from "./list-subsys.js";
export * from "./host-identity.js";
export * from "./connector.js";
