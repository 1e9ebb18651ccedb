// Structured JSON logging (pino). Every log line of an RPC carries `requestId` and `op`
// (the server adds them through a child logger); secrets never reach a log: requests are passed
// through redactSecrets() before logging (server.ts), and as a second net pino redacts any
// `secrets` / key material property by path.
import { pino, type DestinationStream, type Level, type Logger } from "pino";

export type { Logger };

export const LOG_LEVELS: readonly Level[] = ["fatal", "error", "warn", "info", "debug", "trace"];

export interface LoggerOptions {
  level?: string;
  /** Defaults to stdout. */
  destination?: DestinationStream;
  base?: Record<string, unknown>;
}

/** Log to stderr instead (the demo keeps stdout for its instructions). */
export function stderrDestination(): DestinationStream {
  return pino.destination({ fd: 2, sync: false });
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(level) && level !== "silent") {
    throw new Error(`unknown log level ${JSON.stringify(level)} (one of ${LOG_LEVELS.join(", ")}, silent)`);
  }
  return pino(
    {
      level,
      base: { component: "rds-nvme-csi", ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ["secrets", "*.secrets", "*.*.secrets", "privateKey", "*.privateKey", "password", "*.password"],
        censor: "***",
      },
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
