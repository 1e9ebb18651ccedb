// Size units as RouterOS reads and prints them.
// Input (`file-size=`): a decimal number with an optional unit K, M, G, T (binary multiples, as
// RouterOS treats them), optionally followed by "i"/"iB"/"B". Output: `size=` prints exact bytes
// with digit groups separated by spaces; `file-size=` prints one decimal and a binary unit.

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Parses `10G`, `512M`, `1.5GiB`, `1073741824` into bytes; undefined when malformed. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d{1,16})(?:\.(\d{1,6}))?\s*([kKmMgGtT]?)(?:i?B)?$/.exec(text);
  if (!m) return undefined;
  const whole = m[1] ?? "0";
  const frac = m[2] ?? "";
  const unit = UNITS[(m[3] ?? "").toLowerCase()] ?? 1;
  const value = Math.round(Number(`${whole}.${frac || "0"}`) * unit);
  if (!Number.isSafeInteger(value)) return undefined;
  return value;
}

/** `53687091200` -> `53 687 091 200` (RouterOS groups digits with spaces). */
export function groupDigits(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, " ");
}

/** `53687091200` -> `50.0GiB`; one decimal, largest unit with a value of at least 1. */
export function formatBinarySize(n: number): string {
  const steps: [number, string][] = [
    [1024 ** 4, "TiB"],
    [1024 ** 3, "GiB"],
    [1024 ** 2, "MiB"],
    [1024, "KiB"],
  ];
  for (const [factor, unit] of steps) {
    if (n >= factor) return `${(n / factor).toFixed(1)}${unit}`;
  }
  return `${n}B`;
}
