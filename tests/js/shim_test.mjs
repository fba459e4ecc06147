// node:test's `test` for a browser: tests/js/*.test.mjs run unchanged in headless Chromium
// (run.html maps "node:test" here) where node is not installed, e.g. on a bare Debian CI
// machine that has Chromium for the browser tests.

const registered = [];

export default function test(name, fn) {
  registered.push({ name, fn });
}
export { test };

// Imports each file (its tests register themselves) and runs them in order:
// [{file, name, ok, error}].
export async function run(files) {
  const results = [];
  for (const file of files) {
    registered.length = 0;
    try {
      await import(file);
    } catch (err) {
      results.push({ file, name: "(import)", ok: false, error: String((err && err.stack) || err) });
      continue;
    }
    for (const { name, fn } of registered.splice(0)) {
      try {
        await fn();
        results.push({ file, name, ok: true });
      } catch (err) {
        results.push({ file, name, ok: false, error: String((err && err.stack) || err) });
      }
    }
  }
  return results;
}
