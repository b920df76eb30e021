/**
 * Shapes an {@link AnomalyEvent} for a receiving node: a one-line text (chat, log, dashboard), the
 * event as JSON with an MQTT topic, or an e-mail (subject, plain-text body, HTML body). The core of
 * the `anomaly-formatter` node.
 *
 * Every shape says what happened, when (packet time, ISO 8601 UTC), the findings with their
 * baselines, and treats the alert as a signal for a person to investigate, never a verdict.
 *
 * Pure module: no Node-RED import. Not on the per-packet path (one call per alert), so it allocates
 * freely.
 *
 * @packageDocumentation
 */
import { assertAnomalyEvent, ContractError, METRICS } from './contracts';
import type { AnomalyEvent, Finding } from './contracts';

/** Output shapes of {@link formatAnomaly}. */
export type FormatShape = 'text' | 'json' | 'email';

/** All shapes, for validation and the editor. */
export const FORMAT_SHAPES: readonly FormatShape[] = ['text', 'json', 'email'];

/** What {@link formatAnomaly} returns: the properties to set on the outgoing message. */
export interface FormattedAnomaly {
  /** `text`/`json`: the MQTT-safe topic (see {@link anomalyTopic}); `email`: the subject line. */
  topic: string;
  /** `text`: the lines; `json`: a deep copy of the event; `email`: the plain-text body. */
  payload: string | object;
  /** `email` only: the HTML body (all event text escaped). */
  html?: string;
}

/** The sentence every e-mail ends with. */
export const SIGNAL_NOT_VERDICT =
  'An alert is a signal to investigate, not a verdict: look at the traffic before you act on it.';

/**
 * Formats `event` in `shape`.
 *
 * - `text`: `[HIGH] 2024-05-01T10:42:17Z port-scan src 10.0.0.140: <message>`, then one indented
 *   line per finding: `<metric> <value> vs <threshold> (baseline <slow EWMA> ±<σ>, <state>, +x%)`.
 *   When the cooldown held repeats back, the first line ends with `[12 repeats held back]`.
 *   Line breaks inside event strings are folded to spaces.
 * - `json`: `payload` is a deep copy of the event; `topic` is {@link anomalyTopic}.
 * - `email`: for node-red-node-email, `topic` = subject `[netbaseline] HIGH port-scan on src 10.0.0.140`,
 *   `payload` = plain-text body, `html` = HTML body. The body states what happened, when (packet
 *   time), the findings (an HTML table / aligned text lines), the baseline state and
 *   {@link SIGNAL_NOT_VERDICT}. All event text is HTML-escaped in `html`; in the plain-text body a
 *   `<` directly before a letter is followed by a space, so that a mail node that sniffs the body
 *   for HTML (node-red-node-email sends a body matching `/<[a-z][\s\S]*>/i` as HTML) never renders
 *   event text as markup. The subject has no control characters (no header injection) and at most
 *   200 characters.
 *
 * Numbers are written for people: thousands separators, bit/s as `12.3 Mbit/s`, bytes as `1.2 MB`
 * (SI prefixes, powers of 1000), pps as `1,234 pps`, durations in ms/s; the unit comes from
 * {@link METRICS} (unknown metrics: a plain number).
 *
 * @throws {ContractError} when `event` is not an anomaly event or `shape` is not a {@link FormatShape}.
 */
export function formatAnomaly(event: AnomalyEvent, shape: FormatShape): FormattedAnomaly {
  assertAnomalyEvent(event);
  switch (shape) {
    case 'text':
      return { topic: anomalyTopic(event), payload: formatText(event) };
    case 'json':
      return { topic: anomalyTopic(event), payload: copyEvent(event) };
    case 'email':
      return formatEmail(event);
    default:
      throw new ContractError(`unknown format shape ${JSON.stringify(shape)}; expected one of ${FORMAT_SHAPES.join(', ')}`);
  }
}

/**
 * MQTT topic of an event: `netbaseline/<severity>/<scope>/<key>`, each level made topic-safe by
 * {@link topicLevel} so that the topic always has exactly four levels (subscribe with
 * `netbaseline/high/#` or `netbaseline/+/srcHost/+`). MQTT 3.1.1 §4.7 / MQTT 5.0 §4.7.
 */
export function anomalyTopic(event: AnomalyEvent): string {
  const scope = typeof event.scope === 'string' ? event.scope : 'unknown';
  return `netbaseline/${topicLevel(event.severity)}/${topicLevel(scope)}/${topicLevel(event.key)}`;
}

/**
 * One MQTT topic level from any string: whitespace → `_`, the wildcards `+` and `#` removed, the
 * level separator `/` → `_`, NUL and other control characters (U+0000 is forbidden in topics,
 * MQTT 5.0 §1.5.4) → `_`; an empty result becomes `_`.
 * Example: `tcp 10.0.0.1:51234 > 10.0.0.2:80` → `tcp_10.0.0.1:51234_>_10.0.0.2:80`.
 */
