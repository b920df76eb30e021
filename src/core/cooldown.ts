/**
 * Cooldown (alert de-duplication) for {@link AnomalyEvent}s: the core of the `cooldown-gate` node.
 *
 * A detector that fires every window while a scan or a flood lasts would send the same alert every
 * few seconds. The gate lets the first event of a key and rule through, holds back repeats for a
 * cooldown period of packet time and counts them, and reports that count on the next event that
 * passes. A rise in severity (medium → high) passes at once.
 *
 * The clock is packet time ({@link AnomalyEvent.time}), never the wall clock, so a one-hour capture
 * replayed in seconds is gated exactly as it would be live.
 *
 * Pure module: no Node-RED import, no timers.
 *
 * @packageDocumentation
 */
import { assertAnomalyEvent, ContractError } from './contracts';
import type { AnomalyEvent, Severity } from './contracts';

/** Default cooldown: 5 minutes of packet time. */
export const DEFAULT_COOLDOWN_MS = 300_000;
/** Default bound on the (key, rule) pairs the gate remembers. */
export const DEFAULT_MAX_KEYS = 100_000;

/** Options of a {@link CooldownGate}. */
export interface CooldownOptions {
  /** Packet time (ms) during which repeats of a passed event are held back. Finite, ≥ 0 (0 lets everything pass). Default {@link DEFAULT_COOLDOWN_MS}. */
  cooldownMs?: number;
  /** Most (key, rule) pairs remembered; an integer ≥ 1. Default {@link DEFAULT_MAX_KEYS}. */
  maxKeys?: number;
}

/**
 * What {@link CooldownGate.offer} decided.
 * - `pass: true`: forward `event`, a copy of the offered event with `suppressedCount` set to the
 *   repeats held back for this key and rule since the last event that passed (0 for a first event).
 * - `pass: false`: a repeat inside the cooldown; `until` is the packet time (epoch ms) at which the
 *   cooldown of this key and rule ends.
 */
export type GateDecision =
  | { pass: true; event: AnomalyEvent }
  | { pass: false; reason: 'cooldown'; until: number };

/** Counters of a {@link CooldownGate}. */
export interface CooldownStats {
  /** (key, rule) pairs currently remembered. */
  keys: number;
  /** Events that passed since the gate was created or reset. */
  passed: number;
  /** Events held back since the gate was created or reset. */
  suppressed: number;
  /** (key, rule) pairs forgotten because the gate was at `maxKeys`. */
  evictions: number;
}

/** State kept per (key, rule). */
interface Entry {
  key: string;
  rule: string;
  /** Packet time of the last event that passed, epoch ms. */
  lastPassTime: number;
  /** Severity of the last event that passed. */
  lastSeverity: Severity;
  /** Repeats held back since the last event that passed. */
  held: number;
}

/** Serialised form written by {@link CooldownGate.toSnapshot}. */
interface CooldownSnapshotV1 {
  kind: 'netbaseline/cooldown-snapshot';
  version: 1;
  passed: number;
  suppressed: number;
  evictions: number;
  /** `[key, rule, lastPassTime, severity, held]`, oldest pass first. */
  entries: Array<[string, string, number, Severity, number]>;
}

const SEVERITY_RANK: Record<Severity, number> = { medium: 1, high: 2 };

function checkOptions(options: CooldownOptions | undefined): { cooldownMs: number; maxKeys: number } {
  const cooldownMs = options?.cooldownMs ?? DEFAULT_COOLDOWN_MS;
  const maxKeys = options?.maxKeys ?? DEFAULT_MAX_KEYS;
  if (typeof cooldownMs !== 'number' || !Number.isFinite(cooldownMs) || cooldownMs < 0) {
    throw new RangeError(`cooldownMs must be a finite number of milliseconds ≥ 0, got ${String(cooldownMs)}`);
  }
  if (typeof maxKeys !== 'number' || !Number.isInteger(maxKeys) || maxKeys < 1) {
    throw new RangeError(`maxKeys must be an integer ≥ 1, got ${String(maxKeys)}`);
  }
  return { cooldownMs, maxKeys };
}

