'use strict';
/**
 * The rules of issue #6 on hand-built windows whose answer follows from the rule's definition
 * (README "Rules"): sensitivity profiles, latency, packet loss, protocol shift, long-lived flows,
 * amplification, unsolicited SYN-ACKs, SYN flood, horizontal scan, ICMP sweep; hints, score and
 * contributors; each on traffic where it must fire and where it must not.
 */
const { expect } = require('chai');
const { RuleDetector, resolveDetectorOptions, SENSITIVITY_PROFILES, scoreEvent } = require('../../dist/core/rules.js');
const { ProfiledDetector, mergeOverride } = require('../../dist/core/overrides.js');
const { CooldownGate } = require('../../dist/core/cooldown.js');
const { formatAnomaly } = require('../../dist/core/formatter.js');
const { assertAnomalyEvent } = require('../../dist/core/contracts.js');

const { WIN, T0, windowMessage } = require('../fixtures/windows');

const win = (i, records) => windowMessage(i, records, { source: 'hand-built' });
const mb = (fast, slow, std, samples = 100) => ({ fast, slow, mean: slow, std, samples });
const base = (state, metrics, extra = {}) => ({ state, firstSeen: T0 - 3_600_000, samples: 100, metrics, ...extra });
const dstRec = (ip, metrics, baseline) => ({ scope: 'dstHost', key: `dst ${ip}`, dstIp: ip, metrics, ...(baseline && { baseline }) });
const srcRec = (ip, metrics, extra = {}) => ({ scope: 'srcHost', key: `src ${ip}`, srcIp: ip, metrics, ...extra });
/** A flow record as flow-aggregator writes it. */
function flowRec(proto, src, sport, dst, dport, metrics, extra = {}) {
  const key = proto === 'icmp' ? `icmp ${src} > ${dst} type ${dport >> 8} code ${dport & 0xff}` : `${proto} ${src}:${sport} > ${dst}:${dport}`;
  return { scope: 'flow', key, srcIp: src, dstIp: dst, protocol: proto, ...(proto !== 'icmp' && { srcPort: sport }), dstPort: dport, metrics: { packets: 1, bytes: 60, ...metrics }, ...extra };
}
const rules = (events) => events.flatMap((e) => e.findings.map((f) => f.rule));
const only = (events, rule) => events.filter((e) => e.findings.some((f) => f.rule === rule));

describe('sensitivity profiles', function () {
  it('steady / default / spiky set fast × 2 / 3 / 5 and scale slow ×, high σ and medium σ by the same ratio', function () {
    expect(SENSITIVITY_PROFILES.default).to.deep.equal({ fastMultiplier: 3, slowMultiplier: 5, highSigma: 3, mediumSigma: 2 });
    for (const [name, fast] of [['steady', 2], ['spiky', 5]]) {
      const p = SENSITIVITY_PROFILES[name];
      expect(p.fastMultiplier).to.equal(fast);
      expect(p.slowMultiplier).to.be.closeTo(5 * fast / 3, 1e-12);
      expect(p.highSigma).to.be.closeTo(3 * fast / 3, 1e-12);
      expect(p.mediumSigma).to.be.closeTo(2 * fast / 3, 1e-12);
    }
  });

  it('a preset replaces the explicit multipliers; custom (or none) keeps them; an unknown name is a RangeError', function () {
    const o = resolveDetectorOptions({ profile: 'spiky', dualEwma: { fastMultiplier: 1.1 }, spike: { highSigma: 1.2, mediumSigma: 1.1 } });
    expect(o.dualEwma.fastMultiplier).to.equal(5);
    expect(o.spike.highSigma).to.equal(5);
    const c = resolveDetectorOptions({ profile: 'custom', dualEwma: { fastMultiplier: 1.1 } });
    expect(c.dualEwma.fastMultiplier).to.equal(1.1);
    expect(c.dualEwma.slowMultiplier).to.equal(5);
    expect(() => resolveDetectorOptions({ profile: 'paranoid' })).to.throw(RangeError, /profile must be one of steady, default, spiky, custom/);
  });

  it('the same burst fires under steady, not under default (3.5×); fires under default, not spiky (5.5×)', function () {
    // fast = slow = 100 new flows, σ tiny (floored at 10 % of μ = 10)
    const rec = (v) => dstRec('10.0.0.5', { newFlows: v }, base('mature', { newFlows: mb(100, 100, 1) }));
    const fires = (profile, v) => rules(new RuleDetector({ profile }).evaluate(win(0, [rec(v)]))).includes('dual-ewma');
    expect(fires('steady', 350)).to.equal(true); // > 2 × 100 and > 3.33 × 100
    expect(fires('steady', 250)).to.equal(false); // > 2 × 100 but not > 3.33 × 100: both EWMAs must be exceeded
    expect(fires('default', 350)).to.equal(false); // > 3 × 100 but not > 5 × 100
    expect(fires('default', 550)).to.equal(true); // > 3 × 100 and > 5 × 100
    expect(fires('spiky', 550)).to.equal(false); // not > 8.33 × 100
    // spike: μ 100, σ 10: 125 is above μ + 2σ (steady high) but below μ + 3σ (default high: 130) and μ + 2σ·… medium 120
    const spike = (profile, v) => new RuleDetector({ profile }).evaluate(win(0, [rec(v)]))[0]?.findings.find((f) => f.rule === 'spike')?.severity;
    expect(spike('steady', 125)).to.equal('high'); // μ + 2σ = 120
    expect(spike('default', 125)).to.equal('medium'); // μ + 2σ = 120 < 125 < 130
    expect(spike('spiky', 125)).to.equal(undefined); // μ + 3.33σ = 133
  });

  it('an override can name a profile (CIDR → profile); its explicit numbers beat the profile, the node keeps its own', function () {
    const merged = mergeOverride({ profile: 'default' }, { cidr: '10.0.0.5/32', profile: 'spiky', slowMultiplier: 6 });
    const o = resolveDetectorOptions(merged);
    expect(o.dualEwma.fastMultiplier).to.equal(5);
    expect(o.dualEwma.slowMultiplier).to.equal(6);
    expect(o.spike.highSigma).to.equal(5);
    const d = new ProfiledDetector({ profile: 'default' }, [{ cidr: '10.0.0.5/32', profile: 'spiky' }]);
    const rec = (ip) => dstRec(ip, { newFlows: 550 }, base('mature', { newFlows: mb(100, 100, 1) }));
    const events = d.evaluate(win(0, [rec('10.0.0.5'), rec('10.0.0.6')]));
    // 550 < 8.33 × 100 for the spiky host; > 5 × 100 for the other
    expect(events.filter((e) => e.findings.some((f) => f.rule === 'dual-ewma')).map((e) => e.key)).to.deep.equal(['dst 10.0.0.6']);
  });
});

