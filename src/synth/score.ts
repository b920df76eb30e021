/**
 * Scores alerts against a labeled capture's ground truth ({@link GroundTruth} of
 * `labeled-traffic.ts`): which attacks were detected, how late, and how many alerts were wasted.
 * Used by `bench/quality.js`; pure, no I/O.
 *
 * Matching rules (times are packet time, epoch ms; an alert's time span is its window
 * `[window.start, window.end)`):
 * - an alert **overlaps** an event when `window.end > startMs` and `window.start ≤ endMs + graceMs`
 *   (the grace lets the window that closes just after the last packet count);
 * - a **hit**: an overlapping alert of a malicious event whose `key` is one of the event's
 *   `alertKeys`. An event is **detected** when it has at least one hit; its **delay** is the first
 *   hit's `time` (its window end: when the alert is emitted) − the event's `startMs`;
 * - **related**: an overlapping alert that is not a hit but concerns the event: an interface-scope
 *   alert, or one whose key is in `alertKeys` or whose `srcIp` / `dstIp` is in the event's `hosts`.
 *   Related to an attack: neither a hit nor a false alert (counted as `relatedToAttack`). Related to a
 *   benign look-alike only: a **benign alert**, counted per benign event;
 * - anything else is a **false alert**.
 * An alert is classified once, in that order of preference (hit, related to an attack, benign,
 * false); an alert can be a hit for two overlapping attacks.
 */
import type { GroundTruth, TruthEvent } from './labeled-traffic';

/** The parts of an anomaly event (contracts `AnomalyEvent`) that scoring reads. */
export interface ScoredAlert {
  key: string;
  scope: string;
  rule: string;
  /** Emission time = window end, epoch ms. */
  time: number;
  window: { start: number; end: number };
  srcIp?: string;
  dstIp?: string;
  /** `firing` alerts are scored; others (resolved) are ignored. */
  status?: string;
}

/** How each event fared. */
export interface EventOutcome {
  event: TruthEvent;
  detected: boolean;
  /** First hit's time − event start, ms; null when not detected (or benign). */
  delayMs: number | null;
  /** Alerts that are hits for this event. */
  hits: number;
  /** Benign events: alerts attributed to it; attacks: related alerts. */
  related: number;
}

/** Classification of one alert. */
export type AlertClass = 'hit' | 'related-attack' | 'benign' | 'false';

/** Result of {@link scoreRun}. */
export interface RunScore {
  events: EventOutcome[];
  classes: AlertClass[];
  counts: { alerts: number; hits: number; relatedToAttack: number; benign: number; false: number };
  /** Hours of packet time of the capture (durationMs / 3,600,000). */
  hours: number;
}

/**
 * Scores the firing alerts of one run.
 * @param truth the ground truth of the capture
 * @param alerts alerts in any order; non-firing ones are skipped (not counted)
 * @param graceMs see the matching rules above (default 60,000 ms); ≥ 0
 * @throws {RangeError} on a negative grace
 */
