/**
 * Per-key baselines of the traffic metrics (the core of the `ewma-baseline` node).
 *
 * For every record of a baselined scope the store keeps, per metric, the fast/slow EWMA, the
 * exponentially weighted variance and the sample count of {@link ./ewma}. {@link BaselineStore.annotate}
 * attaches to each record the baseline as it stood before the window, then folds the window in.
 *
 * Maturity of a key (see {@link MaturityState}), with `t` = the window's start (packet time, ms):
 * - `bootstrap` while `t − firstSeen < bootstrapMs` (default 5 min): the baseline does not yet
 *   cover the bootstrap period; rules use static thresholds only;
 * - `learning` until the key has `n ≥ ceil(ln 0.05 / ln(1 − slowAlpha))` samples (59 for α 0.05:
 *   the initial value's weight in the slow EWMA has decayed below 5%);
 * - `mature` from then on.
 *
 * A metric a record lacks is not updated; a key absent from a window is not updated (no
 * zero-filling yet). A window's `gapBeforeMs` does not reset anything; it is passed on.
 *
 * @packageDocumentation
 */
import {
  ContractError, SCOPES,
  type MaturityState, type MetricBaseline, type RecordBaseline, type Scope, type TrafficRecord, type WindowMessage,
} from './contracts';
import {
  DEFAULT_FAST_ALPHA, DEFAULT_SLOW_ALPHA, checkAlphas, ewStd, foldSample, samplesToConverge, type EwmaState,
} from './ewma';

/** Options of a {@link BaselineStore}. */
export interface BaselineOptions {
  /** α of the fast EWMA, 0 < α ≤ 1, greater than {@link slowAlpha}. Default 0.3. */
  fastAlpha?: number;
  /** α of the slow EWMA and of the EW variance, 0 < α ≤ 1. Default 0.05. */
  slowAlpha?: number;
  /** Bootstrap period per key in ms of packet time since the key was first seen. Default 300,000 (5 min). */
  bootstrapMs?: number;
  /**
   * Scopes to baseline. Default `['interface', 'dstHost', 'srcHost']`: flow keys carry ephemeral
   * ports, so most of them live for one window and only fill the store; baselining flows is opt-in.
   */
  scopes?: Scope[];
  /** Most keys kept; the least recently seen key is evicted (and counted) to make room. Default 100,000. */
  maxKeys?: number;
}

/** {@link BaselineOptions} with every default filled in. */
export type ResolvedBaselineOptions = Required<BaselineOptions>;

/** Default options. */
export const DEFAULT_BASELINE_OPTIONS: Readonly<ResolvedBaselineOptions> = Object.freeze({
  fastAlpha: DEFAULT_FAST_ALPHA,
  slowAlpha: DEFAULT_SLOW_ALPHA,
  bootstrapMs: 300_000,
  scopes: ['interface', 'dstHost', 'srcHost'] as Scope[],
  maxKeys: 100_000,
});

/** Identifies a snapshot written by {@link BaselineStore.toSnapshot}. */
export const SNAPSHOT_FORMAT = 'netbaseline/baseline';
/** Version of the snapshot layout. */
export const SNAPSHOT_VERSION = 1;

/**
 * One key in a snapshot. `metrics` maps a metric name to `[fast, slow, variance, samples]`.
 */
export interface SnapshotKey {
  key: string;
  scope: Scope;
  /** Packet time the key was first seen (window start), epoch ms. */
  firstSeen: number;
  /** Start of the last window the key was seen in, epoch ms. */
  lastSeen: number;
  /** Windows the key was seen in. */
  samples: number;
  metrics: Record<string, [number, number, number, number]>;
}

/** Plain-JSON snapshot of a store (what the node writes to disk). Keys are listed least recently seen first. */
export interface BaselineSnapshot {
  format: typeof SNAPSHOT_FORMAT;
  version: typeof SNAPSHOT_VERSION;
  options: ResolvedBaselineOptions;
  /** End of the latest window folded in, epoch ms (0 before any). */
  clockMs: number;
  /** Keys evicted since the store was created. */
  evictions: number;
  keys: SnapshotKey[];
}

/** Counts of a store, for status texts. Maturity is as of the latest window end seen. */
export interface BaselineStats {
  keys: number;
  bootstrap: number;
  learning: number;
  mature: number;
  evictions: number;
}

interface KeyState {
  scope: Scope;
  firstSeen: number;
  lastSeen: number;
  samples: number;
  metrics: Map<string, EwmaState>;
}

