/**
 * Per-key baselines of the traffic metrics (the core of the `ewma-baseline` node).
 *
 * For every record of a baselined scope the store keeps, per metric, the fast/slow EWMA, the
 * exponentially weighted variance and the sample count of {@link ./ewma}. {@link BaselineStore.annotate}
 * attaches to each record the baseline as it stood before the window, then folds the window in.
 * The rules below are the ones README "Baselines" documents; option names in brackets.
 *
 * **Maturity** of a key (see {@link MaturityState}), with `t` = the window's start (packet time, ms):
 * - `bootstrap` while `t − firstSeen < bootstrapMs` (default 5 min): the baseline does not yet
 *   cover the bootstrap period; rules use static thresholds only;
 * - `learning` until the key has `n ≥ ceil(ln 0.05 / ln(1 − slowAlpha))` samples (59 for α 0.05:
 *   the weight `(1−α)^n` of the first value in the slow EWMA has decayed below 5 %: the slow EWMA
 *   has converged, it no longer depends on where it started);
 * - `mature` from then on.
 *
 * **Zero samples** (`zeroFillHorizonMs`, default 10 min): a key of the interface, dstHost or srcHost
 * scope that is known but absent from a window had no traffic in it; each of its counting metrics
 * ({@link COUNTING_METRICS}) is folded in as 0 and the key's sample count grows. A key that has been
 * absent for longer than the horizon (`t − lastSeen > zeroFillHorizonMs`) is no longer zero-filled:
 * its baseline stays as it was, so a host that is switched off for the weekend keeps the level it
 * decayed to instead of converging to exactly 0 and, on a restart or a capture gap (the windows the
 * aggregator skipped, `gapBeforeMs`), no burst of zero samples is folded in. Metrics that are not
 * counts (e.g. `flowDurationMs`, or unknown metrics of another producer) are never zero-filled.
 * 0 turns zero-filling off.
 *
 * **Flows** (scope `flow`, opt-in) come and go: they are not zero-filled; when a flow key returns
 * after `Δt = t − (start of its previous sample) > windowMs`, its sample is folded with
 * `α' = 1 − (1−α)^(Δt/windowMs)` for both EWMAs and the variance ({@link gapAlpha}), so the old value
 * decays by the elapsed packet time.
 *
 * **Priors** (`priors`, `priorMinPeers` 5, `priorRefreshMs` 60 s): a key seen for the first time
 * does not start empty when its scope has at least `priorMinPeers` mature keys: each metric of its
 * first record starts from the median fast EWMA, median slow EWMA and median σ of the mature keys of
 * that scope (medians recomputed at most once per `priorRefreshMs` of packet time). Its record's
 * baseline carries `prior: true` (and those metrics, with `samples: 0` on the first record) until
 * the key has `samplesToMature` samples of its own (the prior's weight is then below 5 %). The key's
 * state still follows its own age (`bootstrap` first), and during its bootstrap its samples are
 * learned at full weight (not clipped): a new host may well be busier than the median of its peers,
 * and its own level must be learned; the prior is there so that its first windows can be compared.
 * Rule detector: see README "Baselines" for how a `prior: true` baseline should be used.
 *
 * **Poisoning** (`clipSigma` 3, `clipFloors`): once a key is past its bootstrap, a sample of a
 * metric that has a clip floor (by default the six metrics the rule detector evaluates, with its
 * noise floors: {@link DEFAULT_CLIP_FLOORS}) above `μ + max(clipSigma·σ, floor)` (μ the slow EWMA,
 * σ the EW standard deviation) is clipped to that threshold for the slow EWMA, and the variance is
 * not updated with it (see {@link foldClipped}); the fast EWMA takes the raw value. So a sustained
 * anomaly raises μ by at most `slowAlpha·max(clipSigma·σ, floor)` per window (σ stays put): a
 * 20-minute flood (120 windows of 10 s) moves μ by at most `6·max(3σ, floor)`, which normal traffic
 * then decays by `(1 − slowAlpha)` per window. Only upward deviations are clipped (rules look for
 * increases; a drop is learned at full weight). 0 turns clipping off. In **maintenance** mode
 * ({@link BaselineStore.setMaintenance}) nothing is clipped: everything is learned at full weight.
 * **Frozen** ({@link BaselineStore.setFrozen}): records are annotated but nothing is learned.
 *
 * **Seasonal profile** (`seasonal` `'hour-of-day'`, off by default; `seasonalDays` 3,
 * `seasonalTimeZone` `'local'`): each key is baselined per hour of the day: a record of `dst a` in a
 * window starting at 02:xx is compared with, and folded into, the key `dst a @02h` only. The slow
 * α of such a slot key is `1 − 0.05^(windowMs / (seasonalDays · 1 h))`, so that after
 * `seasonalDays` days of that hour the oldest day's weight is below 5 % (at most the fast α); the
 * slot is `mature` after that many samples (`seasonalDays` days of that hour); the fast α is unchanged. Zero samples go
 * only to the slots of the current hour, priors come from peers' slots of the same hour, and slot
 * keys count against `maxKeys` (up to 24 per key). A nightly backup at 02:00 is then normal at
 * 02:00 and not at 14:00.
 *
 * **Packet time going back** (a capture replayed again, a loop, an older file) by more than a
 * window: every key's times and the clock are shifted back by the jump, so the new run continues
 * the old one (ages, maturity, zero-fill horizon carry on). Counted in `stats().timeRebases`.
 *
 * **Bootstrap static thresholds from the line rate** (`lineRateBitsPerSecond`, `lineRateFraction`
 * 0.1): when a line rate is set, {@link BaselineStore.bootstrapThresholds} gives `fraction × line
 * rate` in bit/s and `fraction × line rate / 672` in packet/s (672 bits: the smallest Ethernet frame,
 * 64 bytes, plus 8 bytes preamble/SFD and 12 bytes inter-frame gap, IEEE 802.3 — the line's packet
 * rate at minimum-size frames), attached to each annotated window as `bootstrapThresholds`.
 *
 * @packageDocumentation
 */
