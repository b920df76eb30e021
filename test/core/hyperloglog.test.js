'use strict';
/**
 * HyperLogLog (src/core/hyperloglog.ts). Expectations come from the paper, not from the code's output:
 * Flajolet, Fusy, Gandouet, Meunier 2007 give the relative standard error 1.04 / √m, so an estimate of
 * n distinct items must lie within n · 3 · 1.04 / √m (3 standard errors); duplicates cannot change a
 * register (max of the same ρ), and the union's registers are the register-wise maxima.
 *
 * Addresses are seeded pseudo-random: IPv4 as `::ffff:a.b.c.d` with a.b.c.d = a bijection of a
 * counter (so n of them are distinct), IPv6 as 16 random bytes (a repeat has probability ~n²/2^129).
 */
const { expect } = require('chai');
const {
  HyperLogLog, HyperLogLogPool, hllStandardError, hllAlpha, HLL_DEFAULT_PRECISION,
} = require('../../dist/core/hyperloglog');

/** mulberry32: a seeded 32-bit PRNG (Tommy Ettinger, public domain). */
function prng(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** lowbias32 (Chris Wellons): a bijection of 32-bit integers, so distinct inputs give distinct addresses. */
function lowbias32(x) {
  x ^= x >>> 16; x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15; x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * n distinct addresses as 16 bytes each (IPv4-mapped or IPv6) and an Int32Array over them.
 * @param family 4 or 6
 */
function addresses(n, family, seed) {
  const bytes = new Uint8Array(16 * n);
  const next = prng(seed);
  const offset = next();
  for (let i = 0; i < n; i++) {
    const o = 16 * i;
    if (family === 4) {
      const a = lowbias32((offset + i) >>> 0);
      bytes[o + 10] = 0xff; bytes[o + 11] = 0xff;
      bytes[o + 12] = a >>> 24; bytes[o + 13] = (a >>> 16) & 255; bytes[o + 14] = (a >>> 8) & 255; bytes[o + 15] = a & 255;
    } else {
      for (let k = 0; k < 16; k += 4) {
        const r = next();
        bytes[o + k] = r >>> 24; bytes[o + k + 1] = (r >>> 16) & 255; bytes[o + k + 2] = (r >>> 8) & 255; bytes[o + k + 3] = r & 255;
      }
      bytes[o] = 0x20; bytes[o + 1] = 0x01; // 2001::/16, a global unicast prefix
    }
  }
  return { bytes, words: new Int32Array(bytes.buffer), n };
}

function sketchOf(addr, options, from = 0, to = addr.n) {
  const h = new HyperLogLog(options);
  for (let i = from; i < to; i++) h.addWords(addr.words, i * 4, 4);
  return h;
}

const SEEDS = [0x1234567, 0x7654321];

describe('HyperLogLog', function () {
  this.timeout(60000);

  it('has the standard error 1.04/√m of Flajolet et al. 2007 and their α_m', function () {
    expect(hllStandardError(12)).to.be.closeTo(1.04 / 64, 1e-12);
    expect(hllStandardError(10)).to.be.closeTo(1.04 / 32, 1e-12);
    expect(HLL_DEFAULT_PRECISION).to.equal(12);
    expect(new HyperLogLog().standardError).to.be.closeTo(0.01625, 1e-12);
    expect(hllAlpha(16)).to.equal(0.673);
    expect(hllAlpha(64)).to.equal(0.709);
    expect(hllAlpha(4096)).to.be.closeTo(0.7213 / (1 + 1.079 / 4096), 1e-12);
    expect(new HyperLogLog().registers).to.have.length(4096);
  });

  it('rejects a bad precision, bad seeds and a bad pool capacity with a RangeError', function () {
    expect(() => new HyperLogLog({ precision: 3 })).to.throw(RangeError, /precision/);
    expect(() => new HyperLogLog({ precision: 12.5 })).to.throw(RangeError, /precision/);
    expect(() => new HyperLogLog({ seeds: [1, 1] })).to.throw(RangeError, /seeds/);
    expect(() => new HyperLogLogPool(-1)).to.throw(RangeError, /capacity/);
    expect(() => hllStandardError(17)).to.throw(RangeError);
  });

  it('estimates 0 for an empty sketch', function () {
    expect(new HyperLogLog().estimate()).to.equal(0);
  });

  for (const family of [4, 6]) {
    for (const n of [10, 1000, 100_000, 1_000_000]) {
      it(`estimates ${n.toLocaleString('en-US')} distinct IPv${family} addresses within 3 standard errors (p = 12)`, function () {
        const addr = addresses(n, family, 1000 + n + family);
        const h = sketchOf(addr, { seeds: SEEDS });
        const bound = 3 * hllStandardError(12) * n;
        expect(Math.abs(h.estimate() - n), `estimate ${h.estimate()} of ${n}`).to.be.at.most(bound);
      });
    }
  }

  it('estimates within 3 standard errors at p = 10 too (1,000 and 100,000 addresses)', function () {
    for (const n of [1000, 100_000]) {
      const h = sketchOf(addresses(n, 4, 77 + n), { precision: 10, seeds: SEEDS });
      expect(Math.abs(h.estimate() - n)).to.be.at.most(3 * hllStandardError(10) * n);
    }
  });

  it('has a spread over random seeds that matches the standard error (RMS within 0.6 … 1.4 × 1.04/√m)', function () {
    // 40 independent sketches (different hash seeds) of the same 50,000 addresses
    const n = 50_000;
    const addr = addresses(n, 6, 4242);
    const next = prng(99);
    let sq = 0;
    const runs = 40;
    for (let r = 0; r < runs; r++) {
      const s0 = next() | 0;
      const h = sketchOf(addr, { seeds: [s0, s0 ^ 0x55555555] });
      const rel = (h.estimate() - n) / n;
      sq += rel * rel;
    }
    const rms = Math.sqrt(sq / runs);
    const se = hllStandardError(12);
    expect(rms).to.be.within(0.6 * se, 1.4 * se);
  });

  it('does not change when items are added again (duplicates)', function () {
    const addr = addresses(20_000, 4, 5);
    const once = sketchOf(addr, { seeds: SEEDS });
    const thrice = new HyperLogLog({ seeds: SEEDS });
    for (let pass = 0; pass < 3; pass++) for (let i = addr.n - 1; i >= 0; i--) thrice.addWords(addr.words, i * 4, 4);
    expect(Array.from(thrice.registers)).to.deep.equal(Array.from(once.registers));
    expect(thrice.estimate()).to.equal(once.estimate());
  });

  it('merges into the sketch of the union (overlapping halves of 1,000,000 addresses)', function () {
    const addr = addresses(1_000_000, 6, 31);
    const a = sketchOf(addr, { seeds: SEEDS }, 0, 600_000);
    const b = sketchOf(addr, { seeds: SEEDS }, 400_000, 1_000_000);
    const all = sketchOf(addr, { seeds: SEEDS });
    a.merge(b);
    expect(Array.from(a.registers)).to.deep.equal(Array.from(all.registers));
    expect(a.estimate()).to.equal(all.estimate());
    expect(Math.abs(a.estimate() - 1_000_000)).to.be.at.most(3 * hllStandardError(12) * 1_000_000);
  });

  it('refuses to merge sketches with other seeds or precision', function () {
    const a = new HyperLogLog({ seeds: SEEDS });
    expect(() => a.merge(new HyperLogLog({ seeds: [1, 2] }))).to.throw(RangeError, /same precision and seeds/);
    expect(() => a.merge(new HyperLogLog({ seeds: SEEDS, precision: 10 }))).to.throw(RangeError);
  });

  describe('HyperLogLogPool', function () {
    it('hands out at most capacity sketches until cleared, allocating registers at the first acquire', function () {
      const pool = new HyperLogLogPool(2);
      expect(pool.registers).to.have.length(0);
      expect(pool.acquire()).to.equal(0);
      expect(pool.registers).to.have.length(2 * 4096);
      expect(pool.acquire()).to.equal(1);
      expect(pool.acquire()).to.equal(-1);
      pool.add(1, 0x12345678, 0x00010000);
      pool.clear();
      expect(pool.registers.every((r) => r === 0)).to.equal(true);
      expect(pool.acquire()).to.equal(0);
      expect(new HyperLogLogPool(0).acquire()).to.equal(-1);
    });

    it('keeps its sketches apart and agrees with a single sketch fed the same hashes; merge is the union', function () {
      const addr = addresses(30_000, 4, 8);
      const single = sketchOf(addr, { seeds: SEEDS });
      const pool = new HyperLogLogPool(3);
      const k0 = pool.acquire(), k1 = pool.acquire(), k2 = pool.acquire();
      const { hashWords } = require('../../dist/core/flow-table');
      for (let i = 0; i < addr.n; i++) {
        const h1 = hashWords(addr.words, i * 4, 4, SEEDS[0]), h2 = hashWords(addr.words, i * 4, 4, SEEDS[1]);
        pool.add(k0, h1, h2);
        pool.add(i < 15_000 ? k1 : k2, h1, h2);
      }
      expect(pool.estimate(k0)).to.equal(single.estimate());
      expect(Math.abs(pool.estimate(k1) - 15_000)).to.be.at.most(3 * hllStandardError(12) * 15_000);
      pool.merge(k1, k2);
      expect(pool.estimate(k1)).to.equal(single.estimate());
    });
  });
});
