/**
 * HyperLogLog distinct-count sketches, allocation-free after construction: a single sketch
 * ({@link HyperLogLog}) and a fixed pool of sketches in one register array ({@link HyperLogLogPool}),
 * which the flow-aggregator hands out to the few keys whose exact distinct set overflowed.
 *
 * Algorithm: Flajolet, Fusy, Gandouet, Meunier, "HyperLogLog: the analysis of a near-optimal
 * cardinality estimation algorithm", AofA 2007 (DMTCS proc. AH, pp. 127–146), Fig. 3:
 * - m = 2^p registers `M[0 … m-1]` of one byte, all 0 at the start;
 * - an item with hash bits `x` goes to register `j` = the first p bits of `x`, which keeps the
 *   maximum of ρ(w) = the position of the leftmost 1 bit of the remaining bits `w` (1 for `1…`);
 * - raw estimate E = α_m · m² / Σ_j 2^(−M[j]), with α_16 = 0.673, α_32 = 0.697, α_64 = 0.709 and
 *   α_m = 0.7213 / (1 + 1.079 / m) for m ≥ 128;
 * - small-range correction: when E ≤ 5/2 · m and V > 0 registers are 0, the estimate is the linear
 *   count m · ln(m / V) (Whang, Vander-Zanden, Taylor 1990);
 * - standard error (relative) of the estimate: 1.04 / √m ({@link hllStandardError}); with the default
 *   p = 12 (m = 4096, 4 KiB of registers) that is 1.625 %.
 * - merge (union of the sets): the register-wise maximum.
 *
 * Hash: two independent 32-bit MurmurHash3 x86_32 hashes of the item (`flow-table.ts`), seeded
 * differently: the register index is the top p bits of the first, ρ is taken over all 32 bits of the
 * second (ρ ∈ 1 … 33). That is a (32 + p)-bit hash, so the 32-bit hash's collision bias at large
 * cardinalities (the paper's large-range correction, needed from 2^32 / 30 ≈ 143 million) does not
 * arise below ≈ 2^(32+p) / 30 (5.9 · 10^11 for p = 12) and no large-range correction is applied.
 * Seeds are random unless given, so that someone who chooses the items (spoofed addresses) cannot
 * choose them to fall into few registers and hide from the count.
 *
 * @packageDocumentation
 */
import { hashWords } from './flow-table';

/** Smallest precision p accepted (m = 16 registers). */
export const HLL_MIN_PRECISION = 4;
/** Largest precision p accepted (m = 65,536 registers, 64 KiB). */
export const HLL_MAX_PRECISION = 16;
/** Default precision p = 12: m = 4096 one-byte registers, standard error 1.04 / 64 = 1.625 %. */
export const HLL_DEFAULT_PRECISION = 12;

/** 2^(−k) for k = 0 … 64 (register values are at most 33). */
const POW2_NEG: Float64Array = (() => {
  const a = new Float64Array(65);
  for (let k = 0; k < a.length; k++) a[k] = Math.pow(2, -k);
  return a;
})();

function checkPrecision(precision: number): number {
  if (!Number.isInteger(precision) || precision < HLL_MIN_PRECISION || precision > HLL_MAX_PRECISION) {
    throw new RangeError(`hyperloglog: precision must be an integer from ${HLL_MIN_PRECISION} to ${HLL_MAX_PRECISION}, got ${String(precision)}`);
  }
  return precision;
}

/** The bias-correction constant α_m of the raw estimate for m registers (Flajolet et al. 2007, Fig. 3). */
export function hllAlpha(m: number): number {
  if (m === 16) return 0.673;
  if (m === 32) return 0.697;
  if (m === 64) return 0.709;
  return 0.7213 / (1 + 1.079 / m);
}

/**
 * Relative standard error of the HyperLogLog estimate with precision `precision`: 1.04 / √(2^p)
 * (Flajolet et al. 2007, Theorem 1). p = 12 → 0.01625.
 * @throws {RangeError} when `precision` is not an integer from 4 to 16.
 */
export function hllStandardError(precision: number): number {
  return 1.04 / Math.sqrt(2 ** checkPrecision(precision));
}