/** Map key of a (key, rule) pair; NUL cannot appear in a rule id. */
const entryId = (key: string, rule: string): string => `${rule}\u0000${key}`;

/**
 * Holds back repeated anomalies per key and rule for a cooldown of packet time.
 *
 * Rules, per (event.key, event.rule):
 * 1. The first event passes (`suppressedCount` 0).
 * 2. An event with `time` < lastPass + `cooldownMs` and a severity not above the last passed one is
 *    held back and counted.
 * 3. An event with a higher severity than the last passed one passes at once (escalation) and
 *    starts a new cooldown; `suppressedCount` carries the repeats held back before it.
 * 4. The first event at or after lastPass + `cooldownMs` passes with `suppressedCount` = the repeats
 *    held back meanwhile, and starts a new cooldown.
 * 5. An event with `time` earlier than the last passed one (a replay restarted, or a second capture
 *    with older packets) is a new run: it passes with `suppressedCount` 0 and replaces the old state;
 *    repeats held in the old run stay counted in {@link stats}`.suppressed` only.
 *
 * Bounded: at `maxKeys` pairs a new pair evicts the pair whose last pass is oldest (with packet time
 * moving forward that is the pair whose cooldown ended longest ago; after a replay restart the pairs
 * of the previous run go first). An evicted pair that fires again passes as a first event.
 *
 * Cost: O(1) per event (a Map lookup; one re-insertion when an event passes).
 */
export class CooldownGate {
  /** Cooldown in ms of packet time. */
  readonly cooldownMs: number;
  /** Bound on remembered (key, rule) pairs. */
  readonly maxKeys: number;
  /** Entries in order of their last pass, oldest first (a pass moves its entry to the end). */
  private entries = new Map<string, Entry>();
  private passed = 0;
  private suppressed = 0;
  private evictions = 0;

  /**
   * @param options - see {@link CooldownOptions}.
   * @throws {RangeError} when `cooldownMs` is not a finite number ≥ 0 or `maxKeys` not an integer ≥ 1.
   */
  constructor(options?: CooldownOptions) {
    const { cooldownMs, maxKeys } = checkOptions(options);
    this.cooldownMs = cooldownMs;
    this.maxKeys = maxKeys;
  }

  /**
   * Decides whether `event` passes (see the class documentation for the rules).
   *
   * @param event - an {@link AnomalyEvent}; it is not modified.
   * @returns a {@link GateDecision}; on `pass` the event is a deep copy with `suppressedCount` set.
   * @throws {ContractError} when `event` is not an anomaly event (the gate's state is unchanged).
   */
  offer(event: AnomalyEvent): GateDecision {
    assertAnomalyEvent(event);
    const id = entryId(event.key, event.rule);
    const entry = this.entries.get(id);
    const severity = event.severity;
    if (entry !== undefined && event.time >= entry.lastPassTime) {
      const escalation = SEVERITY_RANK[severity] > SEVERITY_RANK[entry.lastSeverity];
      const until = entry.lastPassTime + this.cooldownMs;
      if (!escalation && event.time < until) {
        entry.held++;
        this.suppressed++;
        return { pass: false, reason: 'cooldown', until };
      }
    }
    // Pass: first event, new run (time went backwards), escalation or cooldown over.
    const suppressedCount = entry !== undefined && event.time >= entry.lastPassTime ? entry.held : 0;
    const copy = copyEvent(event);
    copy.suppressedCount = suppressedCount;
    if (entry !== undefined) {
      this.entries.delete(id); // re-inserted at the end: newest pass last
      entry.lastPassTime = event.time;
      entry.lastSeverity = severity;
      entry.held = 0;
      this.entries.set(id, entry);
    } else {
      if (this.entries.size >= this.maxKeys) this.evictOldest();
      this.entries.set(id, { key: event.key, rule: event.rule, lastPassTime: event.time, lastSeverity: severity, held: 0 });
    }
    this.passed++;
    return { pass: true, event: copy };
  }