describe('latency rule (handshake RTT)', function () {
  const rec = (rtt, handshakes = 10, state = 'mature', slow = 20) => dstRec('10.0.0.80', { handshakeRttMs: rtt, handshakes }, base(state, { handshakeRttMs: mb(slow, slow, 2) }));
  const sev = (r, opts) => new RuleDetector(opts).evaluate(win(0, [r]))[0]?.findings.find((f) => f.rule === 'latency')?.severity;

  it('> 2× baseline → high, > 1.5× → medium, below → nothing', function () {
    expect(sev(rec(45))).to.equal('high'); // 45 > 40
    expect(sev(rec(35))).to.equal('medium'); // 30 < 35 ≤ 40
    expect(sev(rec(29))).to.equal(undefined);
  });

  it('needs enough handshakes, an increase of ≥ 10 ms, and (by default) a mature baseline', function () {
    expect(sev(rec(45, 4))).to.equal(undefined); // 4 < 5 handshakes
    expect(sev(rec(5, 10, 'mature', 2))).to.equal(undefined); // 2.5× but only +3 ms
    expect(sev(rec(45, 10, 'learning'))).to.equal(undefined);
    expect(sev(rec(45, 10, 'learning'), { latency: { minState: 'learning' } })).to.equal('high');
    expect(sev(rec(45), { latency: { enabled: false } })).to.equal(undefined);
  });
});

describe('packet-loss rule', function () {
  const rec = (retrans, segments) => srcRec('10.0.0.9', { tcpRetransmissions: retrans, packetLossPercent: retrans / segments * 100 });
  const find = (r, opts) => new RuleDetector(opts).evaluate(win(0, [r]))[0]?.findings.find((f) => f.rule === 'packet-loss');

  it('> 5 % → high, > 2 % → medium, with enough data segments; any maturity', function () {
    expect(find(rec(10, 150)).severity).to.equal('high'); // 6.7 %
    expect(find(rec(4, 150)).severity).to.equal('medium'); // 2.7 %
    expect(find(rec(1, 200))).to.equal(undefined); // 0.5 %
    const f = find(rec(10, 150));
    expect(f.value).to.be.closeTo(6.667, 1e-3);
    expect(f.explanation).to.include('10 retransmitted of 150 TCP data segments');
  });

  it('1 of 3 is not 33 % loss: fewer than minSegments data segments never fire', function () {
    expect(find(rec(1, 3))).to.equal(undefined);
    expect(find(rec(30, 99))).to.equal(undefined); // 30 % of 99 segments
    expect(find(rec(1, 3), { packetLoss: { minSegments: 3 } }).severity).to.equal('high');
  });
});

