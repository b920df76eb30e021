'use strict';
const { expect } = require('chai');
const { BaselineStore } = require('../../dist/core/baseline.js');
const { ContractError } = require('../../dist/core/contracts.js');

const WIN = 10_000;
const T0 = 1_700_000_000_000;

/** A window number `i` (10 s each from T0) with the given records ([scope, key, metrics]). */
function win(i, recs, extra = {}) {
  const windowStart = T0 + i * WIN;
  return {
    kind: 'netbaseline/window', version: 1, source: 'test', windowStart, windowEnd: windowStart + WIN, windowMs: WIN,
    gapBeforeMs: 0, final: false,
    counters: { packetsSeen: 0, packetsSkipped: 0, trackedFlows: 0, flowEvictions: 0, hostEvictions: 0, windows: i + 1 },
    records: recs.map(([scope, key, metrics]) => ({ scope, key, windowStart, windowEnd: windowStart + WIN, metrics })),
    ...extra,
  };
}

describe('BaselineStore', function () {
  it('annotates with the baseline as it stood BEFORE the window, then folds the window in', function () {
    const store = new BaselineStore();
    const a = store.annotate(win(0, [['dstHost', 'dst 10.0.0.1', { packetsPerSecond: 10 }]]));
    const b0 = a.records[0].baseline;
    expect(b0).to.deep.equal({ state: 'bootstrap', firstSeen: T0, samples: 0, metrics: {} });
    const b = store.annotate(win(1, [['dstHost', 'dst 10.0.0.1', { packetsPerSecond: 20 }]]));
    const m1 = b.records[0].baseline.metrics.packetsPerSecond;
    expect(m1).to.include({ fast: 10, slow: 10, mean: 10, std: 0, samples: 1 });
    const c = store.annotate(win(2, [['dstHost', 'dst 10.0.0.1', { packetsPerSecond: 0 }]]));
    const m2 = c.records[0].baseline.metrics.packetsPerSecond;
    // by hand: fast 0.3·20 + 0.7·10 = 13; slow 0.05·20 + 0.95·10 = 10.5;
    // variance (Finch): diff 10, incr 0.5, 0.95·(0 + 5) = 4.75
    expect(m2.fast).to.be.closeTo(13, 1e-12);
    expect(m2.slow).to.be.closeTo(10.5, 1e-12);
    expect(m2.std).to.be.closeTo(Math.sqrt(4.75), 1e-12);
    expect(c.records[0].baseline.samples).to.equal(2);
  });

  it('does not mutate the input and passes gapBeforeMs and other fields on', function () {
    const store = new BaselineStore();
    const w = win(0, [['dstHost', 'dst 10.0.0.1', { packets: 3 }], ['flow', 'tcp 1.1.1.1:1 > 2.2.2.2:2', { packets: 3 }]], { gapBeforeMs: 5000 });
    const copy = JSON.parse(JSON.stringify(w));
    const out = store.annotate(w);
    expect(w).to.deep.equal(copy);
    expect(out).to.not.equal(w);
    expect(out.gapBeforeMs).to.equal(5000);
    expect(out.records[0].baseline).to.exist;
    expect(out.records[1].baseline, 'flow scope is not baselined by default').to.equal(undefined);
    expect(store.stats().keys).to.equal(1);
  });

  it('a metric a record lacks is not updated; a known host absent from a window gets a zero sample in its counting metrics', function () {
    const store = new BaselineStore();
    store.annotate(win(0, [['dstHost', 'dst a', { packetsPerSecond: 10, synCount: 5 }], ['dstHost', 'dst b', { packetsPerSecond: 20, flowDurationMs: 400, custom: 7 }]]));
    store.annotate(win(1, [['dstHost', 'dst a', { packetsPerSecond: 30 }]]));
    const a = store.peek('dst a');
    expect(a.metrics.synCount).to.include({ slow: 5, samples: 1 }); // present key, metric missing from its record: untouched
    expect(a.metrics.packetsPerSecond.samples).to.equal(2);
    expect(a.samples).to.equal(2);
    const b = store.peek('dst b');
    expect(b.samples, 'absent from window 1: one zero sample').to.equal(2);
    // by hand: fast 0.3·0 + 0.7·20 = 14, slow 0.95·20 = 19, variance 0.95·(0 + (−20)·(−1)) = 19
    expect(b.metrics.packetsPerSecond.fast).to.be.closeTo(14, 1e-12);
    expect(b.metrics.packetsPerSecond.slow).to.be.closeTo(19, 1e-12);
    expect(b.metrics.packetsPerSecond.std).to.be.closeTo(Math.sqrt(19), 1e-12);
    expect(b.metrics.packetsPerSecond.samples).to.equal(2);
    expect(b.metrics.flowDurationMs, 'not a count: not zero-filled').to.include({ slow: 400, samples: 1 });
    expect(b.metrics.custom, 'unknown metric: not zero-filled').to.include({ slow: 7, samples: 1 });
    const r = store.annotate(win(2, [['dstHost', 'dst b', { packetsPerSecond: 20 }]])).records[0].baseline;
    expect(r.samples).to.equal(2);
    expect(r.metrics.packetsPerSecond.slow).to.be.closeTo(19, 1e-12);
  });

  it('zero-filling stops once a key has been absent longer than zeroFillHorizonMs, and is skipped over capture gaps', function () {
    const store = new BaselineStore({ zeroFillHorizonMs: 30_000 });
    store.annotate(win(0, [['srcHost', 'src a', { packets: 100 }], ['interface', 'iface x', { packets: 100 }]]));
    // windows 1..6 carry only the interface; src a was last seen at window 0's start
    for (let i = 1; i <= 6; i++) store.annotate(win(i, [['interface', 'iface x', { packets: 100 }]]));
    // zero-filled in windows 1, 2, 3 (t − lastSeen = 10, 20, 30 s ≤ 30 s), not in 4, 5, 6
    const a = store.peek('src a');
    expect(a.samples).to.equal(4);
    expect(a.metrics.packets.slow).to.be.closeTo(100 * Math.pow(0.95, 3), 1e-9);
    // a capture gap: the next window is 10 minutes later; nothing is zero-filled for the skipped time
    const other = new BaselineStore({ zeroFillHorizonMs: 600_000 });
    other.annotate(win(0, [['srcHost', 'src a', { packets: 100 }]]));
    other.annotate(win(100, [['interface', 'iface x', { packets: 1 }]], { gapBeforeMs: 990_000 }));
    expect(other.peek('src a').samples, '1000 s since last seen > horizon').to.equal(1);
    // zeroFillHorizonMs 0: off
    const off = new BaselineStore({ zeroFillHorizonMs: 0 });
    off.annotate(win(0, [['srcHost', 'src a', { packets: 100 }]]));
    off.annotate(win(1, []));
    expect(off.peek('src a').samples).to.equal(1);
  });

  it('flows are not zero-filled; a flow that returns is folded with α′ = 1 − (1−α)^(gap/window)', function () {
    const store = new BaselineStore({ scopes: ['flow'] });
    const k = 'tcp 10.0.0.1:1000 > 10.0.0.2:80';
    store.annotate(win(0, [['flow', k, { packets: 10 }]]));
    store.annotate(win(1, [['flow', k, { packets: 20 }]])); // contiguous: α as is
    for (let i = 2; i <= 4; i++) store.annotate(win(i, []));
    expect(store.peek(k).samples, 'not zero-filled').to.equal(2);
    const slow1 = 0.05 * 20 + 0.95 * 10, fast1 = 0.3 * 20 + 0.7 * 10;
    store.annotate(win(5, [['flow', k, { packets: 100 }]])); // previous sample at window 1: gap 40 s = 4 windows
    const sa = 1 - Math.pow(0.95, 4), fa = 1 - Math.pow(0.7, 4);
    const m = store.peek(k).metrics.packets;
    expect(m.slow).to.be.closeTo(sa * 100 + (1 - sa) * slow1, 1e-9);
    expect(m.fast).to.be.closeTo(fa * 100 + (1 - fa) * fast1, 1e-9);
  });

  it('maturity: bootstrap while t − firstSeen < bootstrapMs, learning until 59 samples (α 0.05), then mature', function () {
    const store = new BaselineStore({ bootstrapMs: 300_000 });
    const states = [];
    for (let i = 0; i < 70; i++) {
      const out = store.annotate(win(i, [['interface', 'iface eth0', { packets: 100 }]]));
      states.push(out.records[0].baseline.state);
    }
    // window i starts at T0 + 10 s·i: bootstrap for i·10 s < 300 s, i.e. windows 0..29
    expect(states.lastIndexOf('bootstrap')).to.equal(29);
    expect(states[30]).to.equal('learning');
    // samples before window i = i; mature from 59 samples on
    expect(states.lastIndexOf('learning')).to.equal(58);
    expect(states[59]).to.equal('mature');
    expect(states.length).to.equal(70);
  });

  it('maturity with a short bootstrap: learning ends exactly at ceil(ln 0.05 / ln(1 − α)) samples', function () {
    const store = new BaselineStore({ slowAlpha: 0.1, bootstrapMs: 0 }); // ceil(ln .05/ln .9) = ceil(28.43) = 29
    const states = [];
    for (let i = 0; i < 31; i++) states.push(store.annotate(win(i, [['srcHost', 'src x', { packets: 1 }]])).records[0].baseline.state);
    expect(states[0]).to.equal('learning');
    expect(states[28]).to.equal('learning');
    expect(states[29]).to.equal('mature');
  });

  it('stats() counts keys per maturity state', function () {
    const store = new BaselineStore({ bootstrapMs: 20_000 });
    store.annotate(win(0, [['dstHost', 'dst old', { p: 1 }]]));
    store.annotate(win(1, [['dstHost', 'dst old', { p: 1 }]]));
    store.annotate(win(2, [['dstHost', 'dst new', { p: 1 }]]));
    // clock = end of window 2 = T0 + 30 s: old first seen T0 (30 s ≥ 20 s → learning), new at T0 + 20 s (10 s → bootstrap)
    expect(store.stats()).to.deep.equal({ keys: 2, bootstrap: 1, learning: 1, mature: 0, evictions: 0, prior: 0, clippedSamples: 0, timeRebases: 0 });
  });

  it('evicts the least recently seen key at maxKeys and counts it', function () {
    const store = new BaselineStore({ maxKeys: 2 });
    store.annotate(win(0, [['dstHost', 'dst a', { p: 1 }], ['dstHost', 'dst b', { p: 1 }]]));
    store.annotate(win(1, [['dstHost', 'dst a', { p: 2 }]])); // a is now more recent than b
    store.annotate(win(2, [['dstHost', 'dst c', { p: 3 }]])); // evicts b
    expect(store.peek('dst b')).to.equal(undefined);
    expect(store.peek('dst a')).to.exist;
    expect(store.peek('dst c')).to.exist;
    expect(store.stats()).to.include({ keys: 2, evictions: 1 });
  });

  it('snapshot round trip through JSON keeps every key, metric and maturity', function () {
    const store = new BaselineStore({ bootstrapMs: 0 });
    for (let i = 0; i < 65; i++) {
      store.annotate(win(i, [['dstHost', 'dst a', { p: 10 + (i % 7) }], ...(i > 50 ? [['srcHost', 'src b', { q: i }]] : [])]));
    }
    const json = JSON.stringify(store.toSnapshot());
    const snap = JSON.parse(json);
    expect(snap).to.include({ format: 'netbaseline/baseline', version: 1 });
    const restored = BaselineStore.fromSnapshot(snap);
    expect({ ...restored.stats(), clippedSamples: 0 }).to.deep.equal({ ...store.stats(), clippedSamples: 0 }); // clip count is not persisted
    expect(restored.stats()).to.include({ keys: 2, mature: 1, learning: 1 });
    expect(restored.peek('dst a')).to.deep.equal(store.peek('dst a'));
    expect(restored.peek('src b')).to.deep.equal(store.peek('src b'));
    // both continue identically
    const next = win(65, [['dstHost', 'dst a', { p: 50 }]]);
    expect(restored.annotate(next)).to.deep.equal(store.annotate(next));
  });

  it('fromSnapshot with different options keeps the keys and notes the change', function () {
    const store = new BaselineStore();
    store.annotate(win(0, [['dstHost', 'dst a', { p: 1 }], ['srcHost', 'src b', { p: 1 }]]));
    const restored = BaselineStore.fromSnapshot(store.toSnapshot(), { slowAlpha: 0.1, scopes: ['dstHost'] });
    expect(restored.options.slowAlpha).to.equal(0.1);
    expect(restored.peek('dst a')).to.exist;
    expect(restored.peek('src b'), 'scope no longer baselined').to.equal(undefined);
    expect(restored.restoreNotes.join(' ')).to.match(/slowAlpha 0\.05 → 0\.1/).and.match(/1 saved keys/);
  });

  it('rejects foreign or corrupt snapshots with a ContractError', function () {
    const good = (() => { const s = new BaselineStore(); s.annotate(win(0, [['dstHost', 'dst a', { p: 1 }]])); return s.toSnapshot(); })();
    const bad = [
      null, [], 'text', { format: 'something/else', version: 1 },
      { ...good, version: 2 },
      { ...good, keys: 'x' },
      { ...good, options: { ...good.options, fastAlpha: 2 } },
      { ...good, keys: [{ ...good.keys[0], scope: 'planet' }] },
      { ...good, keys: [{ ...good.keys[0], metrics: { p: [1, 1, -1, 1] } }] },
      { ...good, keys: [{ ...good.keys[0], metrics: { p: [1, 'x', 0, 1] } }] },
      { ...good, keys: [{ ...good.keys[0], samples: 1.5 }] },
    ];
    for (const b of bad) expect(() => BaselineStore.fromSnapshot(b), JSON.stringify(b)).to.throw(ContractError);
    expect(() => BaselineStore.fromSnapshot(good)).to.not.throw();
  });

  it('reset(key) forgets one key, reset() everything', function () {
    const store = new BaselineStore();
    store.annotate(win(0, [['dstHost', 'dst a', { p: 1 }], ['dstHost', 'dst b', { p: 1 }]]));
    store.reset('dst a');
    expect(store.peek('dst a')).to.equal(undefined);
    expect(store.stats().keys).to.equal(1);
    store.reset();
    expect(store.stats().keys).to.equal(0);
  });

  describe('priors from peers', function () {
    /** Five dstHosts with constant pps 10, 20, 30, 40, 50 for `n` windows (bootstrap 0 → mature after 59 samples). */
    function peers(store, n, from = 0) {
      for (let i = from; i < from + n; i++) {
        store.annotate(win(i, [10, 20, 30, 40, 50].map((v) => ['dstHost', `dst 10.0.0.${v}`, { packetsPerSecond: v, synCount: v / 10 }])));
      }
    }

    it('a new key starts from the median baseline of the mature keys of its scope, marked prior: true', function () {
      const store = new BaselineStore({ bootstrapMs: 100_000 }); // peers: 59 windows = 590 s, past bootstrap
      peers(store, 59);
      expect(store.stats().mature).to.equal(5);
      const out = store.annotate(win(59, [['dstHost', 'dst 10.9.9.9', { packetsPerSecond: 1000, newMetric: 3 }], ['srcHost', 'src 10.9.9.9', { packetsPerSecond: 1000 }]]));
      const b = out.records[0].baseline;
      expect(b.prior).to.equal(true);
      expect(b.samples).to.equal(0);
      // constant peers: fast = slow = their value, σ = 0; median of 10..50 = 30
      expect(b.metrics.packetsPerSecond).to.deep.equal({ fast: 30, slow: 30, mean: 30, std: 0, samples: 0 });
      expect(b.metrics.newMetric, 'no peer has it').to.equal(undefined);
      expect(b.metrics.synCount, 'only the metrics of the record').to.equal(undefined);
      expect(out.records[1].baseline.prior, 'srcHost scope has no mature peers').to.equal(undefined);
      expect(out.records[1].baseline.metrics).to.deep.equal({});
      // its first sample is folded into the prior (not re-initialised); in its bootstrap it is not clipped
      const m = store.peek('dst 10.9.9.9').metrics.packetsPerSecond;
      expect(m.slow).to.be.closeTo(0.05 * 1000 + 0.95 * 30, 1e-12);
      expect(m.fast).to.be.closeTo(0.3 * 1000 + 0.7 * 30, 1e-12);
      expect(m.samples).to.equal(1);
      expect(store.peek('dst 10.9.9.9').metrics.newMetric).to.include({ slow: 3, samples: 1 });
      expect(store.stats()).to.include({ prior: 1, clippedSamples: 0 });
    });

    it('store and detector together: a never-seen victim under a flood is flagged in its first window (medium, against its peers)', function () {
      const { RuleDetector } = require('../../dist/core/rules.js');
      const store = new BaselineStore(); // default 5 min bootstrap: the new key is in bootstrap
      const detector = new RuleDetector();
      peers(store, 59);
      const flood = store.annotate(win(59, [['dstHost', 'dst 10.9.9.9', { packetsPerSecond: 5000, synCount: 1 }]]));
      expect(flood.records[0].baseline).to.include({ state: 'bootstrap', prior: true });
      const events = detector.evaluate(flood);
      expect(events.map((e) => [e.key, e.severity])).to.deep.equal([['dst 10.9.9.9', 'medium']]);
      const rules = events[0].findings.filter((f) => f.metric === 'packetsPerSecond').map((f) => f.rule).sort();
      expect(rules).to.deep.equal(['dual-ewma', 'spike']);
      expect(events[0].baseline.slow, 'compared with the peers\' median').to.equal(30);
      // without priors the same key waits out its bootstrap: only the static rule (10,000 packet/s) could fire
      const plain = new BaselineStore({ priors: false });
      peers(plain, 59);
      expect(detector.evaluate(plain.annotate(win(59, [['dstHost', 'dst 10.9.9.8', { packetsPerSecond: 5000, synCount: 1 }]])))).to.deep.equal([]);
    });

    it('prior: true stays until the key has samplesToMature samples of its own', function () {
      const store = new BaselineStore({ bootstrapMs: 0 });
      peers(store, 59);
      const seen = [];
      for (let i = 59; i < 59 + 61; i++) {
        const out = store.annotate(win(i, [['dstHost', 'dst new', { packetsPerSecond: 30 }]]));
        seen.push(out.records[0].baseline.prior === true);
      }
      expect(seen.indexOf(false)).to.equal(store.samplesToMature); // 59 own samples before that window
      expect(seen.slice(0, 59).every(Boolean)).to.equal(true);
    });

    it('no prior with fewer than priorMinPeers mature peers, or with priors off', function () {
      const few = new BaselineStore({ bootstrapMs: 0, priorMinPeers: 6 });
      peers(few, 59);
      expect(few.annotate(win(59, [['dstHost', 'dst new', { packetsPerSecond: 1 }]])).records[0].baseline).to.not.have.property('prior');
      const off = new BaselineStore({ bootstrapMs: 0, priors: false });
      peers(off, 59);
      expect(off.annotate(win(59, [['dstHost', 'dst new', { packetsPerSecond: 1 }]])).records[0].baseline.metrics).to.deep.equal({});
      const young = new BaselineStore({ bootstrapMs: 0 });
      peers(young, 58); // 58 samples: learning, not mature
      expect(young.annotate(win(58, [['dstHost', 'dst new', { packetsPerSecond: 1 }]])).records[0].baseline).to.not.have.property('prior');
    });
  });

  describe('poisoning resistance', function () {
    // A mature host: 1 hour (360 windows of 10 s) of pps 100 ± 10 from a seeded generator; then a
    // 20-minute flood of 5,000 pps (120 windows); then normal traffic again.
    const ALPHA = 0.05, K = 3, FLOOR = 10; // slow α, clipSigma, clip floor of packetsPerSecond (defaults)
    function lcg(seed) { let x = seed >>> 0; return () => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return x / 2 ** 32; }; }
    function run(opts, { recoverWindows = 0, secondFloodAfter = null, maintenanceDuringFlood = false } = {}) {
      const { RuleDetector } = require('../../dist/core/rules.js');
      const store = new BaselineStore(opts);
      const detector = new RuleDetector();
      const rnd = lcg(42);
      let i = 0;
      const normal = () => 100 + (rnd() - 0.5) * 20;
      const step = (pps) => {
        const w = store.annotate(win(i++, [['dstHost', 'dst 10.0.0.5', { packetsPerSecond: pps }]]));
        return { baseline: w.records[0].baseline, events: detector.evaluate(w) };
      };
      for (let j = 0; j < 360; j++) step(normal());
      const pre = store.peek('dst 10.0.0.5').metrics.packetsPerSecond;
      let lastFloodEvents;
      store.setMaintenance(maintenanceDuringFlood);
      for (let j = 0; j < 120; j++) lastFloodEvents = step(5000).events;
      store.setMaintenance(false);
      const after = store.peek('dst 10.0.0.5').metrics.packetsPerSecond;
      for (let j = 0; j < recoverWindows; j++) step(normal());
      const recovered = store.peek('dst 10.0.0.5').metrics.packetsPerSecond;
      let second;
      if (secondFloodAfter !== null) second = step(5000);
      return { store, pre, after, recovered, lastFloodEvents, second };
    }

    it('a 20-minute flood on a mature host moves μ by at most 120·α·max(kσ, floor), and μ is back within 10 % after N windows', function () {
      const { pre, after } = run({});
      expect(pre.samples).to.be.at.least(59);
      const bound = 120 * ALPHA * Math.max(K * pre.std, FLOOR); // σ is frozen while samples are clipped
      expect(after.slow - pre.slow).to.be.at.most(bound + 1e-9);
      expect(after.slow - pre.slow).to.be.above(0);
      expect(after.std, 'σ not widened by clipped samples').to.be.closeTo(pre.std, 1e-9);
      // afterwards the excess decays by (1 − α) per normal window: within 10 % of μ after
      // N = ceil(ln(0.1·μ / bound) / ln(1 − α)) windows, plus 10 for the noise of the normal samples
      const N = Math.ceil(Math.log((0.1 * pre.slow) / bound) / Math.log(1 - ALPHA)) + 10;
      const { recovered } = run({}, { recoverWindows: N });
      expect(Math.abs(recovered.slow - pre.slow) / pre.slow, `μ ${recovered.slow} vs ${pre.slow} after ${N} windows`).to.be.at.most(0.1);
      // controls: learning at full weight (maintenance mode during the flood, or clipping off)
      // makes the flood the new normal, and μ is not back after N windows
      const maintenance = run({}, { recoverWindows: N, maintenanceDuringFlood: true });
      expect(maintenance.after.slow).to.be.above(4000);
      expect(Math.abs(maintenance.recovered.slow - maintenance.pre.slow) / maintenance.pre.slow).to.be.above(0.1);
      const full = run({ clipSigma: 0 }, { recoverWindows: N });
      expect(full.after.slow, 'unclipped: μ close to the flood level').to.be.above(4000);
      expect(Math.abs(full.recovered.slow - full.pre.slow) / full.pre.slow).to.be.above(0.1);
    });

    it('the flood is still flagged in its 120th window, and a second flood is not missed (right after, and after recovery)', function () {
      const { lastFloodEvents } = run({});
      expect(lastFloodEvents.map((e) => `${e.rule}/${e.metric}/${e.severity}`), 'spike rule still fires at the end of the flood').to.include('spike/packetsPerSecond/high');
      const full = run({ clipSigma: 0 });
      expect(full.lastFloodEvents, 'without clipping the flood has become normal').to.deep.equal([]);
      for (const gap of [10, 60]) {
        const { second } = run({}, { recoverWindows: gap, secondFloodAfter: 0 });
        const rules = second.events.flatMap((e) => e.findings.filter((f) => f.metric === 'packetsPerSecond' && f.severity === 'high').map((f) => f.rule));
        expect(rules, `second flood ${gap} windows after the first`).to.include('spike');
        expect(second.baseline.metrics.packetsPerSecond.mean).to.be.below(1000);
      }
    });

    it('maintenance schedules (cooldown-gate syntax, packet time): a window starting in one learns at full weight', function () {
      const { parseSchedules } = require('../../dist/core/cooldown.js');
      // T0 is 2023-11-14 22:13:20 UTC, so window 40 starts at 22:20:00 and window 100 at 22:30:00
      const m = new BaselineStore({ bootstrapMs: 0, maintenanceSchedules: parseSchedules('daily 22:20-22:30 UTC') });
      for (let i = 0; i < 40; i++) m.annotate(win(i, [['dstHost', 'dst a', { packetsPerSecond: 100 }]]));
      expect(m.scheduledMaintenance()).to.equal(undefined);
      m.annotate(win(40, [['dstHost', 'dst a', { packetsPerSecond: 5000 }]]));
      expect(m.scheduledMaintenance()).to.equal('daily 22:20-22:30 UTC');
      expect(m.peek('dst a').metrics.packetsPerSecond.slow).to.be.closeTo(0.05 * 5000 + 0.95 * 100, 1e-9);
      expect(m.stats().clippedSamples).to.equal(0);
      expect(m.modes().maintenance, 'the manual switch is untouched').to.equal(false);
      m.annotate(win(100, [['dstHost', 'dst a', { packetsPerSecond: 50000 }]]));
      expect(m.scheduledMaintenance()).to.equal(undefined);
      expect(m.stats().clippedSamples, 'clipped again once the schedule is over').to.equal(1);
      // saved with the options and checked again when read back
      const snap = JSON.parse(JSON.stringify(m.toSnapshot()));
      expect(BaselineStore.fromSnapshot(snap).options.maintenanceSchedules.map((x) => x.text)).to.deep.equal(['daily 22:20-22:30 UTC']);
      snap.options.maintenanceSchedules = [{ text: 'Funday 02:00-03:00' }];
      expect(() => BaselineStore.fromSnapshot(snap)).to.throw(/options are invalid.*Funday/);
      expect(() => new BaselineStore({ maintenanceSchedules: 'daily 02:00-03:00' })).to.throw(RangeError, /maintenanceSchedules/);
    });

    it('maintenance mode learns at full weight; frozen learns nothing', function () {
      const m = new BaselineStore({ bootstrapMs: 0 });
      m.setMaintenance(true);
      for (let i = 0; i < 60; i++) m.annotate(win(i, [['dstHost', 'dst a', { packetsPerSecond: 100 }]]));
      m.annotate(win(60, [['dstHost', 'dst a', { packetsPerSecond: 5000 }]]));
      expect(m.peek('dst a').metrics.packetsPerSecond.slow).to.be.closeTo(0.05 * 5000 + 0.95 * 100, 1e-9);
      expect(m.stats().clippedSamples).to.equal(0);
      m.setMaintenance(false);
      m.annotate(win(61, [['dstHost', 'dst a', { packetsPerSecond: 50000 }]]));
      expect(m.stats().clippedSamples).to.equal(1);

      const f = new BaselineStore({ bootstrapMs: 0 });
      f.annotate(win(0, [['dstHost', 'dst a', { packetsPerSecond: 100 }]]));
      const before = JSON.stringify(f.toSnapshot());
      f.setFrozen(true);
      const out = f.annotate(win(1, [['dstHost', 'dst a', { packetsPerSecond: 900 }], ['dstHost', 'dst new', { packetsPerSecond: 1 }]]));
      expect(out.records[0].baseline.metrics.packetsPerSecond.slow, 'still annotated').to.equal(100);
      expect(out.records[1].baseline).to.deep.include({ samples: 0, metrics: {} });
      expect(f.peek('dst new'), 'no new key while frozen').to.equal(undefined);
      expect(JSON.stringify({ ...f.toSnapshot(), modes: undefined })).to.equal(JSON.stringify({ ...JSON.parse(before), modes: undefined }));
      expect(f.toSnapshot().modes).to.deep.equal({ maintenance: false, frozen: true });
      expect(BaselineStore.fromSnapshot(JSON.parse(JSON.stringify(f.toSnapshot()))).modes()).to.deep.equal({ maintenance: false, frozen: true });
    });
  });

  it('bootstrap thresholds from the line rate: 1 Gbit/s × 0.1 = 100 Mbit/s and 100 Mbit/s / 672 bit per minimum frame', function () {
    const store = new BaselineStore({ lineRateBitsPerSecond: 1e9, lineRateFraction: 0.1 });
    const out = store.annotate(win(0, [['interface', 'iface eth0', { packets: 1 }]]));
    // 64-byte frame + 8 preamble/SFD + 12 inter-frame gap = 84 bytes = 672 bits (IEEE 802.3): 1.488 Mpps at 1 Gbit/s
    expect(out.bootstrapThresholds.bitsPerSecond).to.equal(1e8);
    expect(out.bootstrapThresholds.packetsPerSecond).to.be.closeTo(148_809.52, 0.01);
    expect(out.bootstrapThresholds).to.include({ lineRateBitsPerSecond: 1e9, fraction: 0.1 });
    expect(new BaselineStore().annotate(win(0, [])).bootstrapThresholds).to.equal(undefined);
    expect(() => new BaselineStore({ lineRateFraction: 0 })).to.throw(RangeError, /lineRateFraction/);
    expect(() => new BaselineStore({ lineRateBitsPerSecond: -1 })).to.throw(RangeError, /lineRateBitsPerSecond/);
  });

  it('a configured packet rate capacity sets the packet/s threshold on its own; bit/s still from the line rate', function () {
    // a capture host that handles 200,000 packet/s on a 1 Gbit/s link: 10 % of each
    const store = new BaselineStore({ lineRateBitsPerSecond: 1e9, lineRatePacketsPerSecond: 200_000, lineRateFraction: 0.1 });
    const out = store.annotate(win(0, [['interface', 'iface eth0', { packets: 1 }]]));
    expect(out.bootstrapThresholds).to.include({ bitsPerSecond: 1e8, packetsPerSecond: 20_000 });
    // without a line rate in bit/s there are no line-rate thresholds at all
    expect(new BaselineStore({ lineRatePacketsPerSecond: 200_000 }).annotate(win(0, [])).bootstrapThresholds).to.equal(undefined);
    expect(() => new BaselineStore({ lineRatePacketsPerSecond: -5 })).to.throw(RangeError, /lineRatePacketsPerSecond/);
    // a snapshot taken with another capacity restores with the difference named
    const restored = BaselineStore.fromSnapshot(JSON.parse(JSON.stringify(store.toSnapshot())), { lineRateBitsPerSecond: 1e9, lineRateFraction: 0.1 });
    expect(restored.restoreNotes.join(' ')).to.match(/lineRatePacketsPerSecond 200000 → 0/);
  });

  describe('seasonal profile (hour of day)', function () {
    // 10-minute windows (6 per hour) so that days pass quickly; a host at 100 packet/s, with a
    // nightly backup at 5,000 packet/s from 02:00 to 02:59 UTC.
    const W = 600_000;
    const DAY0 = Date.UTC(2026, 0, 1);
    function day(i) {
      const windowStart = DAY0 + i * W;
      const hour = Math.floor(windowStart / 3_600_000) % 24;
      const pps = hour === 2 ? 5000 : 100;
      return {
        kind: 'netbaseline/window', version: 1, source: 'test', windowStart, windowEnd: windowStart + W, windowMs: W, gapBeforeMs: 0, final: false,
        counters: { packetsSeen: 0, packetsSkipped: 0, trackedFlows: 0, flowEvictions: 0, hostEvictions: 0, windows: i + 1 },
        records: [{ scope: 'dstHost', key: 'dst 10.0.0.9', windowStart, windowEnd: windowStart + W, metrics: { packetsPerSecond: pps } }],
      };
    }
    const burst = (windowStart, pps) => ({ ...day(0), windowStart, windowEnd: windowStart + W,
      records: [{ scope: 'dstHost', key: 'dst 10.0.0.9', windowStart, windowEnd: windowStart + W, metrics: { packetsPerSecond: pps } }] });

    it('baselines each hour of the day on its own: the nightly backup is normal at 02:00 and not at 14:00', function () {
      const { RuleDetector } = require('../../dist/core/rules.js');
      const opts = { seasonal: 'hour-of-day', seasonalDays: 2, seasonalTimeZone: 'utc', bootstrapMs: 0 };
      const store = new BaselineStore(opts);
      const plain = new BaselineStore({ bootstrapMs: 0 });
      for (let i = 0; i < 3 * 144; i++) { store.annotate(day(i)); plain.annotate(day(i)); } // three days
      // slot α for 10-min windows and 2 days: 1 − 0.05^(600,000 / (2 · 3,600,000)) = 1 − 0.05^(1/12);
      // 12 samples (2 days × 6 windows of that hour) to be mature; three days give 18
      const slot = store.peek('dst 10.0.0.9 @02h');
      expect(slot.samples).to.equal(18);
      expect(slot.state).to.equal('mature');
      expect(slot.metrics.packetsPerSecond.slow).to.be.closeTo(5000, 1e-6);
      expect(store.peek('dst 10.0.0.9 @14h').metrics.packetsPerSecond.slow).to.be.closeTo(100, 1e-6);
      expect(store.peek('dst 10.0.0.9'), 'no plain key in seasonal mode').to.equal(undefined);
      const detector = new RuleDetector();
      const fired = (w) => detector.evaluate(w).flatMap((e) => e.findings.map((f) => `${f.rule}/${f.severity}`));
      const night = DAY0 + 3 * 86_400_000 + 2 * 3_600_000 + W; // day 4, 02:10
      const afternoon = DAY0 + 3 * 86_400_000 + 14 * 3_600_000 + W; // day 4, 14:10
      expect(fired(store.annotate(burst(night, 5000))), 'backup at 02:10 against the 02h profile').to.deep.equal([]);
      expect(fired(store.annotate(burst(afternoon, 5000))), 'the same traffic at 14:10').to.include('spike/high');
      // control: without the profile the 02:00 backup is judged against the all-day baseline
      expect(fired(plain.annotate(burst(night, 5000)))).to.include('spike/high');
    });

    it('zero-fills only the slots of the current hour, and the slot keys survive a snapshot', function () {
      const store = new BaselineStore({ seasonal: 'hour-of-day', seasonalTimeZone: 'utc', zeroFillHorizonMs: 86_400_000 });
      store.annotate(burst(DAY0 + 2 * 3_600_000, 100)); // 02:00
      const empty = (t) => ({ ...burst(t, 0), records: [] });
      store.annotate(empty(DAY0 + 2 * 3_600_000 + W)); // 02:10: the 02h slot gets a zero sample
      store.annotate(empty(DAY0 + 3 * 3_600_000)); // 03:00: no 03h slot yet, the 02h slot is not touched
      expect(store.peek('dst 10.0.0.9 @02h').samples).to.equal(2);
      const restored = BaselineStore.fromSnapshot(JSON.parse(JSON.stringify(store.toSnapshot())));
      expect(restored.peek('dst 10.0.0.9 @02h')).to.deep.equal(store.peek('dst 10.0.0.9 @02h'));
      const copy = BaselineStore.fromSnapshot(store.toSnapshot());
      expect(copy.reset('dst 10.0.0.9'), 'reset(key) forgets its slot keys').to.equal(true);
      expect(copy.stats().keys).to.equal(0);
      const snapKey = store.toSnapshot().keys[0];
      expect(snapKey).to.include({ key: 'dst 10.0.0.9 @02h', slot: 2 });
      expect(() => new BaselineStore({ seasonal: 'weekly' })).to.throw(RangeError, /seasonal/);
      expect(() => new BaselineStore({ seasonalDays: 0 })).to.throw(RangeError, /seasonalDays/);
    });
  });

  it('a replay that starts again (packet time back by more than a window) continues the learned keys instead of re-bootstrapping them', function () {
    const store = new BaselineStore({ bootstrapMs: 60_000, slowAlpha: 0.5, fastAlpha: 0.9 }); // mature at 5 samples
    const pass = () => {
      const states = [];
      for (let i = 0; i < 8; i++) states.push(store.annotate(win(i, [['dstHost', 'dst a', { packets: 10 }]])).records[0].baseline);
      return states;
    };
    const first = pass();
    expect(first.map((b) => b.state)).to.deep.equal(['bootstrap', 'bootstrap', 'bootstrap', 'bootstrap', 'bootstrap', 'bootstrap', 'mature', 'mature']);
    const second = pass(); // same windows again: T0, T0 + 10 s, …
    expect(second.map((b) => b.state), 'not back to bootstrap').to.deep.equal(Array(8).fill('mature'));
    expect(second.map((b) => b.samples)).to.deep.equal([8, 9, 10, 11, 12, 13, 14, 15]);
    // first seen shifted back by the jump (80 s, end of window 7 − start of window 0): age carries on
    expect(second[0].firstSeen).to.equal(T0 - 80_000);
    expect(store.stats().timeRebases).to.equal(1);
    // a window that merely repeats or overlaps the latest one is not a jump
    store.annotate(win(7, [['dstHost', 'dst a', { packets: 10 }]]));
    expect(store.stats().timeRebases).to.equal(1);
  });

  it('rejects bad options with RangeError', function () {
    expect(() => new BaselineStore({ fastAlpha: 0.05, slowAlpha: 0.3 })).to.throw(RangeError);
    expect(() => new BaselineStore({ slowAlpha: 0 })).to.throw(RangeError);
    expect(() => new BaselineStore({ bootstrapMs: -1 })).to.throw(RangeError);
    expect(() => new BaselineStore({ scopes: ['planet'] })).to.throw(RangeError);
    expect(() => new BaselineStore({ scopes: [] })).to.throw(RangeError);
    expect(() => new BaselineStore({ maxKeys: 0 })).to.throw(RangeError);
    expect(() => new BaselineStore({ maxKeys: 1.5 })).to.throw(RangeError);
    expect(() => new BaselineStore({ zeroFillHorizonMs: -1 })).to.throw(RangeError, /zeroFillHorizonMs/);
    expect(() => new BaselineStore({ clipSigma: NaN })).to.throw(RangeError, /clipSigma/);
    expect(() => new BaselineStore({ clipFloors: { packetsPerSecond: -1 } })).to.throw(RangeError, /clipFloors/);
    expect(() => new BaselineStore({ priorMinPeers: 0 })).to.throw(RangeError, /priorMinPeers/);
  });
});

