/**
 * Alert lifecycle for {@link AnomalyEvent}s: the core of the `cooldown-gate` node.
 *
 * A detector that fires every window while a scan or a flood lasts would send the same alert every
 * few seconds. The gate:
 *
 * - **Cooldown**: lets the first event of a key and rule through, holds back repeats for a cooldown
 *   of packet time and counts them, and reports that count on the next event that passes. A rise in
 *   severity (medium → high) passes at once.
 * - **Resolution**: an anomaly (key, rule) that raised no event for `resolveAfterMs` of packet time
 *   is resolved: the gate emits a copy of its last event with `status: 'resolved'`, its first and last
 *   packet time, duration, peak value and the repeats held back (like ntopng's engaged/released
 *   alerts and Prometheus Alertmanager's resolved notifications). The detector only emits anomalies,
 *   so "not anomalous" is judged from the packet time of *ticks*: {@link CooldownGate.advance} with a
 *   window's end time, one call per evaluated window. Only anomalies that were notified are announced
 *   as resolved.
 * - **Incidents**: events on the same victim (destination address) or from the same source address
 *   within `incidentWindowMs` are one incident with a stable id and counters; interface-scope events
 *   (which have no address) join the incident active in that period, or open one that the next host
 *   event adopts. In `notify: 'incident'` mode only one event per incident passes (plus escalations
 *   and a reminder after the cooldown), and one resolved event is emitted when all of its anomalies
 *   are resolved: a flood that trips six metrics is one page, not six.
 * - **Maintenance**: on/off ({@link CooldownGate.setMaintenance}) and recurring schedules (days of
 *   week + time range in a time zone, {@link parseSchedules}); while maintenance is on, state goes on
 *   being tracked but nothing passes; when it ends a {@link MaintenanceSummary} says what was held.
 *
 * The clock is packet time ({@link AnomalyEvent.time}, window ends), never the wall clock, so a
 * one-hour capture replayed in seconds behaves exactly as it would live. Schedules are judged on
 * packet time too (for a live capture that is the wall clock).
 *
 * Pure module: no Node-RED import, no timers.
 *
 * @packageDocumentation
 */
import { assertAnomalyEvent, ContractError } from './contracts';
import type { AnomalyEvent, IncidentRef, Severity } from './contracts';
import { formatCount, formatMetricValue, formatTime } from './units';

/** Default cooldown: 5 minutes of packet time. */
export const DEFAULT_COOLDOWN_MS = 300_000;
/** Default bound on the (key, rule) pairs the gate remembers. */
export const DEFAULT_MAX_KEYS = 100_000;
/** Default resolve period: 30 s of packet time without an event (3 windows of 10 s). */
export const DEFAULT_RESOLVE_AFTER_MS = 30_000;
/** Default incident window: events within 60 s of packet time of an incident's latest event may join it. */
export const DEFAULT_INCIDENT_WINDOW_MS = 60_000;
/** Keys listed in an {@link IncidentRef} and in a {@link MaintenanceSummary}. */
const LISTED_KEYS = 20;

/**
 * What passes the gate.
 * - `event`: each (key, rule) on its own: first event, escalations, one event per cooldown.
 * - `incident`: one event per incident: the first (the most telling event of its window), an
 *   escalation of the incident's severity, one reminder per cooldown; one resolved event per incident.
 */
export type NotifyMode = 'event' | 'incident';

/** One recurring maintenance window: on `days` (0 = Sunday … 6 = Saturday) from `fromMinute` to `toMinute` (minutes after local midnight) in `timeZone`. */
export interface MaintenanceSchedule {
  days: number[];
  /** Start, minutes after midnight (inclusive). */
  fromMinute: number;
  /** End, minutes after midnight (exclusive); ≤ fromMinute means the window runs past midnight into the next day. */
  toMinute: number;
  /** IANA time zone name (`Europe/Berlin`, `UTC`), as `Intl.DateTimeFormat` accepts it. */
  timeZone: string;
  /** The line it was parsed from. */
  text: string;
}

/** Options of a {@link CooldownGate}. */
export interface CooldownOptions {
  /** Packet time (ms) during which repeats of a passed event are held back. Finite, ≥ 0 (0 lets everything pass). Default {@link DEFAULT_COOLDOWN_MS}. */
  cooldownMs?: number;
  /** Most (key, rule) pairs remembered; an integer ≥ 1. Default {@link DEFAULT_MAX_KEYS}. */
  maxKeys?: number;
  /** Packet time (ms) without an event after which an anomaly is resolved (judged on {@link CooldownGate.advance}); 0 never resolves. Default {@link DEFAULT_RESOLVE_AFTER_MS}. */
  resolveAfterMs?: number;
  /** Packet time (ms) after an incident's latest event during which related events join it. Default {@link DEFAULT_INCIDENT_WINDOW_MS}. */
  incidentWindowMs?: number;
  /** What passes; default `event`. */
  notify?: NotifyMode;
  /** Recurring maintenance windows (see {@link parseSchedules}); default none. */
  schedules?: MaintenanceSchedule[];
}

/**
 * What {@link CooldownGate.offer} decided.
 * - `pass: true`: forward `event`, a copy of the offered event with `suppressedCount` set to the
 *   repeats held back for this key and rule (incident mode: this incident) since the last event
 *   that passed (0 for a first event), `firstSeen` and `incident`.
 * - `pass: false`: held back; `until` is the packet time (epoch ms) at which the cooldown ends
 *   (reason `cooldown`), or the time of the event (reasons `maintenance`, `incident`: another
 *   event of the same incident was notified).
 */
export type GateDecision =
  | { pass: true; event: AnomalyEvent }
  | { pass: false; reason: 'cooldown' | 'maintenance' | 'incident'; until: number };

/** Sent when a maintenance period ends: what was held back meanwhile. */
export interface MaintenanceSummary {
  kind: 'netbaseline/maintenance-summary';
  version: 1;
  /** Packet time maintenance began and ended, epoch ms. */
  start: number;
  end: number;
  /** `manual` (control message) or `schedule` (the schedule's text). */
  reason: string;
  /** Firing events held back. */
  held: number;
  /** Resolutions not announced because they fell in the maintenance period. */
  resolvedHeld: number;
  /** Held firing events per rule. */
  byRule: Record<string, number>;
  /** Keys of the held events, at most 20. */
  keys: string[];
  keyCount: number;
  /** Anomalies still open at the end (their next event passes as a new one). */
  stillOpen: number;
  /** One line a person can read. */
  message: string;
}