describe('protocol-shift rule', function () {
  const rec = (udp, packets = 500, state = 'mature') => dstRec('10.0.0.7', { packets, udpPacketsPercent: udp, tcpPacketsPercent: 100 - udp }, base(state, { udpPacketsPercent: mb(10, 10, 2), tcpPacketsPercent: mb(90, 90, 2) }));
  const shifts = (r, opts) => (new RuleDetector(opts).evaluate(win(0, [r]))[0]?.findings ?? []).filter((f) => f.rule === 'protocol-shift');

  it('a share moving > 30 points → medium, > 50 → high (both the share that rose and the one that fell)', function () {
    const m = shifts(rec(45)); // UDP 10 → 45, TCP 90 → 55: 35 points each
    expect(m.map((f) => [f.metric, f.severity]).sort()).to.deep.equal([['tcpPacketsPercent', 'medium'], ['udpPacketsPercent', 'medium']]);
    expect(m.find((f) => f.metric === 'udpPacketsPercent').explanation).to.include('up 35 points');
    expect(shifts(rec(70)).every((f) => f.severity === 'high')).to.equal(true); // 60 points
  });

  it('baseline shares diluted by empty windows (0 % in every share) are normalised by their sum', function () {
    // 70 % of the windows were empty: TCP slow EWMA 30, the others 0 → the key's baseline is 100 % TCP
    const diluted = (tcp, udp) => dstRec('10.0.0.8', { packets: 500, tcpPacketsPercent: 100, udpPacketsPercent: 0 },
      base('mature', { tcpPacketsPercent: mb(tcp, tcp, 1), udpPacketsPercent: mb(udp, udp, 1), icmpPacketsPercent: mb(0, 0, 0), otherPacketsPercent: mb(0, 0, 0) }));
    expect(shifts(diluted(30, 0))).to.deep.equal([]);
    // TCP 15 + UDP 15 of 30: a 50/50 key; 100 % TCP now is 50 points up (medium: not > 50)
    const m = shifts(diluted(15, 15));
    expect(m.map((f) => [f.metric, f.severity]).sort()).to.deep.equal([['tcpPacketsPercent', 'medium'], ['udpPacketsPercent', 'medium']]);
    expect(m.find((f) => f.metric === 'tcpPacketsPercent').explanation).to.include('from its baseline 50%');
  });

  it('does not fire within 30 points, on a quiet window (< 100 packets) or on a learning key (default)', function () {
    expect(shifts(rec(35))).to.deep.equal([]); // 25 points
    expect(shifts(rec(70, 50))).to.deep.equal([]);
    expect(shifts(rec(70, 500, 'learning'))).to.deep.equal([]);
    expect(shifts(rec(70, 500, 'learning'), { protocolShift: { minState: 'learning' } })).to.have.length(2);
  });
});

describe('long-lived rule (flow duration vs its service)', function () {
  const S = 1000;
  /** An ended flow report of service tcp/22. */
  const ended = (i, durationMs, bytes = 50_000, reason = 'fin') => flowRec('tcp', '10.0.0.2', 40000 + i, '10.0.0.22', 22, { flowDurationMs: durationMs },
    { flowEnd: { reason, ended: true, firstSeen: T0, lastSeen: T0 + durationMs, durationMs, bytes, packets: 100 } });
  function teach(d, n, durationMs) { for (let i = 0; i < n; i++) d.evaluate(win(i, [ended(i, durationMs)])); }

  it('learns the mean duration of ended flows; a running flow above 2× → high once, its end report again (idle under 1,000 bytes)', function () {
    const d = new RuleDetector();
    teach(d, 20, 400 * S);
    expect(d.serviceDuration('tcp/22')).to.deep.equal({ flows: 20, meanMs: 400 * S });
    const running = (ms) => flowRec('tcp', '10.0.0.3', 50000, '10.0.0.22', 22, { flowDurationMs: ms });
    const e1 = d.evaluate(win(30, [running(900 * S)]));
    expect(rules(e1)).to.deep.equal(['long-lived']);
    expect(e1[0].severity).to.equal('high');
    expect(e1[0].threshold).to.equal(800 * S);
    expect(d.evaluate(win(31, [running(910 * S)]))).to.deep.equal([]); // reported once while it runs
    const end = flowRec('tcp', '10.0.0.3', 50000, '10.0.0.22', 22, { flowDurationMs: 920 * S },
      { flowEnd: { reason: 'idle', ended: true, firstSeen: T0, lastSeen: T0 + 920 * S, durationMs: 920 * S, bytes: 700, packets: 9 } });
    const e2 = d.evaluate(win(32, [end]));
    expect(rules(e2)).to.deep.equal(['long-lived']);
    expect(e2[0].message).to.match(/^idle long-lived flow .*under 1,000 bytes moved/);
    // the long flow is learned clipped at 2× the mean: 400 + 0.05 × (800 − 400) = 420 s
    expect(d.serviceDuration('tcp/22').meanMs).to.be.closeTo(420 * S, 1e-6);
  });

  it('1.5× → medium; not below 1.5×, not before 20 ended flows, not under 10 minutes; end-of-capture is not learned', function () {
    const d = new RuleDetector();
    teach(d, 19, 400 * S);
    const running = (port, ms) => flowRec('tcp', '10.0.0.3', port, '10.0.0.22', 22, { flowDurationMs: ms });
    expect(d.evaluate(win(40, [running(50001, 900 * S)]))).to.deep.equal([]); // 19 flows
    d.evaluate(win(41, [ended(99, 400 * S, 50_000, 'end-of-capture')]));
    expect(d.serviceDuration('tcp/22').flows).to.equal(19);
    teach(d, 1, 400 * S);
    const med = d.evaluate(win(42, [running(50002, 700 * S)]));
    expect(med[0].findings[0]).to.include({ rule: 'long-lived', severity: 'medium' });
    expect(d.evaluate(win(43, [running(50003, 550 * S)]))).to.deep.equal([]); // 1.375×
    const short = new RuleDetector();
    teach(short, 20, 10 * S);
    expect(short.evaluate(win(50, [running(50004, 300 * S)]))).to.deep.equal([]); // 30× but 5 min < 10 min
  });
});

