'use strict';
const { expect } = require('chai');
const { scoreRun, summarize, median } = require('../../dist/synth/score.js');

// Hand-made truth: times in ms from 0; a 2-hour capture.
const ev = (id, kind, malicious, startMs, endMs, alertKeys, hosts) => ({ id, kind, malicious, startMs, endMs, alertKeys, hosts, packets: 0, params: {}, description: '' });
const TRUTH = {
  durationMs: 2 * 3_600_000,
  events: [
    ev('f', 'syn-flood', true, 1_000_000, 1_060_000, ['dst 10.0.0.5'], ['10.0.0.5']),
    ev('s', 'vertical-scan', true, 2_000_000, 2_030_000, ['src 10.0.0.9'], ['10.0.0.9', '10.0.0.7']),
    ev('l', 'lateral-movement', true, 3_000_000, 3_100_000, ['src 10.0.0.8'], ['10.0.0.8']),
    ev('b', 'nightly-backup', false, 4_000_000, 4_300_000, ['dst 10.0.0.6'], ['10.0.0.6', '10.0.0.20']),
  ],
};
/** An alert on `key` for the 10 s window starting at `start` (time = window end). */
const alert = (key, start, extra = {}) => {
  const scope = key.startsWith('dst') ? 'dstHost' : key.startsWith('src') ? 'srcHost' : 'interface';
  const ip = key.split(' ')[1];
  return { key, scope, rule: 'spike', time: start + 10_000, window: { start, end: start + 10_000 }, status: 'firing', ...(scope === 'dstHost' ? { dstIp: ip } : scope === 'srcHost' ? { srcIp: ip } : {}), ...extra };
};

describe('quality scorer (src/synth/score.ts)', function () {
  const alerts = [
    alert('dst 10.0.0.5', 1_000_000), // a1 hit flood, delay 10 s
    alert('dst 10.0.0.5', 1_050_000), // a2 second hit
    alert('iface eth0', 1_020_000), // a3 interface during the flood: related
    alert('src 10.0.0.9', 2_020_000), // a4 hit scan, delay 30 s
    alert('dst 10.0.0.5', 1_110_000), // a5 starts 50 s after the flood's end: inside the 60 s grace → hit
    alert('dst 10.0.0.6', 4_100_000), // a6 backup server during the backup: benign
    alert('src 10.0.0.20', 4_200_000), // a7 a backup client during the backup: benign
    alert('dst 10.0.0.99', 5_000_000), // a8 nothing going on: false
    alert('dst 10.0.0.5', 500_000), // a9 victim before its flood: false
    alert('dst 10.0.0.5', 1_010_000, { status: 'resolved' }), // a10 not a firing alert: ignored
    alert('dst 10.0.0.7', 2_010_000), // a11 the scan's target, not its expected key: related
  ];

  it('classifies each firing alert and finds detection and delay per event', function () {
    const r = scoreRun(TRUTH, alerts);
    expect(r.counts).to.deep.equal({ alerts: 10, hits: 4, relatedToAttack: 2, benign: 2, false: 2 });
    const by = Object.fromEntries(r.events.map((o) => [o.event.id, o]));
    expect(by.f).to.include({ detected: true, delayMs: 10_000, hits: 3, related: 1 });
    expect(by.s).to.include({ detected: true, delayMs: 30_000, hits: 1, related: 1 });
    expect(by.l).to.include({ detected: false, delayMs: null, hits: 0 });
    expect(by.b).to.include({ detected: false, related: 2 });
    expect(r.hours).to.equal(2);
  });

  it('the grace after an event is a parameter: without it the late alert is false', function () {
    const r = scoreRun(TRUTH, alerts, 0);
    expect(r.counts).to.deep.equal({ alerts: 10, hits: 3, relatedToAttack: 2, benign: 2, false: 3 });
    expect(() => scoreRun(TRUTH, alerts, -1)).to.throw(RangeError);
  });

  it('an alert on an attack\'s expected key that only overlaps a benign event is benign, not a hit', function () {
    const r = scoreRun(TRUTH, [alert('src 10.0.0.9', 4_100_000)]);
    // src 10.0.0.9 is the scanner, but at 4,100 s only the backup runs and it does not involve that host
    expect(r.counts.false).to.equal(1);
    const r2 = scoreRun(TRUTH, [alert('iface eth0', 4_100_000)]);
    expect(r2.counts.benign).to.equal(1);
  });

  it('sums runs per kind: recall, median delay, false and benign alerts per hour', function () {
    const run1 = scoreRun(TRUTH, alerts);
    const run2 = scoreRun(TRUTH, [alert('src 10.0.0.9', 2_040_000), alert('dst 10.0.0.99', 6_000_000)]);
    const s = summarize([run1, run2]);
    const k = Object.fromEntries(s.kinds.map((x) => [x.kind, x]));
    expect(k['syn-flood']).to.include({ events: 2, detected: 1, recall: 0.5, medianDelayMs: 10_000 });
    expect(k['vertical-scan']).to.include({ events: 2, detected: 2, recall: 1, medianDelayMs: 40_000 }); // delays 30 s and 50 s
    expect(k['vertical-scan'].delaysMs).to.deep.equal([30_000, 50_000]);
    expect(k['lateral-movement']).to.include({ events: 2, detected: 0, recall: 0, medianDelayMs: null });
    expect(k['nightly-backup']).to.include({ malicious: false, events: 2, alerts: 2 });
    expect(s.recall).to.be.closeTo(3 / 6, 1e-12);
    expect(s.hours).to.equal(4);
    expect(s.falseAlerts).to.equal(3);
    expect(s.falseAlertsPerHour).to.equal(0.75);
    expect(s.benignAlertsPerHour).to.equal(0.5);
    expect(s.alerts).to.equal(12);
  });

  it('median of odd and even counts, null for none', function () {
    expect(median([5, 1, 3])).to.equal(3);
    expect(median([4, 1, 3, 2])).to.equal(2.5);
    expect(median([])).to.equal(null);
  });
});
