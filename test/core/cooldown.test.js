'use strict';
const { expect } = require('chai');
const { CooldownGate, DEFAULT_COOLDOWN_MS, parseSchedules, activeSchedule } = require('../../dist/core/cooldown');

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
    // a repeat at the same packet time as the held one but of another window (another detector) is held too
    expect(gate.offer(event({ time: T0 + 10_000, window: { start: T0 + 1, end: T0 + 10_000, ms: 10_000 } })).pass).to.equal(false);
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

  it('the very same window again (a replay run again, also after a restart from the saved state) is a new run', function () {
    const gate = new CooldownGate({ cooldownMs: 5 * MIN });
    gate.offer(event({ key: 'src a', srcIp: 'a' }));
    gate.offer(event({ key: 'src b', srcIp: 'b', source: 'other.pcap' }));
    const restored = CooldownGate.fromSnapshot(JSON.parse(JSON.stringify(gate.toSnapshot())), { cooldownMs: 5 * MIN });
    const again = restored.offer(event({ key: 'src a', srcIp: 'a' }));
    expect(again.pass).to.equal(true);
    expect(again.event.suppressedCount).to.equal(0);
    // only the source that started over is forgotten: other.pcap's anomaly is still in its cooldown
    expect(restored.offer(event({ key: 'src b', srcIp: 'b', source: 'other.pcap', time: T0 + 10_000 })).pass).to.equal(false);
  });

  it('with cooldown 0 lets every event pass', function () {
    const gate = new CooldownGate({ cooldownMs: 0 });
    for (let i = 0; i < 5; i++) expect(gate.offer(event({ time: T0 + i })).pass).to.equal(true);
  });

  it('stays within maxKeys, evicting the pair whose latest event is oldest', function () {
    const gate = new CooldownGate({ cooldownMs: 5 * MIN, maxKeys: 3 });
    gate.offer(event({ key: 'src a', time: T0 }));
    gate.offer(event({ key: 'src b', time: T0 + 1 * MIN }));
    gate.offer(event({ key: 'src c', time: T0 + 2 * MIN }));
    // a passes again after its cooldown: now its last pass is the newest, b's is the oldest
    expect(gate.offer(event({ key: 'src a', time: T0 + 6 * MIN })).pass).to.equal(true);
    expect(gate.offer(event({ key: 'src d', time: T0 + 7 * MIN })).pass).to.equal(true);
    expect(gate.stats()).to.deep.include({ keys: 3, passed: 5, suppressed: 0, evictions: 1 });
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
    expect(() => CooldownGate.fromSnapshot({ ...good, version: 1, entries: [['k', 'static', 'soon', 'high', 0]] })).to.throw(/lastPassTime/);
    expect(() => CooldownGate.fromSnapshot({ ...good, entries: [{ key: 'k', rule: 'static', lastSeen: 'soon' }] })).to.throw(/entries\[0\]/);
    expect(() => CooldownGate.fromSnapshot({ ...good, version: 3 })).to.throw(/version/);
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
    expect(gate.stats()).to.deep.include({ keys: 0, passed: 0, suppressed: 0, evictions: 0, incidents: 0, resolved: 0 });
    expect(gate.offer(event({ time: T0 + 2 })).pass).to.equal(true);
  });
});