describe('amplification rule', function () {
  it('without a baseline: reflector-port UDP above 25 kB/s from ≥ 10 sources → high, named by protocol', function () {
    const rec = (bytes, peers) => dstRec('10.10.10.10', { udpReflectorBytes: bytes, udpReflectorBytes123: bytes, distinctPeers: peers, udpPacketsPercent: 100, packetsPerSecond: 50 });
    const [e] = new RuleDetector().evaluate(win(0, [rec(2_000_000, 50)]));
    expect(e.rule).to.equal('amplification');
    expect(e.metric).to.equal('udpReflectorBytes123');
    expect(e.threshold).to.equal(250_000); // 25,000 B/s × 10 s
    expect(e.hints).to.include('NTP amplification (UDP source port 123)');
    expect(e.hints).to.not.include('UDP flood'); // amplification explains the UDP
    expect(e.message).to.match(/hint: NTP amplification \(UDP source port 123\).*not a verdict/);
    expect(new RuleDetector().evaluate(win(0, [rec(2_000_000, 2)]))).to.deep.equal([]); // one or two DNS/NTP servers
    expect(new RuleDetector().evaluate(win(0, [rec(200_000, 50)]))).to.deep.equal([]); // 20 kB/s
  });

  it('with a baseline for that port: above fast × 3 and slow × 5 (the profile\'s multipliers)', function () {
    const rec = (bytes) => dstRec('10.0.0.53', { udpReflectorBytes: bytes, udpReflectorBytes53: bytes, distinctPeers: 3 },
      base('mature', { udpReflectorBytes53: mb(50_000, 50_000, 5_000) }));
    expect(rules(new RuleDetector().evaluate(win(0, [rec(400_000)])))).to.include('amplification'); // > 150 k and > 250 k
    expect(rules(new RuleDetector().evaluate(win(0, [rec(200_000)])))).to.not.include('amplification');
    expect(rules(new RuleDetector({ profile: 'spiky' }).evaluate(win(0, [rec(400_000)])))).to.not.include('amplification'); // < 8.33 × 50 k
  });
});

describe('unsolicited-syn-ack rule', function () {
  const victim = (synAcks) => dstRec('10.10.10.10', { synAckCount: synAcks });
  it('SYN-ACKs a host never asked for, more than 20 within 60 s → high (fires in bootstrap, no baseline)', function () {
    const d = new RuleDetector();
    const other = srcRec('192.0.2.1', { synCount: 0 }); // the window has srcHost records: SYNs sent are known
    expect(d.evaluate(win(0, [victim(10), other]))).to.deep.equal([]); // 10
    expect(d.evaluate(win(1, [victim(10), other]))).to.deep.equal([]); // 20, not > 20
    const [e] = d.evaluate(win(2, [victim(10), other]));
    expect(e).to.include({ rule: 'unsolicited-syn-ack', key: 'dst 10.10.10.10', value: 30, threshold: 20 });
    expect(e.hints).to.deep.equal(['TCP reflection (SYN-ACKs without SYNs)']);
    // 60 s later the first windows have left the sliding window
    expect(d.evaluate(win(8, [victim(5), other]))).to.deep.equal([]);
  });

  it('SYN-ACKs answering the host\'s own SYNs (same or previous window) do not count; no srcHost records: no judgement', function () {
    const d = new RuleDetector();
    for (let i = 0; i < 6; i++) {
      // the host sends 30 SYNs per window; the answers arrive in the same or the next window
      expect(d.evaluate(win(i, [victim(i === 0 ? 0 : 30), srcRec('10.10.10.10', { synCount: 30 })]))).to.deep.equal([]);
    }
    const blind = new RuleDetector();
    for (let i = 0; i < 6; i++) expect(blind.evaluate(win(i, [victim(30)]))).to.deep.equal([]);
  });
});

