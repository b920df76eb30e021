'use strict';
const { expect } = require('chai');
const { RuleDetector } = require('../../dist/core/rules.js');
const { ContractError } = require('../../dist/core/contracts.js');

const { WIN, T0, windowMessage } = require('../fixtures/windows');

const win = (i, records, windowMs = WIN) => windowMessage(i, records, { source: 'capture.pcap', windowMs });
/** A metric baseline with μ = slow. */
const mb = (fast, slow, std, samples = 80) => ({ fast, slow, mean: slow, std, samples });
const base = (state, metrics) => ({ state, firstSeen: T0 - 3_600_000, samples: 80, metrics });

/** srcHost record with SYNs to `ports` (count `syns`). */
const srcScan = (ip, syns, ports, truncated = false) => ({
  scope: 'srcHost', key: `src ${ip}`, srcIp: ip, metrics: { synCount: syns },
  scan: { synDstPorts: ports, truncated, synDstHosts: 1 },
});
const range = (from, n) => Array.from({ length: n }, (_, i) => from + i);

describe('RuleDetector', function () {
  describe('static (bootstrap) rule', function () {
    it('fires on a SYN rate above 100/s for a key without baseline (stopddos burst: 9,639 SYNs in a 10 s window)', function () {
      const d = new RuleDetector();
      const w = win(3, [{ scope: 'dstHost', key: 'dst 10.10.10.10', dstIp: '10.10.10.10', metrics: { synCount: 9639, packetsPerSecond: 965, bitsPerSecond: 463_000 } }]);
      const events = d.evaluate(w);
      expect(events).to.have.length(1);
      const e = events[0];
      expect(e).to.include({ kind: 'netbaseline/anomaly', rule: 'static', severity: 'high', key: 'dst 10.10.10.10', scope: 'dstHost', dstIp: '10.10.10.10', metric: 'synPerSecond', threshold: 100, source: 'capture.pcap', status: 'firing' });
      expect(e.value).to.be.closeTo(963.9, 1e-9); // 9639 / 10 s
      expect(e.deviationPercent).to.be.closeTo(863.9, 1e-9); // (963.9 − 100) / 100 × 100
      expect(e.message).to.equal('SYN rate 964 SYN/s to dst 10.10.10.10 is above the bootstrap threshold 100 SYN/s (+864%)');
      expect(e.id).to.equal(`static|dst 10.10.10.10|${w.windowStart}`);
      expect(e.time).to.equal(w.windowEnd);
      expect(e.window).to.deep.equal({ start: w.windowStart, end: w.windowEnd, ms: WIN });
      expect(e.baseline).to.equal(null);
      expect(e.findings).to.have.length(1);
    });

    it('applies to bootstrap state, uses strict > and the pps / bps thresholds', function () {
      const d = new RuleDetector();
      const events = d.evaluate(win(0, [
        { scope: 'dstHost', key: 'dst a', metrics: { synCount: 1000, packetsPerSecond: 10_000, bitsPerSecond: 100_000_000 }, baseline: base('bootstrap', {}) },
        { scope: 'dstHost', key: 'dst b', metrics: { packetsPerSecond: 10_001, bitsPerSecond: 250_000_000 }, baseline: base('bootstrap', {}) },
      ]));
      // dst a: 100 SYN/s, 10,000 pps and 100 Mbit/s are all AT the thresholds: nothing
      expect(events.map((e) => e.key)).to.deep.equal(['dst b']);
      const f = events[0].findings;
      expect(f.map((x) => x.metric).sort()).to.deep.equal(['bitsPerSecond', 'packetsPerSecond']);
      // primary: largest deviation: bps (250 − 100) / 100 = +150% vs pps +0.01%
      expect(events[0].metric).to.equal('bitsPerSecond');
      expect(events[0].deviationPercent).to.be.closeTo(150, 1e-9);
      expect(events[0].message).to.match(/^bit rate 250 Mbit\/s to dst b is above the bootstrap threshold 100 Mbit\/s \(\+150%\)/);
    });

    it('respects the synCount noise floor (150 SYN/s from 15 SYNs in a 100 ms window is not enough)', function () {
      const d = new RuleDetector();
      expect(d.evaluate(win(0, [{ scope: 'dstHost', key: 'dst a', metrics: { synCount: 15 } }], 100))).to.deep.equal([]);
      expect(d.evaluate(win(1, [{ scope: 'dstHost', key: 'dst a', metrics: { synCount: 20 } }], 100))).to.have.length(1);
    });

    it('does not apply to learning or mature keys', function () {
      const d = new RuleDetector({ dualEwma: { enabled: false }, spike: { enabled: false } });
      const events = d.evaluate(win(0, [{ scope: 'dstHost', key: 'dst a', metrics: { synCount: 5000, packetsPerSecond: 50_000 }, baseline: base('mature', {}) }]));
      expect(events).to.deep.equal([]);
    });

    it('can be disabled and thresholds changed', function () {
      const rec = { scope: 'dstHost', key: 'dst a', metrics: { synCount: 600 } }; // 60 SYN/s
      expect(new RuleDetector({ bootstrapStatic: { enabled: false } }).evaluate(win(0, [rec]))).to.deep.equal([]);
      expect(new RuleDetector().evaluate(win(0, [rec]))).to.deep.equal([]);
      expect(new RuleDetector({ bootstrapStatic: { synPerSecond: 50 } }).evaluate(win(0, [rec]))).to.have.length(1);
    });
  });

  describe('bootstrap records with what ewma-baseline adds', function () {
    it('takes the bit/s and packet/s thresholds from the window\'s line-rate bootstrapThresholds', function () {
      const d = new RuleDetector(); // configured: 10,000 pps, 100 Mbit/s
      const w = win(0, [{ scope: 'interface', key: 'iface eth0', metrics: { packetsPerSecond: 2_000, bitsPerSecond: 12_000_000 }, baseline: base('bootstrap', {}) }]);
      expect(d.evaluate(w), 'below the configured thresholds').to.deep.equal([]);
      // a 100 Mbit/s line at 10 %: 10 Mbit/s and 10e6 / 672 ≈ 14,881 packet/s
      w.bootstrapThresholds = { bitsPerSecond: 10_000_000, packetsPerSecond: 10_000_000 / 672, lineRateBitsPerSecond: 100_000_000, fraction: 0.1 };
      const [e] = d.evaluate(w);
      expect(e.findings.map((f) => [f.rule, f.metric, f.threshold])).to.deep.equal([['static', 'bitsPerSecond', 10_000_000]]);
    });

    it('judges a never-seen key against its peers\' prior, at most medium', function () {
      const d = new RuleDetector();
      const prior = (state) => ({ ...base(state, { packetsPerSecond: mb(50, 50, 5, 0) }), samples: 0, prior: true });
      const [e] = d.evaluate(win(0, [{ scope: 'dstHost', key: 'dst new', metrics: { packetsPerSecond: 900 }, baseline: prior('bootstrap') }]));
      // 900 > 3 × 50 and > 5 × 50 (dual EWMA) and > 50 + 3 × 5 (spike): both capped at medium
      expect(e.findings.map((f) => [f.rule, f.severity]).sort()).to.deep.equal([['dual-ewma', 'medium'], ['spike', 'medium']]);
      expect(e.severity).to.equal('medium');
      expect(e.message).to.match(/median of its peers/);
      // without the prior flag a bootstrap key gets the static rule only (900 pps is below 10,000)
      const plain = { ...prior('bootstrap') };
      delete plain.prior;
      expect(d.evaluate(win(1, [{ scope: 'dstHost', key: 'dst new', metrics: { packetsPerSecond: 900 }, baseline: plain }]))).to.deep.equal([]);
    });
  });

  describe('maturity required per rule (minState)', function () {
    const flood = (state) => [{ scope: 'dstHost', key: 'dst a', metrics: { packetsPerSecond: 900 }, baseline: base(state, { packetsPerSecond: mb(50, 50, 5) }) }];
    it('judges learning keys by default and only mature keys with minState "mature"', function () {
      const rules = (d, state) => (d.evaluate(win(0, flood(state)))[0]?.findings ?? []).map((f) => f.rule).sort();
      expect(rules(new RuleDetector(), 'learning')).to.deep.equal(['dual-ewma', 'spike']);
      // the same key judged again in the same window: without the recent-peak guard (which would hold it back)
      const strictDual = new RuleDetector({ dualEwma: { minState: 'mature' }, peakGuard: false });
      expect(rules(strictDual, 'learning')).to.deep.equal(['spike']);
      expect(rules(strictDual, 'mature')).to.deep.equal(['dual-ewma', 'spike']);
      const strictBoth = new RuleDetector({ dualEwma: { minState: 'mature' }, spike: { minState: 'mature' } });
      expect(rules(strictBoth, 'learning')).to.deep.equal([]);
      expect(() => new RuleDetector({ spike: { minState: 'bootstrap' } })).to.throw(RangeError, /spike.minState/);
    });
  });

  describe('dual-EWMA rule', function () {
    const only = () => new RuleDetector({ spike: { enabled: false } });
    it('fires only when the value exceeds BOTH fast×3 and slow×5', function () {
      // fast 200 → 600, slow 50 → 250
      const rec = (v) => ({ scope: 'srcHost', key: 'src h', metrics: { packetsPerSecond: v }, baseline: base('mature', { packetsPerSecond: mb(200, 50, 5) }) });
      expect(only().evaluate(win(0, [rec(400)])), 'above slow×5 but not fast×3').to.deep.equal([]);
      const [e] = only().evaluate(win(0, [rec(700)]));
      expect(e).to.include({ rule: 'dual-ewma', severity: 'high', metric: 'packetsPerSecond', value: 700, threshold: 600 });
      expect(e.deviationPercent).to.be.closeTo(1300, 1e-9); // (700 − 50) / 50 vs slow
      expect(e.baseline).to.deep.include({ fast: 200, slow: 50, state: 'mature' });
      // fast 100 → 300, slow 100 → 500
      const rec2 = (v) => ({ scope: 'srcHost', key: 'src h', metrics: { packetsPerSecond: v }, baseline: base('learning', { packetsPerSecond: mb(100, 100, 5) }) });
      expect(only().evaluate(win(0, [rec2(450)])), 'above fast×3 but not slow×5').to.deep.equal([]);
      expect(only().evaluate(win(0, [rec2(501)]))).to.have.length(1);
    });

    it('does not fire below the noise floor even from a zero baseline', function () {
      const rec = (v) => ({ scope: 'dstHost', key: 'dst h', metrics: { synCount: v }, baseline: base('mature', { synCount: mb(0, 0, 0) }) });
      expect(only().evaluate(win(0, [rec(1)]))).to.deep.equal([]);
      expect(only().evaluate(win(0, [rec(19)]))).to.deep.equal([]);
      const [e] = only().evaluate(win(0, [rec(25)]));
      expect(e.rule).to.equal('dual-ewma');
      // reference 0 → the floor (20) stands in: (25 − 20) / 20 = +25%
      expect(e.deviationPercent).to.be.closeTo(25, 1e-9);
    });

    it('ignores metrics without a baseline and metrics not in the list', function () {
      const d = only();
      expect(d.evaluate(win(0, [{ scope: 'dstHost', key: 'dst h', metrics: { packetsPerSecond: 1e6, synAckCount: 1e6 }, baseline: base('mature', { synAckCount: mb(1, 1, 0) }) }]))).to.deep.equal([]);
    });
  });

  describe('spike rule', function () {
    const only = () => new RuleDetector({ dualEwma: { enabled: false } });
    it('μ + 3σ → high, μ + 2σ → medium, with σ from the baseline', function () {
      const rec = (v) => ({ scope: 'dstHost', key: 'dst h', metrics: { distinctPeers: v }, baseline: base('mature', { distinctPeers: mb(100, 100, 20) }) });
      expect(only().evaluate(win(0, [rec(140)])), 'exactly μ + 2σ').to.deep.equal([]);
      const [m] = only().evaluate(win(0, [rec(150)]));
      expect(m).to.include({ rule: 'spike', severity: 'medium', threshold: 140 });
      expect(m.deviationPercent).to.be.closeTo(50, 1e-9);
      const [h] = only().evaluate(win(0, [rec(161)]));
      expect(h).to.include({ rule: 'spike', severity: 'high', threshold: 160 });
      expect(h.message).to.equal('distinct peers 161 hosts to dst h is above μ + 3σ = 160 hosts (μ 100 hosts, σ 20 hosts) (+61%)');
    });

    it('floors σ at 10% of μ so a flat baseline does not alert on a tiny change', function () {
      const rec = (v) => ({ scope: 'dstHost', key: 'dst h', metrics: { packetsPerSecond: v }, baseline: base('mature', { packetsPerSecond: mb(100, 100, 0) }) });
      // σ = 10: medium above 120, high above 130
      expect(only().evaluate(win(0, [rec(101)]))).to.deep.equal([]);
      expect(only().evaluate(win(0, [rec(119)]))).to.deep.equal([]);
      expect(only().evaluate(win(0, [rec(125)]))[0]).to.include({ severity: 'medium', threshold: 120 });
      expect(only().evaluate(win(0, [rec(131)]))[0]).to.include({ severity: 'high', threshold: 130 });
    });

    it('respects the noise floor (bitsPerSecond 1 Mbit/s by default, configurable)', function () {
      const rec = (v) => ({ scope: 'interface', key: 'iface eth0', metrics: { bitsPerSecond: v }, baseline: base('learning', { bitsPerSecond: mb(1000, 1000, 10) }) });
      expect(only().evaluate(win(0, [rec(999_999)]))).to.deep.equal([]);
      expect(only().evaluate(win(0, [rec(1_000_000)]))).to.have.length(1);
      // the floor of the first releases (80 kbit/s) as an option
      const low = new RuleDetector({ dualEwma: { enabled: false }, minimums: { bitsPerSecond: 80_000 } });
      expect(low.evaluate(win(0, [rec(80_000)]))).to.have.length(1);
    });

    it('does not apply to bootstrap keys', function () {
      const rec = { scope: 'dstHost', key: 'dst h', metrics: { packetsPerSecond: 500 }, baseline: base('bootstrap', { packetsPerSecond: mb(100, 100, 0) }) };
      expect(only().evaluate(win(0, [rec]))).to.deep.equal([]);
    });
  });

  describe('events', function () {
    it('one event per key per window listing every finding, primary = high first, then largest deviation', function () {
      const d = new RuleDetector();
      const record = {
        scope: 'dstHost', key: 'dst 192.0.2.7', dstIp: '192.0.2.7',
        metrics: { distinctPeers: 125, packetsPerSecond: 550, newFlows: 310 },
        baseline: base('mature', {
          distinctPeers: mb(100, 100, 0),    // spike medium (σ floor 10: 125 > 120), +25%
          packetsPerSecond: mb(100, 100, 100), // dual-ewma high (550 > 300, > 500) and spike high (550 > 400), both +450%
          newFlows: mb(10, 10, 100),         // dual-ewma high (310 > 30, > 50), spike medium (310 > 210, not > 310), both +3000%
        }),
      };
      const events = d.evaluate(win(0, [record, { scope: 'dstHost', key: 'dst quiet', metrics: { packetsPerSecond: 1 } }]));
      expect(events).to.have.length(1);
      const e = events[0];
      expect(e.findings.map((f) => `${f.rule}/${f.metric}/${f.severity}`)).to.deep.equal([
        'dual-ewma/newFlows/high', 'dual-ewma/packetsPerSecond/high', 'spike/packetsPerSecond/high',
        'spike/newFlows/medium', 'spike/distinctPeers/medium',
      ]);
      expect(e).to.include({ rule: 'dual-ewma', metric: 'newFlows', severity: 'high', value: 310, threshold: 50, dstIp: '192.0.2.7' });
      expect(e.deviationPercent).to.be.closeTo(3000, 1e-9);
      expect(e.id).to.equal(`dual-ewma|dst 192.0.2.7|${T0}`);
      expect(e.message).to.match(/\(and 4 more findings\)$/);
      expect(JSON.parse(JSON.stringify(e))).to.deep.equal(e); // plain JSON, finite numbers
    });

    it('flow records are not evaluated unless the flow scope is enabled', function () {
      const rec = { scope: 'flow', key: 'tcp 1.1.1.1:1 > 2.2.2.2:80', srcIp: '1.1.1.1', dstIp: '2.2.2.2', srcPort: 1, dstPort: 80, protocol: 'tcp', metrics: { packetsPerSecond: 20_000 } };
      expect(new RuleDetector().evaluate(win(0, [rec]))).to.deep.equal([]);
      const [e] = new RuleDetector({ scopes: ['flow'] }).evaluate(win(0, [rec]));
      expect(e).to.include({ srcIp: '1.1.1.1', dstIp: '2.2.2.2', srcPort: 1, dstPort: 80, protocol: 'tcp', scope: 'flow' });
    });

    it('rejects malformed baseline or scan annotations with a ContractError and keeps its state', function () {
      const d = new RuleDetector();
      expect(() => d.evaluate(win(0, [srcScan('10.0.0.9', 60, range(1, 15)), { scope: 'dstHost', key: 'dst x', metrics: {}, baseline: { state: 'old', metrics: {} } }]))).to.throw(ContractError, /baseline\.state/);
      expect(() => d.evaluate(win(0, [srcScan('10.0.0.9', 60, range(1, 15)), { ...srcScan('10.0.0.8', 1, []), scan: { synDstPorts: ['x'] } }]))).to.throw(ContractError, /synDstPorts/);
      expect(d.scanStats().sources, 'nothing recorded from rejected windows').to.equal(0);
      // had the rejected windows counted, 60 + 60 + 60 SYNs would now exceed 100
      expect(d.evaluate(win(1, [srcScan('10.0.0.9', 60, range(16, 15))]))).to.deep.equal([]);
    });

    it('rejects bad options with RangeError', function () {
      expect(() => new RuleDetector({ spike: { highSigma: 2, mediumSigma: 3 } })).to.throw(RangeError);
      expect(() => new RuleDetector({ dualEwma: { fastMultiplier: 0 } })).to.throw(RangeError);
      expect(() => new RuleDetector({ portScan: { minSyns: -1 } })).to.throw(RangeError);
      expect(() => new RuleDetector({ portScan: { windowMs: 0 } })).to.throw(RangeError);
      expect(() => new RuleDetector({ scopes: ['planet'] })).to.throw(RangeError);
      expect(() => new RuleDetector({ metrics: [] })).to.throw(RangeError);
      expect(() => new RuleDetector({ minimums: { synCount: -1 } })).to.throw(RangeError);
      expect(() => new RuleDetector({ maxScanSources: 0 })).to.throw(RangeError);
    });
  });

  describe('port-scan rule', function () {
    it('sums SYNs and unions ports over the 10 s windows of the last 60 s: fires once > 100 SYNs to > 20 ports', function () {
      const d = new RuleDetector();
      const fired = [];
      // 20 SYNs to 5 new ports per window: after 5 windows 100 SYNs / 25 ports (not > 100), after 6: 120 / 30
      for (let i = 0; i < 7; i++) {
        const events = d.evaluate(win(i, [srcScan('10.0.0.140', 20, range(1000 + 5 * i, 5))]));
        fired.push(events.length);
        if (i === 5) {
          const e = events[0];
          expect(e).to.include({ rule: 'port-scan', severity: 'high', key: 'src 10.0.0.140', scope: 'srcHost', srcIp: '10.0.0.140', metric: 'distinctDstPorts', value: 30, threshold: 20 });
          expect(e.deviationPercent).to.be.closeTo(50, 1e-9);
          expect(e.message).to.equal('src 10.0.0.140 sent 120 SYNs to 30 ports in 60 s (port scan threshold: >100 SYNs to >20 ports)');
          expect(e.id).to.equal(`port-scan|src 10.0.0.140|${T0 + 5 * WIN}`);
        }
        if (i === 6) expect(events[0].value, 'window 1..6: ports 1005..1034').to.equal(30);
      }
      expect(fired).to.deep.equal([0, 0, 0, 0, 0, 1, 1]);
    });

    it('names the scanned host as dstIp when every SYN of the window went to it, and none when they went to several', function () {
      const d = new RuleDetector();
      const target = (hosts) => (r) => ({ ...r, scan: { ...r.scan, synDstHosts: hosts, ...(hosts === 1 ? { synDstHost: '10.0.0.40' } : {}) } });
      const one = d.evaluate(win(0, [target(1)(srcScan('10.0.0.140', 200, range(1000, 30)))]));
      expect(one[0]).to.include({ rule: 'port-scan', srcIp: '10.0.0.140', dstIp: '10.0.0.40' });
      const many = new RuleDetector().evaluate(win(0, [target(2)(srcScan('10.0.0.141', 200, range(1000, 30)))]));
      expect(many[0].rule).to.equal('port-scan');
      expect(many[0]).to.not.have.property('dstIp');
    });

    it('does not fire when the same SYNs are spread over more than 60 s', function () {
      const d = new RuleDetector();
      // windows 0,1,2,3,4 and 6: the 60 s ending with window 6 holds windows 1..6, only 100 SYNs
      for (const i of [0, 1, 2, 3, 4, 6]) expect(d.evaluate(win(i, [srcScan('10.0.0.140', 20, range(1000 + 5 * i, 5))]))).to.deep.equal([]);
    });

    it('needs both: many SYNs to few ports, or few SYNs to many ports, do not fire', function () {
      const d = new RuleDetector();
      expect(d.evaluate(win(0, [srcScan('10.0.0.1', 500, range(1, 20))]))).to.deep.equal([]); // 20 ports is not > 20
      expect(d.evaluate(win(0, [srcScan('10.0.0.2', 100, range(1, 200))]))).to.deep.equal([]); // 100 SYNs is not > 100
      expect(d.evaluate(win(1, [srcScan('10.0.0.3', 101, range(1, 21))]))).to.have.length(1);
    });

    it('repeated ports count once; truncated evidence says "at least"', function () {
      const d = new RuleDetector();
      d.evaluate(win(0, [srcScan('10.0.0.5', 60, range(1, 15))]));
      const [e] = d.evaluate(win(1, [srcScan('10.0.0.5', 60, range(10, 15), true)])); // union 1..24
      expect(e.value).to.equal(24);
      expect(e.message).to.include('sent 120 SYNs to at least 24 ports');
    });

    it('is independent of baseline state and merges with other findings of the key into one event', function () {
      const d = new RuleDetector();
      const rec = { ...srcScan('10.0.0.140', 4993, range(1, 1000)), metrics: { synCount: 4993 }, baseline: base('bootstrap', {}) };
      const events = d.evaluate(win(0, [rec]));
      expect(events).to.have.length(1);
      // static SYN rate 499.3/s (+399%) and port scan 1,000 ports (+4,900%): port scan is primary
      expect(events[0].findings.map((f) => f.rule)).to.deep.equal(['port-scan', 'static']);
      expect(events[0].rule).to.equal('port-scan');
      expect(events[0].message).to.equal('src 10.0.0.140 sent 4,993 SYNs to 1,000 ports in 60 s (port scan threshold: >100 SYNs to >20 ports) (and 1 more finding)');
    });

    it('bounds per-source state by maxScanSources (least recently seen dropped)', function () {
      const run = (maxScanSources) => {
        const d = new RuleDetector({ maxScanSources });
        d.evaluate(win(0, [srcScan('10.0.0.1', 60, range(1, 15)), srcScan('10.0.0.2', 1, [1])]));
        const ev = d.evaluate(win(1, [srcScan('10.0.0.1', 60, range(16, 15))]));
        return { ev, stats: d.scanStats() };
      };
      const one = run(1);
      expect(one.ev, '10.0.0.1 was evicted by 10.0.0.2, its first 60 SYNs forgotten').to.deep.equal([]);
      expect(one.stats).to.deep.equal({ sources: 1, evictions: 2 });
      expect(run(2).ev).to.have.length(1);
    });

    it('at the cap drops the least recently seen tenth at once (a flood of sources stays linear)', function () {
      const d = new RuleDetector({ maxScanSources: 20 });
      d.evaluate(win(0, range(1, 20).map((i) => srcScan(`10.0.0.${i}`, 1, [1]))));
      expect(d.scanStats()).to.deep.equal({ sources: 20, evictions: 0 });
      d.evaluate(win(1, [srcScan('10.0.1.1', 1, [1])]));
      // 2 of 20 dropped (10.0.0.1, 10.0.0.2: the least recently seen), then the new one added
      expect(d.scanStats()).to.deep.equal({ sources: 19, evictions: 2 });
      // 10.0.0.3 kept its first window: 60 + 60 SYNs to 30 ports fires; 10.0.0.1 starts afresh
      d.evaluate(win(2, [srcScan('10.0.0.3', 59, range(2, 14))]));
      const ev = d.evaluate(win(3, [srcScan('10.0.0.3', 60, range(16, 15)), srcScan('10.0.0.1', 60, range(16, 15))]));
      expect(ev.map((e) => e.key)).to.deep.equal(['src 10.0.0.3']);
    });

    it('can be disabled; thresholds and window configurable', function () {
      const recs = [srcScan('10.0.0.1', 30, range(1, 8))];
      expect(new RuleDetector({ portScan: { enabled: false } }).evaluate(win(0, [srcScan('10.0.0.1', 500, range(1, 100))]))).to.deep.equal([]);
      expect(new RuleDetector({ portScan: { minSyns: 20, minPorts: 5 } }).evaluate(win(0, recs))).to.have.length(1);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Real captures: windows built independently of our aggregator, from tshark's dissection, run
// through BaselineStore + RuleDetector; expectations from /work/shared/pcaps/MANIFEST.md.
// ---------------------------------------------------------------------------------------------
describe('RuleDetector + BaselineStore on real captures (windows built with tshark)', function () {
  const fs = require('fs');
  const path = require('path');
  const { execFileSync } = require('child_process');
  const { BaselineStore } = require('../../dist/core/baseline.js');
  const PCAPS = '/work/shared/pcaps';
  let haveTshark = false;
  try { execFileSync('tshark', ['-v'], { stdio: 'ignore' }); haveTshark = true; } catch { /* skipped below */ }

  /** 10 s windows (aligned to multiples of 10 s epoch time) of interface/dstHost/srcHost records with scan evidence. */
  function windowsFromTshark(file, windowMs = 10_000) {
    const out = execFileSync('tshark', ['-r', path.join(PCAPS, file), '-Y', 'ip', '-T', 'fields', '-E', 'separator=|', '-E', 'occurrence=f',
      '-e', 'frame.time_epoch', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'tcp.flags', '-e', 'tcp.dstport', '-e', 'frame.len'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 28 });
    const byWin = new Map();
    for (const line of out.split('\n')) {
      if (!line) continue;
      const [t, src, dst, flags, dport, len] = line.split('|');
      const ms = Number(t) * 1000;
      const ws = Math.floor(ms / windowMs) * windowMs;
      if (!byWin.has(ws)) byWin.set(ws, new Map());
      const keys = byWin.get(ws);
      const syn = flags && (parseInt(flags, 16) & 0x12) === 0x02;
      for (const [scope, key] of [['interface', `iface ${file}`], ['dstHost', `dst ${dst}`], ['srcHost', `src ${src}`]]) {
        let k = keys.get(key);
        if (!k) { k = { scope, key, packets: 0, bytes: 0, syns: 0, ports: new Set(), peers: new Set(), ip: scope === 'srcHost' ? src : dst }; keys.set(key, k); }
        k.packets++; k.bytes += Number(len);
        if (syn) { k.syns++; if (scope === 'srcHost') k.ports.add(Number(dport)); }
      }
    }
    const starts = [...byWin.keys()].sort((a, b) => a - b);
    const windows = [];
    for (let ws = starts[0]; ws <= starts[starts.length - 1]; ws += windowMs) {
      const keys = byWin.get(ws) || new Map();
      const records = [...keys.values()].map((k) => {
        const r = {
          scope: k.scope, key: k.key, windowStart: ws, windowEnd: ws + windowMs,
          metrics: { packets: k.packets, bytes: k.bytes, packetsPerSecond: k.packets / (windowMs / 1000), bitsPerSecond: k.bytes * 8 / (windowMs / 1000), synCount: k.syns },
        };
        if (k.scope === 'srcHost') r.srcIp = k.ip; else if (k.scope === 'dstHost') r.dstIp = k.ip;
        if (k.scope === 'srcHost' && k.syns > 0) r.scan = { synDstPorts: [...k.ports].sort((a, b) => a - b), truncated: false, synDstHosts: 1 };
        return r;
      });
      windows.push({ kind: 'netbaseline/window', version: 1, source: file, windowStart: ws, windowEnd: ws + windowMs, windowMs, gapBeforeMs: 0, final: false,
        counters: { packetsSeen: 0, packetsSkipped: 0, trackedFlows: 0, flowEvictions: 0, hostEvictions: 0, windows: windows.length + 1 }, records });
    }
    return windows;
  }

  function run(file) {
    const store = new BaselineStore();
    const detector = new RuleDetector();
    const events = [];
    for (const w of windowsFromTshark(file)) events.push(...detector.evaluate(store.annotate(w)));
    return events;
  }

  beforeEach(function () {
    if (!haveTshark || !fs.existsSync(PCAPS)) this.skip();
  });

  it('stopddos SYN flood: dst 10.10.10.10 is still in bootstrap and the static SYN-rate rule fires', function () {
    const events = run('stopddos__pkt.TCP.DOMINATE.syn.ecn.cwr.pcapng').filter((e) => e.key === 'dst 10.10.10.10');
    expect(events.length).to.be.at.least(1);
    const f = events.flatMap((e) => e.findings).find((x) => x.rule === 'static' && x.metric === 'synPerSecond');
    expect(f, 'static SYN rate finding').to.exist;
    // 9,639 SYNs in 0.44 s: whichever 10 s windows hold them, one holds at least half (> 48 SYN/s·10 s)
    expect(f.value).to.be.above(100);
  });

  it('pcaphunt nmap SYN scan: port-scan alert for src 10.0.0.140', function () {
    const events = run('pcaphunt__ps-tcp_syn.pcap');
    const scan = events.filter((e) => e.key === 'src 10.0.0.140' && e.findings.some((f) => f.rule === 'port-scan'));
    expect(scan.length).to.be.at.least(1);
    expect(scan[0].rule).to.equal('port-scan');
  });

  it('SkypeIRC (benign P2P fan-out, at most 54 SYNs to 33 ports in any 60 s): no port-scan alert', function () {
    const events = run('wireshark__SkypeIRC.cap');
    expect(events.filter((e) => e.findings.some((f) => f.rule === 'port-scan'))).to.deep.equal([]);
  });
});
