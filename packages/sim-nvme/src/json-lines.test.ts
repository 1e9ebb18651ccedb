import { describe, expect, it } from "vitest";
import { jsonLines, type Message } from "./json-lines.js";

describe("jsonLines framing", () => {
  it("joins lines split across chunks and reports malformed ones", () => {
    const got: (Message | string)[] = [];
    const feed = jsonLines(
      (m) => void got.push(m),
      (l) => void got.push(`bad:${l}`),
    );
    feed(Buffer.from('{"a":1}\n{"b"'));
    feed(Buffer.from(':2}\nnot json\n{"c":'));
    expect(got).toEqual([{ a: 1 }, { b: 2 }, "bad:not json"]);
    feed(Buffer.from("3}\n"));
    expect(got).toEqual([{ a: 1 }, { b: 2 }, "bad:not json", { c: 3 }]);
  });

  it('"stop" drops the rest of the chunk', () => {
    const got: Message[] = [];
    const feed = jsonLines(
      (m) => {
        got.push(m);
        return "stop";
      },
      () => undefined,
    );
    feed(Buffer.from('{"a":1}\n{"b":2}\n'));
    expect(got).toEqual([{ a: 1 }]);
  });
});
