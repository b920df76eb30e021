/**
 * Exponentially weighted moving averages and variance of one metric.
 *
 * Per metric the baseline keeps four numbers:
 * - a fast EWMA (default α 0.3) and a slow EWMA (default α 0.05), each
 *   `EWMA(t) = α·x(t) + (1−α)·EWMA(t−1)` (S. W. Roberts, "Control chart tests based on geometric
 *   moving averages", Technometrics 1959; NIST/SEMATECH e-Handbook of Statistical Methods §6.3.2.4);
 * - an exponentially weighted variance with the slow α, in the incremental form of T. Finch,
 *   "Incremental calculation of weighted mean and variance" (2009), §9:
 *   `diff = x − μ; incr = α·diff; μ ← μ + incr; var ← (1−α)·(var + diff·incr)`,
 *   where μ is the slow EWMA itself;
 * - the number of samples folded in.
 *
 * The first sample initialises fast = slow = x and var = 0.
 *
 * Nothing here allocates per update: the state is a flat object of four numbers and
 * {@link foldSample} updates it in place.
 *
 * @packageDocumentation
 */

/** Default α of the fast EWMA (reacts within a few windows). */
export const DEFAULT_FAST_ALPHA = 0.3;
/** Default α of the slow EWMA and of the EW variance (the long-term baseline). */
export const DEFAULT_SLOW_ALPHA = 0.05;

/**
 * EWMA state of one metric of one key. Units are those of the metric (e.g. packet/s); `variance`
 * is in the metric's unit squared.
 */
export interface EwmaState {
  /** Fast EWMA. */
  fast: number;
  /** Slow EWMA; also μ, the exponentially weighted mean the variance is taken around. */
  slow: number;
  /** Exponentially weighted variance with the slow α (Finch 2009), ≥ 0. */
  variance: number;
  /** Samples folded in so far (0 for a fresh state). */
  samples: number;
}

/** A fresh state with no samples; the first {@link foldSample} initialises it. */
export function createEwmaState(): EwmaState {
  return { fast: 0, slow: 0, variance: 0, samples: 0 };
}

/**
 * One EWMA step: `α·x + (1−α)·previous` (Roberts 1959). Pure.
 * @param previous the EWMA before this sample
 * @param x the new sample
 * @param alpha smoothing factor, 0 < α ≤ 1
 */
export function ewmaNext(previous: number, x: number, alpha: number): number {
  return alpha * x + (1 - alpha) * previous;
}

/**
 * One step of the exponentially weighted variance around the EWMA μ (Finch 2009, incremental form).
 * Pure; returns the new variance. The new μ is {@link ewmaNext}(mean, x, alpha).
 * @param mean μ before this sample
 * @param variance variance before this sample
 * @param x the new sample
 * @param alpha smoothing factor, 0 < α ≤ 1
 */
export function ewVarianceNext(mean: number, variance: number, x: number, alpha: number): number {
  const diff = x - mean;
  const incr = alpha * diff;
  return (1 - alpha) * (variance + diff * incr);
}

/**
 * Folds sample `x` into `state` in place and returns the same object. The first sample sets
 * fast = slow = x and variance = 0; later samples apply {@link ewmaNext} with each α and the Finch
 * variance recurrence with `slowAlpha`.
 * @param state the metric's state (mutated)
 * @param x the sample, a finite number
 * @param fastAlpha α of the fast EWMA, 0 < α ≤ 1
 * @param slowAlpha α of the slow EWMA and of the variance, 0 < α ≤ 1
 */
export function foldSample(state: EwmaState, x: number, fastAlpha: number, slowAlpha: number): EwmaState {
  if (state.samples === 0) {
    state.fast = x;
    state.slow = x;
    state.variance = 0;
  } else {
    state.fast = fastAlpha * x + (1 - fastAlpha) * state.fast;
    const diff = x - state.slow;
    const incr = slowAlpha * diff;
    state.slow += incr;
    state.variance = (1 - slowAlpha) * (state.variance + diff * incr);
  }
  state.samples++;
  return state;
}

/**
 * One step on a state that already holds a value (no first-sample initialisation): fast and slow
 * EWMA with their α, the Finch variance with `slowAlpha`; `samples` is incremented. Used for a state
 * seeded from a prior, whose values must not be overwritten by the first own sample. Mutates and
 * returns `state`.
 */
export function updateSample(state: EwmaState, x: number, fastAlpha: number, slowAlpha: number): EwmaState {
  state.fast = fastAlpha * x + (1 - fastAlpha) * state.fast;
  const diff = x - state.slow;
  const incr = slowAlpha * diff;
  state.slow += incr;
  state.variance = (1 - slowAlpha) * (state.variance + diff * incr);
  state.samples++;
  return state;
}

/**
 * Folds an anomalous sample whose value has been clipped to `clipped` (Huber-type clipping,
 * P. J. Huber, "Robust estimation of a location parameter", Ann. Math. Statist. 35 (1964); as used
 * for exponential smoothing by S. Gelper, R. Fried, C. Croux, "Robust forecasting with exponential
 * and Holt–Winters smoothing", J. Forecasting 29 (2010)): the fast EWMA takes the raw value `x`
 * (it must follow what is happening now), the slow EWMA takes `clipped`, and the variance is left
 * as it is (a clipped sample says nothing about the normal spread; folding it in would widen σ by
 * a factor (1−α)(1+α·k²) per window and let a long flood in through the back door). `samples` is
 * incremented. Mutates and returns `state`. The state must already hold a value (samples ≥ 1 or seeded).
 */