import {
  ContractError, SCOPES,
  type MaturityState, type MetricBaseline, type RecordBaseline, type Scope, type TrafficRecord, type WindowMessage,
} from './contracts';
import {
  DEFAULT_FAST_ALPHA, DEFAULT_SLOW_ALPHA, checkAlphas, ewStd, foldClipped, foldSample, gapAlpha, samplesToConverge,
  updateSample, type EwmaState,
} from './ewma';

/**
 * Metrics of counting nature: a key absent from a window had 0 of each (see zero samples above).
 * The flow-aggregator's metrics (README "Metrics") except `flowDurationMs`.
 */
export const COUNTING_METRICS: ReadonlySet<string> = new Set([
  'bytes', 'packets', 'bitsPerSecond', 'packetsPerSecond', 'synCount', 'synAckCount', 'newFlows', 'distinctDstPorts', 'distinctPeers',
]);

/**
 * Default clip floors per metric, the rule detector's noise floors (same units: packet/s, bit/s,
 * counts per window): a sample is clipped only if it is above `μ + max(clipSigma·σ, floor)`, so a
 * flat baseline (σ = 0) still learns small changes.
 */
export const DEFAULT_CLIP_FLOORS: Readonly<Record<string, number>> = Object.freeze({
  packetsPerSecond: 10, bitsPerSecond: 80_000, synCount: 20, newFlows: 20, distinctDstPorts: 20, distinctPeers: 20,
});

/** Bits on the wire of the smallest Ethernet frame: 64 bytes + 8 preamble/SFD + 12 inter-frame gap (IEEE 802.3). */
export const MIN_ETHERNET_FRAME_BITS = 672;

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
  /** Host/interface keys absent from a window are folded in as 0 for at most this long after they were last seen (ms of packet time). Default 600,000 (10 min); 0: no zero-filling. */
  zeroFillHorizonMs?: number;
  /** Samples above μ + max(clipSigma·σ, floor) are clipped for the slow EWMA (poisoning resistance). Default 3; 0: no clipping. */
  clipSigma?: number;
  /** Floor per metric of the clip distance (metric units), merged over {@link DEFAULT_CLIP_FLOORS}; only metrics listed here are clipped (the floor keeps a flat baseline, σ = 0, learning). */
  clipFloors?: Record<string, number>;
  /** Start new keys from their peers' median baseline. Default true. */
  priors?: boolean;
  /** Mature keys a scope needs before its median is used as a prior. Default 5, integer ≥ 1. */
  priorMinPeers?: number;
  /** Packet time between recomputations of the peer medians, ms. Default 60,000. */
  priorRefreshMs?: number;
  /** Interface line rate in bit/s for the bootstrap static thresholds (e.g. 1e9); 0: none. Default 0. */
  lineRateBitsPerSecond?: number;
  /** Fraction of the line rate used as the bootstrap threshold, 0 < f ≤ 1. Default 0.1. */
  lineRateFraction?: number;
  /** Seasonal profile: `'off'` (default) or `'hour-of-day'` (a baseline per key and hour of the day). */
  seasonal?: 'off' | 'hour-of-day';
  /** Days of an hour a seasonal slot remembers (its oldest day's weight < 5 % after them) and needs to be mature. Default 3, > 0. */
  seasonalDays?: number;
  /** Clock of the hour of day: `'local'` (the host's time zone, with its daylight saving time; default) or `'utc'`. */
  seasonalTimeZone?: 'local' | 'utc';
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
  zeroFillHorizonMs: 600_000,
  clipSigma: 3,
  clipFloors: { ...DEFAULT_CLIP_FLOORS },
  priors: true,
  priorMinPeers: 5,
  priorRefreshMs: 60_000,
  lineRateBitsPerSecond: 0,
  lineRateFraction: 0.1,
  seasonal: 'off' as 'off' | 'hour-of-day',
  seasonalDays: 3,
  seasonalTimeZone: 'local' as 'local' | 'utc',
});

