'use strict';
const { expect } = require('chai');
const { CooldownGate, DEFAULT_COOLDOWN_MS } = require('../../dist/core/cooldown');

const T0 = Date.UTC(2024, 4, 1, 10, 0, 0); // 2024-05-01T10:00:00Z
const MIN = 60_000;

/** A hand-built anomaly event; only the fields the gate reads matter. */
function event(over = {}) {
  const base = {
    kind: 'netbaseline/anomaly', version: 1, status: 'firing',
    time: T0, window: { start: T0 - 10_000, end: T0, ms: 10_000 },
    rule: 'port-scan', severity: 'medium', scope: 'srcHost', key: 'src 10.0.0.140', srcIp: '10.0.0.140',
    metric: 'distinctDstPorts', value: 500, threshold: 100, baseline: null, deviationPercent: 400,
    message: 'src 10.0.0.140 sent SYNs to 500 ports', source: 'test.pcap',
    findings: [{ rule: 'port-scan', severity: 'medium', metric: 'distinctDstPorts', value: 500, threshold: 100, baseline: null, deviationPercent: 400, explanation: '500 > 100' }],
  };
  const e = { ...base, ...over };
  e.id = `${e.rule}|${e.key}|${e.window.start}`;
  return e;
}

describe('CooldownGate', function () {
  it('lets the first event pass with suppressedCount 0, as a copy', function () {
    const gate = new CooldownGate();
    const e = event();
    const d = gate.offer(e);
    expect(d.pass).to.equal(true);
    expect(d.event.suppressedCount).to.equal(0);
    expect(d.event.key).to.equal('src 10.0.0.140');
    expect(d.event).to.not.equal(e);
    expect(d.event.findings).to.not.equal(e.findings);
    expect(e).to.not.have.property('suppressedCount'); // input untouched
    expect(gate.stats()).to.deep.include({ keys: 1, passed: 1, suppressed: 0 });
  });

  it('holds a repeat inside the cooldown and says until when', function () {
    const gate = new CooldownGate({ cooldownMs: 5 * MIN });
    gate.offer(event());
    const d = gate.offer(event({ time: T0 + 10_000 }));
    expect(d).to.deep.equal({ pass: false, reason: 'cooldown', until: T0 + 5 * MIN });
    // an event at exactly the same packet time (same window again) is a repeat too
    expect(gate.offer(event({ time: T0 })).pass).to.equal(false);
    expect(gate.stats()).to.deep.include({ passed: 1, suppressed: 2 });
  });

  it('lets a higher severity pass at once (escalation) and restarts the cooldown from it', function () {
    const gate = new CooldownGate({ cooldownMs: 5 * MIN });
    gate.offer(event({ severity: 'medium' }));
    expect(gate.offer(event({ time: T0 + 10_000 })).pass).to.equal(false);
    const up = gate.offer(event({ time: T0 + 20_000, severity: 'high' }));
    expect(up.pass).to.equal(true);
    expect(up.event.severity).to.equal('high');
    expect(up.event.suppressedCount).to.equal(1); // the medium repeat held before it
    // high again, and medium after high: both repeats now
    expect(gate.offer(event({ time: T0 + 30_000, severity: 'high' })).pass).to.equal(false);
    const down = gate.offer(event({ time: T0 + 40_000, severity: 'medium' }));
    expect(down).to.deep.equal({ pass: false, reason: 'cooldown', until: T0 + 20_000 + 5 * MIN });
  });

  it('after the cooldown passes the next event with the count of repeats held meanwhile', function () {
    const gate = new CooldownGate({ cooldownMs: 5 * MIN });
    gate.offer(event());
    for (let i = 1; i <= 29; i++) expect(gate.offer(event({ time: T0 + i * 10_000 })).pass, `repeat ${i}`).to.equal(false);
    // T0 + 5 min is the first instant outside the cooldown
    const d = gate.offer(event({ time: T0 + 5 * MIN }));
    expect(d.pass).to.equal(true);
    expect(d.event.suppressedCount).to.equal(29);
    // the count starts again from zero for the next cooldown
    expect(gate.offer(event({ time: T0 + 6 * MIN })).pass).to.equal(false);
    const d2 = gate.offer(event({ time: T0 + 11 * MIN }));
    expect(d2.pass).to.equal(true);
    expect(d2.event.suppressedCount).to.equal(1);
    expect(gate.stats()).to.deep.include({ keys: 1, passed: 3, suppressed: 30 });
  });

  it('uses 5 minutes of packet time by default', function () {
    expect(DEFAULT_COOLDOWN_MS).to.equal(5 * MIN);
    const gate = new CooldownGate();
    gate.offer(event());
    expect(gate.offer(event({ time: T0 + 5 * MIN - 1 })).pass).to.equal(false);
    expect(gate.offer(event({ time: T0 + 5 * MIN })).pass).to.equal(true);
  });

  it('gates different rules of the same key, and different keys, independently', function () {
    const gate = new CooldownGate({ cooldownMs: 5 * MIN });
    expect(gate.offer(event({ rule: 'port-scan' })).pass).to.equal(true);
    expect(gate.offer(event({ rule: 'static', metric: 'synCount', time: T0 + 1000 })).pass).to.equal(true);
    expect(gate.offer(event({ key: 'src 10.0.0.141', time: T0 + 2000 })).pass).to.equal(true);
    expect(gate.offer(event({ rule: 'port-scan', time: T0 + 3000 })).pass).to.equal(false);
    expect(gate.offer(event({ rule: 'static', metric: 'synCount', time: T0 + 4000 })).pass).to.equal(false);
    expect(gate.stats()).to.deep.include({ keys: 3, passed: 3, suppressed: 2 });
  });

  it('treats an event earlier than the last passed one as a new run (replay restarted): it passes', function () {
    const gate = new CooldownGate({ cooldownMs: 5 * MIN });
    gate.offer(event({ time: T0 + 10 * MIN }));
    expect(gate.offer(event({ time: T0 + 11 * MIN })).pass).to.equal(false);
    const again = gate.offer(event({ time: T0 }));
    expect(again.pass).to.equal(true);
    expect(again.event.suppressedCount).to.equal(0); // held repeats belong to the previous run
    // the new run has its own cooldown, from T0
    expect(gate.offer(event({ time: T0 + MIN })).pass).to.equal(false);
    expect(gate.offer(event({ time: T0 + 5 * MIN })).pass).to.equal(true);
    expect(gate.stats()).to.deep.include({ keys: 1, passed: 3, suppressed: 2 });
  });

  it('with cooldown 0 lets every event pass', function () {
    const gate = new CooldownGate({ cooldownMs: 0 });
    for (let i = 0; i < 5; i++) expect(gate.offer(event({ time: T0 + i })).pass).to.equal(true);
  });

  it('stays within maxKeys, evicting the pair whose cooldown ended longest ago', function () {
    const gate = new CooldownGate({ cooldownMs: 5 * MIN, maxKeys: 3 });
    gate.offer(event({ key: 'src a', time: T0 }));
    gate.offer(event({ key: 'src b', time: T0 + 1 * MIN }));
    gate.offer(event({ key: 'src c', time: T0 + 2 * MIN }));
    // a passes again after its cooldown: now its last pass is the newest, b's is the oldest
    expect(gate.offer(event({ key: 'src a', time: T0 + 6 * MIN })).pass).to.equal(true);
    expect(gate.offer(event({ key: 'src d', time: T0 + 7 * MIN })).pass).to.equal(true);
    expect(gate.stats()).to.deep.equal({ keys: 3, passed: 5, suppressed: 0, evictions: 1 });
    // a, c, d are remembered: repeats inside their cooldown are held
    expect(gate.offer(event({ key: 'src a', time: T0 + 7 * MIN })).pass).to.equal(false);
    expect(gate.offer(event({ key: 'src c', time: T0 + 7 * MIN - 1 })).pass).to.equal(false);
    expect(gate.offer(event({ key: 'src d', time: T0 + 7 * MIN + 1 })).pass).to.equal(false);
    // b forgotten: a repeat of b one ms after its last pass would have been held; now it passes
    const gate2 = new CooldownGate({ cooldownMs: 5 * MIN, maxKeys: 2 });
    gate2.offer(event({ key: 'src b', time: T0 }));
    gate2.offer(event({ key: 'src x', time: T0 + 1 }));
    gate2.offer(event({ key: 'src y', time: T0 + 2 })); // evicts b
    expect(gate2.offer(event({ key: 'src x', time: T0 + 3 })).pass).to.equal(false);
    expect(gate2.offer(event({ key: 'src b', time: T0 + 4 })).pass).to.equal(true);
    expect(gate2.stats().keys).to.equal(2);
  });

  it('round-trips through a JSON snapshot and keeps counting where it left off', function () {
    const gate = new CooldownGate({ cooldownMs: 5 * MIN });
    gate.offer(event({ key: 'src a' }));
    gate.offer(event({ key: 'src a', time: T0 + 1000 }));
    gate.offer(event({ key: 'src a', time: T0 + 2000 }));
    gate.offer(event({ key: 'src b', rule: 'spike', severity: 'high', time: T0 + 3000 }));
    const json = JSON.stringify(gate.toSnapshot());
    const restored = CooldownGate.fromSnapshot(JSON.parse(json), { cooldownMs: 5 * MIN });
    expect(restored.stats()).to.deep.equal(gate.stats());
    expect(restored.offer(event({ key: 'src a', time: T0 + 3000 })).pass).to.equal(false);
    const after = restored.offer(event({ key: 'src a', time: T0 + 5 * MIN }));
    expect(after.pass).to.equal(true);
    expect(after.event.suppressedCount).to.equal(3); // 2 before the snapshot, 1 after
    // severity survived: medium after high is still a repeat
    expect(restored.offer(event({ key: 'src b', rule: 'spike', severity: 'medium', time: T0 + 4000 })).pass).to.equal(false);
  });

  it('fromSnapshot keeps the newest pairs when the snapshot is larger than maxKeys', function () {
    const gate = new CooldownGate({ cooldownMs: 5 * MIN });
    for (const [i, k] of ['src a', 'src b', 'src c'].entries()) gate.offer(event({ key: k, time: T0 + i }));
    const small = CooldownGate.fromSnapshot(gate.toSnapshot(), { cooldownMs: 5 * MIN, maxKeys: 2 });
    expect(small.stats()).to.include({ keys: 2, evictions: 1 });
    expect(small.offer(event({ key: 'src a', time: T0 + 10 })).pass).to.equal(true); // a was dropped
  });

  it('rejects bad snapshots with a ContractError naming the field', function () {
    expect(() => CooldownGate.fromSnapshot(null)).to.throw(/expected an object/);
    expect(() => CooldownGate.fromSnapshot({ kind: 'x' })).to.throw(/kind/);
    const good = new CooldownGate().toSnapshot();
    expect(() => CooldownGate.fromSnapshot({ ...good, entries: [['k', 'static', 'soon', 'high', 0]] })).to.throw(/lastPassTime/);
    expect(() => CooldownGate.fromSnapshot({ ...good, passed: -1 })).to.throw(/passed/);
  });

  it('rejects bad options with a RangeError', function () {
    expect(() => new CooldownGate({ cooldownMs: -1 })).to.throw(RangeError, /cooldownMs/);
    expect(() => new CooldownGate({ cooldownMs: NaN })).to.throw(RangeError, /cooldownMs/);
    expect(() => new CooldownGate({ maxKeys: 0 })).to.throw(RangeError, /maxKeys/);
    expect(() => new CooldownGate({ maxKeys: 2.5 })).to.throw(RangeError, /maxKeys/);
  });

  it('rejects a malformed event with a ContractError and leaves its state unchanged', function () {
    const gate = new CooldownGate({ cooldownMs: 5 * MIN });
    gate.offer(event());
    const before = JSON.stringify(gate.toSnapshot());
    expect(() => gate.offer({ kind: 'netbaseline/anomaly', key: 'src 10.0.0.140' })).to.throw(/anomaly: rule must be a string/);
    expect(() => gate.offer(event({ time: 'yesterday' }))).to.throw(/time must be a finite number/);
    expect(() => gate.offer(undefined)).to.throw(/expected an anomaly object/);
    expect(JSON.stringify(gate.toSnapshot())).to.equal(before);
  });

  it('reset forgets every pair and zeroes the counters', function () {
    const gate = new CooldownGate({ cooldownMs: 5 * MIN });
    gate.offer(event());
    gate.offer(event({ time: T0 + 1 }));
    gate.reset();
    expect(gate.stats()).to.deep.equal({ keys: 0, passed: 0, suppressed: 0, evictions: 0 });
    expect(gate.offer(event({ time: T0 + 2 })).pass).to.equal(true);
  });
});