describe('CooldownGate: resolved events', function () {
  const SEC = 1000;
  it('resolves a (key, rule) after resolveAfterMs of ticks without an event, with duration, peak and repeats held', function () {
    const gate = new CooldownGate({ cooldownMs: 5 * MIN, resolveAfterMs: 30 * SEC });
    // fires in three windows (ending T0, T0+10 s, T0+20 s), values 500, 900, 700
    expect(gate.offer(event({ value: 500 })).pass).to.equal(true);
    expect(gate.offer(event({ time: T0 + 10 * SEC, window: { start: T0, end: T0 + 10 * SEC, ms: 10 * SEC }, value: 900 })).pass).to.equal(false);
    expect(gate.offer(event({ time: T0 + 20 * SEC, window: { start: T0 + 10 * SEC, end: T0 + 20 * SEC, ms: 10 * SEC }, value: 700 })).pass).to.equal(false);
    // ticks: 10, 20 and 29.999 s after the last event are not enough
    for (const t of [T0 + 20 * SEC, T0 + 30 * SEC, T0 + 40 * SEC, T0 + 50 * SEC - 1]) expect(gate.advance(t).events).to.deep.equal([]);
    const { events } = gate.advance(T0 + 50 * SEC);
    expect(events).to.have.length(1);
    const r = events[0];
    expect(r).to.include({ status: 'resolved', key: 'src 10.0.0.140', rule: 'port-scan', resolvedReason: 'quiet' });
    expect(r.time).to.equal(T0 + 50 * SEC); // last event + 30 s
    expect(r.firstSeen).to.equal(T0 - 10 * SEC); // window start of the first event
    expect(r.lastSeen).to.equal(T0 + 20 * SEC);
    expect(r.durationMs).to.equal(30 * SEC);
    expect(r.peakValue).to.equal(900);
    expect(r.suppressedCount).to.equal(2);
    expect(r.id).to.equal(`port-scan|src 10.0.0.140|${T0 - 10 * SEC}`);
    expect(r.message).to.match(/^Resolved: src 10\.0\.0\.140 port-scan/);
    expect(gate.stats()).to.include({ keys: 0, resolved: 1, incidents: 0 });
    // after resolution the next event is a new anomaly: it passes at once
    expect(gate.offer(event({ time: T0 + 60 * SEC })).pass).to.equal(true);
  });

  it('judges late ticks by packet time: one tick far ahead resolves at lastSeen + resolveAfterMs', function () {
    const gate = new CooldownGate({ resolveAfterMs: 30 * SEC });
    gate.offer(event());
    const { events } = gate.advance(T0 + 10 * MIN);
    expect(events.map((e) => e.time)).to.deep.equal([T0 + 30 * SEC]);
    expect(gate.advance(T0).events).to.deep.equal([]); // the clock never goes back; nothing open
  });

  it('resolveAfterMs 0 never resolves; without ticks nothing resolves', function () {
    const never = new CooldownGate({ resolveAfterMs: 0 });
    never.offer(event());
    expect(never.advance(T0 + 60 * MIN).events).to.deep.equal([]);
    const noTicks = new CooldownGate();
    noTicks.offer(event());
    expect(noTicks.offer(event({ time: T0 + 2 * MIN })).pass).to.equal(false); // still in cooldown: not resolved by events
  });

  it('endOfRun resolves what is open with reason "capture ended" and restarts the clock', function () {
    const gate = new CooldownGate();
    gate.offer(event());
    const { events } = gate.endOfRun(T0 + 10 * SEC);
    expect(events).to.have.length(1);
    expect(events[0]).to.include({ status: 'resolved', resolvedReason: 'capture ended', time: T0 + 10 * SEC });
    expect(gate.clockMs).to.equal(null);
  });

  it('rejects a tick that is not a finite number', function () {
    expect(() => new CooldownGate().advance('soon')).to.throw(RangeError, /tick time/);
  });
});

