// A free TCP port on 127.0.0.1: bind port 0, read what the kernel chose, release it. The upstream
// binaries take a port number, not a listening socket, so a tiny window remains in which another
// process could take the port; a start that fails on it is reported with the process's log.
import { createServer } from "node:net";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no port assigned"))));
    });
  });
}