/**
 * Resolves and checks options.
 * @throws {RangeError} on an α outside (0, 1] or fast ≤ slow, a negative or non-finite bootstrapMs,
 *   an unknown or empty scope list, or a maxKeys that is not a positive integer.
 */
export function resolveBaselineOptions(options: BaselineOptions = {}): ResolvedBaselineOptions {
  if (typeof options !== 'object' || options === null) throw new RangeError('baseline options must be an object');
  const o: ResolvedBaselineOptions = {
    fastAlpha: options.fastAlpha ?? DEFAULT_BASELINE_OPTIONS.fastAlpha,
    slowAlpha: options.slowAlpha ?? DEFAULT_BASELINE_OPTIONS.slowAlpha,
    bootstrapMs: options.bootstrapMs ?? DEFAULT_BASELINE_OPTIONS.bootstrapMs,
    scopes: options.scopes ?? [...DEFAULT_BASELINE_OPTIONS.scopes],
    maxKeys: options.maxKeys ?? DEFAULT_BASELINE_OPTIONS.maxKeys,
  };
  checkAlphas(o.fastAlpha, o.slowAlpha);
  if (typeof o.bootstrapMs !== 'number' || !Number.isFinite(o.bootstrapMs) || o.bootstrapMs < 0) {
    throw new RangeError(`bootstrapMs must be a finite number ≥ 0 (ms), got ${String(o.bootstrapMs)}`);
  }
  if (!Array.isArray(o.scopes) || o.scopes.length === 0) throw new RangeError('scopes must be a non-empty array');
  for (const s of o.scopes) if (!SCOPES.includes(s)) throw new RangeError(`unknown scope ${JSON.stringify(s)}; use ${SCOPES.join(', ')}`);
  o.scopes = SCOPES.filter((s) => o.scopes.includes(s));
  if (typeof o.maxKeys !== 'number' || !Number.isInteger(o.maxKeys) || o.maxKeys < 1) throw new RangeError(`maxKeys must be a positive integer, got ${String(o.maxKeys)}`);
  return o;
}

/**
 * Lists, in words, the options that differ between `a` (e.g. a snapshot's) and `b` (e.g. the
 * configured ones); empty when they agree.
 */
export function describeOptionChanges(a: ResolvedBaselineOptions, b: ResolvedBaselineOptions): string[] {
  const out: string[] = [];
  for (const k of ['fastAlpha', 'slowAlpha', 'bootstrapMs', 'maxKeys'] as const) {
    if (a[k] !== b[k]) out.push(`${k} ${a[k]} → ${b[k]}`);
  }
  if (a.scopes.join(',') !== b.scopes.join(',')) out.push(`scopes ${a.scopes.join(',')} → ${b.scopes.join(',')}`);
  return out;
}

/**
 * Learns per-key EWMA baselines from windows of traffic records and annotates each record with its
 * baseline. Keys are held in least-recently-seen order and capped at `maxKeys`.
 */
export class BaselineStore {
  /** The options in force (defaults filled in). */
  readonly options: ResolvedBaselineOptions;
  /** Samples a key needs to be `mature`: `ceil(ln 0.05 / ln(1 − slowAlpha))`. */
  readonly samplesToMature: number;
  /**
   * Set by {@link fromSnapshot}: the option changes between the snapshot and the options given
   * (in words), and keys of scopes no longer baselined that were dropped. Empty otherwise.
   */
  restoreNotes: string[] = [];

  private readonly keys = new Map<string, KeyState>();
  private readonly scopeSet: Set<Scope>;
  private evictions = 0;
  private clockMs = 0;

  /**
   * @param options see {@link BaselineOptions}
   * @throws {RangeError} on bad options (see {@link resolveBaselineOptions})
   */
  constructor(options?: BaselineOptions) {
    this.options = resolveBaselineOptions(options);
    this.samplesToMature = samplesToConverge(this.options.slowAlpha);
    this.scopeSet = new Set(this.options.scopes);
  }

  /** Maturity of a key with `firstSeen` and `samples` at packet time `t` (ms). */
  private stateAt(firstSeen: number, samples: number, t: number): MaturityState {
    if (t - firstSeen < this.options.bootstrapMs) return 'bootstrap';
    return samples < this.samplesToMature ? 'learning' : 'mature';
  }