export function scoreRun(truth: Pick<GroundTruth, 'events' | 'durationMs'>, alerts: readonly ScoredAlert[], graceMs = 60_000): RunScore {
  if (!(graceMs >= 0)) throw new RangeError(`graceMs must be ≥ 0, got ${graceMs}`);
  const outcomes: EventOutcome[] = truth.events.map((event) => ({ event, detected: false, delayMs: null, hits: 0, related: 0 }));
  const hostSets = truth.events.map((e) => new Set(e.hosts));
  const classes: AlertClass[] = [];
  const counts = { alerts: 0, hits: 0, relatedToAttack: 0, benign: 0, false: 0 };
  const firing = alerts.filter((a) => a.status === undefined || a.status === 'firing').sort((a, b) => a.time - b.time);
  for (const a of firing) {
    counts.alerts++;
    let hit = false, relatedAttack = false;
    const benignOf: EventOutcome[] = [];
    outcomes.forEach((o, i) => {
      const e = o.event;
      if (!(a.window.end > e.startMs && a.window.start <= e.endMs + graceMs)) return;
      const keyed = e.alertKeys.includes(a.key);
      const concerns = keyed || a.scope === 'interface' || (a.srcIp !== undefined && hostSets[i]!.has(a.srcIp)) || (a.dstIp !== undefined && hostSets[i]!.has(a.dstIp));
      if (e.malicious && keyed) {
        hit = true;
        o.hits++;
        if (!o.detected) { o.detected = true; o.delayMs = a.time - e.startMs; }
      } else if (e.malicious && concerns) {
        relatedAttack = true;
        o.related++;
      } else if (!e.malicious && concerns) {
        benignOf.push(o);
      }
    });
    let c: AlertClass;
    if (hit) c = 'hit';
    else if (relatedAttack) c = 'related-attack';
    else if (benignOf.length > 0) { c = 'benign'; for (const o of benignOf) o.related++; }
    else c = 'false';
    classes.push(c);
    if (c === 'hit') counts.hits++; else if (c === 'related-attack') counts.relatedToAttack++; else if (c === 'benign') counts.benign++; else counts.false++;
  }
  return { events: outcomes, classes, counts, hours: truth.durationMs / 3_600_000 };
}

/** Per event kind, over several runs. */
export interface KindSummary {
  kind: string;
  malicious: boolean;
  events: number;
  detected: number;
  /** detected / events (0 … 1); NaN without events. */
  recall: number;
  /** Delays of the detected events, ms, ascending. */
  delaysMs: number[];
  /** Median of `delaysMs` (mean of the two middle ones for an even count); null when none. */
  medianDelayMs: number | null;
  /** Benign kinds: alerts attributed to events of this kind. */
  alerts: number;
}

/** Summary of several runs (seeds) of one detector configuration. */
export interface QualitySummary {
  kinds: KindSummary[];
  /** Malicious events detected / malicious events, over all kinds. */
  recall: number;
  hours: number;
  falseAlerts: number;
  falseAlertsPerHour: number;
  benignAlerts: number;
  benignAlertsPerHour: number;
  relatedToAttack: number;
  alerts: number;
}

/** Median of numbers (mean of the two middle values for an even count); null for none. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Adds up {@link RunScore}s per event kind (kinds in order of first appearance). */
export function summarize(runs: readonly RunScore[]): QualitySummary {
  const byKind = new Map<string, KindSummary>();
  let hours = 0, falseAlerts = 0, benignAlerts = 0, relatedToAttack = 0, alerts = 0, malicious = 0, detected = 0;
  for (const r of runs) {
    hours += r.hours;
    falseAlerts += r.counts.false; benignAlerts += r.counts.benign; relatedToAttack += r.counts.relatedToAttack; alerts += r.counts.alerts;
    for (const o of r.events) {
      let k = byKind.get(o.event.kind);
      if (k === undefined) { k = { kind: o.event.kind, malicious: o.event.malicious, events: 0, detected: 0, recall: NaN, delaysMs: [], medianDelayMs: null, alerts: 0 }; byKind.set(o.event.kind, k); }
      k.events++;
      if (o.event.malicious) {
        malicious++;
        if (o.detected) { k.detected++; detected++; k.delaysMs.push(o.delayMs!); }
      } else {
        k.alerts += o.related;
      }
    }
  }
  for (const k of byKind.values()) {
    k.recall = k.events > 0 ? k.detected / k.events : NaN;
    k.delaysMs.sort((a, b) => a - b);
    k.medianDelayMs = median(k.delaysMs);
  }
  return {
    kinds: [...byKind.values()], recall: malicious > 0 ? detected / malicious : NaN, hours,
    falseAlerts, falseAlertsPerHour: hours > 0 ? falseAlerts / hours : NaN,
    benignAlerts, benignAlertsPerHour: hours > 0 ? benignAlerts / hours : NaN, relatedToAttack, alerts,
  };
}