describe('BaselineStore: storage in typed-array columns', function () {
  /** A mixed sequence: new and returning keys, absent keys (zero samples), a flood (clipping), a gap. */
  function sequence() {
    const out = [];
    for (let i = 0; i < 80; i++) {
      const recs = [['interface', 'iface eth0', { packets: 1000 + (i % 7) * 10, bytes: 64000 + i, flowDurationMs: 5 }]];
      for (let h = 0; h < 12; h++) {
        if ((i + h) % 5 === 0) continue; // absent now and then: zero samples
        recs.push(['dstHost', `dst 10.0.0.${h}`, { packetsPerSecond: 10 + h + (i % 3), synCount: i > 70 && h === 3 ? 500 : h, [`extra${h % 4}`]: i }]);
      }
      if (i % 9 === 0) recs.push(['flow', `flow ${i}`, { bytes: i }]);
      out.push(win(i === 79 ? 85 : i, recs));
    }
    return out;
  }

  it('annotating in steps (beginAnnotate / step / finish) gives exactly what annotate gives', function () {
    const opts = { slowAlpha: 0.3, fastAlpha: 0.5, bootstrapMs: 60_000, priorMinPeers: 3, priorRefreshMs: 20_000, scopes: ['interface', 'dstHost', 'flow'] };
    const whole = new BaselineStore(opts), stepped = new BaselineStore(opts);
    sequence().forEach((w, i) => {
      const a = whole.annotate(w);
      const job = stepped.beginAnnotate(w);
      expect(job.total).to.equal(w.records.length);
      let steps = 0;
      while (!job.step(1 + (i % 4))) steps++;
      expect(job.done).to.equal(w.records.length);
      expect(steps, 'several steps per window').to.be.greaterThan(0);
      expect(job.finish()).to.deep.equal(a);
    });
    expect(stepped.toSnapshot()).to.deep.equal(whole.toSnapshot());
    expect(stepped.stats()).to.deep.equal(whole.stats());
    const st = whole.stats();
    expect(st.mature, 'the sequence reaches maturity (priors exercised)').to.be.greaterThan(0);
    expect(st.clippedSamples, 'and clipping').to.be.greaterThan(0);
  });

  it('a key evicted at maxKeys gives its slot and metric entries back: a new key starts empty', function () {
    const store = new BaselineStore({ maxKeys: 2, priors: false, zeroFillHorizonMs: 0 });
    store.annotate(win(0, [['dstHost', 'dst a', { p: 1, q: 2, r: 3 }], ['dstHost', 'dst b', { p: 10 }]]));
    store.annotate(win(1, [['dstHost', 'dst b', { p: 20 }], ['dstHost', 'dst c', { s: 7 }]])); // a evicted (least recently seen)
    expect(store.peek('dst a')).to.equal(undefined);
    // c reuses a's slot and entries: only its own metric, first sample: fast = slow = 7
    expect(store.peek('dst c').metrics).to.deep.equal({ s: { fast: 7, slow: 7, mean: 7, std: 0, samples: 1 } });
    expect(store.peek('dst c').samples).to.equal(1);
    // b: 10 then 20 → fast 0.3·20 + 0.7·10 = 13, slow 0.05·20 + 0.95·10 = 10.5
    const b = store.peek('dst b').metrics.p;
    expect(b.fast).to.be.closeTo(13, 1e-12);
    expect(b.slow).to.be.closeTo(10.5, 1e-12);
    expect(store.stats()).to.include({ keys: 2, evictions: 1 });
    // reset(key) frees too; a later key again starts empty
    expect(store.reset('dst b')).to.equal(true);
    store.annotate(win(2, [['dstHost', 'dst d', { t: 5 }]]));
    expect(Object.keys(store.peek('dst d').metrics)).to.deep.equal(['t']);
    expect(store.toSnapshot().keys.map((k) => [k.key, Object.keys(k.metrics)])).to.deep.equal([['dst c', ['s']], ['dst d', ['t']]]);
  });

  it('loads a snapshot in the layout the previous (object-per-metric) version wrote', function () {
    // written by hand in the documented layout (SnapshotKey: metrics name → [fast, slow, variance, samples])
    const saved = {
      format: 'netbaseline/baseline', version: 1,
      options: { fastAlpha: 0.3, slowAlpha: 0.05, bootstrapMs: 300000, scopes: ['interface', 'dstHost', 'srcHost'], maxKeys: 100000, zeroFillHorizonMs: 600000, clipSigma: 3, clipFloors: { packetsPerSecond: 10 }, priors: true, priorMinPeers: 5, priorRefreshMs: 60000, lineRateBitsPerSecond: 0, lineRatePacketsPerSecond: 0, lineRateFraction: 0.1, seasonal: 'off', seasonalDays: 3, seasonalTimeZone: 'local', maintenanceSchedules: [] },
      clockMs: T0 + 20 * WIN, evictions: 4,
      keys: [
        { key: 'dst 10.0.0.9', scope: 'dstHost', firstSeen: T0, lastSeen: T0 + 19 * WIN, lastUpdate: T0 + 19 * WIN, samples: 20, metrics: { packetsPerSecond: [12, 11, 4, 20], synCount: [1, 0.5, 0.25, 20] } },
        { key: 'src 10.0.0.7', scope: 'srcHost', firstSeen: T0 + 5 * WIN, lastSeen: T0 + 19 * WIN, samples: 3, prior: true, metrics: { packetsPerSecond: [3, 3, 0, 3] } },
      ],
    };
    const store = BaselineStore.fromSnapshot(JSON.parse(JSON.stringify(saved)));
    expect(store.peek('dst 10.0.0.9').metrics.packetsPerSecond).to.deep.equal({ fast: 12, slow: 11, mean: 11, std: 2, samples: 20 });
    expect(store.peek('dst 10.0.0.9').metrics.synCount).to.deep.equal({ fast: 1, slow: 0.5, mean: 0.5, std: 0.5, samples: 20 });
    expect(store.peek('src 10.0.0.7')).to.include({ samples: 3, prior: true, firstSeen: T0 + 5 * WIN });
    expect(store.stats()).to.include({ keys: 2, evictions: 4 });
    // and writes it back the same (lastUpdate defaults to lastSeen)
    const again = store.toSnapshot();
    expect(again.keys[0]).to.deep.equal(saved.keys[0]);
    expect(again.keys[1]).to.deep.equal({ ...saved.keys[1], lastUpdate: T0 + 19 * WIN });
    // the next window continues from the saved numbers: 0.3·22 + 0.7·12 = 15
    const out = store.annotate(win(20, [['dstHost', 'dst 10.0.0.9', { packetsPerSecond: 22 }]]));
    expect(out.records[0].baseline.metrics.packetsPerSecond.fast).to.equal(12);
    expect(store.peek('dst 10.0.0.9').metrics.packetsPerSecond.fast).to.be.closeTo(15, 1e-12);
  });

  it('metric baselines keep the order metrics first came in, odd names included, and the same values on every path', function () {
    // constant values: fast = slow = mean = the value, σ 0, samples = windows seen (by the EWMA definitions)
    const odd = { total: 3, __x: 1, constructor: 2, 'a"b\n\u2028c': 4, 10: 5, 0: 6, toString: 7 };
    const withProto = JSON.parse('{"packets": 8, "__proto__": 9}'); // an own property named __proto__, as a parsed message has
    // 300 keys with a metric of their own each: more metric-name sequences than are compiled, so both paths run
    const many = Array.from({ length: 300 }, (_, i) => ['srcHost', `src 10.1.${i >> 8}.${i & 255}`, { [`m${i}`]: i, packets: 1 }]);
    const store = new BaselineStore();
    let out;
    for (let i = 0; i < 3; i++) out = store.annotate(win(i, [['dstHost', 'dst a', odd], ['dstHost', 'dst b', withProto], ...many]));
    const expectMetrics = (metrics, values, samples) => {
      expect(Object.getPrototypeOf(metrics)).to.equal(Object.prototype);
      // own keys in the order of the record's metrics (integer-like names first, as for any object)
      expect(Object.keys(metrics)).to.deep.equal(Object.keys(values));
      for (const name of Object.keys(values)) {
        expect(Object.prototype.hasOwnProperty.call(metrics, name), name).to.equal(true);
        const mb = metrics[name];
        expect(Object.keys(mb), name).to.deep.equal(['fast', 'slow', 'mean', 'std', 'samples']);
        for (const f of ['fast', 'slow', 'mean']) expect(mb[f], `${name}.${f}`).to.be.closeTo(values[name], 1e-9);
        expect(mb.std, name).to.be.closeTo(0, 1e-9);
        expect(mb.samples, name).to.equal(samples);
      }
    };
    expectMetrics(out.records[0].baseline.metrics, odd, 2);
    expectMetrics(out.records[1].baseline.metrics, withProto, 2);
    expect(Object.keys(JSON.parse(JSON.stringify(out.records[1].baseline.metrics)))).to.deep.equal(['packets', '__proto__']);
    for (let i = 0; i < many.length; i++) expectMetrics(out.records[2 + i].baseline.metrics, many[i][2], 2);
    expectMetrics(store.peek('dst a').metrics, odd, 3);
  });

  it('baselinesBuiltHere: the records array of an annotated window maps to the store\'s scopes; copies and inputs do not', function () {
    const { baselinesBuiltHere } = require('../../dist/core/baseline.js');
    const store = new BaselineStore({ scopes: ['dstHost'] });
    const input = win(0, [['dstHost', 'dst a', { packets: 1 }], ['srcHost', 'src b', { packets: 1 }]]);
    const out = store.annotate(input);
    expect([...baselinesBuiltHere(out.records)]).to.deep.equal(['dstHost']);
    expect(baselinesBuiltHere(input.records)).to.equal(undefined);
    expect(baselinesBuiltHere([...out.records])).to.equal(undefined);
    expect(baselinesBuiltHere(JSON.parse(JSON.stringify(out)).records)).to.equal(undefined);
  });
});
