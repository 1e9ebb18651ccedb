import { describe, expect, it } from "vitest";
import { formatBinarySize, groupDigits, parseSize } from "./index.js";

describe("RouterOS size units", () => {
  it.each([
    ["1073741824", 1073741824],
    ["10G", 10 * 1024 ** 3],
    ["512M", 512 * 1024 ** 2],
    ["1T", 1024 ** 4],
    ["4k", 4096],
    ["1.5GiB", 1.5 * 1024 ** 3],
    ["50.0GiB", 50 * 1024 ** 3],
  ])("parses %s", (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(["", "G", "1X", "-1G", "1 G B", "1e9", "12345678901234567G"])("rejects %j", (text) => {
    expect(parseSize(text)).toBeUndefined();
  });

  it("groups digits with spaces like RouterOS", () => {
    expect(groupDigits(53687091200)).toBe("53 687 091 200");
    expect(groupDigits(999)).toBe("999");
    expect(groupDigits(1000)).toBe("1 000");
  });

  it("prints file-size with one decimal and a binary unit", () => {
    expect(formatBinarySize(53687091200)).toBe("50.0GiB");
    expect(formatBinarySize(1.5 * 1024 ** 3)).toBe("1.5GiB");
    expect(formatBinarySize(512 * 1024 ** 2)).toBe("512.0MiB");
    expect(formatBinarySize(100)).toBe("100B");
  });
});
