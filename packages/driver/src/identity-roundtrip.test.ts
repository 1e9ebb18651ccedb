// The generated service definitions and clients work over grpc-js on a real unix socket, the
// transport CSI prescribes: a served RPC answers, an RPC nobody implemented answers UNIMPLEMENTED.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csi } from "./index.js";

/** Resolves with the response, or rejects with the grpc-js ServiceError. */
function unary<Req, Res>(
  call: (req: Req, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown,
  req: Req,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    call(req, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** Waits for the call to fail and returns its status code (the test expects a failure). */
async function failureCode(promise: Promise<unknown>): Promise<grpc.status | undefined> {
  try {
    await promise;
  } catch (err) {
    return (err as grpc.ServiceError).code;
  }
  throw new Error("the call succeeded, a failure was expected");
}

describe("Identity over a unix socket", () => {
  let dir: string;
  let socketPath: string;
  let server: grpc.Server;
  let identity: csi.IdentityClient;
  let controller: csi.ControllerClient;
  let snapshotMetadata: csi.SnapshotMetadataClient;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "csi-proto-"));
    socketPath = path.join(dir, "csi.sock");
    expect(Buffer.byteLength(socketPath)).toBeLessThan(108); // sun_path limit
    // A leftover socket file from an earlier run would make bind fail with EADDRINUSE.
    fs.writeFileSync(socketPath, "stale");
    fs.rmSync(socketPath, { force: true });

    server = new grpc.Server();
    // Only GetPluginInfo: Probe and GetPluginCapabilities are deliberately left out, and the
    // Controller and SnapshotMetadata services are not added at all.
    server.addService(csi.IdentityService, {
      getPluginInfo: (
        _call: grpc.ServerUnaryCall<csi.GetPluginInfoRequest, csi.GetPluginInfoResponse>,
        callback: grpc.sendUnaryData<csi.GetPluginInfoResponse>,
      ) => {
        callback(null, {
          name: "rds-nvme.csi.dev",
          vendorVersion: "0.1.0",
          manifest: { url: "x" },
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.bindAsync(`unix://${socketPath}`, grpc.ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      );
    });

    const address = `unix://${socketPath}`;
    const credentials = grpc.credentials.createInsecure();
    identity = new csi.IdentityClient(address, credentials);
    controller = new csi.ControllerClient(address, credentials);
    snapshotMetadata = new csi.SnapshotMetadataClient(address, credentials);
  });

  afterAll(async () => {
    identity?.close();
    controller?.close();
    snapshotMetadata?.close();
    if (server) {
      await new Promise<void>((resolve, reject) =>
        server.tryShutdown((err) => (err ? reject(err) : resolve())),
      );
    }
    // A clean shutdown removes the socket file; nothing else was created next to it.
    const leftovers = fs.readdirSync(dir);
    fs.rmSync(dir, { recursive: true, force: true });
    expect(leftovers).toStrictEqual([]);
  });

  it("GetPluginInfo answers with the served name, version and manifest", async () => {
    const info = await unary(
      identity.getPluginInfo.bind(identity),
      csi.GetPluginInfoRequest.create(),
    );
    expect(info).toStrictEqual({
      name: "rds-nvme.csi.dev",
      vendorVersion: "0.1.0",
      manifest: { url: "x" },
    });
  });

  it("an RPC of a served service that has no handler answers UNIMPLEMENTED", async () => {
    const code = await failureCode(unary(identity.probe.bind(identity), csi.ProbeRequest.create()));
    expect(code).toBe(grpc.status.UNIMPLEMENTED);
  });

  it("an RPC of a service that is not served answers UNIMPLEMENTED", async () => {
    const code = await failureCode(
      unary(
        controller.createVolume.bind(controller),
        csi.CreateVolumeRequest.create({ name: "v" }),
      ),
    );
    expect(code).toBe(grpc.status.UNIMPLEMENTED);
  });

  it("a server-streaming RPC that is not served answers UNIMPLEMENTED", async () => {
    const stream = snapshotMetadata.getMetadataAllocated(
      csi.GetMetadataAllocatedRequest.create({ snapshotId: "snap-1" }),
    );
    const code = await new Promise<grpc.status>((resolve, reject) => {
      stream.on("data", () => reject(new Error("unexpected data")));
      stream.on("error", (err: grpc.ServiceError) => resolve(err.code));
      stream.on("end", () => reject(new Error("stream ended without an error")));
    });
    expect(code).toBe(grpc.status.UNIMPLEMENTED);
  });
});
