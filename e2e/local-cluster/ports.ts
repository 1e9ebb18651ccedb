// Free TCP ports on 127.0.0.1: bind port 0, read what the kernel chose, release it. All ports of
// one call are held open together, so one call never returns the same port twice. The upstream
// binaries take a port number, not a listening socket, so a tiny window remains in which another
// process could take a port; a start that fails on it is reported with the process's log.
import { createServer, type Server } from "node:net";

function listenOnEphemeral(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0, exclusive: true }, () => resolve(server));
  });
}

export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listenOnEphemeral());
    return servers.map((s) => {
      const address = s.address();
      if (typeof address !== "object" || !address) throw new Error("no port assigned");
      return address.port;
    });
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}
