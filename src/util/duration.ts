/** A duration as `--budget` takes it: `45s`, `10m`, `1h30m30s` (whole seconds). */
export function compactDuration(ms: number): string {
  const s = Math.round(ms / 1e3);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${sec || (!h && !m) ? `${sec}s` : ''}`;
}