/** What {@link CooldownGate.advance}, {@link CooldownGate.endOfRun} and {@link CooldownGate.offerAll} produce besides passed events. */
export interface GateOutput {
  /** Events to forward, in order: firing events that passed and resolved events. */
  events: AnomalyEvent[];
  /** Maintenance periods that ended. */
  summaries: MaintenanceSummary[];
}

/** Counters of a {@link CooldownGate}. */
export interface CooldownStats {
  /** (key, rule) pairs currently remembered (open anomalies). */
  keys: number;
  /** Events that passed since the gate was created or reset. */
  passed: number;
  /** Events held back since the gate was created or reset. */
  suppressed: number;
  /** (key, rule) pairs forgotten because the gate was at `maxKeys`. */
  evictions: number;
  /** Resolved events emitted. */
  resolved: number;
  /** Incidents currently open. */
  incidents: number;
  /** True while maintenance is on (manual or scheduled, at the gate's clock). */
  maintenance: boolean;
}

/** State kept per (key, rule): one open anomaly. */
interface Entry {
  key: string;
  rule: string;
  /** Packet time of the last event that passed, epoch ms; -Infinity when none passed. */
  lastPassTime: number;
  /** Severity of the last event that passed. */
  lastSeverity: Severity;
  /** Repeats held back since the last event that passed. */
  held: number;
  /** Repeats held back since the anomaly began. */
  heldTotal: number;
  /** Window start of the first event. */
  firstSeen: number;
  /** Time (window end) of the latest event. */
  lastSeen: number;
  peakValue: number;
  /** Incident id. */
  incident: string;
  /** Copy of the latest event (the base of its resolved event and of {@link CooldownGate.openAnomalies}). */
  last: AnomalyEvent;
}

interface Incident {
  id: string;
  opened: number;
  lastSeen: number;
  events: number;
  keys: string[];
  rules: string[];
  addresses: string[];
  severity: Severity;
  source: string;
  /** Open entries in this incident. */
  open: number;
  /** Incident mode: packet time of the last page, -Infinity when none. */
  lastPassTime: number;
  lastPassSeverity: Severity;
  held: number;
  heldTotal: number;
  /** Incident mode: the last page (the base of its resolved event), null before the first. */
  page: AnomalyEvent | null;
  /** Peak of the page's metric on the page's key and rule. */
  pagePeak: number;
}

const SEVERITY_RANK: Record<Severity, number> = { medium: 1, high: 2 };
const MAX_SEVERITY = (a: Severity, b: Severity): Severity => (SEVERITY_RANK[b] > SEVERITY_RANK[a] ? b : a);

function checkOptions(options: CooldownOptions | undefined): Required<CooldownOptions> {
  const o = {
    cooldownMs: options?.cooldownMs ?? DEFAULT_COOLDOWN_MS,
    maxKeys: options?.maxKeys ?? DEFAULT_MAX_KEYS,
    resolveAfterMs: options?.resolveAfterMs ?? DEFAULT_RESOLVE_AFTER_MS,
    incidentWindowMs: options?.incidentWindowMs ?? DEFAULT_INCIDENT_WINDOW_MS,
    notify: options?.notify ?? 'event',
    schedules: options?.schedules ?? [],
  };
  for (const f of ['cooldownMs', 'resolveAfterMs', 'incidentWindowMs'] as const) {
    const v = o[f];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`${f} must be a finite number of milliseconds ≥ 0, got ${String(v)}`);
  }
  if (typeof o.maxKeys !== 'number' || !Number.isInteger(o.maxKeys) || o.maxKeys < 1) {
    throw new RangeError(`maxKeys must be an integer ≥ 1, got ${String(o.maxKeys)}`);
  }
  if (o.notify !== 'event' && o.notify !== 'incident') throw new RangeError(`notify must be "event" or "incident", got ${JSON.stringify(o.notify)}`);
  if (!Array.isArray(o.schedules)) throw new RangeError('schedules must be an array (see parseSchedules)');
  return o;
}

/** Map key of a (key, rule) pair; NUL cannot appear in a rule id. */
const entryId = (key: string, rule: string): string => `${rule}\u0000${key}`;

/** Addresses an event ties an incident to: its source and destination addresses. */
function addressesOf(event: AnomalyEvent): string[] {
  const out: string[] = [];
  if (typeof event.srcIp === 'string' && event.srcIp !== '') out.push(event.srcIp);
  if (typeof event.dstIp === 'string' && event.dstIp !== '' && event.dstIp !== event.srcIp) out.push(event.dstIp);
  return out;
}

/** Window start of an event (its `time` when the window is missing). */
function windowStart(event: AnomalyEvent): number {
  const w = event.window as { start?: unknown } | undefined;
  return w && typeof w.start === 'number' && Number.isFinite(w.start) ? w.start : event.time;
}

/** A duration for people: `40 s`, `2.5 min`, `1.5 h`. */
export function formatDurationMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 1000) return `${formatCount(ms)} ms`;
  if (ms < 120_000) return `${formatCount(ms / 1000)} s`;
  if (ms < 7_200_000) return `${formatCount(ms / 60_000)} min`;
  return `${formatCount(ms / 3_600_000)} h`;
}

/** Which event of a window best tells an incident's story: higher severity, then a host or flow scope over the interface, then the larger deviation. */
function better(a: AnomalyEvent, b: AnomalyEvent): boolean {
  if (SEVERITY_RANK[a.severity] !== SEVERITY_RANK[b.severity]) return SEVERITY_RANK[a.severity] > SEVERITY_RANK[b.severity];
  const ai = a.scope === 'interface' ? 0 : 1;
  const bi = b.scope === 'interface' ? 0 : 1;
  if (ai !== bi) return ai > bi;
  return (Number(a.deviationPercent) || 0) > (Number(b.deviationPercent) || 0);
}

// ---------------------------------------------------------------------------------------------
// Maintenance schedules
// ---------------------------------------------------------------------------------------------

