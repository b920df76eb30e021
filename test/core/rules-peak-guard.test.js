'use strict';
/**
 * The recent-peak guard of the dual-EWMA and spike rules (RuleDetector option `peakGuard`): a
 * finding on a metric stands only above factor (2) × the key's decayed recent peak of that metric
 * (half-life 30 min of packet time). Hand-built windows whose answer follows from the numbers:
 * baseline fast = slow = μ = 5, σ = 1, so a value of 40 SYNs is above 3 × 5, 5 × 5 and μ + 3σ = 8
 * (both rules fire without the guard) and above the synCount noise floor 20.
 */
const { expect } = require('chai');
const { RuleDetector, DEFAULT_PEAK_GUARD } = require('../../dist/core/rules.js');
const { WIN, T0, windowMessage } = require('../fixtures/windows');

const HALF_LIFE = 30 * 60_000;
const mature = { state: 'mature', firstSeen: T0 - 86_400_000, samples: 500, metrics: { synCount: { fast: 5, slow: 5, mean: 5, std: 1, samples: 500 } } };
const rec = (key, syn, baseline = mature) => ({ scope: 'dstHost', key, dstIp: key.slice(4), metrics: { synCount: syn }, baseline });
/** Windows 0 … n−1 of one key: 40 SYNs every 9th window (every 90 s), 5 otherwise. */
const burstDay = (n, key = 'dst 10.0.0.7') => Array.from({ length: n }, (_, i) => windowMessage(i, [rec(key, i % 9 === 0 ? 40 : 5)]));
const guardedRules = (events) => events.flatMap((e) => e.findings.filter((f) => f.rule === 'dual-ewma' || f.rule === 'spike'));
/** Index of each window that raised a dual-EWMA or spike finding. */
const firing = (detector, windows) => windows.map((w, i) => (guardedRules(detector.evaluate(w)).length > 0 ? i : -1)).filter((i) => i >= 0);