  /** Counters: remembered pairs, events passed, held back, pairs evicted. */
  stats(): CooldownStats {
    return { keys: this.entries.size, passed: this.passed, suppressed: this.suppressed, evictions: this.evictions };
  }

  /** Forgets every pair and zeroes the counters (what `msg.reset` does in the node). */
  reset(): void {
    this.entries.clear();
    this.passed = 0;
    this.suppressed = 0;
    this.evictions = 0;
  }

  /**
   * The gate's state as a JSON-safe object (for Node-RED context or a file); options are not part
   * of it. Restore with {@link CooldownGate.fromSnapshot}.
   */
  toSnapshot(): unknown {
    const snapshot: CooldownSnapshotV1 = {
      kind: 'netbaseline/cooldown-snapshot',
      version: 1,
      passed: this.passed,
      suppressed: this.suppressed,
      evictions: this.evictions,
      entries: [],
    };
    for (const e of this.entries.values()) snapshot.entries.push([e.key, e.rule, e.lastPassTime, e.lastSeverity, e.held]);
    return snapshot;
  }

  /**
   * Rebuilds a gate from {@link toSnapshot} output with (possibly new) `options`. When the snapshot
   * holds more pairs than `maxKeys`, the pairs with the oldest passes are dropped (and counted as
   * evictions).
   *
   * @throws {RangeError} on bad options.
   * @throws {ContractError} when `snapshot` is not a cooldown snapshot of version 1, naming the field at fault.
   */
  static fromSnapshot(snapshot: unknown, options?: CooldownOptions): CooldownGate {
    const gate = new CooldownGate(options);
    if (typeof snapshot !== 'object' || snapshot === null) throw new ContractError('cooldown snapshot: expected an object');
    const s = snapshot as Partial<CooldownSnapshotV1>;
    if (s.kind !== 'netbaseline/cooldown-snapshot') throw new ContractError(`cooldown snapshot: kind must be "netbaseline/cooldown-snapshot", got ${JSON.stringify(s.kind)}`);
    if (s.version !== 1) throw new ContractError(`cooldown snapshot: unsupported version ${JSON.stringify(s.version)}`);
    const count = (name: 'passed' | 'suppressed' | 'evictions'): number => {
      const v = s[name];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new ContractError(`cooldown snapshot: ${name} must be an integer ≥ 0`);
      return v;
    };
    gate.passed = count('passed');
    gate.suppressed = count('suppressed');
    gate.evictions = count('evictions');
    if (!Array.isArray(s.entries)) throw new ContractError('cooldown snapshot: entries must be an array');
    s.entries.forEach((row: unknown, i: number) => {
      if (!Array.isArray(row) || row.length !== 5) throw new ContractError(`cooldown snapshot: entries[${i}] must be [key, rule, lastPassTime, severity, held]`);
      const [key, rule, lastPassTime, lastSeverity, held] = row as unknown[];
      if (typeof key !== 'string' || typeof rule !== 'string') throw new ContractError(`cooldown snapshot: entries[${i}] key and rule must be strings`);
      if (typeof lastPassTime !== 'number' || !Number.isFinite(lastPassTime)) throw new ContractError(`cooldown snapshot: entries[${i}] lastPassTime must be a finite number`);
      if (lastSeverity !== 'medium' && lastSeverity !== 'high') throw new ContractError(`cooldown snapshot: entries[${i}] severity must be "medium" or "high"`);
      if (typeof held !== 'number' || !Number.isInteger(held) || held < 0) throw new ContractError(`cooldown snapshot: entries[${i}] held must be an integer ≥ 0`);
      const id = entryId(key, rule);
      gate.entries.delete(id);
      if (gate.entries.size >= gate.maxKeys) gate.evictOldest();
      gate.entries.set(id, { key, rule, lastPassTime, lastSeverity, held });
    });
    return gate;
  }

  /** Drops the entry whose last pass is oldest (the first in Map order). */
  private evictOldest(): void {
    const first = this.entries.keys().next();
    if (!first.done) {
      this.entries.delete(first.value);
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
