// Unit tests of the kind suite's polling helper (the suite itself only runs in the e2e-kind
// workflow; this part runs everywhere). No cluster, no timing assertions: only what waitFor
// returns or throws.
import { describe, expect, it } from "vitest";
import { GiveUp, waitFor } from "./kube.js";

describe("waitFor", () => {
  it("returns the first value the probe yields, polling past undefined and errors", async () => {
    const answers: (() => string | undefined)[] = [
      () => undefined,
      () => {
        throw new Error("not yet");
      },
      () => "ready",
      () => "later",
    ];
    let calls = 0;
    const value = await waitFor("the thing", 10_000, async () => answers[calls++](), undefined, 1);
    expect(value).toBe("ready");
    expect(calls).toBe(3);
  });

  it("stops at once on GiveUp and rethrows it", async () => {
    let calls = 0;
    const wait = waitFor(
      "the thing",
      10_000,
      async () => {
        calls++;
        throw new GiveUp("pod failed");
      },
      undefined,
      1,
    );
    await expect(wait).rejects.toBeInstanceOf(GiveUp);
    expect(calls).toBe(1);
  });

  it("on the deadline names what it waited for, the last error and what it saw", async () => {
    const wait = waitFor(
      "the PVC events",
      0,
      async () => {
        throw new Error("HTTP 403");
      },
      async () => "events: none",
      1,
    );
    await expect(wait).rejects.toThrow(
      /timed out waiting for the PVC events; last error: HTTP 403\nevents: none/,
    );
  });

  it("still reports the timeout when describing the state fails", async () => {
    const wait = waitFor(
      "x",
      0,
      async () => undefined,
      async () => {
        throw new Error("api down");
      },
      1,
    );
    await expect(wait).rejects.toThrow(
      /timed out waiting for x\n\(describe failed: Error: api down\)/,
    );
  });
});