describe('RuleDetector: recent-peak guard (dual-EWMA, spike)', function () {
  it('defaults: on, factor 2, half-life 30 min, 200,000 keys', function () {
    const o = new RuleDetector().options.peakGuard;
    expect(o).to.deep.equal({ enabled: true, factor: 2, halfLifeMs: HALF_LIFE, maxKeys: 200_000 });
    expect(DEFAULT_PEAK_GUARD).to.deep.equal({ factor: 2, halfLifeMs: HALF_LIFE, maxKeys: 200_000 });
  });

  it('recurring bursts of 40 every 90 s against a mean of 5: only the first burst fires', function () {
    const windows = burstDay(60); // bursts at windows 0, 9, 18, …, 54
    expect(firing(new RuleDetector({ peakGuard: false }), windows), 'without the guard every burst fires').to.deep.equal([0, 9, 18, 27, 36, 45, 54]);
    expect(firing(new RuleDetector(), windows), 'with the guard only the first').to.deep.equal([0]);
  });

  it('a flood 10× the recent peak fires, and its explanation names the recent peak (decayed)', function () {
    const d = new RuleDetector();
    const windows = burstDay(30); // last burst at window 27
    for (const w of windows) d.evaluate(w);
    const [e] = d.evaluate(windowMessage(30, [rec('dst 10.0.0.7', 400)]));
    const rules = guardedRules([e]).map((f) => f.rule).sort();
    expect(rules).to.deep.equal(['dual-ewma', 'spike']);
    // peak 40 at window 27, decayed over 3 windows (30 s) of a 30 min half-life: 40 × 0.5^(30/1800) = 39.5
    const expected = 40 * Math.pow(0.5, 3 * WIN / HALF_LIFE);
    for (const f of guardedRules([e])) {
      const m = /recent peak ([\d.,]+)/.exec(f.explanation);
      expect(m, f.explanation).to.not.equal(null);
      expect(Number(m[1].replace(/,/g, ''))).to.be.closeTo(expected, 0.05);
    }
  });

  it('bursts first seen after bootstrap are excursions: each lifts the peak by 5 % only, so recurring ones keep firing for a while', function () {
    // quiet first (peak 5), then bursts of 40 every 90 s: 40 > 2 × peak while the peak creeps up
    // (× 1.05 per burst, × 0.5^(90 s / 30 min) = 0.966 between bursts): a recurring attack is not silenced by itself
    const d = new RuleDetector();
    const windows = Array.from({ length: 60 }, (_, i) => windowMessage(i, [rec('dst 10.0.0.7', i % 9 === 4 ? 40 : 5)]));
    expect(firing(d, windows)).to.deep.equal([4, 13, 22, 31, 40, 49, 58]);
    const [f] = guardedRules(d.evaluate(windowMessage(67, [rec('dst 10.0.0.7', 40)])));
    const peak = Number(/recent peak ([\d.]+)/.exec(f.explanation)[1]);
    expect(peak, 'still near the quiet level 5').to.be.within(5, 7);
  });

  it('a sustained flood does not lift its own guard: it fires in every window for 2 h', function () {
    const d = new RuleDetector();
    for (const w of burstDay(30)) d.evaluate(w);
    // the flood lifts the peak by 5 % once (≈ 40 × 1.05), not per window: 5 % compounded over 10 s
    // windows would pass 200 (400 ≤ 2 × peak) within about 50 windows
    const flood = Array.from({ length: 720 }, (_, k) => windowMessage(30 + k, [rec('dst 10.0.0.7', 400)]));
    expect(firing(d, flood)).to.have.length(720);
  });

  it('a new key without history is judged as without the guard', function () {
    const w = windowMessage(0, [rec('dst 10.0.0.8', 40), rec('dst 10.0.0.9', 400)]);
    const guarded = new RuleDetector().evaluate(w);
    expect(guarded).to.deep.equal(new RuleDetector({ peakGuard: false }).evaluate(w));
    expect(guarded.map((e) => e.key)).to.deep.equal(['dst 10.0.0.8', 'dst 10.0.0.9']);
    expect(guarded[0].message).to.not.include('recent peak');
  });

  it('the peak fades: after 3 h quiet (6 half-lives, 40 → 0.6) the same burst fires again', function () {
    const d = new RuleDetector();
    expect(firing(d, burstDay(10))).to.deep.equal([0]);
    const later = 10 + (3 * 3_600_000) / WIN;
    expect(firing(d, [windowMessage(later, [rec('dst 10.0.0.7', 5)]), windowMessage(later + 1, [rec('dst 10.0.0.7', 40)])])).to.deep.equal([1]);
  });

  it('values a key reached in bootstrap count as its recent peak', function () {
    const d = new RuleDetector({ bootstrapStatic: { enabled: false } });
    const boot = { state: 'bootstrap', firstSeen: T0, samples: 3, metrics: {} };
    d.evaluate(windowMessage(0, [rec('dst 10.0.0.7', 40, boot)]));
    expect(guardedRules(d.evaluate(windowMessage(1, [rec('dst 10.0.0.7', 60)]))), '60 ≤ 2 × 40').to.deep.equal([]);
    expect(guardedRules(d.evaluate(windowMessage(2, [rec('dst 10.0.0.7', 200)]))).length, '200 > 2 × 60').to.equal(2);
  });

  it('guards each metric of a key on its own; other rules are not guarded', function () {
    const d = new RuleDetector();
    const two = (syn, pps) => windowMessage(0, [{ ...rec('dst 10.0.0.7', syn), metrics: { synCount: syn, packetsPerSecond: pps },
      baseline: { ...mature, metrics: { ...mature.metrics, packetsPerSecond: { fast: 150, slow: 150, mean: 150, std: 10, samples: 500 } } } }]);
    d.evaluate(two(40, 150));
    // SYNs as before (held back); packet rate 1,000 is new ground for this key (its peak is 150)
    const metrics = guardedRules(d.evaluate(two(40, 1000))).map((f) => f.metric);
    expect([...new Set(metrics)]).to.deep.equal(['packetsPerSecond']);
    // a port scan from a source that has scanned before still fires every time
    const scan = (i) => windowMessage(i, [{ scope: 'srcHost', key: 'src 10.0.0.66', srcIp: '10.0.0.66', metrics: { synCount: 150 }, baseline: mature,
      scan: { synDstPorts: Array.from({ length: 30 }, (_, p) => p + 1), truncated: false, synDstHosts: 1 } }]);
    const d2 = new RuleDetector({ portScan: { windowMs: WIN } });
    for (let i = 0; i < 3; i++) expect(d2.evaluate(scan(i)).flatMap((e) => e.findings).map((f) => f.rule), `window ${i}`).to.include('port-scan');
  });

  it('is off with peakGuard false, enabled false or factor 0; a higher factor holds back more', function () {
    const windows = burstDay(20);
    for (const o of [false, { enabled: false }, { factor: 0 }]) expect(firing(new RuleDetector({ peakGuard: o }), windows), JSON.stringify(o)).to.deep.equal([0, 9, 18]);
    // bursts of 40 then one of 70: 70 > 2 × 40 is false, 70 > 1.5 × 40 is true
    const more = [...windows, windowMessage(27, [rec('dst 10.0.0.7', 70)])];
    expect(firing(new RuleDetector(), more)).to.deep.equal([0]);
    expect(firing(new RuleDetector({ peakGuard: { factor: 1.5 } }), more)).to.deep.equal([0, 20]);
  });

  it('rejects bad options with a RangeError', function () {
    expect(() => new RuleDetector({ peakGuard: { factor: -1 } })).to.throw(RangeError, /peakGuard.factor/);
    expect(() => new RuleDetector({ peakGuard: { halfLifeMs: 0 } })).to.throw(RangeError, /peakGuard.halfLifeMs/);
    expect(() => new RuleDetector({ peakGuard: { maxKeys: 0 } })).to.throw(RangeError, /peakGuard.maxKeys/);
    expect(() => new RuleDetector({ peakGuard: 'on' })).to.throw(RangeError, /peakGuard/);
  });

  it('holds at most maxKeys keys (least recently seen dropped: judged as new again); reset() forgets all', function () {
    const d = new RuleDetector({ peakGuard: { maxKeys: 2 } });
    const burst = (i, key) => windowMessage(i, [rec(key, 40)]);
    expect(firing(d, [burst(0, 'dst 10.0.0.1'), burst(1, 'dst 10.0.0.2'), burst(2, 'dst 10.0.0.1')])).to.deep.equal([0, 1]);
    expect(d.peakStats()).to.deep.equal({ keys: 2, evictions: 0 });
    // a third key pushes out 10.0.0.2 (10.0.0.1 was seen later)
    d.evaluate(burst(3, 'dst 10.0.0.3'));
    expect(d.peakStats()).to.deep.equal({ keys: 2, evictions: 1 });
    expect(firing(d, [burst(4, 'dst 10.0.0.1'), burst(5, 'dst 10.0.0.2')]), '10.0.0.2 has no peak any more').to.deep.equal([1]);
    d.reset();
    expect(d.peakStats()).to.deep.equal({ keys: 0, evictions: 0 });
    expect(firing(d, [burst(6, 'dst 10.0.0.1')])).to.deep.equal([0]);
  });

  it('with more keys than its first allocation and slots reused: a key fires again exactly when a plain LRU list of maxKeys keys has dropped it', function () {
    const maxKeys = 1500;
    const d = new RuleDetector({ peakGuard: { maxKeys } });
    const key = (n) => `dst 10.9.${n >> 8}.${n & 255}`;
    // reference: insertion-ordered list, a key seen moves to the end, the first is dropped beyond maxKeys
    const lru = new Map();
    const orders = [
      Array.from({ length: 1400 }, (_, i) => i), // fills past the first allocation
      Array.from({ length: 600 }, (_, i) => 1999 - i), // 600 new keys: 500 of the oldest dropped
      Array.from({ length: 700 }, (_, i) => (i * 7) % 2000), // a mix of held and dropped keys, in another order
      Array.from({ length: 900 }, (_, i) => 2000 + i), // new keys in reused slots
      Array.from({ length: 2100 }, (_, i) => (i * 13) % 2900), // more keys in one window than are held
    ];
    let dropped = 0;
    orders.forEach((order, w) => {
      const expected = new Set();
      for (const n of order) {
        const k = key(n);
        if (lru.has(k)) lru.delete(k); else expected.add(k); // 40 SYNs against a held peak of ~40: no finding; a key without one fires
        lru.set(k, true);
        if (lru.size > maxKeys) { lru.delete(lru.keys().next().value); dropped++; }
      }
      const events = d.evaluate(windowMessage(w, order.map((n) => rec(key(n), 40))));
      const fired = new Set(events.filter((e) => guardedRules([e]).length > 0).map((e) => e.key));
      expect([...fired].sort(), `window ${w}`).to.deep.equal([...expected].sort());
      expect(d.peakStats(), `window ${w}`).to.deep.equal({ keys: lru.size, evictions: dropped });
    });
    expect(dropped, 'keys were dropped').to.be.above(1000);
  });

  it('beginEvaluate in steps of 1 record gives the same events as evaluate(), window after window', function () {
    const keys = ['dst 10.0.0.1', 'dst 10.0.0.2', 'dst 10.0.0.3'];
    const windows = Array.from({ length: 40 }, (_, i) => windowMessage(i, keys.map((k, j) => rec(k, (i + 3 * j) % 9 === 0 ? 40 : i === 30 + j ? 400 : 5))));
    const a = new RuleDetector(), b = new RuleDetector(), off = new RuleDetector({ peakGuard: false });
    let fired = 0, unguarded = 0;
    for (const w of windows) {
      const whole = a.evaluate(w);
      const job = b.beginEvaluate(w);
      while (!job.step(1));
      expect(job.finish()).to.deep.equal(whole);
      fired += whole.length;
      unguarded += off.evaluate(w).length;
    }
    expect(fired, 'the guard held some bursts back').to.be.above(0).and.below(unguarded);
  });
});