/**
 * Folds one item, given as two independent 32-bit hashes, into the sketch whose `2^precision`
 * registers start at `registers[offset]`: register `h1 >>> (32 − p)` keeps max(itself, ρ(h2)),
 * ρ(h2) = leading zero bits of `h2` + 1 (1 … 33). Allocation-free; no argument checks (hot path).
 */
export function hllAdd(registers: Uint8Array, offset: number, precision: number, h1: number, h2: number): void {
  const k = offset + (h1 >>> (32 - precision));
  const rank = Math.clz32(h2) + 1;
  if (rank > registers[k]!) registers[k] = rank;
}

/**
 * The cardinality estimate of the sketch whose `2^precision` registers start at `registers[offset]`:
 * the raw estimate α_m · m² / Σ 2^(−M[j]), or the linear count m · ln(m / V) when the raw estimate
 * is ≤ 2.5 m and V > 0 registers are 0 (Flajolet et al. 2007, Fig. 3). Not rounded; 0 for an empty
 * sketch. O(m), allocation-free.
 */
export function hllEstimate(registers: Uint8Array, offset: number, precision: number): number {
  const m = 1 << precision;
  let sum = 0;
  let zeros = 0;
  for (let j = offset, end = offset + m; j < end; j++) {
    const r = registers[j]!;
    sum += POW2_NEG[r]!;
    if (r === 0) zeros++;
  }
  const raw = (hllAlpha(m) * m * m) / sum;
  if (raw <= 2.5 * m && zeros > 0) return m * Math.log(m / zeros);
  return raw;
}

/** Options of a {@link HyperLogLog} / {@link HyperLogLogPool}. */
export interface HyperLogLogOptions {
  /** Precision p, an integer 4 … 16: m = 2^p registers of one byte. Default {@link HLL_DEFAULT_PRECISION} (12). */
  precision?: number;
  /**
   * The two 32-bit hash seeds of {@link HyperLogLog.addWords} (int32 values; they must differ).
   * Default: random. Sketches to be merged must share precision and seeds.
   */
  seeds?: readonly [number, number];
}

function resolveSeeds(seeds: readonly [number, number] | undefined): [number, number] {
  if (seeds === undefined) {
    const a = (Math.random() * 0x100000000) | 0;
    let b = (Math.random() * 0x100000000) | 0;
    if (b === a) b = a ^ 0x5bd1e995;
    return [a, b];
  }
  if (!Array.isArray(seeds) || seeds.length !== 2 || !seeds.every((s) => Number.isInteger(s)) || (seeds[0] | 0) === (seeds[1] | 0)) {
    throw new RangeError('hyperloglog: seeds must be two different integers');
  }
  return [seeds[0] | 0, seeds[1] | 0];
}

/**
 * One HyperLogLog sketch: `2^precision` one-byte registers allocated once (4 KiB at p = 12). Adding
 * allocates nothing. See the module documentation for the algorithm, its error and its source.
 */
export class HyperLogLog {
  /** Precision p. */
  readonly precision: number;
  /** Number of registers m = 2^p. */
  readonly m: number;
  /** The registers (ρ maxima, 0 … 33). */
  readonly registers: Uint8Array;
  /** The hash seeds used by {@link addWords}. */
  readonly seeds: readonly [number, number];

  /** @throws {RangeError} on a precision outside 4 … 16 or bad seeds. */
  constructor(options: HyperLogLogOptions = {}) {
    this.precision = checkPrecision(options.precision ?? HLL_DEFAULT_PRECISION);
    this.m = 1 << this.precision;
    this.registers = new Uint8Array(this.m);
    this.seeds = Object.freeze(resolveSeeds(options.seeds)) as readonly [number, number];
  }

  /** Relative standard error of {@link estimate}: 1.04 / √m. */
  get standardError(): number { return 1.04 / Math.sqrt(this.m); }

  /** Adds an item given as two independent 32-bit hashes (see {@link hllAdd}). */
  addHashes(h1: number, h2: number): void {
    hllAdd(this.registers, 0, this.precision, h1, h2);
  }

