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
 * **Zero samples** (`zeroFillHorizonMs`, default 10 min): a key of any baselined scope but flow
 * (interface, dstHost, srcHost, and service, hostPair, subnet when those are baselined) that is known but absent from a window had no traffic in it; each of its counting metrics
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
 * metric that has a clip floor (by default the six metrics the rule detector's dual-EWMA and spike
 * rules evaluate, with fixed floors of their own: {@link DEFAULT_CLIP_FLOORS}) above `μ + max(clipSigma·σ, floor)` (μ the slow EWMA,
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
 * rate at minimum-size frames), or `fraction × lineRatePacketsPerSecond` when that is set, attached
 * to each annotated window as `bootstrapThresholds`.
 *
 * @packageDocumentation
 */
import {
  ContractError, SCOPES,
  type MaturityState, type MetricBaseline, type RecordBaseline, type Scope, type TrafficRecord, type WindowMessage,
} from './contracts';
import {
  DEFAULT_FAST_ALPHA, DEFAULT_SLOW_ALPHA, checkAlphas, ewStdAt, foldClippedAt, foldSampleAt, gapAlpha, samplesToConverge,
  updateSampleAt, type EwmaColumns,
} from './ewma';
import { activeSchedule, parseSchedules, type MaintenanceSchedule } from './cooldown';
import { SlotList } from './slot-list';

/**
 * Metrics of counting nature: a key absent from a window had 0 of each (see zero samples above).
 * The flow-aggregator's metrics (README "Metrics") except `flowDurationMs`.
 */
export const COUNTING_METRICS: ReadonlySet<string> = new Set([
  'bytes', 'packets', 'bitsPerSecond', 'packetsPerSecond', 'synCount', 'synAckCount', 'newFlows', 'distinctDstPorts', 'distinctPeers',
]);

/**
 * Default clip floors per metric (packet/s, bit/s, counts per window): a sample is clipped only if
 * it is above `μ + max(clipSigma·σ, floor)`, so a flat baseline (σ = 0) still learns small changes.
 * They are fixed and well below rule-detector's noise floors (100 packet/s, 1 Mbit/s, 50 per window
 * by default): clipping starts at smaller excursions than alerting does, which is the safe side.
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
  /**
   * Interface packet rate capacity in packet/s for the bootstrap packet-rate threshold (e.g. 1,488,095
   * for 1 Gbit/s Ethernet of 64-byte frames); 0 (default): derived from {@link lineRateBitsPerSecond}
   * as bit/s ÷ {@link MIN_ETHERNET_FRAME_BITS}. Used only with a line rate set.
   */
  lineRatePacketsPerSecond?: number;
  /** Fraction of the line rate used as the bootstrap threshold, 0 < f ≤ 1. Default 0.1. */
  lineRateFraction?: number;
  /** Seasonal profile: `'off'` (default) or `'hour-of-day'` (a baseline per key and hour of the day). */
  seasonal?: 'off' | 'hour-of-day';
  /** Days of an hour a seasonal slot remembers (its oldest day's weight < 5 % after them) and needs to be mature. Default 3, > 0. */
  seasonalDays?: number;
  /** Clock of the hour of day: `'local'` (the host's time zone, with its daylight saving time; default) or `'utc'`. */
  seasonalTimeZone?: 'local' | 'utc';
  /**
   * Recurring maintenance windows (parse them with `parseSchedules` of `./cooldown`: the same syntax
   * and the same packet-time judgement as cooldown-gate's): a window whose start falls in one is
   * learned as in maintenance mode (at full weight, no clipping). Default none.
   */
  maintenanceSchedules?: MaintenanceSchedule[];
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
  lineRatePacketsPerSecond: 0,
  lineRateFraction: 0.1,
  seasonal: 'off' as 'off' | 'hour-of-day',
  seasonalDays: 3,
  seasonalTimeZone: 'local' as 'local' | 'utc',
  maintenanceSchedules: [] as MaintenanceSchedule[],
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

/** Index of each scope in {@link SCOPES} (the scope column of the key table). */
const SCOPE_INDEX: Readonly<Record<Scope, number>> = Object.freeze(Object.fromEntries(SCOPES.map((s, i) => [s, i])) as Record<Scope, number>);
const FLOW_SCOPE = SCOPE_INDEX.flow;

/** Metric entries per page of the entry pool (2^14): the pool grows by a page, so its slack is at most one page. */
const PAGE_BITS = 14;
const PAGE_SIZE = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_SIZE - 1;

/** One page of metric entries: the EWMA state columns plus the metric index and the next entry of the key's chain (−1: last). */
interface EntryPage extends EwmaColumns {
  metric: Uint32Array;
  next: Int32Array;
}

function newPage(): EntryPage {
  return {
    fast: new Float64Array(PAGE_SIZE), slow: new Float64Array(PAGE_SIZE), variance: new Float64Array(PAGE_SIZE),
    samples: new Uint32Array(PAGE_SIZE), metric: new Uint32Array(PAGE_SIZE), next: new Int32Array(PAGE_SIZE),
  };
}

/** Builds a record's `baseline.metrics` from scratch columns (fast, slow, σ, samples), see `BaselineStore.metricBaselines`. */
type MakeMetricBaselines = (f: Float64Array, s: Float64Array, d: Float64Array, c: Float64Array) => Record<string, MetricBaseline>;

/**
 * A node of the trie of metric-name sequences (by metric index): `make` builds the metric
 * baselines of that sequence (undefined: not compiled yet, null: not compilable).
 */
interface ShapeNode { make: MakeMetricBaselines | null | undefined; kids: Array<ShapeNode | undefined> }

/**
 * A {@link MetricBaseline}-shaped object with non-number fields, created once when this module
 * loads, before any metric baseline (and kept). A V8 detail with no effect on any value: V8 then
 * keeps these five fields of every such object "tagged" instead of "double", so a whole-number
 * value (a count, a 0) is stored inline as a small integer and only a fractional one takes a heap
 * number, where a double field takes a fresh 16-byte box for every value. On the benchmark capture
 * an annotated host record then takes about 3.0 KB instead of 4.4 KB (25 metric baselines), which
 * the garbage collector copies and scans less.
 */
