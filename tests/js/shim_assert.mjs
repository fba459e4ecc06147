// The part of node:assert/strict that tests/js uses, for the browser run (run.html).

export class AssertionError extends Error {}

function show(value) {
  try {
    return JSON.stringify(value, (k, v) => (v instanceof Map ? { Map: [...v] } : v));
  } catch {
    return String(value);
  }
}

// Strict deep equality as node's deepStrictEqual for plain data: same prototypes, same own
// keys, Maps by entries.
function same(a, b) {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !same(v, b.get(k))) return false;
    return true;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && same(a[k], b[k]));
}

const fail = (message, fallback) => { throw new AssertionError(message || fallback); };

const assert = {
  equal(actual, expected, message) {
    if (!Object.is(actual, expected)) fail(message, `${show(actual)} !== ${show(expected)}`);
  },
  deepEqual(actual, expected, message) {
    if (!same(actual, expected)) fail(message, `not deep-equal:\n${show(actual)}\n${show(expected)}`);
  },
  ok(value, message) {
    if (!value) fail(message, `not truthy: ${show(value)}`);
  },
  match(text, pattern, message) {
    if (!pattern.test(text)) fail(message, `${show(text)} does not match ${pattern}`);
  },
};

export default assert;