  /**
   * Adds the item made of the `n` 32-bit words `words[w … w+n-1]` (e.g. n = 4: a 16-byte address),
   * hashed with MurmurHash3 x86_32 under both {@link seeds}. Allocation-free.
   */
  addWords(words: Int32Array, w: number, n: number): void {
    hllAdd(this.registers, 0, this.precision, hashWords(words, w, n, this.seeds[0]), hashWords(words, w, n, this.seeds[1]));
  }

  /** The estimated number of distinct items added (not rounded; see {@link hllEstimate}). */
  estimate(): number {
    return hllEstimate(this.registers, 0, this.precision);
  }

  /**
   * Folds `other` in: afterwards this sketch is the sketch of the union of both sets (register-wise
   * maximum, Flajolet et al. 2007 §1).
   * @throws {RangeError} when the precisions or seeds differ (the registers would not be comparable).
   */
  merge(other: HyperLogLog): void {
    if (other.precision !== this.precision || other.seeds[0] !== this.seeds[0] || other.seeds[1] !== this.seeds[1]) {
      throw new RangeError('hyperloglog: only sketches with the same precision and seeds can be merged');
    }
    const a = this.registers, b = other.registers;
    for (let j = 0; j < a.length; j++) if (b[j]! > a[j]!) a[j] = b[j]!;
  }

  /** Empties the sketch. */
  clear(): void { this.registers.fill(0); }
}

/**
 * A fixed number of HyperLogLog sketches in one register array (`capacity × 2^precision` bytes,
 * allocated at the first {@link acquire}, kept and zeroed by {@link clear}), handed out by index.
 * Items are given as two 32-bit hashes (the caller's seeds; every sketch of a pool must be fed the
 * same hash functions to be mergeable). Nothing allocates after the first acquire.
 */
export class HyperLogLogPool {
  /** Sketches the pool can hand out before {@link clear}. */
  readonly capacity: number;
  /** Precision p of every sketch. */
  readonly precision: number;
  /** Registers per sketch, m = 2^p. */
  readonly m: number;
  /** Sketches handed out since the last {@link clear}. */
  used = 0;
  /** Sketch k has its registers at `registers[k·m … (k+1)·m − 1]`; empty until the first {@link acquire}. */
  registers: Uint8Array = new Uint8Array(0);

  /**
   * @param capacity number of sketches, an integer 0 … 1,000,000 (0: {@link acquire} always fails)
   * @param precision p, 4 … 16 (default 12)
   * @throws {RangeError} on a bad capacity or precision.
   */
  constructor(capacity: number, precision: number = HLL_DEFAULT_PRECISION) {
    if (!Number.isInteger(capacity) || capacity < 0 || capacity > 1_000_000) {
      throw new RangeError(`hyperloglog: pool capacity must be an integer from 0 to 1000000, got ${String(capacity)}`);
    }
    this.capacity = capacity;
    this.precision = checkPrecision(precision);
    this.m = 1 << this.precision;
  }

  /** Bytes of registers the pool holds once allocated (capacity × m). */
  get registerBytes(): number { return this.capacity * this.m; }

  /** Hands out an empty sketch and returns its index, or -1 when all `capacity` are in use. */
  acquire(): number {
    if (this.used >= this.capacity) return -1;
    if (this.registers.length === 0) this.registers = new Uint8Array(this.capacity * this.m);
    return this.used++;
  }

  /** Adds an item (two independent 32-bit hashes) to sketch `k`. Allocation-free, unchecked. */
  add(k: number, h1: number, h2: number): void {
    hllAdd(this.registers, k * this.m, this.precision, h1, h2);
  }

  /** The estimate of sketch `k` (not rounded; see {@link hllEstimate}). */
  estimate(k: number): number {
    return hllEstimate(this.registers, k * this.m, this.precision);
  }

  /** Folds sketch `from` into sketch `into` (union). */
  merge(into: number, from: number): void {
    const r = this.registers, a = into * this.m, b = from * this.m;
    for (let j = 0; j < this.m; j++) if (r[b + j]! > r[a + j]!) r[a + j] = r[b + j]!;
  }

  /** Zeroes the sketches in use and makes all of them available again. */
  clear(): void {
    if (this.used > 0) this.registers.fill(0, 0, this.used * this.m);
    this.used = 0;
  }
}
