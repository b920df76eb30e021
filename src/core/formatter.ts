/**
 * Shapes an {@link AnomalyEvent} for a receiving node: a one-line text (chat, log), the event as
 * JSON with an MQTT topic, an e-mail (subject, HTML body, plain-text alternative), chat webhooks,
 * SIEM lines, and the table rows, toasts and chart points of a FlowFuse Dashboard 2 page. The core
 * of the `anomaly-formatter` node.
 *
 * Every shape says what happened, when (packet time, ISO 8601 UTC), the findings with their
 * baselines, and treats the alert as a signal for a person to investigate, never a verdict.
 *
 * Pure module: no Node-RED import. Not on the per-packet path (one call per alert), so it allocates
 * freely.
 *
 * @packageDocumentation
 */
import { assertAnomalyEvent, assertWindowMessage, ContractError } from './contracts';
import { formatCount, formatMetricValue, formatPercent, formatTime } from './units';
import type { AnomalyEvent, Finding, Scope, Severity, WindowMessage } from './contracts';

export { formatCount, formatMetricValue, formatPercent, formatTime };

/**
 * Output shapes of {@link formatAnomaly} / {@link formatMessages}: `text`, `json`, `email`
 * (node-red-node-email), `mqtt` (topic template, JSON payload, retained current state), `slack`,
 * `teams`, `discord` (webhook JSON for an http request node), `syslog` (RFC 5424 line), `cef`
 * (ArcSight CEF line), and for FlowFuse Dashboard 2 (`@flowfuse/node-red-dashboard`):
 * `dashboard-table` (rows of open anomalies for a ui-table, {@link dashboardTableRows}),
 * `dashboard-notification` (a ui-notification toast) and `dashboard-chart` (points of value and
 * baseline for a ui-chart, {@link dashboardChartPoints}).
 */
export type FormatShape = 'text' | 'json' | 'email' | 'mqtt' | 'slack' | 'teams' | 'discord' | 'syslog' | 'cef'
  | 'dashboard-table' | 'dashboard-notification' | 'dashboard-chart';

/** All shapes, for validation and the editor. */
export const FORMAT_SHAPES: readonly FormatShape[] = ['text', 'json', 'email', 'mqtt', 'slack', 'teams', 'discord', 'syslog', 'cef', 'dashboard-table', 'dashboard-notification', 'dashboard-chart'];

/** Default MQTT topic template of the `mqtt` shape. */
export const DEFAULT_TOPIC_TEMPLATE = 'netbaseline/{severity}/{scope}/{key}';

/** Options of {@link formatAnomaly}; each applies to the shapes named. */
export interface FormatOptions {
  /**
   * `mqtt`: topic template; placeholders `{severity}`, `{scope}`, `{key}`, `{rule}`, `{status}`,
   * `{metric}`, `{incident}`, each replaced by a topic-safe level ({@link topicLevel}). Default
   * {@link DEFAULT_TOPIC_TEMPLATE}.
   */
  topicTemplate?: string;
  /**
   * `mqtt`: publish firing events retained (`msg.retain = true`), so that a client connecting later
   * sees the current state; a resolved event is sent (not retained) and then cleared with an empty
   * retained payload on the same topic ({@link FormattedAnomaly.clearRetained}). Use a template
   * whose placeholders do not change while an anomaly lasts (`{status}` does).
   */
  retain?: boolean;
  /** `syslog`: HOSTNAME field (RFC 5424 §6.2.4); default `-` (nil). */
  hostname?: string;
  /** `syslog`: facility 0–23 (RFC 5424 §6.2.1); default 16 (local0). */
  facility?: number;
  /**
   * `dashboard-chart`: the key to plot (`dst 192.168.10.5`). Required for window messages; for
   * anomaly events, empty or absent plots every key.
   */
  chartKey?: string;
  /**
   * `dashboard-chart`: the metric to plot (`synCount`). Empty or absent: an anomaly's primary
   * metric, and {@link DEFAULT_CHART_METRIC} for window messages.
   */
  chartMetric?: string;
}

/** A {@link MaintenanceSummary}-shaped payload from cooldown-gate's second output. */
interface SummaryPayload {
  kind: 'netbaseline/maintenance-summary';
  start: number;
  end: number;
  reason: string;
  held: number;
  message: string;
  [k: string]: unknown;
}

