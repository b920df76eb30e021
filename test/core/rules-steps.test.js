'use strict';
/**
 * RuleDetector.beginEvaluate / ProfiledDetector.beginEvaluate (issue #8: a window judged over
 * several event-loop turns): stepping a window in small steps gives exactly the events of
 * evaluate(), on the windows of real captures (/work/shared/pcaps, through the real aggregator and
 * baseline) and on hand-built windows whose answer needs the whole window (evidence across
 * windows, SYNs a host sent listed after the host's record, flow fan-out, contributors, hints).
 */
const { expect } = require('chai');
const fs = require('fs');
const path = require('path');
const { RuleDetector } = require('../../dist/core/rules.js');
const { ProfiledDetector } = require('../../dist/core/overrides.js');
const { ContractError } = require('../../dist/core/contracts.js');
const { replayCaptureFile } = require('../../dist/core/replay.js');
const { FlowAggregator } = require('../../dist/core/flow-aggregator.js');
const { BaselineStore } = require('../../dist/core/baseline.js');
const { windowMessage } = require('../fixtures/windows');

const PCAPS = '/work/shared/pcaps';
const win = (i, records) => windowMessage(i, records);
const range = (from, n) => Array.from({ length: n }, (_, i) => from + i);
const srcScan = (ip, syns, ports, extra = {}) => ({ scope: 'srcHost', key: `src ${ip}`, srcIp: ip, metrics: { synCount: syns }, scan: { synDstPorts: ports, truncated: false, synDstHosts: 1 }, ...extra });

/**
 * Runs a job to the end in steps of 1, 2, 3, … `maxStep` records (cycling), checking the progress
 * counters on the way; returns the events of finish() and the number of steps taken.
 */
function stepwise(job, maxStep = 7) {
  let steps = 0;
  let last = -1;
  for (;;) {
    const finished = job.step(1 + (steps % maxStep));
    steps++;
    expect(job.done, 'done never goes back').to.be.at.least(Math.max(last, 0));
    expect(job.done).to.be.at.most(job.total);
    last = job.done;
    if (finished) break;
    expect(steps, 'a step always makes progress').to.be.below(100_000);
  }
  expect(job.done, 'every record judged').to.equal(job.total);
  return { events: job.finish(), steps };
}

/** The annotated windows of a capture: the real flow-aggregator (flow records on) and ewma-baseline store. */
async function capturedWindows(file) {
  const agg = new FlowAggregator({ scopes: ['interface', 'dstHost', 'srcHost', 'flow'] });
  const store = new BaselineStore({});
  const windows = [];
  await replayCaptureFile(path.join(PCAPS, file), { onBatch: (b) => { for (const w of agg.ingest(b)) windows.push(store.annotate(w)); } });
  for (const w of agg.flush(true)) windows.push(store.annotate(w));
  return windows;
}