  /**
   * Returns a NEW window whose records of a baselined scope carry `baseline`: the key's maturity,
   * first-seen time, sample count and per-metric baseline as they stood BEFORE this window (a key
   * seen for the first time gets state `bootstrap`, 0 samples and no metrics). Then folds this
   * window's metric values in. Records of other scopes are passed through unchanged; the input
   * window and its records are not mutated. A key that appears twice in one window is folded twice.
   *
   * The window is expected to be valid (see `assertWindowMessage` in contracts).
   */
  annotate(window: WindowMessage): WindowMessage {
    const { fastAlpha, slowAlpha } = this.options;
    const t = window.windowStart;
    const records: TrafficRecord[] = new Array(window.records.length);
    for (let i = 0; i < window.records.length; i++) {
      const record = window.records[i]!;
      if (!this.scopeSet.has(record.scope)) { records[i] = record; continue; }
      let ks = this.keys.get(record.key);
      if (ks === undefined) {
        if (this.keys.size >= this.options.maxKeys) this.evictOldest();
        ks = { scope: record.scope, firstSeen: t, lastSeen: t, samples: 0, metrics: new Map() };
      } else {
        this.keys.delete(record.key); // re-inserted below: Map order is least recently seen first
      }
      this.keys.set(record.key, ks);
      const metricBaselines: Record<string, MetricBaseline> = {};
      for (const [name, st] of ks.metrics) {
        if (st.samples === 0) continue;
        metricBaselines[name] = { fast: st.fast, slow: st.slow, mean: st.slow, std: ewStd(st), samples: st.samples };
      }
      const baseline: RecordBaseline = {
        state: this.stateAt(ks.firstSeen, ks.samples, t),
        firstSeen: ks.firstSeen,
        samples: ks.samples,
        metrics: metricBaselines,
      };
      records[i] = { ...record, baseline };
      for (const name in record.metrics) {
        const x = record.metrics[name]!;
        let st = ks.metrics.get(name);
        if (st === undefined) { st = { fast: 0, slow: 0, variance: 0, samples: 0 }; ks.metrics.set(name, st); }
        foldSample(st, x, fastAlpha, slowAlpha);
      }
      ks.samples++;
      if (t > ks.lastSeen) ks.lastSeen = t;
    }
    if (window.windowEnd > this.clockMs) this.clockMs = window.windowEnd;
    return { ...window, records };
  }

  private evictOldest(): void {
    const oldest = this.keys.keys().next();
    if (!oldest.done) { this.keys.delete(oldest.value); this.evictions++; }
  }

  /** Number of keys, how many are in each maturity state as of the latest window end, and evictions so far. O(keys). */
  stats(): BaselineStats {
    const s: BaselineStats = { keys: this.keys.size, bootstrap: 0, learning: 0, mature: 0, evictions: this.evictions };
    for (const ks of this.keys.values()) s[this.stateAt(ks.firstSeen, ks.samples, this.clockMs)]++;
    return s;
  }

  /** The baseline a record of `key` would carry in a window starting at `t` (ms), or undefined for an unknown key. For tests and display. */
  peek(key: string, t: number = this.clockMs): RecordBaseline | undefined {
    const ks = this.keys.get(key);
    if (ks === undefined) return undefined;
    const metrics: Record<string, MetricBaseline> = {};
    for (const [name, st] of ks.metrics) metrics[name] = { fast: st.fast, slow: st.slow, mean: st.slow, std: ewStd(st), samples: st.samples };
    return { state: this.stateAt(ks.firstSeen, ks.samples, t), firstSeen: ks.firstSeen, samples: ks.samples, metrics };
  }

  /** Plain-JSON snapshot of everything the store learned (see {@link BaselineSnapshot}). */
  toSnapshot(): BaselineSnapshot {
    const keys: SnapshotKey[] = [];
    for (const [key, ks] of this.keys) {
      const metrics: Record<string, [number, number, number, number]> = {};
      for (const [name, st] of ks.metrics) metrics[name] = [st.fast, st.slow, st.variance, st.samples];
      keys.push({ key, scope: ks.scope, firstSeen: ks.firstSeen, lastSeen: ks.lastSeen, samples: ks.samples, metrics });
    }
    return {
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      options: { ...this.options, scopes: [...this.options.scopes] },
      clockMs: this.clockMs,
      evictions: this.evictions,
      keys,
    };
  }

