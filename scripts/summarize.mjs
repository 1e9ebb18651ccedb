// Adds up every report in a folder — vitest JSON (*.json) and JUnit XML (*.xml, csi-sanity) —
// and prints the closing line `N passed, N failed` that CI reads. Exit 1 when anything failed,
// when a report is unreadable, or when nothing ran at all.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2] ?? "reports";
let passed = 0;
let failed = 0;
let skipped = 0;
let broken = 0;
for (const file of readdirSync(dir).sort()) {
  const path = join(dir, file);
  try {
    if (file.endsWith(".json")) {
      const r = JSON.parse(readFileSync(path, "utf8"));
      passed += r.numPassedTests;
      failed += r.numFailedTests;
      skipped += r.numPendingTests + (r.numTodoTests ?? 0);
      // A file that failed to load counts as a failure even if it declared no test.
      if (r.numFailedTestSuites > 0 && r.numFailedTests === 0) failed += r.numFailedTestSuites;
      console.log(`${file}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
    } else if (file.endsWith(".xml")) {
      const xml = readFileSync(path, "utf8");
      const suites = [...xml.matchAll(/<testsuite\b([^>]*)>/g)].map((m) => m[1]);
      if (suites.length === 0) throw new Error("no <testsuite> in JUnit report");
      let t = 0, f = 0, s = 0;
      for (const attrs of suites) {
        const get = (k) => Number(new RegExp(`\\b${k}="(\\d+)"`).exec(attrs)?.[1] ?? 0);
        t += get("tests");
        f += get("failures") + get("errors");
        s += get("skipped") + get("disabled");
      }
      passed += t - f - s;
      failed += f;
      skipped += s;
      console.log(`${file}: ${t - f - s} passed, ${f} failed, ${s} skipped`);
    }
  } catch (err) {
    broken++;
    console.log(`${file}: unreadable report (${err.message})`);
  }
}
// Skipped specs (csi-sanity's, for capabilities the driver does not advertise) are listed per
// report above and totalled here; the closing line stays the plain `N passed, N failed`.
if (skipped > 0) console.log(`${skipped} skipped in all (see the per-report lines above)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || broken > 0 || passed === 0 ? 1 : 0);