describe('RuleDetector.beginEvaluate: stepwise evaluation', function () {
  describe('real captures (windows from the real aggregator and baseline)', function () {
    this.timeout(120_000);
    before(function () { if (!fs.existsSync(path.join(PCAPS, 'MANIFEST.md'))) this.skip(); });

    // attack captures whose MANIFEST ground truth calls for a rule (see rules-captures.test.js), and benign ones
    const cases = [
      ['pcaphunt__ps-tcp_syn.pcap', 'port-scan'], // vertical SYN scan over several windows: evidence across windows
      ['pcaphunt__ps-udp.pcap', 'port-scan'], // UDP scan: from the flow fan-out index
      ['pcaphunt__hs-icmpScan.pcap', 'icmp-sweep'],
      ['stopddos__pkt.TCP.DOMINATE.syn.ecn.cwr.pcapng', 'syn-flood'],
      ['stopddos__amp.UDP.isakmp.pcap', 'amplification'],
      ['stopddos__amp.TCP.syn.optionallyACK.optionallysamePort.pcapng', 'unsolicited-syn-ack'], // SYNs sent, previous window
      ['suricata-verify__rsmurf6.pcap', 'icmp-flood'],
      ['wireshark__SkypeIRC.cap', null],
      ['ndpi__sites.pcapng', null],
    ];
    for (const [file, rule] of cases) {
      it(`${file}: steps of 1–7 records give the events of evaluate()${rule ? ` (among them ${rule})` : ''}`, async function () {
        const windows = await capturedWindows(file);
        expect(windows.length).to.be.at.least(1);
        const whole = new RuleDetector({ scopes: ['interface', 'dstHost', 'srcHost', 'flow'] });
        const stepped = new RuleDetector({ scopes: ['interface', 'dstHost', 'srcHost', 'flow'] });
        const all = [];
        for (const w of windows) {
          const expected = whole.evaluate(w);
          const { events } = stepwise(stepped.beginEvaluate(w));
          expect(events).to.deep.equal(expected);
          all.push(...events);
        }
        if (rule !== null) expect(all.some((e) => e.findings.some((f) => f.rule === rule)), `${rule} raised`).to.equal(true);
        // the evidence each detector kept is the same too
        expect(stepped.scanStats()).to.deep.equal(whole.scanStats());
      });
    }

    it('ProfiledDetector with an override and allow-list entries: steps give the events and allow-list count of evaluate()', async function () {
      const windows = await capturedWindows('pcaphunt__ps-tcp_syn.pcap');
      const make = () => new ProfiledDetector({}, [{ cidr: '10.0.0.140/32', scanSyns: 50, scanPorts: 10 }], [{ cidr: '10.0.0.1/32' }, { cidr: '10.0.0.0/8', port: 80, protocol: 'tcp' }]);
      const whole = make(), stepped = make();
      let found = 0;
      for (const w of windows) {
        const expected = whole.evaluate(w);
        const { events } = stepwise(stepped.beginEvaluate(w), 5);
        expect(events).to.deep.equal(expected);
        found += events.filter((e) => e.key === 'src 10.0.0.140' && e.rule === 'port-scan').length;
      }
      expect(found, 'the scanner (judged by its override) raised port-scan').to.be.at.least(1);
      expect(stepped.allowListed).to.equal(whole.allowListed);
      expect(stepped.allowListed, 'allow-listed records were skipped').to.be.above(0);
    });
  });

  describe('hand-built windows', function () {
    it('port-scan evidence across windows: 60 + 60 SYNs to 15 + 15 ports fire only in the second window, stepped one record at a time', function () {
      const d = new RuleDetector();
      const w0 = win(0, [srcScan('10.0.0.9', 60, range(1, 15)), ...range(1, 30).map((k) => srcScan(`10.1.0.${k}`, 1, [80]))]);
      const w1 = win(1, [...range(1, 30).map((k) => srcScan(`10.1.0.${k}`, 1, [80])), srcScan('10.0.0.9', 60, range(16, 15))]);
      const first = d.beginEvaluate(w0);
      while (!first.step(1));
      expect(first.finish()).to.deep.equal([]);
      const second = stepwise(d.beginEvaluate(w1), 1);
      expect(second.steps, 'one record per step').to.be.at.least(w1.records.length);
      expect(second.events.map((e) => [e.rule, e.key, e.value])).to.deep.equal([['port-scan', 'src 10.0.0.9', 30]]);
    });

    it('needs the whole window: SYNs a host sent (listed after its dstHost record), flow fan-out (flows after the source), contributors and hints', function () {
      const records = [
        // the interface record first: its contributors are the host records that come after it
        { scope: 'interface', key: 'iface eth0', metrics: { synCount: 5000, packets: 6000 } },
        // SYN-ACKs to 10.0.0.5, which sent 25 SYNs itself (its srcHost record comes later): 40 − 25 = 15 unsolicited ≤ 20, no alert
        { scope: 'dstHost', key: 'dst 10.0.0.5', dstIp: '10.0.0.5', metrics: { synAckCount: 40 } },
        // SYN-ACKs to 10.0.0.6, which sent none: 30 unsolicited > 20
        { scope: 'dstHost', key: 'dst 10.0.0.6', dstIp: '10.0.0.6', metrics: { synAckCount: 30 } },
        // a SYN flood target: 4,000 SYNs from 60 sources, 10 handshakes
        { scope: 'dstHost', key: 'dst 10.0.0.80', dstIp: '10.0.0.80', metrics: { synCount: 4000, distinctPeers: 60, handshakes: 10, packets: 4000 } },
        // a horizontal scanner whose flows come after its srcHost record: 25 hosts on tcp/22, none answered
        { scope: 'srcHost', key: 'src 10.0.0.66', srcIp: '10.0.0.66', metrics: { synCount: 25 } },
        ...range(1, 25).map((k) => ({ scope: 'flow', key: `tcp 10.0.0.66:40000 > 10.2.0.${k}:22`, srcIp: '10.0.0.66', dstIp: `10.2.0.${k}`, srcPort: 40000, dstPort: 22, protocol: 'tcp', metrics: { synCount: 1, packets: 1 } })),
        { scope: 'srcHost', key: 'src 10.0.0.5', srcIp: '10.0.0.5', metrics: { synCount: 25 } },
        { scope: 'srcHost', key: 'src 10.0.0.6', srcIp: '10.0.0.6', metrics: { synCount: 0 } },
      ];
      const w = win(0, records);
      const expected = new RuleDetector().evaluate(w);
      const { events } = stepwise(new RuleDetector().beginEvaluate(w), 2);
      expect(events).to.deep.equal(expected);
      const byKey = Object.fromEntries(events.map((e) => [e.key, e]));
      expect(Object.keys(byKey)).to.have.members(['iface eth0', 'dst 10.0.0.6', 'dst 10.0.0.80', 'src 10.0.0.66']);
      expect(byKey['dst 10.0.0.6'].rule).to.equal('unsolicited-syn-ack');
      expect(byKey['dst 10.0.0.6'].value).to.equal(30);
      expect(byKey['src 10.0.0.66'].findings.map((f) => f.rule)).to.include('horizontal-scan');
      expect(byKey['src 10.0.0.66'].findings.find((f) => f.rule === 'horizontal-scan').value).to.equal(25);
      expect(byKey['dst 10.0.0.80'].hints).to.include('SYN flood');
      // the interface's SYNs: 4,000 of 5,000 went to 10.0.0.80 (80 %)
      expect(byKey['iface eth0'].contributors[0]).to.deep.include({ key: 'dst 10.0.0.80', value: 4000, sharePercent: 80 });
      // events in the order of the records
      expect(events.map((e) => e.key)).to.deep.equal(['iface eth0', 'dst 10.0.0.6', 'dst 10.0.0.80', 'src 10.0.0.66']);
    });

    it('a malformed record at the end of a large window throws from a step before anything changed, and again on every later call', function () {
      const d = new RuleDetector();
      const good = win(0, [srcScan('10.0.0.9', 60, range(1, 15))]);
      d.evaluate(good);
      expect(d.scanStats().sources).to.equal(1);
      const records = range(0, 5000).map((k) => srcScan(`10.3.${k >> 8}.${k & 255}`, 60, range(1, 15)));
      records.push({ scope: 'dstHost', key: 'dst x', metrics: {}, baseline: { state: 'learning', metrics: { packetsPerSecond: { fast: 1, slow: 1, mean: 1, std: 'wide', samples: 3 } } } });
      const job = d.beginEvaluate(win(1, records));
      let error;
      try { while (!job.step(100)); } catch (err) { error = err; }
      expect(error).to.be.instanceOf(ContractError);
      expect(error.message).to.match(/records\[5000\]\.baseline\.metrics\.packetsPerSecond must have finite/);
      expect(() => job.step(100)).to.throw(error.message);
      expect(() => job.finish()).to.throw(error.message);
      expect(d.scanStats().sources, 'none of the 5,000 scanners of the rejected window recorded').to.equal(1);
      // the first window's evidence is intact: 60 + 60 SYNs to 30 ports fire
      const [e] = d.evaluate(win(1, [srcScan('10.0.0.9', 60, range(16, 15))]));
      expect(e).to.include({ rule: 'port-scan', value: 30 });
    });

    it('finish() twice throws; step() after the end returns true', function () {
      const job = new RuleDetector().beginEvaluate(win(0, [srcScan('10.0.0.9', 1, [80])]));
      expect(job.total).to.equal(1);
      expect(job.finish()).to.deep.equal([]);
      expect(job.step(1)).to.equal(true);
      expect(() => job.finish()).to.throw(/called twice/);
    });

    it('checks the metric baselines the rules read (learning keys), not the bootstrap ones without a prior', function () {
      const bad = { fast: 1, slow: 1, mean: 1, std: 1, samples: NaN };
      const rec = (state, metric, extra = {}) => ({ scope: 'dstHost', key: `dst ${state}`, metrics: { packetsPerSecond: 5 }, baseline: { state, samples: 3, metrics: { [metric]: bad }, ...extra } });
      for (const metric of ['packetsPerSecond', 'handshakeRttMs', 'tcpPacketsPercent', 'udpReflectorBytes53']) {
        expect(() => new RuleDetector().evaluate(win(0, [rec('learning', metric)])), metric).to.throw(ContractError, new RegExp(`baseline\\.metrics\\.${metric} must have finite`));
        expect(() => new RuleDetector().evaluate(win(0, [rec('bootstrap', metric, { prior: true })])), `${metric} (prior)`).to.throw(ContractError);
      }
      // a bootstrap key without a prior: no rule reads its metric baselines
      expect(new RuleDetector().evaluate(win(0, [rec('bootstrap', 'packetsPerSecond')]))).to.deep.equal([]);
    });

    it('a window ewma-baseline annotated in this process is judged as its checked copy; a copy with a broken baseline or another scope\'s broken scan is rejected', function () {
      // 10 dstHost keys learn 5 SYNs per window (mature after 59), then one gets a 400-SYN flood
      const store = new BaselineStore({ bootstrapMs: 0, scopes: ['dstHost'] });
      const window = (i, syn) => win(i, range(0, 10).map((h) => ({ scope: 'dstHost', key: `dst 10.0.0.${h}`, dstIp: `10.0.0.${h}`, metrics: { synCount: h === 3 ? syn : 5 } })));
      const direct = new RuleDetector(), copied = new RuleDetector();
      let fired = 0;
      for (let i = 0; i < 70; i++) {
        const annotated = store.annotate(window(i, i === 65 ? 400 : 5));
        const events = direct.evaluate(annotated);
        expect(events, `window ${i}`).to.deep.equal(copied.evaluate(JSON.parse(JSON.stringify(annotated))));
        fired += events.length;
      }
      expect(fired, 'the flood fired').to.be.above(0);
      // a broken baseline in a copy: checked (the copy is not the array the store built)
      const annotated = store.annotate(window(70, 5));
      const broken = JSON.parse(JSON.stringify(annotated));
      broken.records[2].baseline.metrics.synCount.std = 'wide';
      expect(() => new RuleDetector().evaluate(broken)).to.throw(ContractError, /records\[2\]\.baseline\.metrics\.synCount must have finite/);
      // records of scopes the store did not baseline are checked in its own array too
      const mixed = store.annotate(win(71, [{ scope: 'srcHost', key: 'src 10.0.0.9', srcIp: '10.0.0.9', metrics: { synCount: 1 }, scan: { synDstPorts: ['x'] } },
        { scope: 'srcHost', key: 'src 10.0.0.8', srcIp: '10.0.0.8', metrics: {}, baseline: { state: 'learning', metrics: { synCount: { fast: 1, slow: 1, mean: 1, std: null, samples: 3 } } } }]));
      expect(() => new RuleDetector().evaluate(mixed)).to.throw(ContractError, /records\[0\]\.scan\.synDstPorts/);
      mixed.records.shift(); // the same array, now with the srcHost record whose baseline came from elsewhere first
      expect(() => new RuleDetector().evaluate(mixed)).to.throw(ContractError, /records\[0\]\.baseline\.metrics\.synCount must have finite/);
    });
  });
});