export const METRIC_BASELINE_SHAPE: Readonly<Record<keyof MetricBaseline, null>> = Object.freeze({ fast: null, slow: null, mean: null, std: null, samples: null });

/** Most trie nodes (metric-name sequences and their prefixes) per store (beyond: properties added one by one). */
const MAX_SHAPES = 4096;
/** Most sequences compiled per store (beyond: properties added one by one). */
const MAX_COMPILED_SHAPES = 256;
/** Longest sequence compiled into one literal. */
const MAX_SHAPE_METRICS = 256;

/**
 * `out[name] = mb` as an own property even for the name `__proto__` (a plain assignment would set
 * the object's prototype instead; a message parsed from JSON can carry such a metric).
 */
function setMetric(out: Record<string, MetricBaseline>, name: string, mb: MetricBaseline): void {
  if (name === '__proto__') Object.defineProperty(out, name, { value: mb, writable: true, enumerable: true, configurable: true });
  else out[name] = mb;
}

/** Keys zero-filled per record's worth of an {@link AnnotateJob} step (a key's zero samples cost far less than a record). */
const ZERO_FILL_KEYS_PER_RECORD = 8;

/** Largest count a Uint32 column holds. */
const MAX_U32 = 0xffffffff;

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
    lineRatePacketsPerSecond: options.lineRatePacketsPerSecond ?? d.lineRatePacketsPerSecond,
    lineRateFraction: options.lineRateFraction ?? d.lineRateFraction,
    seasonal: options.seasonal ?? d.seasonal,
    seasonalDays: options.seasonalDays ?? d.seasonalDays,
    seasonalTimeZone: options.seasonalTimeZone ?? d.seasonalTimeZone,
    maintenanceSchedules: options.maintenanceSchedules ?? [],
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
  checkNumber('lineRatePacketsPerSecond', o.lineRatePacketsPerSecond, 0, Infinity);
  checkNumber('lineRateFraction', o.lineRateFraction, 0, 1, false, true);
  if (o.seasonal !== 'off' && o.seasonal !== 'hour-of-day') throw new RangeError(`seasonal must be "off" or "hour-of-day", got ${JSON.stringify(o.seasonal)}`);
  checkNumber('seasonalDays', o.seasonalDays, 0, 366, false, true);
  if (!Array.isArray(o.maintenanceSchedules) || o.maintenanceSchedules.some((m) => typeof m !== 'object' || m === null || typeof m.text !== 'string')) {
    throw new RangeError('maintenanceSchedules must be an array of parsed schedules (see parseSchedules)');
  }
  // parsed again from their text: a schedule read back from a saved state is checked like a typed one
  o.maintenanceSchedules = parseSchedules(o.maintenanceSchedules.map((m) => m.text).join('\n'));
  if (o.seasonalTimeZone !== 'local' && o.seasonalTimeZone !== 'utc') throw new RangeError(`seasonalTimeZone must be "local" or "utc", got ${JSON.stringify(o.seasonalTimeZone)}`);
  return o;
}

/**
 * Lists, in words, the options that differ between `a` (e.g. a snapshot's) and `b` (e.g. the
 * configured ones); empty when they agree.
 */
export function describeOptionChanges(a: ResolvedBaselineOptions, b: ResolvedBaselineOptions): string[] {
  const out: string[] = [];
  for (const k of ['fastAlpha', 'slowAlpha', 'bootstrapMs', 'maxKeys', 'zeroFillHorizonMs', 'clipSigma', 'priors', 'priorMinPeers', 'priorRefreshMs', 'lineRateBitsPerSecond', 'lineRatePacketsPerSecond', 'lineRateFraction', 'seasonal', 'seasonalDays', 'seasonalTimeZone'] as const) {
    if (a[k] !== b[k]) out.push(`${k} ${String(a[k])} → ${String(b[k])}`);
  }
  if (a.scopes.join(',') !== b.scopes.join(',')) out.push(`scopes ${a.scopes.join(',')} → ${b.scopes.join(',')}`);
  if (JSON.stringify(a.clipFloors) !== JSON.stringify(b.clipFloors)) out.push('clipFloors changed');
  const schedules = (o: ResolvedBaselineOptions): string => (o.maintenanceSchedules ?? []).map((m) => m.text).join('; ');
  if (schedules(a) !== schedules(b)) out.push(`maintenance schedules "${schedules(a)}" → "${schedules(b)}"`);
  return out;
}

/**
 * Median of the first `n` entries of `values` (reordered in place), by quickselect (C. A. R. Hoare,
 * "Algorithm 65: Find", CACM 4(7), 1961): O(n) on average instead of a sort's O(n log n). For even
 * `n` the mean of the two middle values, as a sort would give.
 */
function median(values: Float64Array, n: number): number {
  const mid = n >> 1;
  select(values, n, mid);
  const hi = values[mid]!;
  if (n % 2 === 1) return hi;
  let lo = values[0]!;
  for (let i = 1; i < mid; i++) if (values[i]! > lo) lo = values[i]!;
  return (lo + hi) / 2;
}

/** Reorders `a[0..n)` so that `a[k]` is the k-th smallest, everything before it ≤ and after it ≥. */
function select(a: Float64Array, n: number, k: number): void {
  let left = 0, right = n - 1;
  while (right > left) {
    const pivot = a[(left + right) >> 1]!;
    let i = left, j = right;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) { const tmp = a[i]!; a[i] = a[j]!; a[j] = tmp; i++; j--; }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return;
  }
}

/**
 * A window being annotated in steps (from {@link BaselineStore.beginAnnotate}), so that a caller
 * that must not hold its thread for long (a Node-RED node) can spread a window of 100,000 records
 * over several event-loop turns. Call {@link step} until it returns true, then {@link finish} once;
 * do not use the store for anything else in between. The result is the same as
 * {@link BaselineStore.annotate}'s.
 */
