'use strict';
const { expect } = require('chai');
const ewma = require('../../dist/core/ewma.js');

describe('ewma', function () {
  it('first sample initialises fast = slow = x and variance = 0', function () {
    const s = ewma.foldSample(ewma.createEwmaState(), 42, 0.3, 0.05);
    expect(s).to.deep.equal({ fast: 42, slow: 42, variance: 0, samples: 1 });
  });

  it('matches a hand computation of both EWMAs (Roberts 1959)', function () {
    // x = 10, 20, 0 with fast α 0.3 and slow α 0.05, by hand:
    // fast: 10 → 0.3·20 + 0.7·10 = 13 → 0.3·0 + 0.7·13 = 9.1
    // slow: 10 → 0.05·20 + 0.95·10 = 10.5 → 0.95·10.5 = 9.975
    const s = ewma.createEwmaState();
    for (const x of [10, 20, 0]) ewma.foldSample(s, x, 0.3, 0.05);
    expect(s.fast).to.be.closeTo(9.1, 1e-12);
    expect(s.slow).to.be.closeTo(9.975, 1e-12);
    expect(s.samples).to.equal(3);
    expect(ewma.ewmaNext(10, 20, 0.3)).to.be.closeTo(13, 1e-12);
  });

  it('variance matches the exact exponentially weighted variance computed from the weights', function () {
    // After n samples x0..x(n-1) with x0 as the initial value, the EWMA weights are
    // w0 = (1-α)^(n-1), wi = α(1-α)^(n-1-i) for i ≥ 1 (they sum to 1). The Finch recurrence gives the
    // weighted variance Σ wi (xi − μ)² with μ = Σ wi xi. Computed here directly from the weights.
    const alpha = 0.05;
    const xs = [5, 9, 2, 14, 7, 7, 30, 1, 0, 11, 6, 8];
    const s = ewma.createEwmaState();
    for (const x of xs) ewma.foldSample(s, x, 0.3, alpha);
    const n = xs.length;
    const w = xs.map((_, i) => (i === 0 ? Math.pow(1 - alpha, n - 1) : alpha * Math.pow(1 - alpha, n - 1 - i)));
    expect(w.reduce((a, b) => a + b, 0)).to.be.closeTo(1, 1e-12);
    const mu = xs.reduce((a, x, i) => a + w[i] * x, 0);
    const variance = xs.reduce((a, x, i) => a + w[i] * (x - mu) * (x - mu), 0);
    expect(s.slow).to.be.closeTo(mu, 1e-9);
    expect(s.variance).to.be.closeTo(variance, 1e-9);
    expect(ewma.ewStd(s)).to.be.closeTo(Math.sqrt(variance), 1e-9);
  });

  it('ewVarianceNext is one step of the Finch recurrence', function () {
    // mean 10, var 4, x 20, α 0.1: diff 10, incr 1, var = 0.9·(4 + 10) = 12.6
    expect(ewma.ewVarianceNext(10, 4, 20, 0.1)).to.be.closeTo(12.6, 1e-12);
  });

  it('samplesToConverge: ceil(ln 0.05 / ln(1−α))', function () {
    expect(ewma.samplesToConverge(0.05)).to.equal(59); // 0.95^58 = 0.0510 > 0.05, 0.95^59 = 0.0485
    expect(Math.pow(0.95, 58)).to.be.above(0.05);
    expect(Math.pow(0.95, 59)).to.be.below(0.05);
    expect(ewma.samplesToConverge(0.3)).to.equal(9);
    expect(ewma.samplesToConverge(1)).to.equal(1);
  });

  it('checkAlphas rejects α outside (0,1] and fast ≤ slow', function () {
    expect(() => ewma.checkAlphas(0.3, 0.05)).to.not.throw();
    expect(() => ewma.checkAlphas(0, 0.05)).to.throw(RangeError, /fastAlpha/);
    expect(() => ewma.checkAlphas(0.3, 1.5)).to.throw(RangeError, /slowAlpha/);
    expect(() => ewma.checkAlphas(0.05, 0.3)).to.throw(RangeError, /greater/);
    expect(() => ewma.checkAlphas(NaN, 0.05)).to.throw(RangeError);
  });

  it('updateSample steps a seeded state without re-initialising it', function () {
    const s = { fast: 30, slow: 30, variance: 0, samples: 0 };
    ewma.updateSample(s, 1000, 0.3, 0.05);
    // by hand: fast 0.3·1000 + 0.7·30 = 321; diff 970, incr 48.5, slow 78.5, var 0.95·(0 + 970·48.5) = 44,692.75
    expect(s.fast).to.be.closeTo(321, 1e-9);
    expect(s.slow).to.be.closeTo(78.5, 1e-9);
    expect(s.variance).to.be.closeTo(44692.75, 1e-6);
    expect(s.samples).to.equal(1);
  });

  it('foldClipped: fast takes the raw value, slow the clipped one, the variance stays', function () {
    const s = { fast: 100, slow: 100, variance: 25, samples: 10 };
    ewma.foldClipped(s, 5000, 115, 0.3, 0.05);
    // fast 0.3·5000 + 0.7·100 = 1570; slow 0.05·115 + 0.95·100 = 100.75
    expect(s).to.deep.equal({ fast: 1570, slow: 100.75, variance: 25, samples: 11 });
  });

  it('gapAlpha: one step with α′ = 1 − (1−α)^k equals k steps of α with the same value', function () {
    expect(ewma.gapAlpha(0.05, 1)).to.equal(0.05);
    expect(ewma.gapAlpha(0.05, 0.5), 'below one window: α').to.equal(0.05);
    expect(ewma.gapAlpha(0.05, 4)).to.be.closeTo(1 - 0.95 ** 4, 1e-15);
    let stepwise = 10;
    for (let i = 0; i < 4; i++) stepwise = ewma.ewmaNext(stepwise, 100, 0.05);
    expect(ewma.ewmaNext(10, 100, ewma.gapAlpha(0.05, 4))).to.be.closeTo(stepwise, 1e-12);
  });
});

describe('ewma: columnar states (typed arrays)', function () {
  it('foldSampleAt / updateSampleAt / foldClippedAt / ewStdAt give the object versions\' numbers to the bit', function () {
    const cols = { fast: new Float64Array(3), slow: new Float64Array(3), variance: new Float64Array(3), samples: new Uint32Array(3) };
    const st = ewma.createEwmaState();
    const xs = [10, 20, 0, 3.5, 1e6, 7, 7, 0, 42.25];
    xs.forEach((x, k) => {
      if (k === 4) { ewma.foldClipped(st, x, 30, 0.3, 0.05); ewma.foldClippedAt(cols, 1, x, 30, 0.3, 0.05); }
      else if (k === 6) { ewma.updateSample(st, x, 0.3, 0.05); ewma.updateSampleAt(cols, 1, x, 0.3, 0.05); }
      else { ewma.foldSample(st, x, 0.3, 0.05); ewma.foldSampleAt(cols, 1, x, 0.3, 0.05); }
      expect([cols.fast[1], cols.slow[1], cols.variance[1], cols.samples[1]], `after sample ${k}`).to.deep.equal([st.fast, st.slow, st.variance, st.samples]);
      expect(ewma.ewStdAt(cols, 1)).to.equal(ewma.ewStd(st));
    });
    // neighbours untouched
    expect([cols.fast[0], cols.fast[2], cols.samples[0], cols.samples[2]]).to.deep.equal([0, 0, 0, 0]);
  });
});
