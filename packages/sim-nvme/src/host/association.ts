// Host side of the export port protocol (see target/export-server.ts): open an association for
// an NQN, get the backing file, keep the socket, hear about resizes and about the loss.
import net from "node:net";
import { jsonLines } from "../json-lines.js";

export interface Grant {
  nqn: string;
  file: string;
  size: number;
  cntlid: number;
  serial: string;
  model: string;
}

/** Why a connect failed, in the kernel's terms (the nvme stand-in turns it into nvme-cli text). */
export class AssociationError extends Error {
  constructor(
    readonly kind: "refused" | "rejected" | "unreachable",
    message: string,
  ) {
    super(message);
    this.name = "AssociationError";
  }
}

export interface Association {
  grant: Grant;
  /** Local address of the socket (the `src_addr` of the controller's `address`). */
  localAddress: string;
  close(): void;
  onResize(cb: (size: number) => void): void;
  onLoss(cb: () => void): void;
}

export function openAssociation(
  traddr: string,
  trsvcid: number,
  nqn: string,
  hostnqn: string,
  timeoutMs = 5000,
): Promise<Association> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: traddr, port: trsvcid });
    sock.setNoDelay(true);
    let granted: Association | undefined;
    let closedByUs = false;
    let resizeCb: ((size: number) => void) | undefined;
    let lossCb: (() => void) | undefined;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new AssociationError("unreachable", "timed out"));
    }, timeoutMs);
    sock.on("connect", () => sock.write(`${JSON.stringify({ op: "connect", nqn, hostnqn })}\n`));
    sock.on("error", (e: NodeJS.ErrnoException) => {
      if (granted) return; // the close handler reports the loss
      clearTimeout(timer);
      reject(
        new AssociationError(e.code === "ECONNREFUSED" ? "refused" : "unreachable", e.message),
      );
    });
    sock.on("close", () => {
      clearTimeout(timer);
      if (!granted) {
        reject(new AssociationError("rejected", "association closed"));
        return;
      }
      if (!closedByUs) lossCb?.();
    });
    sock.on(
      "data",
      jsonLines(
        (msg) => {
          if (!granted) {
            clearTimeout(timer);
            if (msg.ok !== true) {
              closedByUs = true;
              sock.destroy();
              reject(
                new AssociationError(
                  "rejected",
                  typeof msg.error === "string" ? msg.error : "rejected",
                ),
              );
              return "stop";
            }
            granted = {
              grant: msg as unknown as Grant,
              localAddress: sock.localAddress ?? traddr,
              close: () => {
                closedByUs = true;
                sock.destroy();
              },
              onResize: (cb) => (resizeCb = cb),
              onLoss: (cb) => (lossCb = cb),
            };
            resolve(granted);
          } else if (msg.event === "resize" && typeof msg.size === "number") {
            resizeCb?.(msg.size);
          }
        },
        () => {
          sock.destroy();
          return "stop";
        },
      ),
    );
  });
}