describe('syn-flood rule (no baseline needed)', function () {
  const rec = (syns, peers, handshakes, baseline) => dstRec('10.10.10.10', { synCount: syns, distinctPeers: peers, handshakes }, baseline);
  it('many SYNs from many sources with almost no completed handshakes → high, with a baseline or without', function () {
    const [e] = new RuleDetector().evaluate(win(0, [rec(5000, 3000, 0)]));
    expect(e.findings.map((f) => f.rule).sort()).to.deep.equal(['static', 'syn-flood']); // one event for the key
    expect(e.hints).to.deep.equal(['SYN flood']);
    const f = e.findings.find((x) => x.rule === 'syn-flood');
    expect(f.value).to.equal(500); // SYN/s
    const mature = base('mature', { synCount: mb(5000, 5000, 100) }); // even when the flood is "normal" for the baseline
    expect(rules(new RuleDetector().evaluate(win(0, [rec(5000, 3000, 100, mature)])))).to.deep.equal(['syn-flood']);
  });

  it('not a busy server (handshakes complete), not a few sources, not a low rate', function () {
    expect(rules(new RuleDetector().evaluate(win(0, [rec(5000, 3000, 2000)])))).to.not.include('syn-flood');
    expect(rules(new RuleDetector().evaluate(win(0, [rec(5000, 3, 0)])))).to.not.include('syn-flood');
    expect(rules(new RuleDetector().evaluate(win(0, [rec(400, 300, 0)])))).to.not.include('syn-flood'); // 40 SYN/s
    expect(rules(new RuleDetector({ synFlood: { enabled: false } }).evaluate(win(0, [rec(5000, 3000, 0)])))).to.not.include('syn-flood');
  });
});

describe('horizontal-scan rule', function () {
  const scanner = '10.0.0.66';
  const attempts = (n, port, answered = 0) => {
    const recs = [];
    for (let i = 0; i < n; i++) {
      const dst = `10.0.1.${i + 1}`;
      recs.push(flowRec('tcp', scanner, 40000 + i, dst, port, { synCount: 1 }));
      if (i < answered) recs.push(flowRec('tcp', dst, port, scanner, 40000 + i, { synAckCount: 1 }));
    }
    return recs;
  };
  const src = srcRec(scanner, { synCount: 30 }, { scan: { synDstPorts: [22], truncated: false, synDstHosts: 30 } });

  it('one source to > 20 hosts on one port, mostly unanswered → high', function () {
    const [e] = new RuleDetector().evaluate(win(0, [src, ...attempts(30, 22)]));
    expect(e).to.include({ rule: 'horizontal-scan', key: `src ${scanner}`, value: 30, threshold: 20 });
    expect(e.message).to.include('30 hosts on tcp/22');
    expect(e.hints).to.include('horizontal scan');
  });

  it('not when most answered (a client of a server farm), not 20 hosts or fewer', function () {
    expect(new RuleDetector().evaluate(win(0, [src, ...attempts(30, 443, 25)]))).to.deep.equal([]);
    expect(new RuleDetector().evaluate(win(0, [src, ...attempts(20, 22)]))).to.deep.equal([]);
  });

  it('without flow records: from the SYN evidence (> 20 hosts, ≤ 3 ports)', function () {
    expect(rules(new RuleDetector().evaluate(win(0, [srcRec(scanner, { synCount: 50 }, { scan: { synDstPorts: [22], truncated: false, synDstHosts: 50 } })])))).to.deep.equal(['horizontal-scan']);
    const many = srcRec(scanner, { synCount: 50 }, { scan: { synDstPorts: [1, 2, 3, 4, 5, 6], truncated: false, synDstHosts: 50 } });
    expect(new RuleDetector().evaluate(win(0, [many]))).to.deep.equal([]);
  });
});

describe('icmp-sweep rule', function () {
  const pinger = '10.0.0.128';
  const flows = (n, type) => Array.from({ length: n }, (_, i) => flowRec('icmp', pinger, 0, `10.0.0.${i + 1}`, type * 256, {}));
  it('echo requests to > 20 hosts in a window → high; replies or 20 hosts do not', function () {
    const src = srcRec(pinger, { packets: 40 });
    const [e] = new RuleDetector().evaluate(win(0, [src, ...flows(40, 8)]));
    expect(e).to.include({ rule: 'icmp-sweep', value: 40 });
    expect(e.hints).to.include('ping sweep');
    expect(new RuleDetector().evaluate(win(0, [src, ...flows(40, 0)]))).to.deep.equal([]); // echo replies
    expect(new RuleDetector().evaluate(win(0, [src, ...flows(20, 8)]))).to.deep.equal([]);
  });
});