const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/**
 * Parses maintenance schedules, one per line (`#` starts a comment, blank lines are skipped):
 *
 * `<days> <HH:MM>-<HH:MM> [<IANA time zone>]`
 *
 * - days: `daily`, a day (`Sun` … `Sat`, any case, 3 letters or more), a range `Mon-Fri`
 *   (wrapping: `Fri-Mon`), or a comma list of those: `Mon,Wed,Fri-Sat`;
 * - times in 24 h; an end at or before the start runs past midnight (`Sat 22:00-02:00` ends on
 *   Sunday 02:00); `00:00-24:00` is the whole day;
 * - time zone: as `Intl.DateTimeFormat` knows it (`Europe/Berlin`, `America/New_York`, `UTC`);
 *   default `UTC`. Daylight saving is followed: times are local wall-clock times.
 *
 * Example: `Mon-Fri 02:00-03:30 Europe/Berlin`.
 *
 * @throws {RangeError} naming the line and what is wrong.
 */
export function parseSchedules(text: string): MaintenanceSchedule[] {
  if (typeof text !== 'string') throw new RangeError('schedules must be text, one schedule per line');
  const out: MaintenanceSchedule[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    const where = `schedule line ${i + 1} "${line}"`;
    const parts = line.split(/\s+/);
    if (parts.length < 2 || parts.length > 3) throw new RangeError(`${where}: expected "<days> <HH:MM>-<HH:MM> [time zone]", e.g. "Mon-Fri 02:00-03:30 Europe/Berlin"`);
    const days = parseDays(parts[0]!, where);
    const m = /^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/.exec(parts[1]!);
    if (!m) throw new RangeError(`${where}: time range must look like 22:00-06:00`);
    const from = Number(m[1]) * 60 + Number(m[2]);
    const to = Number(m[3]) * 60 + Number(m[4]);
    if (Number(m[1]) > 23 || Number(m[2]) > 59 || Number(m[4]) > 59 || to > 24 * 60) throw new RangeError(`${where}: times must be 00:00 to 24:00`);
    const timeZone = parts[2] ?? 'UTC';
    try {
      new Intl.DateTimeFormat('en-US', { timeZone });
    } catch {
      throw new RangeError(`${where}: unknown time zone "${timeZone}" (use an IANA name such as Europe/Berlin or UTC)`);
    }
    out.push({ days, fromMinute: from, toMinute: to, timeZone, text: line });
  });
  return out;
}

function parseDays(spec: string, where: string): number[] {
  const lower = spec.toLowerCase();
  if (lower === 'daily' || lower === 'every' || lower === '*') return [0, 1, 2, 3, 4, 5, 6];
  const day = (name: string): number => {
    const d = DAY_NAMES.indexOf(name.slice(0, 3));
    if (name.length < 3 || d < 0) throw new RangeError(`${where}: "${name}" is not a day (Sun, Mon, … Sat, or daily)`);
    return d;
  };
  const set = new Set<number>();
  for (const item of lower.split(',')) {
    const range = item.split('-');
    if (range.length === 1) set.add(day(range[0]!));
    else if (range.length === 2) {
      const a = day(range[0]!), b = day(range[1]!);
      for (let d = a; ; d = (d + 1) % 7) { set.add(d); if (d === b) break; }
    } else throw new RangeError(`${where}: bad day range "${item}"`);
  }
  return [...set].sort((x, y) => x - y);
}

const zoneFormats = new Map<string, Intl.DateTimeFormat>();

/** Local weekday (0 = Sunday) and minute of the day of `timeMs` in `timeZone`, through Intl. */
function localDayMinute(timeMs: number, timeZone: string): { day: number; minute: number } {
  let f = zoneFormats.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    zoneFormats.set(timeZone, f);
  }
  let day = 0, hour = 0, minute = 0;
  for (const p of f.formatToParts(new Date(timeMs))) {
    if (p.type === 'weekday') day = DAY_NAMES.indexOf(p.value.slice(0, 3).toLowerCase());
    else if (p.type === 'hour') hour = Number(p.value) % 24;
    else if (p.type === 'minute') minute = Number(p.value);
  }
  return { day, minute: hour * 60 + minute };
}

/**
 * The schedule active at `timeMs` (epoch ms), or null.
 * A window running past midnight belongs to the day it starts on.
 */