/** Identifies a snapshot written by {@link BaselineStore.toSnapshot}. */
export const SNAPSHOT_FORMAT = 'netbaseline/baseline';
/** Version of the snapshot layout (fields added since version 1 are optional, so it stays 1). */
export const SNAPSHOT_VERSION = 1;

/**
 * One key in a snapshot. `metrics` maps a metric name to `[fast, slow, variance, samples]`.
 */
export interface SnapshotKey {
  key: string;
  scope: Scope;
  /** Packet time the key was first seen (window start), epoch ms. */
  firstSeen: number;
  /** Start of the last window the key was seen in (had traffic), epoch ms. */
  lastSeen: number;
  /** Start of the last window folded into the key, including zero samples, epoch ms. Defaults to lastSeen. */
  lastUpdate?: number;
  /** Samples folded in (windows seen plus zero samples). */
  samples: number;
  /** True when the key started from its peers' prior. */
  prior?: boolean;
  /** Seasonal slot (hour of day 0–23) of a slot key such as `dst a @02h`; absent for a plain key. */
  slot?: number;
  /** Samples the key needs to be mature when that differs from the store's (seasonal slot keys). */
  matureAt?: number;
  metrics: Record<string, [number, number, number, number]>;
}

/** Plain-JSON snapshot of a store (what the node writes to disk and exports). Keys are listed least recently seen first. */
export interface BaselineSnapshot {
  format: typeof SNAPSHOT_FORMAT;
  version: typeof SNAPSHOT_VERSION;
  options: ResolvedBaselineOptions;
  /** End of the latest window folded in, epoch ms (0 before any). */
  clockMs: number;
  /** Keys evicted since the store was created. */
  evictions: number;
  /** Learning modes in force when the snapshot was taken (absent: both off). */
  modes?: { maintenance: boolean; frozen: boolean };
  keys: SnapshotKey[];
}

/** Counts of a store, for status texts. Maturity is as of the latest window end seen. */
export interface BaselineStats {
  keys: number;
  bootstrap: number;
  learning: number;
  mature: number;
  /** Keys evicted at the maxKeys cap since the store was created (or reset). */
  evictions: number;
  /** Keys whose baseline still rests on a peer prior. */
  prior: number;
  /** Samples clipped by the poisoning rule since the store was created (not persisted). */
  clippedSamples: number;
  /** Times packet time went back and the store's times were shifted to continue (not persisted). */
  timeRebases: number;
}

interface KeyState {
  scope: Scope;
  /** Hour of day of a seasonal slot key, −1 for a plain key. */
  slot: number;
  /** Samples needed to be mature. */
  matureAt: number;
  firstSeen: number;
  lastSeen: number;
  lastUpdate: number;
  samples: number;
  prior: boolean;
  metrics: Map<string, EwmaState>;
  /** The states of {@link metrics} whose metric is a count (zero-filled), for a loop without lookups. */
  counting: EwmaState[];
}

/** Peer prior of one metric: medians over the mature keys of a scope. */
interface PriorMetric { fast: number; slow: number; std: number }

const checkNumber = (name: string, v: unknown, min: number, max: number, integer = false, minExclusive = false): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || (minExclusive ? v <= min : v < min) || v > max || (integer && !Number.isInteger(v))) {
    throw new RangeError(`${name} must be ${integer ? 'an integer' : 'a finite number'} ${minExclusive ? '>' : '≥'} ${min}${max < Infinity ? ` and ≤ ${max}` : ''}, got ${String(v)}`);
  }
  return v;
};

/**
 * Resolves and checks options.
 * @throws {RangeError} on an α outside (0, 1] or fast ≤ slow, a negative or non-finite bootstrapMs,
 *   zeroFillHorizonMs, clipSigma, clip floor or priorRefreshMs, an unknown or empty scope list, a
 *   maxKeys or priorMinPeers that is not a positive integer, a negative line rate or a line-rate
 *   fraction outside (0, 1].
 */
