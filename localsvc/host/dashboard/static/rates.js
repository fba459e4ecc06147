// Connections per second from two /v1/connections samples (totals since the counter started).
// Pure. A Service's rate sums its ports; a counter that went down (node restart) starts over.

export function totals(sample) {
  const byService = new Map();
  for (const s of sample.services || []) {
    const k = `${s.namespace}/${s.name}`;
    byService.set(k, (byService.get(k) || 0) + (s.connections || 0));
  }
  return byService;
}

// -> {counting, rates: Map(service key -> connections/s)}; counting null means "not counted".
export function rates(previous, current) {
  const result = { counting: current.counting ?? null, rates: new Map() };
  if (result.counting === null || !previous || previous.counting !== current.counting) return result;
  const seconds = current.time - previous.time;
  if (!(seconds > 0)) return result;
  const before = totals(previous);
  for (const [k, total] of totals(current)) {
    const delta = total - (before.get(k) ?? total);
    result.rates.set(k, delta >= 0 ? delta / seconds : 0);
  }
  return result;
}

export function rateText(result, serviceKey) {
  if (!result) return "waiting for counts…";
  if (result.counting === null) return "not counted";
  const r = result.rates.get(serviceKey);
  if (r === undefined) return "waiting for counts…";
  return `${r.toFixed(1)} connections/s (${result.counting})`;
}
