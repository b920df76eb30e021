/**
 * Shapes an {@link AnomalyEvent} for a receiving node: a one-line text (chat, log, dashboard), the
 * event as JSON with an MQTT topic, or an e-mail (subject, HTML body, plain-text alternative). The core of
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
import { assertAnomalyEvent, ContractError } from './contracts';
import { formatCount, formatMetricValue, formatPercent, formatTime } from './units';
import type { AnomalyEvent, Finding } from './contracts';

export { formatCount, formatMetricValue, formatPercent, formatTime };

/** Output shapes of {@link formatAnomaly}. */
export type FormatShape = 'text' | 'json' | 'email';

/** All shapes, for validation and the editor. */
export const FORMAT_SHAPES: readonly FormatShape[] = ['text', 'json', 'email'];

/** What {@link formatAnomaly} returns: the properties to set on the outgoing message. */
export interface FormattedAnomaly {
  /** `text`/`json`: the MQTT-safe topic (see {@link anomalyTopic}); `email`: the subject line. */
  topic: string;
  /** `text`: the lines; `json`: a deep copy of the event; `email`: the HTML document (all event text escaped). */
  payload: string | object;
  /**
   * `email` only: the plain-text alternative part; node-red-node-email reads it as `msg.plaintext`
   * when `msg.payload` is HTML.
   */
  plaintext?: string;
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
 * - `email`: for the `e-mail` send node of node-red-node-email (5.2.5, 61-email.js), `topic` =
 *   subject `[netbaseline] HIGH port-scan on src 10.0.0.140`, `payload` = the full HTML document,
 *   `plaintext` = the plain-text body. That node sends `msg.payload` as the HTML part because it
 *   matches `/<[a-z][\s\S]*>/i`, and `msg.plaintext` as the text alternative (it never reads
 *   `msg.html`). Both bodies state what happened, when (packet time), the findings (an HTML table /
 *   aligned text lines), the baseline state and {@link SIGNAL_NOT_VERDICT}. All event text is
 *   HTML-escaped in `payload`; `plaintext` is sent as text as is (the node does not sniff it).
 *   The subject has no control characters (no header injection) and at most 200 characters.
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

/** `spike: bitsPerSecond 12.3 Mbit/s vs 5 Mbit/s (baseline 1.2 Mbit/s ±0.3 Mbit/s, mature, +925%)`. */
function findingLine(f: Finding): string {
  const baseline = f.baseline === null || f.baseline === undefined
    ? 'no baseline'
    : `baseline ${baselineValue(f)}, ${String(f.baseline.state)}`;
  return oneLine(`${f.rule}: ${f.metric} ${formatMetricValue(f.metric, f.value)} vs ${formatMetricValue(f.metric, f.threshold)} (${baseline}, ${formatPercent(f.deviationPercent)})`);
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

  return { topic: subject, payload: html, plaintext: text };
}

/** Deep copy of an event as plain data. @throws {ContractError} when it holds something that cannot be copied. */
function copyEvent(event: AnomalyEvent): AnomalyEvent {
  try {
    return structuredClone(event);
  } catch (err) {
    throw new ContractError(`anomaly: cannot be copied (${err instanceof Error ? err.message : String(err)})`);
  }
}