export interface AnnotateJob {
  /** Records in the window. */
  readonly total: number;
  /** Records annotated so far. */
  readonly done: number;
  /**
   * Annotates (and learns from) up to `maxRecords` more records, in order; once every record is
   * done, zero-fills the known keys absent from the window, up to 8 keys per unused record of
   * `maxRecords`. True when both are done (then {@link finish} only assembles the result).
   */
  step(maxRecords: number): boolean;
  /**
   * Does whatever {@link step} left (records, zero samples), advances the clock and returns the
   * annotated window (a new object; the input is not mutated). @throws {Error} when called twice.
   */
  finish(): WindowMessage;
}

/**
 * Learns per-key EWMA baselines from windows of traffic records and annotates each record with its
 * baseline. Keys are held in least-recently-seen order and capped at `maxKeys`. See the module
 * documentation for every rule (maturity, zero samples, flows, priors, poisoning, modes).
 *
 * Storage (what a key costs): a key string → slot `Map`; per slot, typed-array columns (scope,
 * seasonal slot, prior flag, samples, samples to mature, first/last seen, last update, the head and
 * tail of its metric chain, and its neighbours in the least-recently-seen list); per metric of a
 * key, one entry of a paged pool of typed arrays (fast, slow, variance, samples, metric index, next
 * entry). About 450 bytes per key with nine metrics (`npm run bench`, memory per baselined key).
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

  private readonly scopeSet: Set<Scope>;
  private evictions = 0;
  private clockMs = 0;
  private clipped = 0;
  private rebases = 0;
  private maintenance = false;
  private frozen = false;
  /** The schedule the latest annotated window started in (null: none). */
  private scheduled: MaintenanceSchedule | null = null;
  private priorCache: Map<string, Map<string, PriorMetric>> | undefined;
  private priorCacheAt = Number.NEGATIVE_INFINITY;

  // ---- metric registry: name ↔ index ----
  private readonly metricIndex = new Map<string, number>();
  private readonly metricNames: string[] = [];
  /** Per metric index: 1 when the metric is a count (zero-filled). */
  private metricCounting: number[] = [];
  /** Per metric index: the clip floor, NaN when the metric is not clipped. */
  private metricFloor: number[] = [];

  // ---- key table ----
  private readonly keyIndex = new Map<string, number>();
  private capacity = 0;
  /** Slots handed out so far (the next fresh one). */
  private hwm = 0;
  private freeSlots: number[] = [];
  private keyName: string[] = [];
  private kScope = new Uint8Array(0);
  private kSlot = new Int8Array(0);
  private kPrior = new Uint8Array(0);
  private kMatureAt = new Uint32Array(0);
  private kSamples = new Uint32Array(0);
  private kFirstSeen = new Float64Array(0);
  private kLastSeen = new Float64Array(0);
  private kLastUpdate = new Float64Array(0);
  private kHead = new Int32Array(0);
  private kTail = new Int32Array(0);
  /** The keys' slots in least-recently-seen order (head: first evicted). */
  private readonly lru = new SlotList();

  // ---- metric entry pool ----
  private pages: EntryPage[] = [];
  private entryHwm = 0;
  private freeEntry = -1;

  // ---- compiled shapes of the per-record metric baselines (see metricBaselines) ----
  /** False once code generation from strings failed in this process. */
  private static codegen = true;
  private readonly shapeRoot: ShapeNode = { make: undefined, kids: [] };
  private shapes = 0;
  private compiledShapes = 0;
  private scratchFast = new Float64Array(0);
  private scratchSlow = new Float64Array(0);
  private scratchStd = new Float64Array(0);
  private scratchSamples = new Float64Array(0);
  private scratchMetric = new Int32Array(0);

  /**
   * @param options see {@link BaselineOptions}
   * @throws {RangeError} on bad options (see {@link resolveBaselineOptions})
   */
  constructor(options?: BaselineOptions) {
    this.options = resolveBaselineOptions(options);
    this.samplesToMature = samplesToConverge(this.options.slowAlpha);
    this.scopeSet = new Set(this.options.scopes);
  }

  // ------------------------------------------------------------------------------------------
  // storage
  // ------------------------------------------------------------------------------------------

  private metricOf(name: string): number {
    let m = this.metricIndex.get(name);
    if (m === undefined) {
      m = this.metricNames.length;
      this.metricIndex.set(name, m);
      this.metricNames.push(name);
      this.metricCounting.push(COUNTING_METRICS.has(name) ? 1 : 0);
      const floors = this.options.clipFloors;
      this.metricFloor.push(Object.prototype.hasOwnProperty.call(floors, name) ? floors[name]! : Number.NaN);
    }
    return m;
  }

  private growKeys(): void {
    const cap = this.capacity;
    let n = cap === 0 ? Math.min(1024, this.options.maxKeys) : cap * 2;
    if (cap < this.options.maxKeys && n > this.options.maxKeys) n = this.options.maxKeys;
    if (n <= cap) n = cap + 1024;
    const grow = <T extends Uint8Array | Int8Array | Uint32Array | Int32Array | Float64Array>(a: T, make: (len: number) => T): T => { const b = make(n); b.set(a); return b; };
    this.kScope = grow(this.kScope, (l) => new Uint8Array(l));
    this.kSlot = grow(this.kSlot, (l) => new Int8Array(l));
    this.kPrior = grow(this.kPrior, (l) => new Uint8Array(l));
    this.kMatureAt = grow(this.kMatureAt, (l) => new Uint32Array(l));
    this.kSamples = grow(this.kSamples, (l) => new Uint32Array(l));
    this.kFirstSeen = grow(this.kFirstSeen, (l) => new Float64Array(l));
    this.kLastSeen = grow(this.kLastSeen, (l) => new Float64Array(l));
    this.kLastUpdate = grow(this.kLastUpdate, (l) => new Float64Array(l));
    this.kHead = grow(this.kHead, (l) => new Int32Array(l));
    this.kTail = grow(this.kTail, (l) => new Int32Array(l));
    this.lru.grow(n);
    this.capacity = n;
  }

  /** A new key at the most-recently-seen end; returns its slot. */
  private addKey(name: string, scope: number, seasonalSlot: number, matureAt: number, firstSeen: number, prior: boolean): number {
    let k: number;
    if (this.freeSlots.length > 0) k = this.freeSlots.pop()!;
    else {
      if (this.hwm === this.capacity) this.growKeys();
      k = this.hwm++;
      this.keyName.push(name);
    }
    this.keyName[k] = name;
    this.kScope[k] = scope;
    this.kSlot[k] = seasonalSlot;
    this.kPrior[k] = prior ? 1 : 0;
    this.kMatureAt[k] = matureAt;
    this.kSamples[k] = 0;
    this.kFirstSeen[k] = firstSeen;
    this.kLastSeen[k] = firstSeen;
    this.kLastUpdate[k] = Number.NEGATIVE_INFINITY;
    this.kHead[k] = -1;
    this.kTail[k] = -1;
    this.lru.append(k);
    this.keyIndex.set(name, k);
    return k;
  }

  /** Moves slot `k` to the most-recently-seen end. */
  private touch(k: number): void {
    this.lru.moveToTail(k);
  }

  /** Forgets slot `k`: its entries go back to the pool, the slot to the free list. */
  private removeKey(k: number): void {
    this.keyIndex.delete(this.keyName[k]!);
    this.keyName[k] = '';
    this.lru.remove(k);
    const head = this.kHead[k]!;
    if (head !== -1) {
      const tail = this.kTail[k]!;
      this.pages[tail >>> PAGE_BITS]!.next[tail & PAGE_MASK] = this.freeEntry;
      this.freeEntry = head;
    }
    this.freeSlots.push(k);
  }

  /** A fresh metric entry (zeroed) appended to slot `k`'s chain. */
  private addEntry(k: number, metric: number): number {
    let e: number;
    if (this.freeEntry !== -1) {
      e = this.freeEntry;
      this.freeEntry = this.pages[e >>> PAGE_BITS]!.next[e & PAGE_MASK]!;
    } else {
      e = this.entryHwm++;
      if ((e >>> PAGE_BITS) === this.pages.length) this.pages.push(newPage());
    }
    const pg = this.pages[e >>> PAGE_BITS]!, o = e & PAGE_MASK;
    pg.fast[o] = 0; pg.slow[o] = 0; pg.variance[o] = 0; pg.samples[o] = 0;
    pg.metric[o] = metric;
    pg.next[o] = -1;
    const tail = this.kTail[k]!;
    if (tail === -1) this.kHead[k] = e;
    else this.pages[tail >>> PAGE_BITS]!.next[tail & PAGE_MASK] = e;
    this.kTail[k] = e;
    return e;
  }

  /** Entry of `metric` in slot `k`'s chain, or −1. */
  private findEntry(k: number, metric: number): number {
    for (let e = this.kHead[k]!; e !== -1;) {
      const pg = this.pages[e >>> PAGE_BITS]!, o = e & PAGE_MASK;
      if (pg.metric[o] === metric) return e;
      e = pg.next[o]!;
    }
    return -1;
  }

  /**
   * The baselines of every entry of slot `k` (those with samples only, or all), in the order of the
   * key's chain. The object is built in one go by a function compiled once per sequence of metric
   * names ({@link compileShape}): an object literal of that sequence, so all the records of a scope
   * share one hidden class and no property is added one at a time. The same object as adding each
   * metric in chain order would give (same keys, same order, same values).
   */
  private metricBaselines(k: number, withSamplesOnly: boolean): Record<string, MetricBaseline> {
    if (this.scratchMetric.length < this.metricNames.length) this.growScratch(this.metricNames.length);
    const sf = this.scratchFast, ss = this.scratchSlow, sd = this.scratchStd, sc = this.scratchSamples, sm = this.scratchMetric;
    let node: ShapeNode | null = this.shapeRoot;
    let n = 0;
    for (let e = this.kHead[k]!; e !== -1;) {
      const pg = this.pages[e >>> PAGE_BITS]!, o = e & PAGE_MASK;
      const samples = pg.samples[o]!;
      if (samples > 0 || !withSamplesOnly) {
        const m = pg.metric[o]!;
        sf[n] = pg.fast[o]!; ss[n] = pg.slow[o]!; sd[n] = ewStdAt(pg, o); sc[n] = samples; sm[n] = m;
        n++;
        if (node !== null) node = node.kids[m] ?? this.addShape(node, m);
      }
      e = pg.next[o]!;
    }
    if (node !== null) {
      let make = node.make;
      if (make === undefined) make = node.make = this.compileShape(sm, n);
      if (make !== null) return make(sf, ss, sd, sc);
    }
    const out: Record<string, MetricBaseline> = {};
    for (let i = 0; i < n; i++) setMetric(out, this.metricNames[sm[i]!]!, { fast: sf[i]!, slow: ss[i]!, mean: ss[i]!, std: sd[i]!, samples: sc[i]! });
    return out;
  }

  private growScratch(n: number): void {
    const len = Math.max(n, this.scratchMetric.length * 2, 32);
    this.scratchFast = new Float64Array(len); this.scratchSlow = new Float64Array(len); this.scratchStd = new Float64Array(len);
    this.scratchSamples = new Float64Array(len); this.scratchMetric = new Int32Array(len);
  }

  /** The child of `node` for metric `m`, or null (no compiled shape) once {@link MAX_SHAPES} exist. */
  private addShape(node: ShapeNode, m: number): ShapeNode | null {
    if (this.shapes >= MAX_SHAPES) return null;
    this.shapes++;
    const child: ShapeNode = { make: undefined, kids: [] };
    node.kids[m] = child;
    return child;
  }

  /**
   * Compiles `(f, s, d, c) => ({ <name0>: { fast: f[0], slow: s[0], mean: s[0], std: d[0], samples: c[0] }, … })`
   * for the metric sequence `sm[0..n)`; null when it cannot be compiled (a name `__proto__`, which a
   * literal would take as the prototype, a very long sequence, or code generation from strings
   * disallowed in this process): the caller then adds the properties one by one.
   */
  private compileShape(sm: Int32Array, n: number): MakeMetricBaselines | null {
    if (!BaselineStore.codegen || n > MAX_SHAPE_METRICS || this.compiledShapes >= MAX_COMPILED_SHAPES) return null;
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      const name = this.metricNames[sm[i]!]!;
      if (name === '__proto__') return null;
      parts.push(`${JSON.stringify(name)}: { fast: f[${i}], slow: s[${i}], mean: s[${i}], std: d[${i}], samples: c[${i}] }`);
    }
    try {
      // eslint-disable-next-line @typescript-eslint/no-implied-eval, no-new-func
      const make = new Function('f', 's', 'd', 'c', `'use strict'; return { ${parts.join(', ')} };`) as MakeMetricBaselines;
      this.compiledShapes++;
      return make;
    } catch {
      BaselineStore.codegen = false; // e.g. node --disallow-code-generation-from-strings
      return null;
    }
  }

  // ------------------------------------------------------------------------------------------

  /** Maturity at packet time `t` (ms) of a key first seen at `firstSeen` with `samples` samples. */
  private stateOf(firstSeen: number, samples: number, matureAt: number, t: number): MaturityState {
    if (t - firstSeen < this.options.bootstrapMs) return 'bootstrap';
    return samples < matureAt ? 'learning' : 'mature';
  }

  private stateAt(k: number, t: number): MaturityState {
    return this.stateOf(this.kFirstSeen[k]!, this.kSamples[k]!, this.kMatureAt[k]!, t);
  }

  private priorActive(k: number): boolean {
    return this.kPrior[k] === 1 && this.kSamples[k]! < this.kMatureAt[k]!;
  }

  /** Whether packet time `t` (ms) falls in a maintenance schedule; remembers which (see {@link scheduledMaintenance}). */
  private inSchedule(t: number): boolean {
    const schedules = this.options.maintenanceSchedules;
    this.scheduled = schedules.length > 0 ? activeSchedule(schedules, t) : null;
    return this.scheduled !== null;
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
  /** The learning modes in force (`maintenance`: set by {@link setMaintenance}; saved with the state). */
  modes(): { maintenance: boolean; frozen: boolean } { return { maintenance: this.maintenance, frozen: this.frozen }; }
  /**
   * The maintenance schedule (its text, e.g. `Mon-Fri 22:00-06:00 Europe/Berlin`) the latest
   * annotated window started in, or undefined when it started outside every schedule.
   */
  scheduledMaintenance(): string | undefined { return this.scheduled?.text; }

  /**
   * The cold-start static thresholds derived from the configured line rate, or undefined when no
   * line rate is set: bit/s = fraction × line rate; packet/s = fraction × the configured packet rate
   * capacity, or, without one, the bit/s threshold ÷ {@link MIN_ETHERNET_FRAME_BITS} (the most
   * packets the link can carry: all of minimum size).
   */
  bootstrapThresholds(): WindowMessage['bootstrapThresholds'] {
    const { lineRateBitsPerSecond: rate, lineRatePacketsPerSecond: ppsRate, lineRateFraction: f } = this.options;
    if (!(rate > 0)) return undefined;
    const packetsPerSecond = ppsRate > 0 ? ppsRate * f : (rate * f) / MIN_ETHERNET_FRAME_BITS;
    return { bitsPerSecond: rate * f, packetsPerSecond, lineRateBitsPerSecond: rate, fraction: f };
  }

  /**
   * The peer prior of `scope` at packet time `t`: per metric, the medians of fast, slow and σ over
   * the keys of that scope that are mature at `t` and no longer rest on a prior themselves;
   * undefined with fewer than `priorMinPeers` such keys. With a seasonal profile, `slot` (hour of
   * day) picks the peers' slot keys of that hour; −1 (default) the plain keys. Cached for
   * `priorRefreshMs`. O(keys·metrics) on a refresh.
   */
  priorFor(scope: Scope, t: number = this.clockMs, slot = -1): ReadonlyMap<string, PriorMetric> | undefined {
    if (this.priorCache === undefined || t - this.priorCacheAt >= this.options.priorRefreshMs || t < this.priorCacheAt) {
      this.priorCache = this.computePriors(t);
      this.priorCacheAt = t;
    }
    return this.priorCache.get(`${scope}|${slot}`);
  }

  private computePriors(t: number): Map<string, Map<string, PriorMetric>> {
    // group the mature keys by scope and seasonal slot (without a string per key)
    const groups = new Map<number, number[]>();
    for (let k = this.lru.head; k !== -1; k = this.lru.next[k]!) {
      if (this.stateAt(k, t) !== 'mature') continue;
      const g = this.kScope[k]! * 32 + (this.kSlot[k]! + 1);
      let list = groups.get(g);
      if (list === undefined) { list = []; groups.set(g, list); }
      list.push(k);
    }
    const out = new Map<string, Map<string, PriorMetric>>();
    const M = this.metricNames.length;
    const minPeers = this.options.priorMinPeers;
    for (const [g, list] of groups) {
      if (list.length < minPeers) continue;
      const counts = new Int32Array(M);
      for (const k of list) {
        for (let e = this.kHead[k]!; e !== -1;) {
          const pg = this.pages[e >>> PAGE_BITS]!, o = e & PAGE_MASK;
          if (pg.samples[o]! > 0) counts[pg.metric[o]!]!++;
          e = pg.next[o]!;
        }
      }
      const cols: Array<{ fast: Float64Array; slow: Float64Array; std: Float64Array; n: number } | undefined> = new Array(M);
      for (let m = 0; m < M; m++) {
        if (counts[m]! >= minPeers) cols[m] = { fast: new Float64Array(counts[m]!), slow: new Float64Array(counts[m]!), std: new Float64Array(counts[m]!), n: 0 };
      }
      // metrics in the order the keys first show them (as iterating each key's metrics would)
      const order: number[] = [];
      const listed = new Uint8Array(M);
      for (const k of list) {
        for (let e = this.kHead[k]!; e !== -1;) {
          const pg = this.pages[e >>> PAGE_BITS]!, o = e & PAGE_MASK;
          const m = pg.metric[o]!;
          const c = cols[m];
          if (c !== undefined && pg.samples[o]! > 0) {
            if (listed[m] === 0) { listed[m] = 1; order.push(m); }
            c.fast[c.n] = pg.fast[o]!; c.slow[c.n] = pg.slow[o]!; c.std[c.n] = ewStdAt(pg, o); c.n++;
          }
          e = pg.next[o]!;
        }
      }
      const metrics = new Map<string, PriorMetric>();
      for (const m of order) {
        const c = cols[m]!;
        metrics.set(this.metricNames[m]!, { fast: median(c.fast, c.n), slow: median(c.slow, c.n), std: median(c.std, c.n) });
      }
      if (metrics.size > 0) out.set(`${SCOPES[Math.floor(g / 32)]!}|${(g % 32) - 1}`, metrics);
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
   * `bootstrapThresholds`. The same as {@link beginAnnotate} with every step at once.
   *
   * The window is expected to be valid (see `assertWindowMessage` in contracts).
   */
  annotate(window: WindowMessage): WindowMessage {
    return this.beginAnnotate(window).finish();
  }

  /**
   * Starts annotating `window` in steps (see {@link AnnotateJob}); {@link annotate} is this with
   * every step at once. A packet-time jump back (rebase) is applied here.
   */
  beginAnnotate(window: WindowMessage): AnnotateJob {
    const windowMs = window.windowMs > 0 ? window.windowMs : 1;
    const t = window.windowStart;
    if (this.clockMs > 0 && t < this.clockMs - windowMs && !this.frozen) this.rebase(this.clockMs - t);
    const seasonal = this.options.seasonal === 'hour-of-day';
    const slot = seasonal ? this.hourOf(t) : -1;
    const slotSlowAlpha = seasonal ? this.slotAlpha(windowMs) : this.options.slowAlpha;
    const ctx: WindowContext = {
      t, windowMs, seasonal, slot,
      slotSuffix: seasonal ? ` @${slot < 10 ? '0' : ''}${slot}h` : '',
      slotSlowAlpha,
      slotMatureAt: seasonal ? samplesToConverge(slotSlowAlpha) : this.samplesToMature,
      clipping: this.options.clipSigma > 0 && !this.maintenance && !this.inSchedule(t),
      frozen: this.frozen,
    };
    const records: TrafficRecord[] = new Array(window.records.length);
    let i = 0;
    /** Next key to zero-fill (−2: not started, −1: done). */
    let zeroFillNext = -2;
    let finished = false;
    const store = this;
    return {
      get total(): number { return window.records.length; },
      get done(): number { return i; },
      step(maxRecords: number): boolean {
        const src = window.records;
        const n = Math.max(1, maxRecords);
        const start = i;
        const end = Math.min(src.length, i + n);
        for (; i < end; i++) {
          const record = src[i]!;
          records[i] = store.scopeSet.has(record.scope) ? store.annotateRecord(record, ctx) : record;
        }
        if (i < src.length) return false;
        // then the zero samples of the known keys absent from the window, a few keys per record's worth
        if (zeroFillNext === -2) zeroFillNext = ctx.frozen || !(store.options.zeroFillHorizonMs > 0) ? -1 : store.lru.head;
        const budget = (n - (i - start)) * ZERO_FILL_KEYS_PER_RECORD; // what this step has left
        if (zeroFillNext !== -1 && budget > 0) zeroFillNext = store.zeroFill(t, slot, slotSlowAlpha, zeroFillNext, budget);
        return zeroFillNext === -1;
      },
      finish(): WindowMessage {
        if (finished) throw new Error('AnnotateJob.finish() called twice');
        while (!this.step(Number.MAX_SAFE_INTEGER));
        finished = true;
        if (!ctx.frozen && window.windowEnd > store.clockMs) store.clockMs = window.windowEnd;
        const out: WindowMessage = { ...window, records };
        BUILT_HERE.set(records, store.scopeSet);
        const thresholds = store.bootstrapThresholds();
        if (thresholds !== undefined) out.bootstrapThresholds = thresholds;
        return out;
      },
    };
  }

  /** Annotates one record of a baselined scope and (unless frozen) folds its metrics in. */
  private annotateRecord(record: TrafficRecord, ctx: WindowContext): TrafficRecord {
    const { fastAlpha, clipSigma } = this.options;
    const t = ctx.t;
    const storeKey = ctx.seasonal ? record.key + ctx.slotSuffix : record.key;
    let k = this.keyIndex.get(storeKey);
    let prior: ReadonlyMap<string, PriorMetric> | undefined;
    const isNew = k === undefined;
    if (k === undefined) {
      if (this.options.priors) prior = this.priorFor(record.scope, t, ctx.slot);
      if (ctx.frozen) {
        // frozen: a new key is annotated as such but not stored
        const metrics: Record<string, MetricBaseline> = {};
        if (prior !== undefined) {
          for (const name in record.metrics) {
            const p = prior.get(name);
            if (p !== undefined) setMetric(metrics, name, { fast: p.fast, slow: p.slow, mean: p.slow, std: p.std, samples: 0 });
          }
        }
        const baseline: RecordBaseline = { state: this.stateOf(t, 0, ctx.slotMatureAt, t), firstSeen: t, samples: 0, metrics };
        if (prior !== undefined) baseline.prior = true;
        return { ...record, baseline };
      }
      if (this.keyIndex.size >= this.options.maxKeys) this.evictOldest();
      k = this.addKey(storeKey, SCOPE_INDEX[record.scope], ctx.slot, ctx.slotMatureAt, t, prior !== undefined);
    } else if (!ctx.frozen) {
      this.touch(k);
      if (this.kSlot[k]! >= 0) this.kMatureAt[k] = ctx.slotMatureAt; // follows the window length
    }
    // the baseline as it stood before this window
    let metricBaselines: Record<string, MetricBaseline>;
    if (prior !== undefined) {
      metricBaselines = {};
      for (const name in record.metrics) {
        const p = prior.get(name);
        if (p !== undefined) setMetric(metricBaselines, name, { fast: p.fast, slow: p.slow, mean: p.slow, std: p.std, samples: 0 });
      }
    } else {
      metricBaselines = this.metricBaselines(k, true);
    }
    const baseline: RecordBaseline = { state: this.stateAt(k, t), firstSeen: this.kFirstSeen[k]!, samples: this.kSamples[k]!, metrics: metricBaselines };
    if (this.priorActive(k)) baseline.prior = true;
    const out: TrafficRecord = { ...record, baseline };
    if (ctx.frozen) return out;

    // fold the window in
    let fa = fastAlpha, sa = this.kSlot[k]! >= 0 ? ctx.slotSlowAlpha : this.options.slowAlpha;
    const lastUpdate = this.kLastUpdate[k]!;
    if (this.kScope[k] === FLOW_SCOPE && lastUpdate > Number.NEGATIVE_INFINITY && t - lastUpdate > ctx.windowMs) {
      const elapsed = (t - lastUpdate) / ctx.windowMs;
      fa = gapAlpha(fastAlpha, elapsed);
      sa = gapAlpha(sa, elapsed);
    }
    const clipHere = ctx.clipping && baseline.state !== 'bootstrap';
    const pages = this.pages, names = this.metricNames;
    let cursor = this.kHead[k]!; // metrics usually come in the order of the key's chain
    for (const name in record.metrics) {
      const x = record.metrics[name]!;
      let e: number;
      let seeded = false;
      if (cursor !== -1 && names[pages[cursor >>> PAGE_BITS]!.metric[cursor & PAGE_MASK]!] === name) {
        e = cursor;
      } else {
        const m = this.metricOf(name);
        e = this.findEntry(k, m);
        if (e === -1) {
          e = this.addEntry(k, m);
          const p = isNew ? prior?.get(name) : undefined;
          if (p !== undefined) {
            const pg = pages[e >>> PAGE_BITS]!, o = e & PAGE_MASK;
            pg.fast[o] = p.fast; pg.slow[o] = p.slow; pg.variance[o] = p.std * p.std;
            seeded = true;
          }
        }
      }
      const pg = this.pages[e >>> PAGE_BITS]!, o = e & PAGE_MASK;
      cursor = pg.next[o]!;
      if (pg.samples[o] === 0 && !seeded) { foldSampleAt(pg, o, x, fa, sa); continue; }
      if (clipHere) {
        const floor = this.metricFloor[pg.metric[o]!]!;
        if (floor === floor) { // not NaN: a clipped metric
          const threshold = pg.slow[o]! + Math.max(clipSigma * ewStdAt(pg, o), floor);
          if (x > threshold) { foldClippedAt(pg, o, x, threshold, fa, sa); this.clipped++; continue; }
        }
      }
      updateSampleAt(pg, o, x, fa, sa);
    }
    if (this.kSamples[k]! < MAX_U32) this.kSamples[k]!++;
    if (t > this.kLastSeen[k]!) this.kLastSeen[k] = t;
    if (t > lastUpdate) this.kLastUpdate[k] = t;
    return out;
  }

  /**
   * Folds 0 into the counting metrics of every host/interface key absent from the window at `t` and
   * seen within the horizon; of seasonal slot keys only those of the current `slot`. Walks at most
   * `maxKeys` keys of the least-recently-seen list from slot `from`; returns the next slot to walk
   * (−1: done).
   */
  private zeroFill(t: number, slot: number, slotSlowAlpha: number, from: number, maxKeys: number): number {
    const horizon = this.options.zeroFillHorizonMs;
    if (!(horizon > 0)) return -1;
    const { fastAlpha, slowAlpha } = this.options;
    const counting = this.metricCounting;
    let k = from;
    for (let walked = 0; k !== -1 && walked < maxKeys; k = this.lru.next[k]!, walked++) {
      if (this.kScope[k] === FLOW_SCOPE || this.kSlot[k] !== slot || this.kLastUpdate[k]! >= t || t - this.kLastSeen[k]! > horizon) continue;
      const sa = slot >= 0 ? slotSlowAlpha : slowAlpha;
      for (let e = this.kHead[k]!; e !== -1;) {
        const pg = this.pages[e >>> PAGE_BITS]!, o = e & PAGE_MASK;
        if (counting[pg.metric[o]!] === 1 && pg.samples[o]! > 0) updateSampleAt(pg, o, 0, fastAlpha, sa);
        e = pg.next[o]!;
      }
      if (this.kSamples[k]! < MAX_U32) this.kSamples[k]!++;
      this.kLastUpdate[k] = t;
    }
    return k;
  }

  /**
   * Packet time went back by more than a window (a capture replayed again, a loop pass, an older
   * file): shifts every key's times and the clock back by `shiftMs`, so the new run continues the
   * old one — ages, maturity and the zero-fill horizon carry on instead of every key falling back to
   * `bootstrap` (its first-seen time would lie in the future) and nothing being zero-filled.
   */
  private rebase(shiftMs: number): void {
    for (let k = this.lru.head; k !== -1; k = this.lru.next[k]!) {
      this.kFirstSeen[k] -= shiftMs;
      this.kLastSeen[k] -= shiftMs;
      this.kLastUpdate[k] -= shiftMs;
    }
    this.clockMs -= shiftMs;
    this.priorCache = undefined;
    this.rebases++;
  }

  private evictOldest(): void {
    if (this.lru.head !== -1) { this.removeKey(this.lru.head); this.evictions++; }
  }

  /** Number of keys, how many are in each maturity state as of the latest window end, evictions, prior-based keys and clipped samples so far. O(keys). */
  stats(): BaselineStats {
    const s: BaselineStats = { keys: this.keyIndex.size, bootstrap: 0, learning: 0, mature: 0, evictions: this.evictions, prior: 0, clippedSamples: this.clipped, timeRebases: this.rebases };
    for (let k = this.lru.head; k !== -1; k = this.lru.next[k]!) {
      s[this.stateAt(k, this.clockMs)]++;
      if (this.priorActive(k)) s.prior++;
    }
    return s;
  }

  /** The baseline a record of `key` would carry in a window starting at `t` (ms), or undefined for an unknown key. For tests and display. */
  peek(key: string, t: number = this.clockMs): RecordBaseline | undefined {
    const k = this.keyIndex.get(key);
    if (k === undefined) return undefined;
    const b: RecordBaseline = { state: this.stateAt(k, t), firstSeen: this.kFirstSeen[k]!, samples: this.kSamples[k]!, metrics: this.metricBaselines(k, false) };
    if (this.priorActive(k)) b.prior = true;
    return b;
  }

  /** Plain-JSON snapshot of everything the store learned (see {@link BaselineSnapshot}). */
  toSnapshot(): BaselineSnapshot {
    const keys: SnapshotKey[] = [];
    for (let k = this.lru.head; k !== -1; k = this.lru.next[k]!) {
      const metrics: Record<string, [number, number, number, number]> = {};
      for (let e = this.kHead[k]!; e !== -1;) {
        const pg = this.pages[e >>> PAGE_BITS]!, o = e & PAGE_MASK;
        metrics[this.metricNames[pg.metric[o]!]!] = [pg.fast[o]!, pg.slow[o]!, pg.variance[o]!, pg.samples[o]!];
        e = pg.next[o]!;
      }
      const sk: SnapshotKey = { key: this.keyName[k]!, scope: SCOPES[this.kScope[k]!]!, firstSeen: this.kFirstSeen[k]!, lastSeen: this.kLastSeen[k]!, lastUpdate: this.kLastUpdate[k]!, samples: this.kSamples[k]!, metrics };
      if (this.kPrior[k] === 1) sk.prior = true;
      if (this.kSlot[k]! >= 0) sk.slot = this.kSlot[k]!;
      if (this.kMatureAt[k] !== this.samplesToMature) sk.matureAt = this.kMatureAt[k]!;
      if (!Number.isFinite(this.kLastUpdate[k]!)) delete sk.lastUpdate;
      keys.push(sk);
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
   * The snapshot's modes (maintenance, frozen) are restored. Snapshots of every earlier version of
   * this package load (the format has not changed: version {@link SNAPSHOT_VERSION}); sample
   * counts above 2³²−1 are held at that.
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
    for (const sk of snap.keys) {
      if (!store.scopeSet.has(sk.scope)) { droppedScope++; continue; }
      const old = store.keyIndex.get(sk.key);
      if (old !== undefined) store.removeKey(old);
      const k = store.addKey(sk.key, SCOPE_INDEX[sk.scope], sk.slot ?? -1, sk.matureAt ?? store.samplesToMature, sk.firstSeen, sk.prior === true);
      store.kLastSeen[k] = sk.lastSeen;
      store.kLastUpdate[k] = sk.lastUpdate ?? sk.lastSeen;
      store.kSamples[k] = Math.min(sk.samples, MAX_U32);
      for (const name of Object.keys(sk.metrics)) {
        const [fast, slow, variance, samples] = sk.metrics[name]!;
        const e = store.addEntry(k, store.metricOf(name));
        const pg = store.pages[e >>> PAGE_BITS]!, o = e & PAGE_MASK;
        pg.fast[o] = fast; pg.slow[o] = slow; pg.variance[o] = variance; pg.samples[o] = Math.min(samples, MAX_U32);
      }
    }
    if (droppedScope > 0) store.restoreNotes.push(`${droppedScope} saved keys of scopes no longer baselined dropped`);
    let droppedCap = 0;
    while (store.keyIndex.size > store.options.maxKeys) { store.evictOldest(); droppedCap++; }
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
      let found = false;
      const drop = (name: string): void => { const k = this.keyIndex.get(name); if (k !== undefined) { this.removeKey(k); found = true; } };
      drop(key);
      for (let h = 0; h < 24; h++) drop(`${key} @${h < 10 ? '0' : ''}${h}h`);
      return found;
    }
    this.keyIndex.clear();
    this.capacity = 0; this.hwm = 0; this.freeSlots = []; this.keyName = [];
    this.kScope = new Uint8Array(0); this.kSlot = new Int8Array(0); this.kPrior = new Uint8Array(0);
    this.kMatureAt = new Uint32Array(0); this.kSamples = new Uint32Array(0);
    this.kFirstSeen = new Float64Array(0); this.kLastSeen = new Float64Array(0); this.kLastUpdate = new Float64Array(0);
    this.kHead = new Int32Array(0); this.kTail = new Int32Array(0);
    this.lru.clear();
    this.pages = []; this.entryHwm = 0; this.freeEntry = -1;
    this.evictions = 0;
    this.clockMs = 0;
    this.clipped = 0;
    return true;
  }
}

/** Records arrays of the windows a store of this process annotated → the scopes it baselined (see {@link baselinesBuiltHere}). */
const BUILT_HERE = new WeakMap<readonly TrafficRecord[], ReadonlySet<Scope>>();

/**
 * The scopes whose records' `baseline` a {@link BaselineStore} of this process built, when
 * `records` is the very array of a window that {@link BaselineStore.annotate} (or an
 * {@link AnnotateJob}'s `finish`) returned; undefined for any other array (another producer's
 * window, a copy such as a cloned Node-RED message). Those baselines are well formed (a state, a
 * metrics object of finite numbers), so a consumer (rule-detector) need not check them again;
 * records of other scopes were passed through as they came and are not covered.
 */
export function baselinesBuiltHere(records: readonly TrafficRecord[]): ReadonlySet<Scope> | undefined {
  return BUILT_HERE.get(records);
}

/** Per-window constants of an {@link AnnotateJob}. */
interface WindowContext {
  t: number;
  windowMs: number;
  seasonal: boolean;
  slot: number;
  slotSuffix: string;
  slotSlowAlpha: number;
  slotMatureAt: number;
  clipping: boolean;
  frozen: boolean;
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
