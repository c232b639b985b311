// An independent check of Chrome's trace-event format (JSON object form), as chrome://tracing and Perfetto
// read it: https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU
// Written from the format's description, not from our writer, so the writer cannot grade its own work.

const PHASES_WITH_DURATION = new Set(['X']);
const KNOWN_PHASES = new Set(['B', 'E', 'X', 'i', 'I', 'C', 'M', 'b', 'e', 'n', 's', 't', 'f', 'P', 'O', 'N', 'D']);
const METADATA_NAMES = new Set(['process_name', 'process_labels', 'process_sort_index', 'thread_name', 'thread_sort_index']);

/** Every problem found; empty when the file is valid. */
export function traceFormatProblems(trace: unknown): string[] {
  const problems: string[] = [];
  if (typeof trace !== 'object' || trace === null || Array.isArray(trace)) return ['top level must be an object with traceEvents'];
  const { traceEvents, displayTimeUnit } = trace as Record<string, unknown>;
  if (!Array.isArray(traceEvents)) return ['traceEvents must be an array'];
  if (displayTimeUnit !== undefined && displayTimeUnit !== 'ms' && displayTimeUnit !== 'ns')
    problems.push(`displayTimeUnit must be "ms" or "ns", got ${String(displayTimeUnit)}`);
  let lastTs = -Infinity;
  const openByTrack = new Map<string, { end: number; name: string }[]>();
  traceEvents.forEach((raw, i) => {
    const at = `traceEvents[${i}]`;
    if (typeof raw !== 'object' || raw === null) return void problems.push(`${at} is not an object`);
    const e = raw as Record<string, unknown>;
    if (typeof e['ph'] !== 'string' || !KNOWN_PHASES.has(e['ph'])) problems.push(`${at}.ph is not a known phase: ${String(e['ph'])}`);
    if (typeof e['name'] !== 'string' || e['name'] === '') problems.push(`${at}.name must be a non-empty string`);
    for (const field of ['pid', 'tid']) if (!Number.isInteger(e[field])) problems.push(`${at}.${field} must be an integer`);
    if (typeof e['ts'] !== 'number' || !Number.isFinite(e['ts']) || e['ts'] < 0)
      problems.push(`${at}.ts must be a finite, non-negative number of microseconds`);
    const ph = e['ph'];
    if (ph === 'M') {
      if (!METADATA_NAMES.has(String(e['name']))) problems.push(`${at}: unknown metadata event ${String(e['name'])}`);
      if (typeof e['args'] !== 'object' || e['args'] === null) problems.push(`${at}.args required on metadata events`);
      return;
    }
    const ts = e['ts'] as number;
    if (ts < lastTs) problems.push(`${at}.ts ${ts} goes back in time (previous ${lastTs}): events must be in timestamp order`);
    lastTs = Math.max(lastTs, ts);
    if (PHASES_WITH_DURATION.has(String(ph))) {
      if (typeof e['dur'] !== 'number' || !Number.isFinite(e['dur']) || e['dur'] < 0)
        return void problems.push(`${at}.dur must be a finite, non-negative number of microseconds`);
      // Complete events on one track must nest: a span that starts inside another must end inside it.
      const track = `${e['pid']}:${e['tid']}`;
      const open = (openByTrack.get(track) ?? []).filter((s) => s.end > ts);
      const parent = open[open.length - 1];
      const end = ts + (e['dur'] as number);
      if (parent && end > parent.end + 1e-3)
        problems.push(`${at} (${String(e['name'])}) overlaps ${parent.name} on track ${track} without nesting`);
      open.push({ end, name: String(e['name']) });
      openByTrack.set(track, open);
    }
    if (ph === 'C') {
      const args = e['args'];
      if (typeof args !== 'object' || args === null || Object.keys(args).length === 0)
        problems.push(`${at}.args of a counter needs at least one series`);
      else
        for (const [k, v] of Object.entries(args))
          if (typeof v !== 'number' || !Number.isFinite(v)) problems.push(`${at}.args.${k} of a counter must be a number`);
    }
  });
  return problems;
}