describe('CooldownGate: incidents', function () {
  const SEC = 1000;
  // a SYN flood on 10.0.0.5 as rule-detector reports it in one window: the interface, then the victim
  const flood = (t, over = {}) => [
    event({ time: t, window: { start: t - 10 * SEC, end: t, ms: 10 * SEC }, rule: 'dual-ewma', severity: 'high', scope: 'interface', key: 'iface eth0', srcIp: undefined, metric: 'synCount', value: 10000, deviationPercent: 900, ...over }),
    event({ time: t, window: { start: t - 10 * SEC, end: t, ms: 10 * SEC }, rule: 'dual-ewma', severity: 'high', scope: 'dstHost', key: 'dst 10.0.0.5', srcIp: undefined, dstIp: '10.0.0.5', metric: 'synCount', value: 9990, deviationPercent: 800, ...over }),
    event({ time: t, window: { start: t - 10 * SEC, end: t, ms: 10 * SEC }, rule: 'spike', severity: 'medium', scope: 'dstHost', key: 'dst 10.0.0.5', srcIp: undefined, dstIp: '10.0.0.5', metric: 'packetsPerSecond', value: 1000, deviationPercent: 700, ...over }),
  ];

  it('event mode: every (key, rule) passes once and carries the same incident id', function () {
    const gate = new CooldownGate();
    const { events } = gate.offerAll(flood(T0));
    expect(events.map((e) => `${e.key} ${e.rule}`)).to.deep.equal(['iface eth0 dual-ewma', 'dst 10.0.0.5 dual-ewma', 'dst 10.0.0.5 spike']);
    const ids = new Set(events.map((e) => e.incident.id));
    expect(ids.size).to.equal(1);
    expect(events[2].incident).to.include({ events: 3, keyCount: 2, severity: 'high' });
    expect(events[2].incident.addresses).to.deep.equal(['10.0.0.5']);
    expect(gate.stats().incidents).to.equal(1);
  });

  it('incident mode: a flood tripping several keys and rules in several windows is one page and one resolved event', function () {
    const gate = new CooldownGate({ notify: 'incident', resolveAfterMs: 30 * SEC });
    const first = gate.offerAll(flood(T0)).events;
    expect(first).to.have.length(1);
    expect(first[0].key).to.equal('dst 10.0.0.5'); // the victim, not the interface
    expect(first[0].rule).to.equal('dual-ewma'); // high before medium
    expect(first[0].incident.id).to.equal(`incident|iface eth0|${T0 - 10 * SEC}`);
    expect(first[0].suppressedCount).to.equal(0);
    const tick = (t) => gate.advance(t).events;
    expect(tick(T0)).to.deep.equal([]);
    expect(gate.offerAll(flood(T0 + 10 * SEC, { value: 20000 })).events).to.deep.equal([]);
    expect(tick(T0 + 10 * SEC)).to.deep.equal([]);
    // a source joins: a srcHost event of an attacker talking to the victim is another incident (no shared address)...
    // ...but a flow event from 10.0.0.9 to the victim ties 10.0.0.9 in
    expect(gate.offerAll([event({ time: T0 + 20 * SEC, scope: 'flow', key: 'tcp 10.0.0.9:1 > 10.0.0.5:80', srcIp: '10.0.0.9', dstIp: '10.0.0.5', rule: 'static', severity: 'high' })]).events).to.deep.equal([]);
    expect(gate.offerAll([event({ time: T0 + 20 * SEC, scope: 'srcHost', key: 'src 10.0.0.9', srcIp: '10.0.0.9', rule: 'static', severity: 'high' })]).events).to.deep.equal([]);
    expect(gate.stats().incidents).to.equal(1);
    for (const t of [20, 30, 40]) expect(tick(T0 + t * SEC)).to.deep.equal([]);
    const resolved = tick(T0 + 50 * SEC);
    expect(resolved).to.have.length(1);
    const r = resolved[0];
    expect(r).to.include({ status: 'resolved', key: 'dst 10.0.0.5', time: T0 + 50 * SEC, durationMs: 30 * SEC, peakValue: 20000, suppressedCount: 7 });
    expect(r.incident).to.include({ events: 8, keyCount: 4 }); // iface eth0, dst 10.0.0.5, the flow, src 10.0.0.9
    expect(r.incident.addresses).to.have.members(['10.0.0.5', '10.0.0.9']);
    expect(r.message).to.match(/^Resolved: incident on 10\.0\.0\.5, 10\.0\.0\.9 \(8 anomalies on 4 keys/);
    expect(gate.stats()).to.include({ incidents: 0, keys: 0, passed: 1, resolved: 1 });
  });

  it('incident mode: unrelated hosts are separate incidents; an escalation pages again; a reminder after the cooldown', function () {
    const gate = new CooldownGate({ notify: 'incident', cooldownMs: 5 * MIN, resolveAfterMs: 0 });
    const a = gate.offer(event({ key: 'src 10.0.0.1', srcIp: '10.0.0.1', severity: 'medium' }));
    const b = gate.offer(event({ key: 'src 10.0.0.2', srcIp: '10.0.0.2', severity: 'medium' }));
    expect(a.pass && b.pass).to.equal(true);
    expect(a.event.incident.id).to.not.equal(b.event.incident.id);
    expect(gate.offer(event({ key: 'dst 10.0.0.7', scope: 'dstHost', srcIp: undefined, dstIp: '10.0.0.1', time: T0 + 1000, severity: 'medium' }))).to.deep.equal({ pass: false, reason: 'cooldown', until: T0 + 5 * MIN });
    const up = gate.offer(event({ key: 'src 10.0.0.1', srcIp: '10.0.0.1', severity: 'high', time: T0 + 2000 }));
    expect(up.pass).to.equal(true);
    expect(up.event.suppressedCount).to.equal(1);
    const later = gate.offer(event({ key: 'src 10.0.0.1', srcIp: '10.0.0.1', severity: 'high', time: T0 + 2000 + 5 * MIN }));
    expect(later.pass).to.equal(true);
    // past the incident window (60 s after its latest event) the same address opens a new incident
    // (an anomaly still open keeps its incident: only a new key or rule is matched anew)
    const fresh = gate.offer(event({ key: 'dst 10.0.0.2', scope: 'dstHost', srcIp: undefined, dstIp: '10.0.0.2', severity: 'medium', time: T0 + 10 * MIN }));
    expect(fresh.pass).to.equal(true);
    expect(fresh.event.incident.id).to.not.equal(b.event.incident.id);
  });
});

describe('CooldownGate: maintenance', function () {
  const SEC = 1000;
  it('holds everything while on, goes on tracking, and summarises when it ends', function () {
    const gate = new CooldownGate({ resolveAfterMs: 30 * SEC });
    gate.offer(event({ key: 'src a', srcIp: 'a' })); // passed before maintenance
    expect(gate.setMaintenance(true, T0)).to.equal(null);
    expect(gate.stats().maintenance).to.equal(true);
    expect(gate.offer(event({ key: 'src b', srcIp: 'b', time: T0 + 10 * SEC }))).to.deep.equal({ pass: false, reason: 'maintenance', until: T0 + 10 * SEC });
    gate.offer(event({ key: 'src b', srcIp: 'b', rule: 'spike', time: T0 + 10 * SEC }));
    gate.offer(event({ key: 'src c', srcIp: 'c', time: T0 + 40 * SEC }));
    // a resolves during maintenance: not announced
    expect(gate.advance(T0 + 40 * SEC).events).to.deep.equal([]);
    const summary = gate.setMaintenance(false, T0 + 45 * SEC);
    expect(summary).to.include({ kind: 'netbaseline/maintenance-summary', start: T0, end: T0 + 45 * SEC, reason: 'manual', held: 3, resolvedHeld: 1, keyCount: 2, stillOpen: 1 });
    // a (notified) resolved at T0+30 s and b (never notified) at T0+40 s: only a counts as a held resolution
    expect(summary.byRule).to.deep.equal({ 'port-scan': 2, spike: 1 });
    expect(summary.keys).to.deep.equal(['src b', 'src c']);
    expect(summary.message).to.match(/3 alerts held back on 2 keys \(port-scan 2, spike 1\), 1 resolution not announced, 1 still open/);
    // c was never notified: its next event passes; its resolution is then announced
    expect(gate.offer(event({ key: 'src c', srcIp: 'c', time: T0 + 50 * SEC })).pass).to.equal(true);
    expect(gate.advance(T0 + 80 * SEC).events.map((e) => e.key)).to.deep.equal(['src c']);
  });

  it('parses schedules and judges them in their time zone, across midnight and daylight saving', function () {
    const s = parseSchedules('# nightly backups\nMon-Fri 22:00-06:00 Europe/Berlin\nsun 12:00-13:00\n');
    expect(s).to.have.length(2);
    expect(s[0]).to.include({ fromMinute: 22 * 60, toMinute: 6 * 60, timeZone: 'Europe/Berlin' });
    expect(s[0].days).to.deep.equal([1, 2, 3, 4, 5]);
    expect(s[1]).to.include({ timeZone: 'UTC' });
    expect(s[1].days).to.deep.equal([0]);
    // 2024-05-03 is a Friday; Berlin is UTC+2 in May (CEST)
    expect(activeSchedule(s, Date.UTC(2024, 4, 3, 19, 59))).to.equal(null); // 21:59 local
    expect(activeSchedule(s, Date.UTC(2024, 4, 3, 20, 0))).to.equal(s[0]); // 22:00 local Friday
    expect(activeSchedule(s, Date.UTC(2024, 4, 4, 3, 59))).to.equal(s[0]); // Saturday 05:59 local: Friday's window
    expect(activeSchedule(s, Date.UTC(2024, 4, 4, 4, 0))).to.equal(null); // Saturday 06:00 local
    expect(activeSchedule(s, Date.UTC(2024, 4, 4, 20, 30))).to.equal(null); // Saturday 22:30: not a listed day
    expect(activeSchedule(s, Date.UTC(2024, 4, 5, 12, 30))).to.equal(s[1]); // Sunday 12:30 UTC
    // January: Berlin is UTC+1 (CET): 22:00 local is 21:00 UTC
    expect(activeSchedule(s, Date.UTC(2024, 0, 8, 20, 30))).to.equal(null); // Monday 21:30 local
    expect(activeSchedule(s, Date.UTC(2024, 0, 8, 21, 0))).to.equal(s[0]);
    expect(parseSchedules('Fri-Mon 00:00-24:00')[0].days).to.deep.equal([0, 1, 5, 6]);
    expect(parseSchedules('daily 01:00-02:00 America/New_York')[0].days).to.have.length(7);
    expect(() => parseSchedules('Mon 22:00')).to.throw(RangeError, /line 1/);
    expect(() => parseSchedules('Funday 01:00-02:00')).to.throw(RangeError, /not a day/);
    expect(() => parseSchedules('Mon 25:00-26:00')).to.throw(RangeError, /00:00 to 24:00/);
    expect(() => parseSchedules('Mon 01:00-02:00 Mars/Olympus')).to.throw(RangeError, /unknown time zone/);
  });

  it('a schedule holds events on packet time and the summary comes with the first tick after it', function () {
    const gate = new CooldownGate({ schedules: parseSchedules('daily 10:00-10:05 UTC'), resolveAfterMs: 0 });
    // T0 is 10:00:00 UTC
    expect(gate.offer(event({ time: T0 + MIN })).reason).to.equal('maintenance');
    expect(gate.advance(T0 + 4 * MIN).summaries).to.deep.equal([]);
    const out = gate.advance(T0 + 5 * MIN);
    expect(out.summaries).to.have.length(1);
    expect(out.summaries[0]).to.include({ reason: 'schedule daily 10:00-10:05 UTC', held: 1, start: T0 + MIN, end: T0 + 5 * MIN });
    expect(gate.offer(event({ time: T0 + 6 * MIN })).pass).to.equal(true);
  });
});

describe('CooldownGate: state survives a restart', function () {
  it('round-trips open anomalies, incidents, clock and maintenance through JSON', function () {
    const opts = { notify: 'incident', resolveAfterMs: 30_000 };
    const gate = new CooldownGate(opts);
    const page = gate.offer(event({ key: 'src a', srcIp: 'a' }));
    gate.offer(event({ key: 'dst a', scope: 'dstHost', srcIp: undefined, dstIp: 'a', time: T0 + 10_000, value: 900 }));
    gate.advance(T0 + 10_000);
    gate.setMaintenance(true, T0 + 10_000);
    const restored = CooldownGate.fromSnapshot(JSON.parse(JSON.stringify(gate.toSnapshot())), opts);
    expect(restored.stats()).to.deep.equal(gate.stats());
    expect(restored.clockMs).to.equal(T0 + 10_000);
    expect(JSON.parse(JSON.stringify(restored.openAnomalies()))).to.deep.equal(JSON.parse(JSON.stringify(gate.openAnomalies())));
    expect(restored.setMaintenance(false, T0 + 20_000)).to.include({ start: T0 + 10_000, held: 0 });
    const r = restored.advance(T0 + 40_000).events;
    expect(r).to.have.length(1);
    expect(r[0]).to.include({ status: 'resolved', id: page.event.id.replace(/\|[^|]*$/, `|${T0 - 10_000}`) });
    expect(r[0].incident.id).to.equal(page.event.incident.id);
  });

  it('reads a version 1 snapshot of the first release', function () {
    const v1 = { kind: 'netbaseline/cooldown-snapshot', version: 1, passed: 2, suppressed: 3, evictions: 0, entries: [['src a', 'port-scan', T0, 'medium', 3]] };
    const gate = CooldownGate.fromSnapshot(v1);
    expect(gate.stats()).to.include({ keys: 1, passed: 2, suppressed: 3 });
    expect(gate.offer(event({ key: 'src a', time: T0 + 1000 })).pass).to.equal(false);
    const after = gate.offer(event({ key: 'src a', time: T0 + 5 * MIN }));
    expect(after.event.suppressedCount).to.equal(4);
  });
});