export function foldClipped(state: EwmaState, x: number, clipped: number, fastAlpha: number, slowAlpha: number): EwmaState {
  state.fast = fastAlpha * x + (1 - fastAlpha) * state.fast;
  state.slow = slowAlpha * clipped + (1 - slowAlpha) * state.slow;
  state.samples++;
  return state;
}

/**
 * α for a sample that arrives `elapsedWindows` windows after the previous one (irregular samples):
 * `α' = 1 − (1−α)^elapsed`, so the old value's weight decays by elapsed packet time as if the
 * missing windows had carried the new value: the EMA for unevenly spaced series of A. Eckner,
 * "Algorithms for unevenly spaced time series: moving averages and other rolling operators"
 * (working paper, 2012), with time constant τ = −windowMs / ln(1−α); equal to α for contiguous windows.
 * @param alpha α per window, 0 < α ≤ 1
 * @param elapsedWindows windows since the previous sample (≥ 1; values below 1 give α)
 */
export function gapAlpha(alpha: number, elapsedWindows: number): number {
  if (!(elapsedWindows > 1)) return alpha;
  return 1 - Math.pow(1 - alpha, elapsedWindows);
}

/** σ of a state: the square root of its EW variance (0 for fewer than two samples). */
export function ewStd(state: EwmaState): number {
  return state.variance > 0 ? Math.sqrt(state.variance) : 0;
}

/**
 * Samples after which the initial value's weight in an EWMA of α, `(1−α)^n`, has decayed below 5%:
 * `ceil(ln 0.05 / ln(1−α))` (59 for α 0.05, 9 for α 0.3); at least 1 (α = 1 forgets at once).
 * @param alpha smoothing factor, 0 < α ≤ 1
 */
export function samplesToConverge(alpha: number): number {
  if (alpha >= 1) return 1;
  return Math.max(1, Math.ceil(Math.log(0.05) / Math.log(1 - alpha)));
}

/**
 * Checks an α pair: both in (0, 1], fast > slow.
 * @throws {RangeError} naming the option at fault.
 */
export function checkAlphas(fastAlpha: number, slowAlpha: number): void {
  for (const [name, a] of [['fastAlpha', fastAlpha], ['slowAlpha', slowAlpha]] as const) {
    if (typeof a !== 'number' || !Number.isFinite(a) || a <= 0 || a > 1) throw new RangeError(`${name} must be a number with 0 < α ≤ 1, got ${String(a)}`);
  }
  if (!(fastAlpha > slowAlpha)) throw new RangeError(`fastAlpha (${fastAlpha}) must be greater than slowAlpha (${slowAlpha})`);
}

/**
 * Columnar EWMA states: the same four numbers as {@link EwmaState}, for many metrics at once, in
 * typed arrays indexed by an entry number `i` (what {@link BaselineStore} keeps per key and metric,
 * so that a baselined key costs a few hundred bytes instead of an object per metric). `fast`,
 * `slow`, `variance` in the metric's unit (variance squared), `samples` a count.
 */
export interface EwmaColumns {
  fast: Float64Array;
  slow: Float64Array;
  variance: Float64Array;
  samples: Uint32Array;
}

/**
 * {@link foldSample} on entry `i` of columns `c`: the first sample (samples 0) sets fast = slow = x
 * and variance 0; later ones apply both EWMAs and the Finch variance. Same arithmetic, same
 * results to the bit. Allocates nothing.
 */
export function foldSampleAt(c: EwmaColumns, i: number, x: number, fastAlpha: number, slowAlpha: number): void {
  if (c.samples[i] === 0) {
    c.fast[i] = x;
    c.slow[i] = x;
    c.variance[i] = 0;
    c.samples[i] = 1;
    return;
  }
  updateSampleAt(c, i, x, fastAlpha, slowAlpha);
}

/** {@link updateSample} on entry `i` of columns `c` (no first-sample initialisation). Allocates nothing. */
export function updateSampleAt(c: EwmaColumns, i: number, x: number, fastAlpha: number, slowAlpha: number): void {
  c.fast[i] = fastAlpha * x + (1 - fastAlpha) * c.fast[i]!;
  const slow = c.slow[i]!;
  const diff = x - slow;
  const incr = slowAlpha * diff;
  c.slow[i] = slow + incr;
  c.variance[i] = (1 - slowAlpha) * (c.variance[i]! + diff * incr);
  c.samples[i] = c.samples[i]! + 1;
}

/** {@link foldClipped} on entry `i` of columns `c`: fast takes `x`, slow takes `clipped`, variance unchanged. */
export function foldClippedAt(c: EwmaColumns, i: number, x: number, clipped: number, fastAlpha: number, slowAlpha: number): void {
  c.fast[i] = fastAlpha * x + (1 - fastAlpha) * c.fast[i]!;
  c.slow[i] = slowAlpha * clipped + (1 - slowAlpha) * c.slow[i]!;
  c.samples[i] = c.samples[i]! + 1;
}

/** σ of entry `i` of columns `c` (see {@link ewStd}). */
export function ewStdAt(c: EwmaColumns, i: number): number {
  const v = c.variance[i]!;
  return v > 0 ? Math.sqrt(v) : 0;
}