export function resolveBaselineOptions(options: BaselineOptions = {}): ResolvedBaselineOptions {
  if (typeof options !== 'object' || options === null) throw new RangeError('baseline options must be an object');
  const d = DEFAULT_BASELINE_OPTIONS;
  const o: ResolvedBaselineOptions = {
    fastAlpha: options.fastAlpha ?? d.fastAlpha,
    slowAlpha: options.slowAlpha ?? d.slowAlpha,
    bootstrapMs: options.bootstrapMs ?? d.bootstrapMs,
    scopes: options.scopes ?? [...d.scopes],
    maxKeys: options.maxKeys ?? d.maxKeys,
    zeroFillHorizonMs: options.zeroFillHorizonMs ?? d.zeroFillHorizonMs,
    clipSigma: options.clipSigma ?? d.clipSigma,
    clipFloors: { ...DEFAULT_CLIP_FLOORS },
    priors: options.priors ?? d.priors,
    priorMinPeers: options.priorMinPeers ?? d.priorMinPeers,
    priorRefreshMs: options.priorRefreshMs ?? d.priorRefreshMs,
    lineRateBitsPerSecond: options.lineRateBitsPerSecond ?? d.lineRateBitsPerSecond,
    lineRateFraction: options.lineRateFraction ?? d.lineRateFraction,
    seasonal: options.seasonal ?? d.seasonal,
    seasonalDays: options.seasonalDays ?? d.seasonalDays,
    seasonalTimeZone: options.seasonalTimeZone ?? d.seasonalTimeZone,
  };
  checkAlphas(o.fastAlpha, o.slowAlpha);
  if (typeof o.bootstrapMs !== 'number' || !Number.isFinite(o.bootstrapMs) || o.bootstrapMs < 0) {
    throw new RangeError(`bootstrapMs must be a finite number ≥ 0 (ms), got ${String(o.bootstrapMs)}`);
  }
  if (!Array.isArray(o.scopes) || o.scopes.length === 0) throw new RangeError('scopes must be a non-empty array');
  for (const s of o.scopes) if (!SCOPES.includes(s)) throw new RangeError(`unknown scope ${JSON.stringify(s)}; use ${SCOPES.join(', ')}`);
  o.scopes = SCOPES.filter((s) => o.scopes.includes(s));
  if (typeof o.maxKeys !== 'number' || !Number.isInteger(o.maxKeys) || o.maxKeys < 1) throw new RangeError(`maxKeys must be a positive integer, got ${String(o.maxKeys)}`);
  checkNumber('zeroFillHorizonMs', o.zeroFillHorizonMs, 0, Infinity);
  checkNumber('clipSigma', o.clipSigma, 0, Infinity);
  if (options.clipFloors !== undefined) {
    if (typeof options.clipFloors !== 'object' || options.clipFloors === null || Array.isArray(options.clipFloors)) throw new RangeError('clipFloors must be an object of numbers');
    for (const [m, v] of Object.entries(options.clipFloors)) o.clipFloors[m] = checkNumber(`clipFloors.${m}`, v, 0, Infinity);
  }
  if (typeof o.priors !== 'boolean') throw new RangeError(`priors must be true or false, got ${String(o.priors)}`);
  checkNumber('priorMinPeers', o.priorMinPeers, 1, Infinity, true);
  checkNumber('priorRefreshMs', o.priorRefreshMs, 0, Infinity);
  checkNumber('lineRateBitsPerSecond', o.lineRateBitsPerSecond, 0, Infinity);
  checkNumber('lineRateFraction', o.lineRateFraction, 0, 1, false, true);
  if (o.seasonal !== 'off' && o.seasonal !== 'hour-of-day') throw new RangeError(`seasonal must be "off" or "hour-of-day", got ${JSON.stringify(o.seasonal)}`);
  checkNumber('seasonalDays', o.seasonalDays, 0, 366, false, true);
  if (o.seasonalTimeZone !== 'local' && o.seasonalTimeZone !== 'utc') throw new RangeError(`seasonalTimeZone must be "local" or "utc", got ${JSON.stringify(o.seasonalTimeZone)}`);
  return o;
}

/**
 * Lists, in words, the options that differ between `a` (e.g. a snapshot's) and `b` (e.g. the
 * configured ones); empty when they agree.
 */
export function describeOptionChanges(a: ResolvedBaselineOptions, b: ResolvedBaselineOptions): string[] {
  const out: string[] = [];
  for (const k of ['fastAlpha', 'slowAlpha', 'bootstrapMs', 'maxKeys', 'zeroFillHorizonMs', 'clipSigma', 'priors', 'priorMinPeers', 'priorRefreshMs', 'lineRateBitsPerSecond', 'lineRateFraction', 'seasonal', 'seasonalDays', 'seasonalTimeZone'] as const) {
    if (a[k] !== b[k]) out.push(`${k} ${String(a[k])} → ${String(b[k])}`);
  }
  if (a.scopes.join(',') !== b.scopes.join(',')) out.push(`scopes ${a.scopes.join(',')} → ${b.scopes.join(',')}`);
  if (JSON.stringify(a.clipFloors) !== JSON.stringify(b.clipFloors)) out.push('clipFloors changed');
  return out;
}

