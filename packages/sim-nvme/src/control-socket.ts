// A tiny request/response protocol over a unix socket: one JSON request per line, one JSON
// reply per line. Used by the nvme stand-in and the CLI to talk to the host agent and target.
import fs from "node:fs";
import net from "node:net";
import { jsonLines } from "./json-lines.js";

export type Handler = (req: Record<string, unknown>) => Promise<unknown>;

export interface RpcReply {
  ok: boolean;
  result?: unknown;
  error?: string;
}

export async function serveControlSocket(
  socketPath: string,
  handler: Handler,
): Promise<net.Server> {
  fs.rmSync(socketPath, { force: true }); // a stale socket file from a crashed run
  const server = net.createServer((sock) => {
    sock.on("error", () => undefined);
    sock.on(
      "data",
      jsonLines(
        (req) => {
          handler(req)
            .then((result) => sock.write(`${JSON.stringify({ ok: true, result })}\n`))
            .catch((e: unknown) =>
              sock.write(
                `${JSON.stringify({ ok: false, error: e instanceof Error ? e.message : String(e) })}\n`,
              ),
            );
        },
        () => {
          sock.write(`${JSON.stringify({ ok: false, error: "malformed request" })}\n`);
        },
      ),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}

export function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** One request, one reply; rejects on a refused/absent socket or after `timeoutMs`. */
export function callControlSocket(
  socketPath: string,
  req: Record<string, unknown>,
  timeoutMs = 60_000,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    let buf = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no reply from ${socketPath} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on("connect", () => sock.write(`${JSON.stringify(req)}\n`));
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on("data", (d: Buffer) => {
      buf += d.toString("utf8");
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      clearTimeout(timer);
      sock.end();
      const reply = JSON.parse(buf.slice(0, nl)) as RpcReply;
      if (reply.ok) resolve(reply.result);
      else reject(new Error(reply.error ?? "request failed"));
    });
  });
}
