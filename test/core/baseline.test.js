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

  it('a metric a record lacks is not updated; a key absent from a window is not updated', function () {
    const store = new BaselineStore();
    store.annotate(win(0, [['dstHost', 'dst a', { pps: 10, syn: 5 }], ['dstHost', 'dst b', { pps: 1 }]]));
    store.annotate(win(1, [['dstHost', 'dst a', { pps: 30 }]]));
    const a = store.peek('dst a');
    expect(a.metrics.syn).to.include({ slow: 5, samples: 1 });
    expect(a.metrics.pps.samples).to.equal(2);
    expect(a.samples).to.equal(2);
    const b = store.peek('dst b');
    expect(b.samples).to.equal(1);
    expect(b.metrics.pps).to.include({ slow: 1, samples: 1 });
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
    expect(store.stats()).to.deep.equal({ keys: 2, bootstrap: 1, learning: 1, mature: 0, evictions: 0 });
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
    expect(restored.stats()).to.deep.equal(store.stats());
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

  it('rejects bad options with RangeError', function () {
    expect(() => new BaselineStore({ fastAlpha: 0.05, slowAlpha: 0.3 })).to.throw(RangeError);
    expect(() => new BaselineStore({ slowAlpha: 0 })).to.throw(RangeError);
    expect(() => new BaselineStore({ bootstrapMs: -1 })).to.throw(RangeError);
    expect(() => new BaselineStore({ scopes: ['planet'] })).to.throw(RangeError);
    expect(() => new BaselineStore({ scopes: [] })).to.throw(RangeError);
    expect(() => new BaselineStore({ maxKeys: 0 })).to.throw(RangeError);
    expect(() => new BaselineStore({ maxKeys: 1.5 })).to.throw(RangeError);
  });
});
