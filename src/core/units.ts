/**
 * Numbers, rates and times written for people, shared by the rule explanations and the alert
 * shapes so that one alert shows every number in one style. Units follow {@link METRICS}.
 */
import { METRICS } from './contracts';

/** Units of metrics that rules derive and the aggregator does not emit. */
const DERIVED_UNITS: Readonly<Record<string, string>> = { synPerSecond: 'SYN/s', icmpPacketsPerSecond: 'packet/s' };

const groupFormats = new Map<number, Intl.NumberFormat>();
/** `n` with thousands separators and at most `decimals` fraction digits (en-US: `12,345.6`). */
export function grouped(n: number, decimals: number): string {
  let f = groupFormats.get(decimals);
  if (f === undefined) {
    f = new Intl.NumberFormat('en-US', { maximumFractionDigits: decimals });
    groupFormats.set(decimals, f);
  }
  return f.format(n);
}

/**
 * A count or measure for people: thousands separators; 2 decimals below 10, 1 below 100, none
 * above. `1234567` → `1,234,567`, `3.14159` → `3.14`. Non-finite numbers as `∞`/`NaN`.
 */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? 'NaN' : n > 0 ? '∞' : '-∞';
  const abs = Math.abs(n);
  return grouped(n, abs < 10 ? 2 : abs < 100 ? 1 : 0);
}

/** `n` scaled by SI prefixes (k, M, G, T: powers of 1000) with one decimal: `12345678, 'bit/s'` → `12.3 Mbit/s`. */
function siUnit(n: number, unit: string): string {
  if (!Number.isFinite(n)) return `${formatCount(n)} ${unit}`;
  const abs = Math.abs(n);
  const prefixes: Array<[number, string]> = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [scale, prefix] of prefixes) {
    // 999,950 rounds to 1,000.0 k: promote it to the next prefix
    if (abs >= scale * 0.99995) return `${grouped(n / scale, 1)} ${prefix}${unit}`;
  }
  return `${grouped(n, abs < 10 ? 2 : abs < 100 ? 1 : 0)} ${unit}`;
}

/**
 * A metric value with its unit, for people. The unit is that of {@link METRICS}:
 * `bitsPerSecond` 12345678 → `12.3 Mbit/s`; `bytes` 1234567 → `1.2 MB`; `packetsPerSecond` 1234.5
 * → `1,235 pps` (12.34 → `12.3 pps`); `packets` 1234 → `1,234 packets`; `flowDurationMs` 4200 → `4.2 s`; an unknown
 * metric → {@link formatCount}.
 */
export function formatMetricValue(metric: string, value: number): string {
  if (typeof value !== 'number') return String(value);
  const unit = Object.prototype.hasOwnProperty.call(METRICS, metric)
    ? METRICS[metric as keyof typeof METRICS].unit
    : DERIVED_UNITS[metric];
  switch (unit) {
    case 'bit/s':
      return siUnit(value, 'bit/s');
    case 'bytes':
      return Math.abs(value) < 1000 ? `${formatCount(value)} bytes` : siUnit(value, 'B');
    case 'packet/s':
      return `${grouped(value, Math.abs(value) < 100 ? 1 : 0)} pps`;
    case 'SYN/s':
      return `${grouped(value, Math.abs(value) < 100 ? 1 : 0)} SYN/s`;
    case 'ms':
      return Math.abs(value) < 1000 ? `${formatCount(value)} ms` : `${formatCount(value / 1000)} s`;
    case undefined:
      return formatCount(value);
    default:
      return `${formatCount(value)} ${unit}`;
  }
}

/** Deviation in percent with a sign: `+925%`, `-40%`, `+2.5%`; `n/a` when not finite. */
export function formatPercent(p: number): string {
  if (typeof p !== 'number' || !Number.isFinite(p)) return 'n/a';
  const sign = p > 0 ? '+' : p < 0 ? '-' : '±';
  return `${sign}${grouped(Math.abs(p), Math.abs(p) < 10 ? 1 : 0)}%`;
}

/**
 * Epoch ms → ISO 8601 UTC to the second (truncated), e.g. `2024-05-01T10:42:17Z`. A time outside
 * the range of `Date` is written as `<n> ms`.
 */
export function formatTime(ms: number): string {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  if (Number.isNaN(d.getTime())) return `${String(ms)} ms`;
  return d.toISOString().replace('.000Z', 'Z');
}

