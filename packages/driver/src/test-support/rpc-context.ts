// The per-call context the gRPC server hands a service, for tests that call a service directly.
import { pino } from "pino";
import type { RpcContext } from "../server.js";

/** A context with a silent logger and a signal that never aborts. */
export function testContext(service: string): RpcContext {
  return {
    requestId: "test",
    method: "test",
    service,
    log: pino({ level: "silent" }),
    signal: new AbortController().signal,
  };
}
