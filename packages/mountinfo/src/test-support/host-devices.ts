// Unit tests run without root, so they cannot mknod. A dev-root entry in a fixture is therefore
// a symlink to a block device that already exists on this machine (stat follows the link, so
// the resolver sees a real block device with a real number). The fixture's sysfs `dev` values
// are then set to those numbers.
import { symlinkSync, rmSync, mkdtempSync } from "node:fs";
import * as os from "node:os";
import { afterAll } from "vitest";
import * as path from "node:path";
import type { HostBlockDevice } from "../host-block-devices.js";

export { hostBlockDevices, type HostBlockDevice } from "../host-block-devices.js";

/** Point `<devRoot>/<name>` at a host block device (replacing any previous entry). */
export function linkDevNode(devRoot: string, name: string, target: HostBlockDevice): void {
  const at = path.join(devRoot, name);
  rmSync(at, { force: true });
  symlinkSync(target.path, at);
}

// Every temp dir of a test file lives under one parent, removed after the file's tests (this
// module is evaluated once per test file, so the hook lands in that file's root suite).
let parent: string | undefined;
afterAll(() => {
  if (parent) rmSync(parent, { recursive: true, force: true });
  parent = undefined;
});

export function tempDir(prefix = "t-"): string {
  parent ??= mkdtempSync(path.join(os.tmpdir(), "mountinfo-test-"));
  return mkdtempSync(path.join(parent, prefix));
}