export function activeSchedule(schedules: readonly MaintenanceSchedule[], timeMs: number): MaintenanceSchedule | null {
  if (!Number.isFinite(timeMs)) return null;
  for (const s of schedules) {
    const { day, minute } = localDayMinute(timeMs, s.timeZone);
    if (s.fromMinute < s.toMinute) {
      if (s.days.includes(day) && minute >= s.fromMinute && minute < s.toMinute) return s;
    } else {
      if (s.days.includes(day) && minute >= s.fromMinute) return s;
      if (s.days.includes((day + 6) % 7) && minute < s.toMinute) return s;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// The gate
// ---------------------------------------------------------------------------------------------

/** Serialised form written by {@link CooldownGate.toSnapshot} (version 2; version 1 is read too). */
interface CooldownSnapshotV2 {
  kind: 'netbaseline/cooldown-snapshot';
  version: 2;
  passed: number;
  suppressed: number;
  evictions: number;
  resolved: number;
  clock: number | null;
  manualMaintenance: boolean;
  maintenance: MaintenanceState | null;
  entries: Array<Omit<Entry, 'lastPassTime'> & { lastPassTime: number | null }>;
  incidents: Array<Omit<Incident, 'lastPassTime'> & { lastPassTime: number | null }>;
}

interface MaintenanceState {
  start: number;
  reason: string;
  held: number;
  resolvedHeld: number;
  byRule: Record<string, number>;
  keys: string[];
  keyCount: number;
}

/**
 * Holds back repeated anomalies, resolves quiet ones, groups them into incidents and keeps quiet
 * during maintenance. See the module documentation for the behaviour.
 *
 * Cooldown rules (`notify: 'event'`), per (event.key, event.rule):
 * 1. The first event passes (`suppressedCount` 0).
 * 2. An event with `time` < lastPass + `cooldownMs` and a severity not above the last passed one is
 *    held back and counted.
 * 3. An event with a higher severity than the last passed one passes at once (escalation) and
 *    starts a new cooldown; `suppressedCount` carries the repeats held back before it.
 * 4. The first event at or after lastPass + `cooldownMs` passes with `suppressedCount` = the repeats
 *    held back meanwhile, and starts a new cooldown.
 * 5. An event older than the latest event of its (key, rule), or the very same window again (same
 *    id and time), means its source started over (a replay run again, also after a restart with the
 *    saved state, or a capture with older packets): the open anomalies and incidents of that source
 *    are forgotten without being announced and the event passes as a first one; repeats held in the
 *    old run stay counted in {@link stats}`.suppressed` only.
 * 6. After the anomaly was resolved ({@link advance}), its next event is a first event again.
 *
 * In `notify: 'incident'` mode the same rules apply per incident instead of per (key, rule).
 *
 * Bounded: at `maxKeys` pairs a new pair evicts the pair whose latest event is oldest. An evicted
 * pair that fires again passes as a first event.
 *
 * Cost: O(1) per event in event mode plus O(open incidents) to find its incident; O(open pairs) per
 * {@link advance}.
 */
export class CooldownGate {
  readonly cooldownMs: number;
  readonly maxKeys: number;
  readonly resolveAfterMs: number;
  readonly incidentWindowMs: number;
  readonly notify: NotifyMode;
  readonly schedules: readonly MaintenanceSchedule[];
  /** Entries in order of their latest event, oldest first. */
  private entries = new Map<string, Entry>();
  private incidents = new Map<string, Incident>();
  private passed = 0;
  private suppressed = 0;
  private evictions = 0;
  private resolvedCount = 0;
  /** Latest packet time seen by {@link advance}, -Infinity before the first. */
  private clock = -Infinity;
  private manualMaintenance = false;
  private maintenance: MaintenanceState | null = null;

  /**
   * @param options - see {@link CooldownOptions}.
   * @throws {RangeError} when an option is out of range.
   */
  constructor(options?: CooldownOptions) {
    const o = checkOptions(options);
    this.cooldownMs = o.cooldownMs;
    this.maxKeys = o.maxKeys;
    this.resolveAfterMs = o.resolveAfterMs;
    this.incidentWindowMs = o.incidentWindowMs;
    this.notify = o.notify;
    this.schedules = o.schedules;
  }

  /** The gate's packet-time clock (latest {@link advance}), or null before the first. */
  get clockMs(): number | null {
    return Number.isFinite(this.clock) ? this.clock : null;
  }

  /**
   * Decides whether one `event` passes (see the class documentation for the rules). In incident
   * mode an event that is not the first of its window is judged alone; use {@link offerAll} with a
   * window's events to let the most telling one be the page.
   *
   * Maintenance starts or ends at the event's time if a schedule says so; a summary of a period
   * ended this way is only returned by {@link offerAll} and {@link advance}.
   *
   * @param event - an {@link AnomalyEvent}; it is not modified.
   * @returns a {@link GateDecision}; on `pass` the event is a deep copy with `suppressedCount`, `firstSeen` and `incident` set.
   * @throws {ContractError} when `event` is not an anomaly event (the gate's state is unchanged).
   */
  offer(event: AnomalyEvent): GateDecision {
    const summaries: MaintenanceSummary[] = [];
    return this.offerInternal([event], summaries)[0]!;
  }

  /**
   * Offers the events of one window (or any events) together; in incident mode the page of an
   * incident is the most telling of them (higher severity, host over interface scope, larger
   * deviation). Every event is validated before any state changes.
   *
   * @returns the events that passed, in offer order, and maintenance summaries of periods a schedule ended.
   * @throws {ContractError} when one of the events is not an anomaly event (no state changed).
   */
  offerAll(events: AnomalyEvent[]): GateOutput {
    const summaries: MaintenanceSummary[] = [];
    const decisions = this.offerInternal(events, summaries);
    const out: AnomalyEvent[] = [];
    for (const d of decisions) if (d.pass) out.push(d.event);
    return { events: out, summaries };
  }

  private offerInternal(events: AnomalyEvent[], summaries: MaintenanceSummary[]): GateDecision[] {
    for (const e of events) assertAnomalyEvent(e);
    const copies = events.map(copyEvent); // throws before any state change
    const decisions: GateDecision[] = new Array(events.length);
    const byIncident = new Map<string, number[]>();
    copies.forEach((event, i) => {
      if (this.isNewRun(event)) this.startNewRun(typeof event.source === 'string' ? event.source : '');
      const s = this.updateMaintenance(event.time);
      if (s) summaries.push(s);
      const { entry, incident, fresh } = this.track(event);
      const inMaintenance = this.maintenance !== null;
      if (inMaintenance) {
        this.holdForMaintenance(event);
        entry.held++; entry.heldTotal++;
        incident.held++; incident.heldTotal++;
        this.suppressed++;
        decisions[i] = { pass: false, reason: 'maintenance', until: event.time };
        return;
      }
      if (this.notify === 'event') {
        decisions[i] = this.decideEvent(event, entry, incident, fresh);
      } else {
        const list = byIncident.get(incident.id);
        if (list) list.push(i); else byIncident.set(incident.id, [i]);
      }
    });
    for (const [id, indexes] of byIncident) {
      const incident = this.incidents.get(id)!;
      let best = indexes[0]!;
      let top: Severity = copies[best]!.severity;
      for (const i of indexes) {
        if (better(copies[i]!, copies[best]!)) best = i;
        top = MAX_SEVERITY(top, copies[i]!.severity);
      }
      const t = copies[best]!.time;
      const newRun = t < incident.lastPassTime;
      const page = !Number.isFinite(incident.lastPassTime) || newRun
        || SEVERITY_RANK[top] > SEVERITY_RANK[incident.lastPassSeverity]
        || t >= incident.lastPassTime + this.cooldownMs;
      for (const i of indexes) {
        if (page && i === best) continue;
        const entry = this.entries.get(entryId(copies[i]!.key, copies[i]!.rule));
        if (entry) { entry.held++; entry.heldTotal++; }
        incident.held++; incident.heldTotal++;
        this.suppressed++;
        decisions[i] = page
          ? { pass: false, reason: 'incident', until: t }
          : { pass: false, reason: 'cooldown', until: incident.lastPassTime + this.cooldownMs };
      }
      if (page) {
        const ev = copies[best]!;
        const entry = this.entries.get(entryId(ev.key, ev.rule));
        ev.suppressedCount = newRun ? 0 : incident.held - (indexes.length - 1);
        ev.firstSeen = incident.opened;
        incident.lastPassTime = t;
        incident.lastPassSeverity = top;
        incident.held = indexes.length - 1;
        if (entry) { entry.lastPassTime = t; entry.lastSeverity = ev.severity; }
        ev.incident = this.incidentRef(incident);
        incident.page = ev;
        incident.pagePeak = entry ? entry.peakValue : ev.value;
        this.passed++;
        decisions[best] = { pass: true, event: copyEvent(ev) };
      }
    }
    return decisions;
  }

  /** Event mode: rules 1–5 on the event's (key, rule) entry. */
  private decideEvent(event: AnomalyEvent, entry: Entry, incident: Incident, fresh: boolean): GateDecision {
    const newRun = !fresh && event.time < entry.lastPassTime;
    if (!fresh && !newRun && Number.isFinite(entry.lastPassTime)) {
      const escalation = SEVERITY_RANK[event.severity] > SEVERITY_RANK[entry.lastSeverity];
      const until = entry.lastPassTime + this.cooldownMs;
      if (!escalation && event.time < until) {
        entry.held++; entry.heldTotal++;
        incident.held++; incident.heldTotal++;
        this.suppressed++;
        return { pass: false, reason: 'cooldown', until };
      }
    }
    event.suppressedCount = newRun ? 0 : entry.held;
    event.firstSeen = entry.firstSeen;
    event.incident = this.incidentRef(incident);
    entry.lastPassTime = event.time;
    entry.lastSeverity = event.severity;
    entry.held = 0;
    this.passed++;
    return { pass: true, event: copyEvent(event) }; // the entry keeps its own copy
  }

  /**
   * Records `event` (a private copy) in its (key, rule) entry and its incident, creating them when
   * needed. `fresh` is true when the entry was created now.
   */
  private track(event: AnomalyEvent): { entry: Entry; incident: Incident; fresh: boolean } {
    const id = entryId(event.key, event.rule);
    let entry = this.entries.get(id);
    let fresh = false;
    if (entry !== undefined && event.time < entry.lastPassTime) {
      // rule 5: a new run (time went backwards); forget the old anomaly
      this.dropEntry(id, entry);
      entry = undefined;
    }
    const start = windowStart(event);
    if (entry === undefined) {
      fresh = true;
      if (this.entries.size >= this.maxKeys) this.evictOldest();
      const incident = this.findIncident(event) ?? this.openIncident(event, start);
      entry = {
        key: event.key, rule: event.rule, lastPassTime: -Infinity, lastSeverity: event.severity, held: 0, heldTotal: 0,
        firstSeen: start, lastSeen: event.time, peakValue: event.value, incident: incident.id, last: event,
      };
      incident.open++;
    } else {
      this.entries.delete(id); // re-inserted at the end: latest event last
      entry.lastSeen = Math.max(entry.lastSeen, event.time);
      entry.peakValue = Math.max(entry.peakValue, event.value);
      entry.last = event;
    }
    this.entries.set(id, entry);
    const incident = this.incidents.get(entry.incident)!;
    this.joinIncident(incident, event);
    if (incident.page && incident.page.key === event.key && incident.page.rule === event.rule) {
      incident.pagePeak = Math.max(incident.pagePeak, event.value);
    }
    return { entry, incident, fresh };
  }

  /**
   * True when `event` shows that its source started over (a replay run again, a capture restarted
   * with older packets): it is older than the latest event of its (key, rule), or the very same
   * window again (same id and time).
   */
  private isNewRun(event: AnomalyEvent): boolean {
    const e = this.entries.get(entryId(event.key, event.rule));
    if (e === undefined) return false;
    return event.time < e.lastSeen || (event.time === e.lastSeen && event.id === e.last.id);
  }

  /** Forgets, without announcing them, the open anomalies and incidents of `source` (counters are kept) and restarts the clock. */
  private startNewRun(source: string): void {
    for (const [id, e] of [...this.entries]) if ((typeof e.last.source === 'string' ? e.last.source : '') === source) this.dropEntry(id, e);
    for (const [id, inc] of [...this.incidents]) if (inc.source === source) this.incidents.delete(id);
    this.clock = -Infinity;
  }

  /** The open incident `event` belongs to: same address within the incident window; an address-less one for interface events. */
  private findIncident(event: AnomalyEvent): Incident | undefined {
    const addrs = addressesOf(event);
    const source = typeof event.source === 'string' ? event.source : '';
    let best: Incident | undefined;
    let adoptable: Incident | undefined;
    for (const inc of this.incidents.values()) {
      if (inc.source !== source) continue;
      if (event.time > inc.lastSeen + this.incidentWindowMs || event.time < inc.opened - this.incidentWindowMs) continue;
      if (addrs.length === 0) {
        if (best === undefined || inc.lastSeen > best.lastSeen) best = inc;
      } else if (inc.addresses.some((a) => addrs.includes(a))) {
        if (best === undefined || inc.lastSeen > best.lastSeen) best = inc;
      } else if (inc.addresses.length === 0) {
        if (adoptable === undefined || inc.lastSeen > adoptable.lastSeen) adoptable = inc;
      }
    }
    return best ?? adoptable;
  }

  private openIncident(event: AnomalyEvent, start: number): Incident {
    const incident: Incident = {
      id: `incident|${event.key}|${start}`, opened: start, lastSeen: event.time, events: 0, keys: [], rules: [],
      addresses: [], severity: event.severity, source: typeof event.source === 'string' ? event.source : '', open: 0,
      lastPassTime: -Infinity, lastPassSeverity: event.severity, held: 0, heldTotal: 0, page: null, pagePeak: event.value,
    };
    // an id seen before (same key and window in a restarted run): keep ids unique
    let id = incident.id;
    for (let n = 2; this.incidents.has(id); n++) id = `${incident.id}#${n}`;
    incident.id = id;
    this.incidents.set(id, incident);
    return incident;
  }

  private joinIncident(incident: Incident, event: AnomalyEvent): void {
    incident.events++;
    incident.lastSeen = Math.max(incident.lastSeen, event.time);
    incident.severity = MAX_SEVERITY(incident.severity, event.severity);
    if (!incident.keys.includes(event.key)) incident.keys.push(event.key);
    if (!incident.rules.includes(event.rule)) incident.rules.push(event.rule);
    for (const a of addressesOf(event)) if (!incident.addresses.includes(a)) incident.addresses.push(a);
  }

  private incidentRef(incident: Incident): IncidentRef {
    return {
      id: incident.id, opened: incident.opened, lastSeen: incident.lastSeen, events: incident.events,
      keys: incident.keys.slice(0, LISTED_KEYS), keyCount: incident.keys.length, rules: [...incident.rules],
      addresses: incident.addresses.slice(0, LISTED_KEYS), severity: incident.severity,
    };
  }

  /**
   * A tick: the windows up to `timeMs` (epoch ms, packet time: a window's end) were evaluated.
   * Moves the clock forward (never back), starts or ends scheduled maintenance, and resolves every
   * open anomaly whose latest event is at least `resolveAfterMs` older than the clock.
   *
   * @returns resolved events (event mode: one per notified (key, rule); incident mode: one per
   *   notified incident whose anomalies are all resolved) and summaries of maintenance that ended.
   * @throws {RangeError} when `timeMs` is not a finite number.
   */
  advance(timeMs: number): GateOutput {
    if (typeof timeMs !== 'number' || !Number.isFinite(timeMs)) throw new RangeError(`tick time must be a finite number (epoch ms), got ${String(timeMs)}`);
    const out: GateOutput = { events: [], summaries: [] };
    if (timeMs > this.clock) this.clock = timeMs;
    const s = this.updateMaintenance(this.clock);
    if (s) out.summaries.push(s);
    if (this.resolveAfterMs > 0) {
      const due: Array<[string, Entry]> = [];
      for (const [id, e] of this.entries) if (e.lastSeen + this.resolveAfterMs <= this.clock) due.push([id, e]);
      for (const [id, e] of due) this.resolve(id, e, e.lastSeen + this.resolveAfterMs, 'quiet', out.events);
    }
    return out;
  }

  /**
   * The capture ended (a final window): resolves every open anomaly at `timeMs` (or the clock) with
   * reason `capture ended`, and resets the clock so that a replay started again begins afresh.
   * Maintenance state is kept.
   *
   * @returns resolved events and summaries, as {@link advance}.
   */
  endOfRun(timeMs?: number): GateOutput {
    const out = typeof timeMs === 'number' && Number.isFinite(timeMs) ? this.advance(timeMs) : { events: [], summaries: [] };
    for (const [id, e] of [...this.entries]) this.resolve(id, e, Math.max(this.clock, e.lastSeen), 'capture ended', out.events);
    this.clock = -Infinity;
    return out;
  }

  /** Removes an entry as resolved at `time`; emits its resolved event (or its incident's) when it was notified and no maintenance holds it. */
  private resolve(id: string, entry: Entry, time: number, reason: string, out: AnomalyEvent[]): void {
    this.entries.delete(id);
    const incident = this.incidents.get(entry.incident);
    const held = this.maintenance !== null;
    if (this.notify === 'event' && Number.isFinite(entry.lastPassTime)) {
      if (held) this.maintenance!.resolvedHeld++;
      else {
        const ev = copyEvent(entry.last);
        this.markResolved(ev, time, reason, entry.firstSeen, entry.lastSeen, entry.peakValue, entry.heldTotal);
        ev.severity = entry.lastSeverity; // as last notified: a topic built from it matches the firing one
        ev.message = `Resolved: ${entry.key} ${entry.rule}, quiet for ${formatDurationMs(this.resolveAfterMs)}${reason === 'quiet' ? '' : ` (${reason})`}; lasted ${formatDurationMs(ev.durationMs!)}, peak ${formatMetricValue(ev.metric, entry.peakValue)} ${ev.metric}, ${formatCount(entry.heldTotal)} repeats held back`;
        if (incident) ev.incident = this.incidentRef(incident);
        out.push(ev);
        this.resolvedCount++;
      }
    }
    if (!incident) return;
    incident.open--;
    if (incident.open > 0) return;
    this.incidents.delete(incident.id);
    if (this.notify === 'incident' && incident.page !== null) {
      if (held) { this.maintenance!.resolvedHeld++; return; }
      const ev = copyEvent(incident.page);
      this.markResolved(ev, time, reason, incident.opened, incident.lastSeen, incident.pagePeak, incident.heldTotal);
      ev.severity = incident.lastPassSeverity; // as last notified
      ev.incident = this.incidentRef(incident);
      ev.message = `Resolved: incident on ${incident.addresses.length > 0 ? incident.addresses.join(', ') : incident.keys[0]} (${formatCount(incident.events)} anomal${incident.events === 1 ? 'y' : 'ies'} on ${formatCount(incident.keys.length)} key${incident.keys.length === 1 ? '' : 's'}: ${incident.rules.join(', ')}), quiet for ${formatDurationMs(this.resolveAfterMs)}${reason === 'quiet' ? '' : ` (${reason})`}; lasted ${formatDurationMs(ev.durationMs!)}, peak ${formatMetricValue(ev.metric, incident.pagePeak)} ${ev.metric} on ${ev.key}, ${formatCount(incident.heldTotal)} repeats held back`;
      out.push(ev);
      this.resolvedCount++;
    }
  }

  private markResolved(ev: AnomalyEvent, time: number, reason: string, firstSeen: number, lastSeen: number, peak: number, held: number): void {
    ev.status = 'resolved';
    ev.time = time;
    ev.firstSeen = firstSeen;
    ev.lastSeen = lastSeen;
    ev.durationMs = Math.max(0, lastSeen - firstSeen);
    ev.peakValue = peak;
    ev.suppressedCount = held;
    ev.resolvedReason = reason;
    ev.id = `${ev.rule}|${ev.key}|${firstSeen}`;
  }

  /**
   * Turns manual maintenance on or off at packet time `timeMs` (the gate's clock when omitted, or
   * 0 before any tick). Scheduled maintenance goes on regardless.
   * @returns the summary when this ends a maintenance period, else null.
   */
  setMaintenance(on: boolean, timeMs?: number): MaintenanceSummary | null {
    const t = typeof timeMs === 'number' && Number.isFinite(timeMs) ? timeMs : Number.isFinite(this.clock) ? this.clock : 0;
    this.manualMaintenance = on === true;
    return this.updateMaintenance(t);
  }

  /** Starts or ends maintenance at `t` from the manual switch and the schedules. */
  private updateMaintenance(t: number): MaintenanceSummary | null {
    const schedule = this.manualMaintenance ? null : activeSchedule(this.schedules, t);
    const on = this.manualMaintenance || schedule !== null;
    if (on && this.maintenance === null) {
      this.maintenance = { start: t, reason: this.manualMaintenance ? 'manual' : `schedule ${schedule!.text}`, held: 0, resolvedHeld: 0, byRule: {}, keys: [], keyCount: 0 };
      return null;
    }
    if (!on && this.maintenance !== null) {
      const m = this.maintenance;
      this.maintenance = null;
      const summary: MaintenanceSummary = {
        kind: 'netbaseline/maintenance-summary', version: 1, start: m.start, end: t, reason: m.reason,
        held: m.held, resolvedHeld: m.resolvedHeld, byRule: m.byRule, keys: m.keys, keyCount: m.keyCount,
        stillOpen: this.entries.size,
        message: `Maintenance (${m.reason}) from ${formatTime(m.start)} to ${formatTime(t)}: ${formatCount(m.held)} alert${m.held === 1 ? '' : 's'} held back`
          + (m.keyCount > 0 ? ` on ${formatCount(m.keyCount)} key${m.keyCount === 1 ? '' : 's'} (${Object.entries(m.byRule).map(([r, n]) => `${r} ${formatCount(n)}`).join(', ')})` : '')
          + `, ${formatCount(m.resolvedHeld)} resolution${m.resolvedHeld === 1 ? '' : 's'} not announced, ${formatCount(this.entries.size)} still open.`,
      };
      return summary;
    }
    return null;
  }

  private holdForMaintenance(event: AnomalyEvent): void {
    const m = this.maintenance!;
    m.held++;
    m.byRule[event.rule] = (m.byRule[event.rule] ?? 0) + 1;
    if (!m.keys.includes(event.key)) {
      m.keyCount++;
      if (m.keys.length < LISTED_KEYS) m.keys.push(event.key);
    }
  }

  /**
   * Open anomalies, oldest event first: a copy of each (key, rule)'s latest event with `firstSeen`,
   * `peakValue`, `suppressedCount` (repeats held since it began) and `incident` set.
   */
  openAnomalies(): AnomalyEvent[] {
    const out: AnomalyEvent[] = [];
    for (const e of this.entries.values()) {
      const ev = copyEvent(e.last);
      ev.firstSeen = e.firstSeen;
      ev.peakValue = e.peakValue;
      ev.suppressedCount = e.heldTotal;
      const inc = this.incidents.get(e.incident);
      if (inc) ev.incident = this.incidentRef(inc);
      out.push(ev);
    }
    return out;
  }

  /** Counters: open pairs, events passed, held back, pairs evicted, resolved, open incidents, maintenance. */
  stats(): CooldownStats {
    return {
      keys: this.entries.size, passed: this.passed, suppressed: this.suppressed, evictions: this.evictions,
      resolved: this.resolvedCount, incidents: this.incidents.size, maintenance: this.maintenance !== null,
    };
  }

  /** Forgets every pair and incident, zeroes the counters and the clock (what `msg.reset` does in the node). Manual maintenance is kept. */
  reset(): void {
    this.entries.clear();
    this.incidents.clear();
    this.passed = 0;
    this.suppressed = 0;
    this.evictions = 0;
    this.resolvedCount = 0;
    this.clock = -Infinity;
    if (this.maintenance) {
      this.maintenance = { ...this.maintenance, held: 0, resolvedHeld: 0, byRule: {}, keys: [], keyCount: 0 };
    }
  }

  /**
   * The gate's state as a JSON-safe object (for Node-RED context or a file): open anomalies,
   * incidents, counters, clock and maintenance; options are not part of it. Restore with
   * {@link CooldownGate.fromSnapshot}.
   */
  toSnapshot(): unknown {
    const fin = (n: number): number | null => (Number.isFinite(n) ? n : null);
    const snapshot: CooldownSnapshotV2 = {
      kind: 'netbaseline/cooldown-snapshot', version: 2,
      passed: this.passed, suppressed: this.suppressed, evictions: this.evictions, resolved: this.resolvedCount,
      clock: fin(this.clock), manualMaintenance: this.manualMaintenance,
      maintenance: this.maintenance ? structuredClone(this.maintenance) : null,
      entries: [...this.entries.values()].map((e) => ({ ...e, lastPassTime: fin(e.lastPassTime), last: structuredClone(e.last) })),
      incidents: [...this.incidents.values()].map((i) => ({ ...structuredClone(i), lastPassTime: fin(i.lastPassTime) })),
    };
    return snapshot;
  }

  /**
   * Rebuilds a gate from {@link toSnapshot} output (version 2, or version 1 of the first release:
   * `entries` as `[key, rule, lastPassTime, severity, held]` rows, which become open anomalies of
   * an unknown incident) with (possibly new) `options`. When the snapshot holds more pairs than
   * `maxKeys`, the pairs with the oldest events are dropped (and counted as evictions).
   *
   * @throws {RangeError} on bad options.
   * @throws {ContractError} when `snapshot` is not a cooldown snapshot, naming the field at fault.
   */
  static fromSnapshot(snapshot: unknown, options?: CooldownOptions): CooldownGate {
    const gate = new CooldownGate(options);
    if (typeof snapshot !== 'object' || snapshot === null) throw new ContractError('cooldown snapshot: expected an object');
    const s = snapshot as Record<string, unknown>;
    if (s.kind !== 'netbaseline/cooldown-snapshot') throw new ContractError(`cooldown snapshot: kind must be "netbaseline/cooldown-snapshot", got ${JSON.stringify(s.kind)}`);
    if (s.version !== 1 && s.version !== 2) throw new ContractError(`cooldown snapshot: unsupported version ${JSON.stringify(s.version)}`);
    const count = (name: string, optional = false): number => {
      const v = s[name];
      if (optional && v === undefined) return 0;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new ContractError(`cooldown snapshot: ${name} must be an integer ≥ 0`);
      return v;
    };
    gate.passed = count('passed');
    gate.suppressed = count('suppressed');
    gate.evictions = count('evictions');
    if (!Array.isArray(s.entries)) throw new ContractError('cooldown snapshot: entries must be an array');
    if (s.version === 1) {
      s.entries.forEach((row: unknown, i: number) => {
        if (!Array.isArray(row) || row.length !== 5) throw new ContractError(`cooldown snapshot: entries[${i}] must be [key, rule, lastPassTime, severity, held]`);
        const [key, rule, lastPassTime, lastSeverity, held] = row as unknown[];
        if (typeof key !== 'string' || typeof rule !== 'string') throw new ContractError(`cooldown snapshot: entries[${i}] key and rule must be strings`);
        if (typeof lastPassTime !== 'number' || !Number.isFinite(lastPassTime)) throw new ContractError(`cooldown snapshot: entries[${i}] lastPassTime must be a finite number`);
        if (lastSeverity !== 'medium' && lastSeverity !== 'high') throw new ContractError(`cooldown snapshot: entries[${i}] severity must be "medium" or "high"`);
        if (typeof held !== 'number' || !Number.isInteger(held) || held < 0) throw new ContractError(`cooldown snapshot: entries[${i}] held must be an integer ≥ 0`);
        const last = {
          kind: 'netbaseline/anomaly', version: 1, id: `${rule}|${key}|${lastPassTime}`, status: 'firing', time: lastPassTime,
          window: { start: lastPassTime, end: lastPassTime, ms: 0 }, rule, severity: lastSeverity, scope: 'interface', key,
          metric: '', value: 0, threshold: 0, baseline: null, deviationPercent: 0, message: '', findings: [], source: '',
        } as unknown as AnomalyEvent;
        gate.restoreEntry({ key, rule, lastPassTime, lastSeverity, held, heldTotal: held, firstSeen: lastPassTime, lastSeen: lastPassTime, peakValue: 0, incident: '', last });
      });
      return gate;
    }
    gate.resolvedCount = count('resolved', true);
    if (s.clock !== null && (typeof s.clock !== 'number' || !Number.isFinite(s.clock))) throw new ContractError('cooldown snapshot: clock must be a number or null');
    gate.clock = s.clock === null ? -Infinity : s.clock;
    gate.manualMaintenance = s.manualMaintenance === true;
    if (s.maintenance !== null && s.maintenance !== undefined) {
      const m = s.maintenance as Partial<MaintenanceState>;
      if (typeof m !== 'object' || typeof m.start !== 'number' || typeof m.held !== 'number' || !Array.isArray(m.keys)) throw new ContractError('cooldown snapshot: maintenance must be null or a maintenance state');
      gate.maintenance = {
        start: m.start, reason: String(m.reason ?? 'manual'), held: m.held, resolvedHeld: Number(m.resolvedHeld) || 0,
        byRule: typeof m.byRule === 'object' && m.byRule !== null ? m.byRule : {}, keys: m.keys.map(String), keyCount: Number(m.keyCount) || m.keys.length,
      };
    }
    if (!Array.isArray(s.incidents)) throw new ContractError('cooldown snapshot: incidents must be an array');
    s.incidents.forEach((raw: unknown, i: number) => {
      const inc = raw as Incident & { lastPassTime: number | null };
      if (typeof inc !== 'object' || inc === null || typeof inc.id !== 'string' || typeof inc.opened !== 'number' || !Array.isArray(inc.addresses) || !Array.isArray(inc.keys)) {
        throw new ContractError(`cooldown snapshot: incidents[${i}] must have id, opened, keys and addresses`);
      }
      gate.incidents.set(inc.id, { ...inc, open: 0, lastPassTime: inc.lastPassTime === null ? -Infinity : inc.lastPassTime });
    });
    s.entries.forEach((raw: unknown, i: number) => {
      const e = raw as Entry & { lastPassTime: number | null };
      if (typeof e !== 'object' || e === null || typeof e.key !== 'string' || typeof e.rule !== 'string') throw new ContractError(`cooldown snapshot: entries[${i}] key and rule must be strings`);
      if (typeof e.lastSeen !== 'number' || typeof e.firstSeen !== 'number' || typeof e.held !== 'number') throw new ContractError(`cooldown snapshot: entries[${i}] must have firstSeen, lastSeen and held numbers`);
      if (e.lastSeverity !== 'medium' && e.lastSeverity !== 'high') throw new ContractError(`cooldown snapshot: entries[${i}] severity must be "medium" or "high"`);
      try { assertAnomalyEvent(e.last); } catch (err) { throw new ContractError(`cooldown snapshot: entries[${i}].last: ${(err as Error).message}`); }
      gate.restoreEntry({ ...e, lastPassTime: e.lastPassTime === null ? -Infinity : e.lastPassTime });
    });
    for (const [id, inc] of gate.incidents) if (inc.open === 0) gate.incidents.delete(id);
    return gate;
  }

  /** Adds a restored entry (counting it in its incident, or in a new one when its incident is unknown). */
  private restoreEntry(entry: Entry): void {
    const id = entryId(entry.key, entry.rule);
    const old = this.entries.get(id);
    if (old) this.dropEntry(id, old);
    if (this.entries.size >= this.maxKeys) this.evictOldest();
    let incident = this.incidents.get(entry.incident);
    if (!incident) {
      incident = this.openIncident(entry.last, entry.firstSeen);
      this.joinIncident(incident, entry.last);
      entry.incident = incident.id;
    }
    incident.open++;
    this.entries.set(id, entry);
  }

  /** Forgets an entry without announcing it; its incident goes when it has no open entry. */
  private dropEntry(id: string, entry: Entry): void {
    this.entries.delete(id);
    const incident = this.incidents.get(entry.incident);
    if (incident && --incident.open <= 0) this.incidents.delete(incident.id);
  }

  /** Drops the entry whose latest event is oldest (the first in Map order). */
  private evictOldest(): void {
    const first = this.entries.entries().next();
    if (!first.done) {
      this.dropEntry(first.value[0], first.value[1]);
      this.evictions++;
    }
  }
}

/**
 * Deep copy of an event (events are plain data: from rule-detector, JSON or MQTT).
 * @throws {ContractError} when the event holds something that cannot be copied (a function).
 */
function copyEvent(event: AnomalyEvent): AnomalyEvent {
  try {
    return structuredClone(event);
  } catch (err) {
    throw new ContractError(`anomaly: cannot be copied (${err instanceof Error ? err.message : String(err)})`);
  }
}