describe('admin-fanout rule (lateral-movement pattern)', function () {
  const ws = '10.1.0.27';
  /** Window i: SYNs from the workstation to hosts [from, from + n) on `port`, each answered with a SYN-ACK. */
  const tries = (from, n, port) => {
    const recs = [srcRec(ws, { synCount: n })];
    for (let k = from; k < from + n; k++) {
      recs.push(flowRec('tcp', ws, 40000 + k, `10.1.1.${k}`, port, { synCount: 1 }));
      recs.push(flowRec('tcp', `10.1.1.${k}`, port, ws, 40000 + k, { synAckCount: 1 }));
    }
    return recs;
  };
  it('SYNs to > 20 hosts on admin ports within 5 min, answered or not → medium, hint "lateral movement"', function () {
    const d = new RuleDetector();
    // 6 hosts per window on SMB: no window alone comes near 20, nor any 60 s horizontal-scan count
    for (let i = 0; i < 3; i++) expect(d.evaluate(win(i, tries(i * 6, 6, 445)))).to.deep.equal([]);
    const [e] = d.evaluate(win(3, tries(18, 6, 3389))); // 24 distinct hosts within 40 s
    expect(e).to.include({ rule: 'admin-fanout', severity: 'medium', key: `src ${ws}`, value: 24, threshold: 20 });
    expect(e.hints).to.deep.equal(['lateral movement']);
    expect(e.message).to.include('hint: lateral movement');
  });
  it('not on other ports, not when the hosts are spread over more than 5 minutes', function () {
    const web = new RuleDetector();
    for (let i = 0; i < 4; i++) expect(web.evaluate(win(i, tries(i * 6, 6, 443)))).to.deep.equal([]);
    const slow = new RuleDetector();
    for (let i = 0; i < 4; i++) expect(slow.evaluate(win(i * 11, tries(i * 6, 6, 445)))).to.deep.equal([]); // 110 s apart: at most 18 in 5 min
    expect(new RuleDetector({ adminFanout: { ports: [443] } }).evaluate(win(0, tries(0, 25, 443)))[0].rule).to.equal('admin-fanout');
  });
});

describe('icmp-flood rule', function () {
  const rec = (packets, icmpShare) => dstRec('10.0.0.30', { packets, icmpPacketsPercent: icmpShare });
  it('ICMP packets to one host above 50/s over the window → high, no baseline needed; a ping (1/s) does not', function () {
    const [e] = new RuleDetector().evaluate(win(0, [rec(1000, 100)]));
    expect(e).to.include({ rule: 'icmp-flood', value: 100, threshold: 50 });
    expect(e.hints).to.deep.equal(['ICMP flood']);
    expect(new RuleDetector().evaluate(win(0, [rec(1000, 40)]))).to.deep.equal([]); // 400 ICMP packets: 40/s
    expect(new RuleDetector().evaluate(win(0, [rec(10, 100)]))).to.deep.equal([]);
    expect(new RuleDetector({ icmpFlood: { minPacketsPerSecond: 200 } }).evaluate(win(0, [rec(1000, 100)]))).to.deep.equal([]);
  });
});

describe('port-scan rule, UDP (vertical, from flow records)', function () {
  const scanner = '10.0.0.135';
  const probes = (dst, ports) => ports.map((p) => flowRec('udp', scanner, 55555, dst, p, { newFlows: 1 }));
  const src = srcRec(scanner, { packets: 300 });
  const range = (from, n) => Array.from({ length: n }, (_, i) => from + i);
  it('new UDP flows to > 100 ports of one host in a window → port-scan (high)', function () {
    const [e] = new RuleDetector().evaluate(win(0, [src, ...probes('10.0.0.2', range(1, 150))]));
    expect(e).to.include({ rule: 'port-scan', key: `src ${scanner}`, metric: 'distinctDstPorts', value: 150 });
    expect(e.message).to.include('sent UDP to 150 ports of 10.0.0.2');
  });
  it('not 100 ports or fewer, not the same ports spread over many hosts (P2P fan-out)', function () {
    expect(new RuleDetector().evaluate(win(0, [src, ...probes('10.0.0.2', range(1, 100))]))).to.deep.equal([]);
    const fanout = range(1, 150).map((i) => flowRec('udp', scanner, 55555, `10.1.${i >> 8}.${i & 255}`, 30000 + i, { newFlows: 1 }));
    expect(new RuleDetector().evaluate(win(0, [src, ...fanout]))).to.deep.equal([]);
  });
});