/** Median of the first `n` entries of `values` (sorted in place). */
function median(values: Float64Array, n: number): number {
  const v = values.subarray(0, n).sort();
  const mid = n >> 1;
  return n % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/**
 * Learns per-key EWMA baselines from windows of traffic records and annotates each record with its
 * baseline. Keys are held in least-recently-seen order and capped at `maxKeys`. See the module
 * documentation for every rule (maturity, zero samples, flows, priors, poisoning, modes).
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
  private clipped = 0;
  private rebases = 0;
  private maintenance = false;
  private frozen = false;
  private priorCache: Map<string, Map<string, PriorMetric>> | undefined;
  private priorCacheAt = Number.NEGATIVE_INFINITY;

  /**
   * @param options see {@link BaselineOptions}
   * @throws {RangeError} on bad options (see {@link resolveBaselineOptions})
   */
  constructor(options?: BaselineOptions) {
    this.options = resolveBaselineOptions(options);
    this.samplesToMature = samplesToConverge(this.options.slowAlpha);
    this.scopeSet = new Set(this.options.scopes);
  }

  /** Maturity of a key at packet time `t` (ms). */
  private stateAt(ks: KeyState, t: number): MaturityState {
    if (t - ks.firstSeen < this.options.bootstrapMs) return 'bootstrap';
    return ks.samples < ks.matureAt ? 'learning' : 'mature';
  }

  /** Hour of day (0–23) of packet time `t` in the configured time zone. */
  private hourOf(t: number): number {
    if (this.options.seasonalTimeZone === 'utc') return Math.floor(t / 3_600_000) % 24;
    return new Date(t).getHours();
  }

  /**
   * Slow α of a seasonal slot key for windows of `windowMs`: `1 − 0.05^(windowMs / (seasonalDays · 1 h))`
   * (the weight of the samples older than `seasonalDays` days of that hour is then below 5 %), at
   * most the fast α (the slow EWMA must stay the slower one).
   */
  private slotAlpha(windowMs: number): number {
    const a = 1 - Math.pow(0.05, windowMs / (this.options.seasonalDays * 3_600_000));
    return Math.min(a, this.options.fastAlpha);
  }

  /** Maintenance mode: while on, samples are learned at full weight (no clipping). */
  setMaintenance(on: boolean): void { this.maintenance = on; }
  /** Frozen: while on, records are annotated but nothing is learned (no new keys, no samples, clock stands). */
  setFrozen(on: boolean): void { this.frozen = on; }
  /** The learning modes in force. */
  modes(): { maintenance: boolean; frozen: boolean } { return { maintenance: this.maintenance, frozen: this.frozen }; }

  /**
   * The cold-start static thresholds derived from the configured line rate, or undefined when no
   * line rate is set: bit/s = fraction × line rate, packet/s = that / {@link MIN_ETHERNET_FRAME_BITS}.
   */
  bootstrapThresholds(): WindowMessage['bootstrapThresholds'] {
    const { lineRateBitsPerSecond: rate, lineRateFraction: f } = this.options;
    if (!(rate > 0)) return undefined;
    return { bitsPerSecond: rate * f, packetsPerSecond: (rate * f) / MIN_ETHERNET_FRAME_BITS, lineRateBitsPerSecond: rate, fraction: f };
  }

  /**
   * The peer prior of `scope` at packet time `t`: per metric, the medians of fast, slow and σ over
   * the keys of that scope that are mature at `t` and no longer rest on a prior themselves;
   * undefined with fewer than `priorMinPeers` such keys. With a seasonal profile, `slot` (hour of
   * day) picks the peers' slot keys of that hour; −1 (default) the plain keys. Cached for
   * `priorRefreshMs`. O(keys·metrics·log keys) on a refresh.
   */
  priorFor(scope: Scope, t: number = this.clockMs, slot = -1): ReadonlyMap<string, PriorMetric> | undefined {
    if (this.priorCache === undefined || t - this.priorCacheAt >= this.options.priorRefreshMs || t < this.priorCacheAt) {
      this.priorCache = this.computePriors(t);
      this.priorCacheAt = t;
    }
    return this.priorCache.get(`${scope}|${slot}`);
  }

  private computePriors(t: number): Map<string, Map<string, PriorMetric>> {
    const byScope = new Map<string, KeyState[]>();
    for (const ks of this.keys.values()) {
      if (this.stateAt(ks, t) !== 'mature') continue;
      const group = `${ks.scope}|${ks.slot}`;
      let list = byScope.get(group);
      if (list === undefined) { list = []; byScope.set(group, list); }
      list.push(ks);
    }
    const out = new Map<string, Map<string, PriorMetric>>();
    for (const [scope, list] of byScope) {
      if (list.length < this.options.priorMinPeers) continue;
      const names = new Set<string>();
      for (const ks of list) for (const name of ks.metrics.keys()) names.add(name);
      const fast = new Float64Array(list.length), slow = new Float64Array(list.length), std = new Float64Array(list.length);
      const metrics = new Map<string, PriorMetric>();
      for (const name of names) {
        let n = 0;
        for (const ks of list) {
          const st = ks.metrics.get(name);
          if (st === undefined || st.samples === 0) continue;
          fast[n] = st.fast; slow[n] = st.slow; std[n] = ewStd(st); n++;
        }
        if (n < this.options.priorMinPeers) continue;
        metrics.set(name, { fast: median(fast, n), slow: median(slow, n), std: median(std, n) });
      }
      if (metrics.size > 0) out.set(scope, metrics);
    }
    return out;
  }

  /**
   * Returns a NEW window whose records of a baselined scope carry `baseline`: the key's maturity,
   * first-seen time, sample count and per-metric baseline as they stood BEFORE this window (a key
   * seen for the first time gets state `bootstrap`, 0 samples and no metrics, or its peers' prior
   * marked `prior: true`). Then folds this window's metric values in (clipped where anomalous) and
   * zero-fills known keys absent from it. Records of other scopes are passed through unchanged; the
   * input window and its records are not mutated. A key that appears twice in one window is folded
   * twice. When frozen, only annotates. With a line rate configured, the window carries
   * `bootstrapThresholds`.
   *
   * The window is expected to be valid (see `assertWindowMessage` in contracts).
   */
  annotate(window: WindowMessage): WindowMessage {
    const { fastAlpha, slowAlpha, clipSigma, clipFloors } = this.options;
    const t = window.windowStart;
    const windowMs = window.windowMs > 0 ? window.windowMs : 1;
    const records: TrafficRecord[] = new Array(window.records.length);
    if (this.clockMs > 0 && t < this.clockMs - windowMs && !this.frozen) this.rebase(this.clockMs - t);
    const clipping = clipSigma > 0 && !this.maintenance;
    const seasonal = this.options.seasonal === 'hour-of-day';
    const slot = seasonal ? this.hourOf(t) : -1;
    const slotSuffix = seasonal ? ` @${slot < 10 ? '0' : ''}${slot}h` : '';
    const slotSlowAlpha = seasonal ? this.slotAlpha(windowMs) : slowAlpha;
    const slotMatureAt = seasonal ? samplesToConverge(slotSlowAlpha) : this.samplesToMature;
    for (let i = 0; i < window.records.length; i++) {
      const record = window.records[i]!;
      if (!this.scopeSet.has(record.scope)) { records[i] = record; continue; }
      const storeKey = seasonal ? record.key + slotSuffix : record.key;
      let ks = this.keys.get(storeKey);
      let prior: ReadonlyMap<string, PriorMetric> | undefined;
      const isNew = ks === undefined;
      if (ks === undefined) {
        if (this.options.priors) prior = this.priorFor(record.scope, t, slot);
        ks = { scope: record.scope, slot, matureAt: slotMatureAt, firstSeen: t, lastSeen: t, lastUpdate: Number.NEGATIVE_INFINITY, samples: 0, prior: prior !== undefined, metrics: new Map(), counting: [] };
        if (!this.frozen) {
          if (this.keys.size >= this.options.maxKeys) this.evictOldest();
          this.keys.set(storeKey, ks);
        }
      } else if (!this.frozen) {
        this.keys.delete(storeKey); // re-inserted: Map order is least recently seen first
        this.keys.set(storeKey, ks);
        if (ks.slot >= 0) ks.matureAt = slotMatureAt; // follows the window length
      }
      const state = this.stateAt(ks, t);
      const metricBaselines: Record<string, MetricBaseline> = {};
      if (prior !== undefined) {
        for (const name in record.metrics) {
          const p = prior.get(name);
          if (p !== undefined) metricBaselines[name] = { fast: p.fast, slow: p.slow, mean: p.slow, std: p.std, samples: 0 };
        }
      } else {
        for (const [name, st] of ks.metrics) {
          if (st.samples === 0) continue;
          metricBaselines[name] = { fast: st.fast, slow: st.slow, mean: st.slow, std: ewStd(st), samples: st.samples };
        }
      }
      const baseline: RecordBaseline = { state, firstSeen: ks.firstSeen, samples: ks.samples, metrics: metricBaselines };
      if (ks.prior && ks.samples < ks.matureAt) baseline.prior = true;
      records[i] = { ...record, baseline };
      if (this.frozen) continue;

      // fold the window in
      let fa = fastAlpha, sa = ks.slot >= 0 ? slotSlowAlpha : slowAlpha;
      if (ks.scope === 'flow' && ks.lastUpdate > Number.NEGATIVE_INFINITY && t - ks.lastUpdate > windowMs) {
        const elapsed = (t - ks.lastUpdate) / windowMs;
        fa = gapAlpha(fastAlpha, elapsed);
        sa = gapAlpha(sa, elapsed);
      }
      const clipHere = clipping && state !== 'bootstrap';
      for (const name in record.metrics) {
        const x = record.metrics[name]!;
        let st = ks.metrics.get(name);
        let seeded = false;
        if (st === undefined) {
          st = { fast: 0, slow: 0, variance: 0, samples: 0 };
          const p = isNew ? prior?.get(name) : undefined;
          if (p !== undefined) { st.fast = p.fast; st.slow = p.slow; st.variance = p.std * p.std; seeded = true; }
          ks.metrics.set(name, st);
          if (COUNTING_METRICS.has(name)) ks.counting.push(st);
        }
        if (st.samples === 0 && !seeded) { foldSample(st, x, fa, sa); continue; }
        const floor = clipHere ? clipFloors[name] : undefined;
        if (floor !== undefined) {
          const threshold = st.slow + Math.max(clipSigma * ewStd(st), floor);
          if (x > threshold) { foldClipped(st, x, threshold, fa, sa); this.clipped++; continue; }
        }
        updateSample(st, x, fa, sa);
      }
      ks.samples++;
      if (t > ks.lastSeen) ks.lastSeen = t;
      if (t > ks.lastUpdate) ks.lastUpdate = t;
    }
    if (!this.frozen) {
      this.zeroFill(t, slot, slotSlowAlpha);
      if (window.windowEnd > this.clockMs) this.clockMs = window.windowEnd;
    }
    const out: WindowMessage = { ...window, records };
    const thresholds = this.bootstrapThresholds();
    if (thresholds !== undefined) out.bootstrapThresholds = thresholds;
    return out;
  }

  /**
   * Folds 0 into the counting metrics of every host/interface key absent from the window at `t` and
   * seen within the horizon; of seasonal slot keys only those of the current `slot`.
   */
  private zeroFill(t: number, slot: number, slotSlowAlpha: number): void {
    const horizon = this.options.zeroFillHorizonMs;
    if (!(horizon > 0)) return;
    const { fastAlpha, slowAlpha } = this.options;
    for (const ks of this.keys.values()) {
      if (ks.scope === 'flow' || ks.slot !== slot || ks.lastUpdate >= t || t - ks.lastSeen > horizon) continue;
      const sa = ks.slot >= 0 ? slotSlowAlpha : slowAlpha;
      const counting = ks.counting;
      for (let j = 0; j < counting.length; j++) {
        const st = counting[j]!;
        if (st.samples > 0) updateSample(st, 0, fastAlpha, sa);
      }
      ks.samples++;
      ks.lastUpdate = t;
    }
  }

  /**
   * Packet time went back by more than a window (a capture replayed again, a loop pass, an older
   * file): shifts every key's times and the clock back by `shiftMs`, so the new run continues the
   * old one — ages, maturity and the zero-fill horizon carry on instead of every key falling back to
   * `bootstrap` (its first-seen time would lie in the future) and nothing being zero-filled.
   */
  private rebase(shiftMs: number): void {
    for (const ks of this.keys.values()) {
      ks.firstSeen -= shiftMs;
      ks.lastSeen -= shiftMs;
      ks.lastUpdate -= shiftMs;
    }
    this.clockMs -= shiftMs;
    this.priorCache = undefined;
    this.rebases++;
  }

  private evictOldest(): void {
    const oldest = this.keys.keys().next();
    if (!oldest.done) { this.keys.delete(oldest.value); this.evictions++; }
  }

  /** Number of keys, how many are in each maturity state as of the latest window end, evictions, prior-based keys and clipped samples so far. O(keys). */
  stats(): BaselineStats {
    const s: BaselineStats = { keys: this.keys.size, bootstrap: 0, learning: 0, mature: 0, evictions: this.evictions, prior: 0, clippedSamples: this.clipped, timeRebases: this.rebases };
    for (const ks of this.keys.values()) {
      s[this.stateAt(ks, this.clockMs)]++;
      if (ks.prior && ks.samples < ks.matureAt) s.prior++;
    }
    return s;
  }

  /** The baseline a record of `key` would carry in a window starting at `t` (ms), or undefined for an unknown key. For tests and display. */
  peek(key: string, t: number = this.clockMs): RecordBaseline | undefined {
    const ks = this.keys.get(key);
    if (ks === undefined) return undefined;
    const metrics: Record<string, MetricBaseline> = {};
    for (const [name, st] of ks.metrics) metrics[name] = { fast: st.fast, slow: st.slow, mean: st.slow, std: ewStd(st), samples: st.samples };
    const b: RecordBaseline = { state: this.stateAt(ks, t), firstSeen: ks.firstSeen, samples: ks.samples, metrics };
    if (ks.prior && ks.samples < ks.matureAt) b.prior = true;
    return b;
  }

  /** Plain-JSON snapshot of everything the store learned (see {@link BaselineSnapshot}). */
  toSnapshot(): BaselineSnapshot {
    const keys: SnapshotKey[] = [];
    for (const [key, ks] of this.keys) {
      const metrics: Record<string, [number, number, number, number]> = {};
      for (const [name, st] of ks.metrics) metrics[name] = [st.fast, st.slow, st.variance, st.samples];
      const k: SnapshotKey = { key, scope: ks.scope, firstSeen: ks.firstSeen, lastSeen: ks.lastSeen, lastUpdate: ks.lastUpdate, samples: ks.samples, metrics };
      if (ks.prior) k.prior = true;
      if (ks.slot >= 0) k.slot = ks.slot;
      if (ks.matureAt !== this.samplesToMature) k.matureAt = ks.matureAt;
      if (!Number.isFinite(ks.lastUpdate)) delete k.lastUpdate;
      keys.push(k);
    }
    return {
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      options: { ...this.options, scopes: [...this.options.scopes], clipFloors: { ...this.options.clipFloors } },
      clockMs: this.clockMs,
      evictions: this.evictions,
      modes: this.modes(),
      keys,
    };
  }

  /**
   * Rebuilds a store from {@link toSnapshot}'s output (e.g. parsed from a file, or imported).
   *
   * With `options`, the store runs with those options and keeps the learned keys even where the
   * snapshot's options differ (the differences are listed in {@link restoreNotes}); keys of scopes
   * not in `options.scopes` are dropped, and when there are more keys than `maxKeys` the least
   * recently seen are dropped (both noted). Without `options`, the snapshot's options are used.
   * The snapshot's modes (maintenance, frozen) are restored.
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
      const counting: EwmaState[] = [];
      for (const [name, [fast, slow, variance, samples]] of Object.entries(k.metrics)) {
        const st = { fast, slow, variance, samples };
        metrics.set(name, st);
        if (COUNTING_METRICS.has(name)) counting.push(st);
      }
      store.keys.delete(k.key);
      store.keys.set(k.key, {
        scope: k.scope, slot: k.slot ?? -1, matureAt: k.matureAt ?? store.samplesToMature, firstSeen: k.firstSeen, lastSeen: k.lastSeen, lastUpdate: k.lastUpdate ?? k.lastSeen,
        samples: k.samples, prior: k.prior === true, metrics, counting,
      });
    }
    if (droppedScope > 0) store.restoreNotes.push(`${droppedScope} saved keys of scopes no longer baselined dropped`);
    let droppedCap = 0;
    while (store.keys.size > store.options.maxKeys) { store.evictOldest(); droppedCap++; }
    if (droppedCap > 0) store.restoreNotes.push(`${droppedCap} least recently seen saved keys dropped to fit maxKeys ${store.options.maxKeys}`);
    store.evictions = snap.evictions + droppedCap;
    store.clockMs = snap.clockMs;
    if (snap.modes !== undefined) { store.maintenance = snap.modes.maintenance; store.frozen = snap.modes.frozen; }
    return store;
  }

  /**
   * Forgets one key (`key` given, with its seasonal slot keys `<key> @00h` … `@23h`; returns whether
   * any was known) or everything (keys, clock, eviction and clip counts; modes stay).
   */
  reset(key?: string): boolean {
    this.priorCache = undefined;
    if (key !== undefined) {
      let found = this.keys.delete(key);
      for (let h = 0; h < 24; h++) found = this.keys.delete(`${key} @${h < 10 ? '0' : ''}${h}h`) || found;
      return found;
    }
    this.keys.clear();
    this.evictions = 0;
    this.clockMs = 0;
    this.clipped = 0;
    return true;
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
  if (value.modes !== undefined && (!isObj(value.modes) || typeof value.modes.maintenance !== 'boolean' || typeof value.modes.frozen !== 'boolean')) {
    throw new ContractError('baseline snapshot: modes must be { maintenance: boolean, frozen: boolean }');
  }
  if (!Array.isArray(value.keys)) throw new ContractError('baseline snapshot: keys must be an array');
  value.keys.forEach((k: unknown, i: number) => {
    if (!isObj(k)) throw new ContractError(`baseline snapshot: keys[${i}] is not an object`);
    if (typeof k.key !== 'string' || k.key === '') throw new ContractError(`baseline snapshot: keys[${i}].key must be a non-empty string`);
    if (!SCOPES.includes(k.scope as Scope)) throw new ContractError(`baseline snapshot: keys[${i}].scope must be one of ${SCOPES.join(', ')}`);
    if (!isFiniteNum(k.firstSeen) || !isFiniteNum(k.lastSeen)) throw new ContractError(`baseline snapshot: keys[${i}].firstSeen/lastSeen must be finite numbers`);
    if (k.lastUpdate !== undefined && !isFiniteNum(k.lastUpdate)) throw new ContractError(`baseline snapshot: keys[${i}].lastUpdate must be a finite number`);
    if (k.prior !== undefined && typeof k.prior !== 'boolean') throw new ContractError(`baseline snapshot: keys[${i}].prior must be a boolean`);
    if (k.slot !== undefined && !(isCount(k.slot) && k.slot < 24)) throw new ContractError(`baseline snapshot: keys[${i}].slot must be an hour 0–23`);
    if (k.matureAt !== undefined && !(isCount(k.matureAt) && k.matureAt >= 1)) throw new ContractError(`baseline snapshot: keys[${i}].matureAt must be a positive integer`);
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
