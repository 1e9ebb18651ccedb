// SECRET_FIELDS must list exactly the fields csi.proto marks `(csi_secret) = true`, so a secret
// field added to the proto without updating the list fails here; redactSecrets must hide their
// values without touching the caller's object.
import * as fs from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { csi, REDACTED, redactSecrets, requestMessageName, SECRET_FIELDS } from "./index.js";

const protoPath = fileURLToPath(new URL("../proto/csi.proto", import.meta.url));

/**
 * Message name (nested names joined with ".") → names of its fields whose options include
 * `(csi_secret) = true`. A small brace-tracking reader, enough for csi.proto's plain layout.
 */
function secretFieldsInProto(text: string): Map<string, string[]> {
  const code = text.replace(/\/\/.*$/gm, "").replace(/\/\*[\s\S]*?\*\//g, "");
  const found = new Map<string, string[]>();
  // Scopes opened by `{`: their keyword (message, enum, oneof, service, rpc, ...) and name.
  const scopes: { kind: string; name: string }[] = [];
  // Statements end at ';', '{' or '}'; the text before one of those is one statement head.
  for (const [, head = "", end] of code.matchAll(/([^;{}]*)([;{}])/g)) {
    const statement = head.trim();
    if (end === "{") {
      const [, kind = "", name = ""] = /^(\w+)\s+(\w+)/.exec(statement) ?? [];
      scopes.push({ kind, name });
    } else if (end === "}") {
      scopes.pop();
    } else if (/\(\s*csi_secret\s*\)\s*=\s*true/.test(statement)) {
      const field = /(\w+)\s*=\s*\d+\s*\[/.exec(statement)?.[1];
      const inner = scopes.at(-1)?.kind;
      if (field === undefined || (inner !== "message" && inner !== "oneof")) {
        throw new Error(`csi_secret outside a message field: ${statement}`);
      }
      const message = scopes
        .filter((s) => s.kind === "message")
        .map((s) => s.name)
        .join(".");
      found.set(message, [...(found.get(message) ?? []), field]);
    }
  }
  return found;
}

function camelCase(snake: string): string {
  return snake.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

describe("SECRET_FIELDS", () => {
  const inProto = secretFieldsInProto(fs.readFileSync(protoPath, "utf8"));

  it("lists exactly the csi_secret fields of proto/csi.proto", () => {
    const fromProto = Object.fromEntries(
      [...inProto].map(([m, fields]) => [m, [...fields].sort()]),
    );
    const fromList = Object.fromEntries(
      Object.entries(SECRET_FIELDS).map(([m, fields]) => [m, fields.map((f) => f.proto).sort()]),
    );
    expect(fromList).toStrictEqual(fromProto);
    // The reader did find the well-known ones (guards against a reader that finds nothing).
    expect(inProto.get("CreateVolumeRequest")).toStrictEqual(["secrets"]);
    expect(inProto.get("NodeStageVolumeRequest")).toStrictEqual(["secrets"]);
  });

  it("gives ts-proto's property names, and the generated messages have them", () => {
    const generated = csi as unknown as Record<string, csi.MessageFns<object> | undefined>;
    for (const [message, fields] of Object.entries(SECRET_FIELDS)) {
      const fns = generated[message.replaceAll(".", "_")];
      expect(fns, message).toBeDefined();
      const empty = fns?.create() ?? {};
      for (const field of fields) {
        expect(field.ts, `${message}.${field.proto}`).toBe(camelCase(field.proto));
        expect(Object.keys(empty), `${message}.${field.ts}`).toContain(field.ts);
      }
    }
  });
});

describe("redactSecrets", () => {
  const request = csi.CreateVolumeRequest.create({
    name: "pvc-1",
    capacityRange: { requiredBytes: 2n ** 60n },
    parameters: { pool: "fast" },
    secrets: { username: "admin", password: "hunter2" },
  });

  it("replaces every secret value with *** and keeps keys and all other fields", () => {
    const redacted = redactSecrets(request, "CreateVolumeRequest");
    expect(redacted.secrets).toStrictEqual({ username: REDACTED, password: REDACTED });
    expect(redacted.parameters).toStrictEqual({ pool: "fast" });
    expect(redacted.name).toBe("pvc-1");
    expect(redacted.capacityRange?.requiredBytes).toBe(2n ** 60n);
    expect(
      JSON.stringify(redacted, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)),
    ).not.toMatch(/hunter2|admin"/);
  });

  it("leaves the caller's object untouched (deep copy)", () => {
    const redacted = redactSecrets(request, "CreateVolumeRequest");
    expect(request.secrets).toStrictEqual({ username: "admin", password: "hunter2" });
    expect(redacted).not.toBe(request);
    expect(redacted.capacityRange).not.toBe(request.capacityRange);
  });

  it("without a message name, or with an unknown one, still hides secrets", () => {
    expect(redactSecrets(request).secrets).toStrictEqual({
      username: REDACTED,
      password: REDACTED,
    });
    expect(redactSecrets(request, "NoSuchRequest").secrets).toStrictEqual({
      username: REDACTED,
      password: REDACTED,
    });
  });

  it("redacts by gRPC method path for every kind of request", () => {
    const stage = csi.NodeStageVolumeRequest.create({
      volumeId: "v",
      secrets: { key: "k" },
      volumeContext: { nqn: "n" },
    });
    const redacted = redactSecrets(stage, requestMessageName("/csi.v1.Node/NodeStageVolume"));
    expect(redacted.secrets).toStrictEqual({ key: REDACTED });
    expect(redacted.volumeContext).toStrictEqual({ nqn: "n" });
    expect(requestMessageName("/csi.v1.Controller/CreateVolume")).toBe("CreateVolumeRequest");
    expect(requestMessageName("Probe")).toBe("ProbeRequest");
  });

  it("passes messages without secrets and non-objects through unchanged", () => {
    const unstage = csi.NodeUnstageVolumeRequest.create({ volumeId: "v", stagingTargetPath: "/s" });
    expect(redactSecrets(unstage, "NodeUnstageVolumeRequest")).toStrictEqual(unstage);
    expect(redactSecrets(undefined)).toBeUndefined();
    expect(redactSecrets("text")).toBe("text");
  });
});