describe('hints, score, contributors, one event per key', function () {
  it('UDP flood / ICMP flood / exfiltration hints from the record\'s evidence; none on internal traffic', function () {
    const d = new RuleDetector({ peakGuard: false }); // the same keys again and again: each window judged on its own
    const flood = (proto) => dstRec('10.0.0.9', { packetsPerSecond: 20_000, [`${proto}PacketsPercent`]: 97 });
    expect(d.evaluate(win(0, [flood('udp')]))[0].hints).to.deep.equal(['UDP flood']);
    expect(d.evaluate(win(0, [flood('icmp')]))[0].hints).to.deep.equal(['ICMP flood']);
    const ext = { ...dstRec('203.0.113.9', { bitsPerSecond: 300_000_000 }), direction: 'external' };
    expect(d.evaluate(win(0, [ext]))[0].hints).to.deep.equal(['exfiltration (outbound volume to a rarely contacted external host)']);
    const known = { ...ext, baseline: base('mature', { bitsPerSecond: mb(100_000_000, 100_000_000, 1_000_000) }) }; // contacted at that level daily
    const ev = d.evaluate(win(0, [known]))[0];
    expect(ev.findings.some((f) => f.metric === 'bitsPerSecond')).to.equal(true);
    expect(ev.hints).to.equal(undefined);
    const internal = { ...ext, direction: 'internal' };
    expect(d.evaluate(win(0, [internal]))[0].hints).to.equal(undefined);
    expect(new RuleDetector({ hints: false }).evaluate(win(0, [flood('udp')]))[0].hints).to.equal(undefined);
  });

  it('score: 60/30 by severity + 25·min(1, log10(1 + dev/100)/2) + 2.5 per further metric (≤ 10) + 5 with a hint', function () {
    const f = (severity, metric, deviationPercent) => ({ rule: 'spike', severity, metric, value: 1, threshold: 1, baseline: null, deviationPercent, explanation: '' });
    expect(scoreEvent([f('high', 'a', 900)], false)).to.equal(73); // 60 + 12.5 → 72.5 → 73
    expect(scoreEvent([f('high', 'a', 900), f('medium', 'b', 1)], true)).to.equal(80); // 60 + 12.5 + 2.5 + 5
    expect(scoreEvent([f('medium', 'a', 0)], false)).to.equal(30);
    expect(scoreEvent([f('high', 'a', 1e9), f('high', 'b', 1), f('high', 'c', 1), f('high', 'd', 1), f('high', 'e', 1), f('high', 'f', 1)], true)).to.equal(100);
    const [e] = new RuleDetector().evaluate(win(0, [dstRec('10.0.0.1', { synCount: 5000, distinctPeers: 3000, handshakes: 0 })]));
    expect(e.score).to.equal(scoreEvent(e.findings, true));
    expect(e.score).to.be.within(60, 100);
  });

  it('an interface alert lists the hosts and ports of the same window that carried it, with their share', function () {
    const iface = { scope: 'interface', key: 'iface eth0', metrics: { packetsPerSecond: 20_000 } };
    const recs = [iface,
      dstRec('10.0.0.5', { packetsPerSecond: 15_000 }), dstRec('10.0.0.6', { packetsPerSecond: 4_000 }), dstRec('10.0.0.7', { packetsPerSecond: 100 }),
      srcRec('198.51.100.1', { packetsPerSecond: 19_000 }),
      flowRec('udp', '198.51.100.1', 5000, '10.0.0.5', 53, { packetsPerSecond: 15_000 }), flowRec('udp', '198.51.100.1', 5000, '10.0.0.6', 123, { packetsPerSecond: 4_000 })];
    const e = new RuleDetector().evaluate(win(0, recs)).find((x) => x.key === 'iface eth0');
    expect(e.contributors.map((c) => [c.key, c.sharePercent])).to.deep.equal([
      ['dst 10.0.0.5', 75], ['dst 10.0.0.6', 20], // dst 10.0.0.7: 0.5 %, left out
      ['src 198.51.100.1', 95], ['udp/53', 75], ['udp/123', 20]]);
    expect(e.message).to.include('top: dst 10.0.0.5 75%, dst 10.0.0.6 20%, src 198.51.100.1 95%');
    // with per-host overrides the interface is judged by the node's detector but still sees every host
    const p = new ProfiledDetector({}, [{ cidr: '10.0.0.5/32', fastMultiplier: 9 }]);
    expect(p.evaluate(win(0, recs)).find((x) => x.key === 'iface eth0').contributors[0].key).to.equal('dst 10.0.0.5');
  });

  it('contributors among many hosts with equal values: the largest 3 of each kind, ties in the order of the records', function () {
    // 60 dst and 60 src hosts with values 100 … 1000 in steps of 100, in a shuffled order (many ties)
    const values = Array.from({ length: 60 }, (_, i) => 100 * (1 + ((i * 7) % 10)));
    const iface = { scope: 'interface', key: 'iface eth0', metrics: { packetsPerSecond: 40_000 } };
    const recs = [iface, ...values.map((v, i) => dstRec(`10.0.1.${i}`, { packetsPerSecond: v })), ...values.map((v, i) => srcRec(`10.0.2.${59 - i}`, { packetsPerSecond: v }))];
    const e = new RuleDetector().evaluate(win(0, recs)).find((x) => x.key === 'iface eth0');
    // expected by hand: the value 1000 is at i = 7, 17, 27, …; the first three of them win
    expect(e.contributors.map((c) => [c.key, c.sharePercent])).to.deep.equal([
      ['dst 10.0.1.7', 2.5], ['dst 10.0.1.17', 2.5], ['dst 10.0.1.27', 2.5],
      ['src 10.0.2.52', 2.5], ['src 10.0.2.42', 2.5], ['src 10.0.2.32', 2.5]]);
  });

  it('a subnet alert lists only its member hosts, their peers and ports; a service alert its clients', function () {
    const subnet = { scope: 'subnet', key: 'dst 10.0.0.0/24', subnet: '10.0.0.0/24', side: 'dst', metrics: { packetsPerSecond: 20_000 } };
    const service = { scope: 'service', key: '10.0.0.5:53/udp', dstIp: '10.0.0.5', dstPort: 53, protocol: 'udp', metrics: { packetsPerSecond: 15_000 } };
    const recs = [subnet, service,
      dstRec('10.0.0.5', { packetsPerSecond: 15_000 }), dstRec('10.0.1.9', { packetsPerSecond: 18_000 }), dstRec('10.0.0.6', { packetsPerSecond: 5_000 }),
      srcRec('198.51.100.1', { packetsPerSecond: 15_000 }),
      flowRec('udp', '198.51.100.1', 5000, '10.0.0.5', 53, { packetsPerSecond: 12_000 }), flowRec('udp', '198.51.100.2', 5000, '10.0.0.5', 53, { packetsPerSecond: 3_000 }),
      flowRec('udp', '198.51.100.3', 5000, '10.0.1.9', 53, { packetsPerSecond: 18_000 })];
    const events = new RuleDetector({ scopes: ['subnet', 'service'] }).evaluate(win(0, recs));
    const sub = events.find((e) => e.key === 'dst 10.0.0.0/24');
    // 10.0.1.9 and its client are outside the /24
    expect(sub.contributors.map((c) => [c.key, c.sharePercent])).to.deep.equal([
      ['dst 10.0.0.5', 75], ['dst 10.0.0.6', 25], ['src 198.51.100.1', 60], ['src 198.51.100.2', 15], ['udp/53', 75]]);
    const svc = events.find((e) => e.key === '10.0.0.5:53/udp');
    expect(svc.contributors.map((c) => [c.key, c.sharePercent])).to.deep.equal([['src 198.51.100.1', 80], ['src 198.51.100.2', 20], ['udp/53', 100]]);
  });

  it('one event per key per window listing every deviating metric of every rule', function () {
    const rec = dstRec('10.10.10.10', { synCount: 5000, distinctPeers: 3000, handshakes: 0, udpReflectorBytes: 3e6, udpReflectorBytes53: 3e6, packetsPerSecond: 12_000 });
    const events = new RuleDetector().evaluate(win(0, [rec]));
    expect(events).to.have.length(1);
    expect(new Set(events[0].findings.map((f) => `${f.rule}:${f.metric}`))).to.deep.equal(new Set([
      'static:synPerSecond', 'static:packetsPerSecond', 'syn-flood:synPerSecond', 'amplification:udpReflectorBytes53']));
    expect(events[0].hints).to.include.members(['SYN flood', 'DNS amplification (UDP source port 53)']);
  });

  it('events of the new rules pass the contract guard, cooldown-gate and the formatter', function () {
    const [e] = new RuleDetector().evaluate(win(0, [dstRec('10.10.10.10', { synCount: 5000, distinctPeers: 3000, handshakes: 0 })]));
    expect(() => assertAnomalyEvent(e)).to.not.throw();
    const gate = new CooldownGate();
    const out = gate.offerAll([e]);
    expect(out.events.map((x) => x.rule)).to.deep.equal(["syn-flood"]);
    const text = String(formatAnomaly(out.events[0], "text").payload);
    expect(text).to.include('syn-flood dst 10.10.10.10');
    expect(text).to.include('from 3,000 sources with 0 completed handshakes'); // the rule's explanation reaches the text
  });
});