  /**
   * Rebuilds a store from {@link toSnapshot}'s output (e.g. parsed from a file).
   *
   * With `options`, the store runs with those options and keeps the learned keys even where the
   * snapshot's options differ (the differences are listed in {@link restoreNotes}); keys of scopes
   * not in `options.scopes` are dropped, and when there are more keys than `maxKeys` the least
   * recently seen are dropped (both noted). Without `options`, the snapshot's options are used.
   *
   * @throws {ContractError} when `snapshot` is not a baseline snapshot of this format and version,
   *   or any key or number in it is malformed (the message names the field).
   * @throws {RangeError} when `options` are bad.
   */
  static fromSnapshot(snapshot: unknown, options?: BaselineOptions): BaselineStore {
    const snap = checkSnapshot(snapshot);
    const store = new BaselineStore(options ?? snap.options);
    if (options !== undefined) {
      const changes = describeOptionChanges(snap.options, store.options);
      if (changes.length > 0) store.restoreNotes.push(`options differ from the saved baseline (${changes.join('; ')}); learned keys kept`);
    }
    let droppedScope = 0;
    for (const k of snap.keys) {
      if (!store.scopeSet.has(k.scope)) { droppedScope++; continue; }
      const metrics = new Map<string, EwmaState>();
      for (const [name, [fast, slow, variance, samples]] of Object.entries(k.metrics)) metrics.set(name, { fast, slow, variance, samples });
      store.keys.delete(k.key);
      store.keys.set(k.key, { scope: k.scope, firstSeen: k.firstSeen, lastSeen: k.lastSeen, samples: k.samples, metrics });
    }
    if (droppedScope > 0) store.restoreNotes.push(`${droppedScope} saved keys of scopes no longer baselined dropped`);
    let droppedCap = 0;
    while (store.keys.size > store.options.maxKeys) { store.evictOldest(); droppedCap++; }
    if (droppedCap > 0) store.restoreNotes.push(`${droppedCap} least recently seen saved keys dropped to fit maxKeys ${store.options.maxKeys}`);
    store.evictions = snap.evictions + droppedCap;
    store.clockMs = snap.clockMs;
    return store;
  }

  /** Forgets one key (`key` given) or everything (keys, clock and eviction count). */
  reset(key?: string): void {
    if (key !== undefined) { this.keys.delete(key); return; }
    this.keys.clear();
    this.evictions = 0;
    this.clockMs = 0;
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isFiniteNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** Validates a parsed snapshot; throws {@link ContractError} naming the first field at fault. */
function checkSnapshot(value: unknown): BaselineSnapshot {
  if (!isObj(value)) throw new ContractError('baseline snapshot: expected an object');
  if (value.format !== SNAPSHOT_FORMAT) throw new ContractError(`baseline snapshot: format must be "${SNAPSHOT_FORMAT}", got ${JSON.stringify(value.format)}`);
  if (value.version !== SNAPSHOT_VERSION) throw new ContractError(`baseline snapshot: unsupported version ${JSON.stringify(value.version)} (this build reads ${SNAPSHOT_VERSION})`);
  if (!isObj(value.options)) throw new ContractError('baseline snapshot: options must be an object');
  let options: ResolvedBaselineOptions;
  try {
    options = resolveBaselineOptions(value.options as BaselineOptions);
  } catch (err) {
    throw new ContractError(`baseline snapshot: options are invalid (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!isFiniteNum(value.clockMs)) throw new ContractError('baseline snapshot: clockMs must be a finite number');
  if (!isCount(value.evictions)) throw new ContractError('baseline snapshot: evictions must be a non-negative integer');
  if (!Array.isArray(value.keys)) throw new ContractError('baseline snapshot: keys must be an array');
  value.keys.forEach((k: unknown, i: number) => {
    if (!isObj(k)) throw new ContractError(`baseline snapshot: keys[${i}] is not an object`);
    if (typeof k.key !== 'string' || k.key === '') throw new ContractError(`baseline snapshot: keys[${i}].key must be a non-empty string`);
    if (!SCOPES.includes(k.scope as Scope)) throw new ContractError(`baseline snapshot: keys[${i}].scope must be one of ${SCOPES.join(', ')}`);
    if (!isFiniteNum(k.firstSeen) || !isFiniteNum(k.lastSeen)) throw new ContractError(`baseline snapshot: keys[${i}].firstSeen/lastSeen must be finite numbers`);
    if (!isCount(k.samples)) throw new ContractError(`baseline snapshot: keys[${i}].samples must be a non-negative integer`);
    if (!isObj(k.metrics)) throw new ContractError(`baseline snapshot: keys[${i}].metrics must be an object`);
    for (const [m, v] of Object.entries(k.metrics)) {
      if (!Array.isArray(v) || v.length !== 4 || !isFiniteNum(v[0]) || !isFiniteNum(v[1]) || !isFiniteNum(v[2]) || v[2] < 0 || !isCount(v[3])) {
        throw new ContractError(`baseline snapshot: keys[${i}].metrics.${m} must be [fast, slow, variance ≥ 0, samples]`);
      }
    }
  });
  return { ...(value as unknown as BaselineSnapshot), options };
}