export function topicLevel(text: string): string {
  // eslint-disable-next-line no-control-regex
  const level = text.replace(/[+#]/g, '').replace(/[\s/\u0000-\u001f\u007f]/g, '_');
  return level === '' ? '_' : level;
}

// ---------------------------------------------------------------------------------------------
// Numbers and times
// ---------------------------------------------------------------------------------------------

const groupFormats = new Map<number, Intl.NumberFormat>();
/** `n` with thousands separators and at most `decimals` fraction digits (en-US: `12,345.6`). */
function grouped(n: number, decimals: number): string {
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
  const unit = Object.prototype.hasOwnProperty.call(METRICS, metric) ? METRICS[metric as keyof typeof METRICS].unit : undefined;
  switch (unit) {
    case 'bit/s':
      return siUnit(value, 'bit/s');
    case 'bytes':
      return Math.abs(value) < 1000 ? `${formatCount(value)} bytes` : siUnit(value, 'B');
    case 'packet/s':
      return `${grouped(value, Math.abs(value) < 100 ? 1 : 0)} pps`;
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

/** A window length for people: `10 s`, `1.5 min`, `500 ms`. */
function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (Math.abs(ms) < 1000) return `${formatCount(ms)} ms`;
  if (Math.abs(ms) < 120_000) return `${formatCount(ms / 1000)} s`;
  return `${formatCount(ms / 60_000)} min`;
}

// ---------------------------------------------------------------------------------------------
// Text pieces shared by the shapes
// ---------------------------------------------------------------------------------------------

/** Folds line breaks and other control characters of event text to spaces. */
function oneLine(text: unknown): string {
  // eslint-disable-next-line no-control-regex
  return String(text).replace(/[\u0000-\u001f\u007f]+/g, ' ');
}

/** The findings of an event; the primary finding rebuilt from the top-level fields when `findings` is missing or empty. */
function findingsOf(event: AnomalyEvent): Finding[] {
  const list = Array.isArray(event.findings) ? event.findings.filter((f) => typeof f === 'object' && f !== null) : [];
  if (list.length > 0) return list;
  return [{
    rule: event.rule,
    severity: event.severity,
    metric: event.metric,
    value: event.value,
    threshold: event.threshold,
    baseline: event.baseline ?? null,
    deviationPercent: event.deviationPercent,
    explanation: event.message,
  }];
}

/** `12.3 Mbit/s ±0.4 Mbit/s` (slow EWMA / μ and σ), or `none`. */
function baselineValue(f: Finding): string {
  const b = f.baseline;
  if (b === null || b === undefined || typeof b !== 'object') return 'none';
  const std = typeof b.std === 'number' && b.std > 0 ? ` ±${formatMetricValue(f.metric, b.std)}` : '';
  return `${formatMetricValue(f.metric, b.slow)}${std}`;
}

/** `mature, 240 samples` or `no baseline`. */
function baselineState(f: Finding): string {
  const b = f.baseline;
  if (b === null || b === undefined || typeof b !== 'object') return 'no baseline';
  const samples = typeof b.samples === 'number' ? `, ${formatCount(b.samples)} samples` : '';
  return `${String(b.state)}${samples}`;
}

/** `bitsPerSecond 12.3 Mbit/s vs 5 Mbit/s (baseline 1.2 Mbit/s ±0.3 Mbit/s, mature, +925%)`. */
function findingLine(f: Finding): string {
  const baseline = f.baseline === null || f.baseline === undefined
    ? 'no baseline'
    : `baseline ${baselineValue(f)}, ${String(f.baseline.state)}`;
  return oneLine(`${f.metric} ${formatMetricValue(f.metric, f.value)} vs ${formatMetricValue(f.metric, f.threshold)} (${baseline}, ${formatPercent(f.deviationPercent)})`);
}

function heldBack(event: AnomalyEvent): number {
  const n = event.suppressedCount;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0;
}

function plural(n: number, one: string, many: string): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

function formatText(event: AnomalyEvent): string {
  const held = heldBack(event);
  const head = oneLine(`[${event.severity.toUpperCase()}] ${formatTime(event.time)} ${event.rule} ${event.key}: ${event.message}`)
    + (held > 0 ? ` [${plural(held, 'repeat', 'repeats')} held back]` : '');
  return [head, ...findingsOf(event).map((f) => `  ${findingLine(f)}`)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// E-mail
// ---------------------------------------------------------------------------------------------

/** Escapes `& < > " '` for HTML text and attribute values. */
export function escapeHtml(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Keeps plain text from looking like HTML to a sniffing mail node: `<b` → `< b`. */
function defuseMarkup(text: string): string {
  return text.replace(/<(?=[a-z])/gi, '< ');
}

const SUBJECT_MAX = 200;

interface DetailRow { label: string; value: string }

function details(event: AnomalyEvent): DetailRow[] {
  const rows: DetailRow[] = [
    { label: 'What happened', value: oneLine(event.message) },
    { label: 'When (packet time)', value: formatTime(event.time) },
  ];
  const w = event.window;
  if (w && typeof w === 'object' && typeof w.start === 'number' && typeof w.end === 'number') {
    rows.push({ label: 'Window', value: `${formatTime(w.start)} to ${formatTime(w.end)} (${formatDuration(w.end - w.start)})` });
  }
  rows.push({ label: 'Rule', value: `${oneLine(event.rule)} (${event.severity})` });
  rows.push({ label: 'Key', value: `${oneLine(event.key)}${typeof event.scope === 'string' ? ` (scope ${oneLine(event.scope)})` : ''}` });
  const addr: string[] = [];
  if (event.protocol !== undefined) addr.push(oneLine(event.protocol));
  if (event.srcIp !== undefined) addr.push(`from ${oneLine(event.srcIp)}${event.srcPort !== undefined ? ` port ${String(event.srcPort)}` : ''}`);
  if (event.dstIp !== undefined) addr.push(`to ${oneLine(event.dstIp)}${event.dstPort !== undefined ? ` port ${String(event.dstPort)}` : ''}`);
  if (addr.length > 0) rows.push({ label: 'Addresses', value: addr.join(' ') });
  if (typeof event.source === 'string' && event.source !== '') rows.push({ label: 'Capture', value: oneLine(event.source) });
  const b = event.baseline;
  rows.push({
    label: 'Baseline',
    value: b && typeof b === 'object'
      ? `${String(b.state)} for ${oneLine(event.metric)}: slow EWMA ${formatMetricValue(event.metric, b.slow)}, fast EWMA ${formatMetricValue(event.metric, b.fast)}, σ ${formatMetricValue(event.metric, b.std)}, ${plural(b.samples, 'sample', 'samples')}`
      : 'none: this rule compares with a fixed threshold, not a learned baseline',
  });
  const held = heldBack(event);
  if (held > 0) rows.push({ label: 'Held back', value: `${plural(held, 'repeat', 'repeats')} of this alert since the last one sent (cooldown)` });
  if (typeof event.id === 'string') rows.push({ label: 'Event id', value: oneLine(event.id) });
  return rows;
}

const FINDING_COLUMNS = ['Rule', 'Severity', 'Metric', 'Value', 'Threshold', 'Baseline', 'State', 'Deviation'] as const;

function findingCells(f: Finding): string[] {
  return [
    oneLine(f.rule), oneLine(f.severity), oneLine(f.metric),
    formatMetricValue(f.metric, f.value), formatMetricValue(f.metric, f.threshold),
    baselineValue(f), baselineState(f), formatPercent(f.deviationPercent),
  ];
}

/** Rows of cells as text lines, each column padded to its widest cell. */
function alignColumns(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd());
}

function formatEmail(event: AnomalyEvent): FormattedAnomaly {
  const severity = event.severity.toUpperCase();
  let subject = oneLine(`[netbaseline] ${severity} ${event.rule} on ${event.key}`).trim();
  if (subject.length > SUBJECT_MAX) subject = `${subject.slice(0, SUBJECT_MAX - 1)}…`;

  const rows = details(event);
  const findings = findingsOf(event);
  const labelWidth = Math.max(...rows.map((r) => r.label.length)) + 1;
  const text = [
    `${severity} anomaly: ${oneLine(event.rule)} on ${oneLine(event.key)}`,
    '',
    ...rows.map((r) => `${`${r.label}:`.padEnd(labelWidth)} ${r.value}`),
    '',
    'Findings:',
    ...alignColumns([[...FINDING_COLUMNS], ...findings.map(findingCells)]).map((l) => `  ${l}`),
    '',
    SIGNAL_NOT_VERDICT,
    '',
  ].join('\n');

  const th = FINDING_COLUMNS.map((c) => `<th style="text-align:left;padding:2px 8px;border-bottom:1px solid #999">${c}</th>`).join('');
  const tr = findings.map((f) => `<tr>${findingCells(f).map((c) => `<td style="padding:2px 8px">${escapeHtml(c)}</td>`).join('')}</tr>`).join('\n');
  const html = [
    '<!DOCTYPE html>',
    `<html><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>`,
    '<body style="font-family:sans-serif">',
    `<h2>${escapeHtml(severity)} anomaly: ${escapeHtml(oneLine(event.rule))} on ${escapeHtml(oneLine(event.key))}</h2>`,
    '<table>',
    ...rows.map((r) => `<tr><th style="text-align:left;padding:2px 8px;vertical-align:top">${escapeHtml(r.label)}</th><td style="padding:2px 8px">${escapeHtml(r.value)}</td></tr>`),
    '</table>',
    '<h3>Findings</h3>',
    `<table style="border-collapse:collapse"><thead><tr>${th}</tr></thead>`,
    `<tbody>\n${tr}\n</tbody></table>`,
    `<p><em>${escapeHtml(SIGNAL_NOT_VERDICT)}</em></p>`,
    '</body></html>',
    '',
  ].join('\n');

  return { topic: subject, payload: defuseMarkup(text), html };
}

/** Deep copy of an event as plain data. @throws {ContractError} when it holds something that cannot be copied. */
function copyEvent(event: AnomalyEvent): AnomalyEvent {
  try {
    return structuredClone(event);
  } catch (err) {
    throw new ContractError(`anomaly: cannot be copied (${err instanceof Error ? err.message : String(err)})`);
  }
}