/** What {@link formatAnomaly} returns: the properties to set on the outgoing message. */
export interface FormattedAnomaly {
  /**
   * `text`/`json`/`dashboard-notification`: the MQTT-safe topic (see {@link anomalyTopic}); `email`:
   * the subject line; `dashboard-table`: `netbaseline/open-anomalies`; `dashboard-chart`: the series.
   */
  topic: string;
  /**
   * `text`: the lines; `json`: a deep copy of the event; `email`: the HTML document (all event text
   * escaped); `dashboard-table`: {@link DashboardTableRow}[]; `dashboard-notification`: the toast
   * text; `dashboard-chart`: `{ x, y }`.
   */
  payload: string | object;
  /**
   * `email` only: the plain-text alternative part; node-red-node-email reads it as `msg.plaintext`
   * when `msg.payload` is HTML.
   */
  plaintext?: string;
  /** `mqtt` with `retain`: the value for `msg.retain`. */
  retain?: boolean;
  /**
   * `mqtt` with `retain`, resolved events: after this message, publish an empty payload retained on
   * the same topic to clear the retained state (MQTT 3.1.1 §3.3.1.3).
   */
  clearRetained?: boolean;
  /** Webhook shapes: `{ 'content-type': 'application/json' }` for the http request node. */
  headers?: Record<string, string>;
  /**
   * `dashboard-notification`: the value for `msg.ui_update`, which ui-notification reads to set
   * its border colour for this toast (`{ color: '#c62828' }`).
   */
  uiUpdate?: { color: string };
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
export function formatAnomaly(event: AnomalyEvent, shape: FormatShape, options: FormatOptions = {}): FormattedAnomaly {
  if (isSummary(event)) return formatSummary(event, shape, options);
  assertAnomalyEvent(event);
  switch (shape) {
    case 'text':
      return { topic: anomalyTopic(event), payload: formatText(event) };
    case 'json':
      return { topic: anomalyTopic(event), payload: copyEvent(event) };
    case 'email':
      return formatEmail(event);
    case 'mqtt':
      return formatMqtt(event, options);
    case 'slack':
      return webhook(event, formatSlack(event));
    case 'teams':
      return webhook(event, formatTeams(event));
    case 'discord':
      return webhook(event, formatDiscord(event));
    case 'syslog':
      return { topic: anomalyTopic(event), payload: formatSyslog(event, options) };
    case 'cef':
      return { topic: anomalyTopic(event), payload: formatCef(event) };
    case 'dashboard-notification':
      return formatNotification(event);
    case 'dashboard-table':
      throw new ContractError(TABLE_NEEDS_LIST);
    case 'dashboard-chart':
      throw new ContractError('dashboard-chart sends one message per point: use formatMessages');
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

/** `HIGH`, `MEDIUM`, or `RESOLVED` for a resolved event. */
function label(event: AnomalyEvent): string {
  return isResolved(event) ? 'RESOLVED' : event.severity.toUpperCase();
}

function isResolved(event: AnomalyEvent): boolean {
  return (event.status as string) === 'resolved';
}

function formatText(event: AnomalyEvent): string {
  const held = heldBack(event);
  const head = oneLine(`[${label(event)}] ${formatTime(event.time)} ${event.rule} ${event.key}: ${event.message}`)
    + (held > 0 && !isResolved(event) ? ` [${plural(held, 'repeat', 'repeats')} held back]` : '');
  if (isResolved(event)) return head; // the message says duration, peak and repeats
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
  if (isResolved(event)) {
    if (typeof event.firstSeen === 'number' && typeof event.lastSeen === 'number') {
      rows.push({ label: 'Lasted', value: `${formatDuration(event.durationMs ?? event.lastSeen - event.firstSeen)}, from ${formatTime(event.firstSeen)} to ${formatTime(event.lastSeen)}` });
    }
    if (typeof event.peakValue === 'number') rows.push({ label: 'Peak', value: `${formatMetricValue(event.metric, event.peakValue)} (${oneLine(event.metric)})` });
    rows.push({ label: 'Held back', value: `${plural(held, 'repeat', 'repeats')} while it lasted` });
  } else if (held > 0) rows.push({ label: 'Held back', value: `${plural(held, 'repeat', 'repeats')} of this alert since the last one sent (cooldown)` });
  const inc = event.incident;
  if (inc && typeof inc === 'object' && typeof inc.id === 'string') {
    rows.push({ label: 'Incident', value: `${oneLine(inc.id)}: ${plural(inc.events, 'anomaly', 'anomalies')} on ${plural(inc.keyCount, 'key', 'keys')} (${(inc.keys ?? []).map(oneLine).join(', ')}), rules ${(inc.rules ?? []).map(oneLine).join(', ')}` });
  }
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
  const severity = label(event);
  let subject = oneLine(`[netbaseline] ${severity} ${event.rule} on ${event.key}`).trim();
  if (subject.length > SUBJECT_MAX) subject = `${subject.slice(0, SUBJECT_MAX - 1)}…`;

  const rows = details(event);
  const findings = findingsOf(event);
  const labelWidth = Math.max(...rows.map((r) => r.label.length)) + 1;
  const text = [
    `${isResolved(event) ? 'Resolved' : `${severity} anomaly`}: ${oneLine(event.rule)} on ${oneLine(event.key)}`,
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
    `<h2>${isResolved(event) ? 'Resolved' : `${escapeHtml(severity)} anomaly`}: ${escapeHtml(oneLine(event.rule))} on ${escapeHtml(oneLine(event.key))}</h2>`,
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

// ---------------------------------------------------------------------------------------------
// MQTT
// ---------------------------------------------------------------------------------------------

/**
 * Fills a topic template: `{severity}`, `{scope}`, `{key}`, `{rule}`, `{status}`, `{metric}`,
 * `{incident}` become topic-safe levels ({@link topicLevel}); other text is kept. Unknown
 * placeholders are a {@link ContractError}.
 */
export function fillTopic(template: string, event: AnomalyEvent): string {
  return template.replace(/\{([a-z]+)\}/g, (_, name: string) => {
    switch (name) {
      case 'severity': return topicLevel(String(event.severity));
      case 'scope': return topicLevel(typeof event.scope === 'string' ? event.scope : 'unknown');
      case 'key': return topicLevel(String(event.key));
      case 'rule': return topicLevel(String(event.rule));
      case 'status': return topicLevel(String(event.status ?? 'firing'));
      case 'metric': return topicLevel(String(event.metric));
      case 'incident': return topicLevel(event.incident && typeof event.incident.id === 'string' ? event.incident.id : 'none');
      default: throw new ContractError(`topic template: unknown placeholder {${name}}; use {severity}, {scope}, {key}, {rule}, {status}, {metric} or {incident}`);
    }
  });
}

/**
 * Checks a topic template: non-empty, no wildcards `+`/`#` outside placeholders, known
 * placeholders only. @throws {ContractError} saying what is wrong.
 */
export function checkTopicTemplate(template: string): void {
  if (typeof template !== 'string' || template.trim() === '') throw new ContractError('topic template must not be empty');
  if (/[+#]/.test(template.replace(/\{[a-z]+\}/g, ''))) throw new ContractError('topic template must not contain the MQTT wildcards + or #');
  for (const m of template.matchAll(/\{([a-z]+)\}/g)) {
    if (!['severity', 'scope', 'key', 'rule', 'status', 'metric', 'incident'].includes(m[1]!)) throw new ContractError(`topic template: unknown placeholder {${m[1]}}`);
  }
}

function formatMqtt(event: AnomalyEvent, options: FormatOptions): FormattedAnomaly {
  const template = options.topicTemplate === undefined || options.topicTemplate === '' ? DEFAULT_TOPIC_TEMPLATE : options.topicTemplate;
  checkTopicTemplate(template);
  const out: FormattedAnomaly = { topic: fillTopic(template, event), payload: copyEvent(event) };
  if (options.retain === true) {
    out.retain = !isResolved(event);
    if (isResolved(event)) out.clearRetained = true;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Webhooks for chat tools
// ---------------------------------------------------------------------------------------------

function webhook(event: AnomalyEvent, body: object): FormattedAnomaly {
  return { topic: anomalyTopic(event), payload: body, headers: { 'content-type': 'application/json' } };
}

/** One line for chat: `HIGH dual-ewma on dst 10.0.0.5: <message>`. */
function chatTitle(event: AnomalyEvent): string {
  return oneLine(`${label(event)} ${event.rule} on ${event.key}`);
}

/** Name/value facts for the chat shapes (the e-mail's detail rows). */
function facts(event: AnomalyEvent): DetailRow[] {
  return details(event).filter((r) => r.label !== 'What happened');
}

/** Slack `mrkdwn` escaping: `& < >` (Slack API "Formatting text for app surfaces"). */
function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Slack incoming webhook body: `text` (the notification fallback) and Block Kit `blocks`: a header,
 * the message, the facts as fields (at most 10, Slack's limit per section) and the findings.
 */
function formatSlack(event: AnomalyEvent): object {
  const title = chatTitle(event);
  const fields = facts(event).slice(0, 10).map((r) => ({ type: 'mrkdwn', text: `*${slackEscape(r.label)}*\n${slackEscape(r.value).slice(0, 1900)}` }));
  const findings = isResolved(event) ? [] : findingsOf(event).map((f) => `• ${slackEscape(findingLine(f))}`);
  return {
    text: `${title}: ${oneLine(event.message)}`.slice(0, 3000),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: title.slice(0, 150) } },
      { type: 'section', text: { type: 'mrkdwn', text: slackEscape(oneLine(event.message)).slice(0, 3000) } },
      { type: 'section', fields },
      ...(findings.length > 0 ? [{ type: 'section', text: { type: 'mrkdwn', text: findings.join('\n').slice(0, 3000) } }] : []),
      { type: 'context', elements: [{ type: 'mrkdwn', text: SIGNAL_NOT_VERDICT }] },
    ],
  };
}

/**
 * Microsoft Teams (Workflows / incoming webhook) body: a message with one Adaptive Card 1.4
 * attachment: a title, the message, a FactSet of the details and the findings.
 */
function formatTeams(event: AnomalyEvent): object {
  const resolved = isResolved(event);
  return {
    type: 'message',
    attachments: [{
      contentType: 'application/vnd.microsoft.card.adaptive',
      content: {
        $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
        type: 'AdaptiveCard',
        version: '1.4',
        body: [
          { type: 'TextBlock', size: 'Large', weight: 'Bolder', wrap: true, text: chatTitle(event), color: resolved ? 'Good' : event.severity === 'high' ? 'Attention' : 'Warning' },
          { type: 'TextBlock', wrap: true, text: oneLine(event.message) },
          { type: 'FactSet', facts: facts(event).map((r) => ({ title: r.label, value: r.value })) },
          ...(resolved ? [] : findingsOf(event).map((f) => ({ type: 'TextBlock', wrap: true, spacing: 'None', text: `- ${findingLine(f)}` }))),
          { type: 'TextBlock', wrap: true, isSubtle: true, text: SIGNAL_NOT_VERDICT },
        ],
      },
    }],
  };
}

/**
 * Discord webhook body: `content` (at most 2,000 characters) and one embed with title,
 * description, colour, fields (at most 25, values ≤ 1,024 characters) and the packet time as
 * its ISO 8601 `timestamp`. Mentions are disabled (`allowed_mentions.parse: []`).
 */
function formatDiscord(event: AnomalyEvent): object {
  const resolved = isResolved(event);
  const color = resolved ? 0x2e7d32 : event.severity === 'high' ? 0xc62828 : 0xf9a825;
  const time = new Date(event.time);
  return {
    content: `${chatTitle(event)}: ${oneLine(event.message)}`.slice(0, 2000),
    allowed_mentions: { parse: [] },
    embeds: [{
      title: chatTitle(event).slice(0, 256),
      description: (resolved ? oneLine(event.message) : findingsOf(event).map((f) => `• ${findingLine(f)}`).join('\n')).slice(0, 4096),
      color,
      fields: facts(event).slice(0, 25).map((r) => ({ name: r.label.slice(0, 256), value: r.value.slice(0, 1024) || '-', inline: false })),
      ...(Number.isNaN(time.getTime()) ? {} : { timestamp: time.toISOString() }),
      footer: { text: SIGNAL_NOT_VERDICT },
    }],
  };
}

// ---------------------------------------------------------------------------------------------
// SIEM lines
// ---------------------------------------------------------------------------------------------

/** IANA private enterprise number used in the syslog SD-ID: 32473 is the number RFC 5612 reserves for documentation; replace it with your own when you have one. */
export const SYSLOG_SD_ID = 'netbaseline@32473';

/** RFC 5424 §6.3.3 PARAM-VALUE escaping: `"`, `\` and `]` get a backslash. */
function sdValue(text: unknown): string {
  return oneLine(text).replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** RFC 5424 PRINTUSASCII field (HOSTNAME, APP-NAME…): printable US-ASCII without spaces, at most `max` characters, `-` when empty. */
function syslogField(text: unknown, max: number): string {
  const v = String(text ?? '').replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return v === '' ? '-' : v;
}

/**
 * An RFC 5424 syslog line (no transport framing):
 * `<PRI>1 TIMESTAMP HOSTNAME netbaseline - ANOMALY|RESOLVED [netbaseline@32473 …] BOM MSG`.
 * PRI = facility × 8 + severity (§6.2.1): high → 4 warning, medium → 5 notice, resolved → 6
 * informational (an alert is a signal, never a verdict). TIMESTAMP is the packet time (§6.2.3,
 * UTC with milliseconds). The structured data carries status, rule, severity, scope, key, metric,
 * value, threshold, deviation, addresses, incident and event id; MSG is the event message, UTF-8
 * with a leading BOM (§6.4).
 */
function formatSyslog(event: AnomalyEvent, options: FormatOptions): string {
  const facility = options.facility ?? 16;
  if (!Number.isInteger(facility) || facility < 0 || facility > 23) throw new ContractError(`syslog facility must be an integer 0–23, got ${String(facility)}`);
  const resolved = isResolved(event);
  const sev = resolved ? 6 : event.severity === 'high' ? 4 : 5;
  const time = new Date(event.time);
  const stamp = Number.isNaN(time.getTime()) ? '-' : time.toISOString();
  const params: Array<[string, unknown]> = [
    ['status', resolved ? 'resolved' : 'firing'], ['rule', event.rule], ['severity', event.severity], ['scope', event.scope],
    ['key', event.key], ['metric', event.metric], ['value', event.value], ['threshold', event.threshold],
    ['deviationPercent', Math.round(Number(event.deviationPercent) * 10) / 10],
  ];
  for (const f of ['srcIp', 'dstIp', 'srcPort', 'dstPort', 'protocol', 'suppressedCount', 'durationMs', 'peakValue'] as const) {
    if (event[f] !== undefined) params.push([f, event[f]]);
  }
  if (event.incident && typeof event.incident.id === 'string') params.push(['incident', event.incident.id]);
  if (typeof event.id === 'string') params.push(['id', event.id]);
  const sd = `[${SYSLOG_SD_ID} ${params.map(([k, v]) => `${k}="${sdValue(v)}"`).join(' ')}]`;
  return `<${facility * 8 + sev}>1 ${stamp} ${syslogField(options.hostname, 255)} netbaseline - ${resolved ? 'RESOLVED' : 'ANOMALY'} ${sd} \uFEFF${oneLine(event.message)}`;
}

/** CEF header field escaping: `\` and `|` (ArcSight CEF Implementation Standard, "Character encoding"). */
function cefHeader(text: unknown): string {
  return oneLine(text).replace(/[\\|]/g, (c) => `\\${c}`);
}

/** CEF extension value escaping: `\` and `=` get a backslash, line breaks become `\n`. */
function cefValue(text: unknown): string {
  return String(text).replace(/[\\=]/g, (c) => `\\${c}`).replace(/\r\n|\r|\n/g, '\\n');
}

/** Version written in CEF's Device Version field. */
export const CEF_DEVICE_VERSION = '1';

/**
 * An ArcSight CEF line: `CEF:0|netbaseline|node-red-traffic-anomaly|1|<rule>[:resolved]|<name>|<severity>|<extension>`.
 * Severity 0–10: high 8, medium 5, resolved 1. Extension keys (CEF standard dictionary): `rt`
 * (packet time, epoch ms), `src`/`dst`/`spt`/`dpt`/`proto`, `msg`, `cs1`=key, `cs2`=metric,
 * `cs3`=incident id, `cs4`=status, `cn1`=value, `cn2`=threshold, `cn3`=suppressed repeats, each
 * custom field with its `…Label`, and `externalId` = the event id.
 */
function formatCef(event: AnomalyEvent): string {
  const resolved = isResolved(event);
  const severity = resolved ? 1 : event.severity === 'high' ? 8 : 5;
  const ext: Array<[string, unknown]> = [['rt', Math.round(event.time)]];
  if (event.srcIp !== undefined) ext.push(['src', event.srcIp]);
  if (event.dstIp !== undefined) ext.push(['dst', event.dstIp]);
  if (event.srcPort !== undefined) ext.push(['spt', event.srcPort]);
  if (event.dstPort !== undefined) ext.push(['dpt', event.dstPort]);
  if (event.protocol !== undefined) ext.push(['proto', String(event.protocol).toUpperCase()]);
  ext.push(['cs1Label', 'key'], ['cs1', event.key], ['cs2Label', 'metric'], ['cs2', event.metric]);
  if (event.incident && typeof event.incident.id === 'string') ext.push(['cs3Label', 'incident'], ['cs3', event.incident.id]);
  ext.push(['cs4Label', 'status'], ['cs4', resolved ? 'resolved' : 'firing']);
  ext.push(['cn1Label', 'value'], ['cn1', Math.round(event.value)], ['cn2Label', 'threshold'], ['cn2', Math.round(event.threshold)]);
  ext.push(['cn3Label', 'suppressedCount'], ['cn3', heldBack(event)]);
  if (typeof event.id === 'string') ext.push(['externalId', event.id]);
  ext.push(['msg', oneLine(event.message)]);
  const name = `${resolved ? 'Resolved: ' : ''}${event.rule} on ${event.key}`;
  return `CEF:0|netbaseline|node-red-traffic-anomaly|${CEF_DEVICE_VERSION}|${cefHeader(`${event.rule}${resolved ? ':resolved' : ''}`)}|${cefHeader(name)}|${severity}|${ext.map(([k, v]) => `${k}=${cefValue(v)}`).join(' ')}`;
}

// ---------------------------------------------------------------------------------------------
// Maintenance summaries (cooldown-gate output 2)
// ---------------------------------------------------------------------------------------------

function isSummary(value: unknown): value is SummaryPayload {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'netbaseline/maintenance-summary';
}

/** A maintenance summary in `shape`: its message as the text of each shape. */
function formatSummary(summary: SummaryPayload, shape: FormatShape, options: FormatOptions): FormattedAnomaly {
  if (typeof summary.message !== 'string') throw new ContractError('maintenance summary: message must be a string');
  const text = oneLine(summary.message);
  const title = 'Maintenance ended';
  switch (shape) {
    case 'text': return { topic: 'netbaseline/maintenance', payload: `[MAINTENANCE] ${formatTime(Number(summary.end))} ${text}` };
    case 'json': return { topic: 'netbaseline/maintenance', payload: structuredClone(summary) };
    case 'mqtt': return { topic: 'netbaseline/maintenance', payload: structuredClone(summary), ...(options.retain ? { retain: false } : {}) };
    case 'email': return {
      topic: `[netbaseline] ${title}: ${formatCount(Number(summary.held))} alerts held back`,
      payload: `<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body style="font-family:sans-serif"><h2>${title}</h2><p>${escapeHtml(text)}</p></body></html>\n`,
      plaintext: `${title}\n\n${text}\n`,
    };
    case 'slack': return webhookBody({ text: `${title}: ${slackEscape(text)}` });
    case 'teams': return webhookBody({ type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: { $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', type: 'AdaptiveCard', version: '1.4', body: [{ type: 'TextBlock', weight: 'Bolder', text: title }, { type: 'TextBlock', wrap: true, text }] } }] });
    case 'discord': return webhookBody({ content: `${title}: ${text}`.slice(0, 2000), allowed_mentions: { parse: [] } });
    case 'syslog': {
      const t = new Date(Number(summary.end));
      return { topic: 'netbaseline/maintenance', payload: `<${(options.facility ?? 16) * 8 + 6}>1 ${Number.isNaN(t.getTime()) ? '-' : t.toISOString()} ${syslogField(options.hostname, 255)} netbaseline - MAINTENANCE [${SYSLOG_SD_ID} held="${sdValue(summary.held)}"] \uFEFF${text}` };
    }
    case 'cef': return { topic: 'netbaseline/maintenance', payload: `CEF:0|netbaseline|node-red-traffic-anomaly|${CEF_DEVICE_VERSION}|maintenance|${title}|1|rt=${Math.round(Number(summary.end))} cn3Label=suppressedCount cn3=${cefValue(summary.held)} msg=${cefValue(text)}` };
    case 'dashboard-notification': return { topic: 'netbaseline/maintenance', payload: `${title}: ${text}`, uiUpdate: { color: DASHBOARD_COLORS.maintenance } };
    case 'dashboard-table':
    case 'dashboard-chart':
      throw new ContractError(`${shape} does not show maintenance summaries: wire cooldown-gate's second output to a dashboard-notification formatter`);
    default:
      throw new ContractError(`unknown format shape ${JSON.stringify(shape)}; expected one of ${FORMAT_SHAPES.join(', ')}`);
  }
}

function webhookBody(body: object): FormattedAnomaly {
  return { topic: 'netbaseline/maintenance', payload: body, headers: { 'content-type': 'application/json' } };
}

// ---------------------------------------------------------------------------------------------
// FlowFuse Dashboard 2 (@flowfuse/node-red-dashboard 1.x: ui-table, ui-notification, ui-chart)
// ---------------------------------------------------------------------------------------------

/** Colours of the dashboard shapes (Material red 800, yellow 800, green 800, blue 700). */
export const DASHBOARD_COLORS = { high: '#c62828', medium: '#f9a825', resolved: '#2e7d32', maintenance: '#1976d2' } as const;

/** Metric a `dashboard-chart` plots from window messages when none is chosen. */
export const DEFAULT_CHART_METRIC = 'packetsPerSecond';

const TABLE_NEEDS_LIST =
  'dashboard-table expects the list of open anomalies (an array: cooldown-gate\'s answer to msg.query = "open" on its third output); '
  + 'a single event would replace the whole table: send msg.query = "open" to cooldown-gate after each event';

/**
 * One row of the `dashboard-table` shape: one open anomaly (one key and rule) for a Dashboard 2
 * ui-table. Numbers are kept as numbers (for sorting) beside their `…Text` for people.
 */
export interface DashboardTableRow {
  /** `<rule>|<key>`: stable while the anomaly is open (cooldown-gate keeps one entry per key and rule). */
  id: string;
  severity: Severity;
  /** {@link DASHBOARD_COLORS} of the severity, for a ui-table column of type "color". */
  color: string;
  rule: string;
  scope: Scope | string;
  key: string;
  /**
   * The address the key stands for, the one to allow-list on a false positive: `srcIp` of a
   * srcHost key, `dstIp` of a dstHost key or a service (the server), the source of a flow or a
   * host pair (the side that sends), the network address of a subnet key; `''` for interface keys.
   */
  address: string;
  /**
   * The prefix to act on: {@link address} as a host prefix (`/32` IPv4, `/128` IPv6), the subnet's
   * own prefix for a subnet key (`10.0.0.0/24`); `''` when there is none.
   */
  cidr: string;
  /** Primary metric of the latest event. */
  metric: string;
  value: number;
  /** `12.3 Mbit/s`, `1,024 ports`… ({@link formatMetricValue}). */
  valueText: string;
  threshold: number;
  thresholdText: string;
  /** `1.2 kpps ±0.3 kpps (mature)`, or `none` for rules without a baseline (static, port-scan). */
  baselineText: string;
  deviationPercent: number;
  /** `+925%`. */
  deviationText: string;
  /** Packet time the anomaly began (cooldown-gate's `firstSeen`, else the window start), ISO 8601 UTC. */
  since: string;
  /** Packet time of its latest event (window end), ISO 8601 UTC. */
  last: string;
  /** Epoch ms of {@link last} (sorting). */
  time: number;
  /** Repeats cooldown-gate held back since it began. */
  heldBack: number;
  /** Metrics of the key that deviated in the latest window. */
  findings: number;
  /** Incident id, `''` without one. */
  incident: string;
  /** The event's sentence, on one line. */
  message: string;
}

/** The address and prefix to act on for `event` (see {@link DashboardTableRow.address}). */
function eventTarget(event: AnomalyEvent): { address: string; cidr: string } {
  const pick = (v: unknown): string => (typeof v === 'string' ? v : '');
  const host = (address: string): { address: string; cidr: string } => ({ address, cidr: hostPrefix(address) });
  switch (event.scope as string) {
    case 'srcHost': return host(pick(event.srcIp));
    case 'dstHost':
    case 'service': return host(pick(event.dstIp));
    case 'flow':
    case 'hostPair': return host(pick(event.srcIp) || pick(event.dstIp));
    case 'subnet': {
      // `dst 10.0.0.0/24` / `src 2001:db8::/64`, or the event's own `subnet` field when it has one
      const prefix = pick((event as { subnet?: unknown }).subnet) || (/^(?:src|dst) (\S+\/\d{1,3})$/.exec(event.key)?.[1] ?? '');
      return { address: prefix.replace(/\/\d+$/, ''), cidr: prefix };
    }
    default: return { address: '', cidr: '' };
  }
}

/** A host prefix for an address: `a.b.c.d/32`, `…/128` for IPv6 (`::ffff:a.b.c.d` as IPv4). */
function hostPrefix(address: string): string {
  if (address === '') return '';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return `${mapped[1]}/32`;
  return address.includes(':') ? `${address}/128` : `${address}/32`;
}

const SEVERITY_ORDER: Record<string, number> = { high: 0, medium: 1 };

/**
 * Rows for a Dashboard 2 ui-table from the open anomalies (cooldown-gate's answer to
 * `msg.query = "open"`): one row per anomaly, high before medium, then the latest first, then by
 * key. Send them as `msg.payload` to a ui-table whose action is *replace*: the table then always
 * shows exactly what is open, and a resolved anomaly (no longer open) loses its row. Resolved
 * events in the list are skipped. All text is on one line; ui-table renders text cells as text.
 *
 * @throws {ContractError} when `events` is not an array, naming the first element that is not an
 *   anomaly event.
 */
export function dashboardTableRows(events: unknown): DashboardTableRow[] {
  if (!Array.isArray(events)) throw new ContractError(TABLE_NEEDS_LIST);
  const rows: DashboardTableRow[] = [];
  events.forEach((event: unknown, i: number) => {
    try {
      assertAnomalyEvent(event);
    } catch (err) {
      throw new ContractError(`open anomalies[${i}]: ${(err as Error).message}`);
    }
    if (isResolved(event)) return;
    const { address, cidr } = eventTarget(event);
    const primary = findingsOf(event)[0]!;
    const b = event.baseline;
    const firstSeen = typeof event.firstSeen === 'number' ? event.firstSeen : event.window?.start ?? event.time;
    rows.push({
      id: `${event.rule}|${event.key}`,
      severity: event.severity,
      color: DASHBOARD_COLORS[event.severity] ?? DASHBOARD_COLORS.medium,
      rule: oneLine(event.rule),
      scope: typeof event.scope === 'string' ? event.scope : 'unknown',
      key: oneLine(event.key),
      address,
      cidr,
      metric: oneLine(event.metric),
      value: event.value,
      valueText: formatMetricValue(event.metric, event.value),
      threshold: event.threshold,
      thresholdText: formatMetricValue(event.metric, event.threshold),
      baselineText: b && typeof b === 'object' ? `${baselineValue({ ...primary, metric: event.metric, baseline: b })} (${String(b.state)})` : 'none',
      deviationPercent: event.deviationPercent,
      deviationText: formatPercent(event.deviationPercent),
      since: formatTime(firstSeen),
      last: formatTime(event.time),
      time: event.time,
      heldBack: heldBack(event),
      findings: findingsOf(event).length,
      incident: event.incident && typeof event.incident.id === 'string' ? oneLine(event.incident.id) : '',
      message: oneLine(event.message),
    });
  });
  rows.sort((a, b) => (SEVERITY_ORDER[a.severity] ?? 2) - (SEVERITY_ORDER[b.severity] ?? 2) || b.time - a.time || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return rows;
}

/** Longest toast text; ui-notification shows the whole payload. */
const NOTIFICATION_MAX = 300;

/**
 * `dashboard-notification`: `payload` = one line, `HIGH port-scan on src 10.0.0.66: <message>`
 * (`RESOLVED …` for a resolved event, `· 12 repeats held back` when the cooldown held some), at most
 * 300 characters, plain text (leave the ui-notification's *Accept raw HTML* off); `topic` =
 * {@link anomalyTopic}; `uiUpdate` = `{ color }` from {@link DASHBOARD_COLORS} (high red, medium
 * amber, resolved green), for `msg.ui_update`.
 */
function formatNotification(event: AnomalyEvent): FormattedAnomaly {
  const held = heldBack(event);
  let text = `${chatTitle(event)}: ${oneLine(event.message)}${held > 0 && !isResolved(event) ? ` · ${plural(held, 'repeat', 'repeats')} held back` : ''}`;
  if (text.length > NOTIFICATION_MAX) text = `${text.slice(0, NOTIFICATION_MAX - 1)}…`;
  const color = isResolved(event) ? DASHBOARD_COLORS.resolved : DASHBOARD_COLORS[event.severity] ?? DASHBOARD_COLORS.medium;
  return { topic: anomalyTopic(event), payload: text, uiUpdate: { color } };
}

/** One point of a ui-chart line: send as `msg.topic = series`, `msg.payload = { x, y }`. */
export interface ChartPoint {
  /** Line name: `<key> <metric>`, `<key> baseline`, `<key> threshold`. */
  series: string;
  /** Packet time, epoch ms (the window end). */
  x: number;
  /** Value in the metric's unit ({@link METRICS}). */
  y: number;
}

/**
 * Points for a Dashboard 2 ui-chart of a key's traffic against its baseline (x = packet time).
 *
 * - A window message annotated by ewma-baseline (`kind: "netbaseline/window"`): the record of
 *   `options.chartKey` gives `<key> <metric>` = its value and `<key> baseline` = the metric's slow
 *   EWMA as it stood before the window (absent while the key has no baseline for it), at x =
 *   `windowEnd`. No record of that key in the window: no points (a gap). `options.chartKey` is
 *   required for windows.
 * - An anomaly event (firing): `<key> <metric>` = the value, `<key> baseline` = the finding's slow
 *   EWMA (when the rule uses one) and `<key> threshold` = the threshold it crossed, at x = `time`
 *   (the window end). Events of another key than `options.chartKey` (when set), resolved events
 *   and events without a finding on `options.chartMetric` (when set) give no points.
 *
 * The metric is `options.chartMetric`, else the anomaly's primary metric, else
 * {@link DEFAULT_CHART_METRIC} for windows. For the chart: x-axis type *timescale*, series
 * `msg.topic`, x = key `x`, y = key `y`; set *remove older* to 0 when you replay old captures
 * (ui-chart prunes by wall-clock time).
 *
 * @throws {ContractError} when `input` is neither a window nor an anomaly event, or a window
 *   arrives without `options.chartKey`.
 */
export function dashboardChartPoints(input: unknown, options: Pick<FormatOptions, 'chartKey' | 'chartMetric'> = {}): ChartPoint[] {
  const key = typeof options.chartKey === 'string' ? options.chartKey.trim() : '';
  const wanted = typeof options.chartMetric === 'string' ? options.chartMetric.trim() : '';
  const kind = typeof input === 'object' && input !== null ? (input as { kind?: unknown }).kind : undefined;
  if (kind === 'netbaseline/window') {
    assertWindowMessage(input);
    if (key === '') throw new ContractError('dashboard-chart: choose the key to plot (Chart key, or msg.chartKey) to plot window messages');
    const metric = wanted || DEFAULT_CHART_METRIC;
    const window = input as WindowMessage;
    const record = window.records.find((r) => r.key === key);
    if (record === undefined) return [];
    const points: ChartPoint[] = [];
    const value = record.metrics[metric];
    if (typeof value === 'number') points.push({ series: `${key} ${metric}`, x: window.windowEnd, y: value });
    const base = record.baseline?.metrics?.[metric];
    if (base && typeof base.slow === 'number' && Number.isFinite(base.slow)) points.push({ series: `${key} baseline`, x: window.windowEnd, y: base.slow });
    return points;
  }
  assertAnomalyEvent(input);
  const event = input;
  if (isResolved(event) || (key !== '' && event.key !== key)) return [];
  const finding = wanted === '' ? findingsOf(event)[0]! : findingsOf(event).find((f) => f.metric === wanted);
  if (finding === undefined) return [];
  const series = oneLine(event.key);
  const points: ChartPoint[] = [{ series: `${series} ${finding.metric}`, x: event.time, y: finding.value }];
  const b = finding.baseline;
  if (b && typeof b === 'object' && typeof b.slow === 'number' && Number.isFinite(b.slow)) points.push({ series: `${series} baseline`, x: event.time, y: b.slow });
  if (typeof finding.threshold === 'number' && Number.isFinite(finding.threshold)) points.push({ series: `${series} threshold`, x: event.time, y: finding.threshold });
  return points;
}

/**
 * Every message a shape makes of one input payload, as the node sends them (in order, on its one
 * output):
 * - `dashboard-table`: one message, `payload` = {@link dashboardTableRows} of the list, `topic`
 *   `netbaseline/open-anomalies`;
 * - `dashboard-chart`: one message per {@link ChartPoint}, `topic` = its series, `payload` =
 *   `{ x, y }` (none when the input has nothing for the chosen key);
 * - every other shape: `[formatAnomaly(payload, shape, options)]`.
 *
 * @throws {ContractError} as {@link formatAnomaly}, {@link dashboardTableRows} and {@link dashboardChartPoints} do.
 */
export function formatMessages(payload: unknown, shape: FormatShape, options: FormatOptions = {}): FormattedAnomaly[] {
  if (shape === 'dashboard-table') {
    if (isSummary(payload)) return [formatSummary(payload, shape, options)]; // throws: says where summaries go
    return [{ topic: 'netbaseline/open-anomalies', payload: dashboardTableRows(payload) }];
  }
  if (shape === 'dashboard-chart') {
    if (isSummary(payload)) return [formatSummary(payload, shape, options)];
    return dashboardChartPoints(payload, options).map((p) => ({ topic: p.series, payload: { x: p.x, y: p.y } }));
  }
  return [formatAnomaly(payload as AnomalyEvent, shape, options)];
}
