/** Parsing of human durations ("500ms", "2s", "5m", "1h") and sizes ("64KiB", "10MiB"). */

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds for a duration string, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m || m[1] === undefined || m[2] === undefined) return undefined;
  const unit = DURATION_UNIT_MS[m[2]];
  return unit === undefined ? undefined : Math.round(Number(m[1]) * unit);
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB)?$/;
const SIZE_UNIT: Record<string, number> = {
  B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, KB: 1000, MB: 1000 ** 2, GB: 1000 ** 3,
};

/** Bytes for a size string ("1MiB", "512KB", "4096"), or undefined when it is not one. */
export function parseSize(text: string): number | undefined {
  const m = SIZE.exec(text.trim());
  if (!m || m[1] === undefined) return undefined;
  const unit = SIZE_UNIT[m[2] ?? 'B'];
  return unit === undefined ? undefined : Math.floor(Number(m[1]) * unit);
}
