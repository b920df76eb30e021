'use strict';
// rule-detector judges a large window over several event-loop turns (src/nodes/slices.ts): windows
// and control messages (msg.allow, msg.reset) still take effect in the order they arrive, the
// events equal those of the core's evaluate(), a bad record anywhere in a large window changes
// nothing, and a close while a window is being judged ends cleanly.
const { expect } = require('chai');
const helper = require('node-red-node-test-helper');
helper.init(require.resolve('node-red'));
const detectorNode = require('../../nodes/rule-detector.js');
const { ProfiledDetector } = require('../../dist/core/overrides.js');
const { windowMessage } = require('../fixtures/windows');

const RECORDS = 40_000; // enough records that judging them takes more than one slice (12 ms) anywhere
const range = (from, n) => Array.from({ length: n }, (_, i) => from + i);
const srcScan = (ip, syns, ports) => ({ scope: 'srcHost', key: `src ${ip}`, srcIp: ip, metrics: { synCount: syns }, scan: { synDstPorts: ports, truncated: false, synDstHosts: 1 } });

/**
 * Window `i` with 40,000 records: quiet source hosts, the scanner 10.0.0.9 (60 SYNs to 15 new ports
 * per window) in the middle, and at the end dst 10.9.0.1 receiving 9,639 SYNs (static rule: SYN
 * rate 964/s > 100/s while in bootstrap).
 */
function bigWindow(i, { bad = false } = {}) {
  const records = [];
  for (let k = 0; records.length < RECORDS - 1; k++) {
    records.push({ scope: 'srcHost', key: `src 10.4.${k >> 8}.${k & 255}`, srcIp: `10.4.${k >> 8}.${k & 255}`, metrics: { synCount: 1, packets: 3 } });
    if (k === 20_000) records.push(srcScan('10.0.0.9', 60, range(1 + 15 * i, 15)));
  }
  records.push({ scope: 'dstHost', key: 'dst 10.9.0.1', dstIp: '10.9.0.1', metrics: bad ? { synCount: -5 } : { synCount: 9639 } });
  return windowMessage(i, records);
}

const flow = [
  { id: 'rd', type: 'rule-detector', name: 'rules', wires: [['out']] },
  { id: 'out', type: 'helper' },
  { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
  { id: 'caught', type: 'helper' },
];

describe('rule-detector node: large windows in slices', function () {
  this.timeout(60_000);
  beforeEach(function (done) { helper.startServer(done); });
  afterEach(async function () { await helper.unload(); await new Promise((r) => helper.stopServer(r)); });

  it('keeps the order of windows, msg.allow and msg.reset sent while a window is judged; events equal the core evaluate()', async function () {
    await helper.load(detectorNode, [...flow, { id: 'cp', type: 'complete', scope: ['rd'], wires: [['completed']] }, { id: 'completed', type: 'helper' }]);
    const n = helper.getNode('rd');
    expect(n, 'node started').to.exist;
    const outs = [];
    helper.getNode('out').on('input', (m) => outs.push(m));
    const completed = [];
    helper.getNode('completed').on('input', (m) => completed.push(m));
    const windows = [bigWindow(0), bigWindow(1), bigWindow(2)];
    const allow = { cidr: '10.9.0.1/32', note: 'load test target' };
    // all sent at once: the allow-list entry applies after window 0, the reset after window 1
    n.receive({ payload: windows[0] });
    n.receive({ allow });
    n.receive({ payload: windows[1] });
    n.receive({ reset: true });
    n.receive({ payload: windows[2] });

    // what the core says for the same sequence (the node's defaults = the detector's defaults)
    let core = new ProfiledDetector({ profile: 'custom' });
    const expected = [...core.evaluate(windows[0])];
    core = core.withChanges({ allow: [allow] });
    expected.push(...core.evaluate(windows[1]));
    core.reset();
    expected.push(...core.evaluate(windows[2]));

    // independently of the code: window 0 → static on dst 10.9.0.1 (9,639 SYNs in 10 s);
    // window 1 → 10.9.0.1 allow-listed, 120 SYNs to 30 ports in 20 s from 10.0.0.9 → port-scan;
    // window 2 → after the reset only 60 SYNs are known: nothing
    const summary = (events) => events.map((e) => `${e.window.start} ${e.rule} ${e.key}`);
    const T = windows.map((w) => w.windowStart);
    expect(summary(expected)).to.deep.equal([`${T[0]} static dst 10.9.0.1`, `${T[1]} port-scan src 10.0.0.9`]);

    // every message done (window 2, the last, has no event)
    while (completed.length < 5) await new Promise((r) => setTimeout(r, 20));
    expect(outs.map((m) => m.payload)).to.deep.equal(expected);
    expect(outs.map((m) => m.topic)).to.deep.equal(['dst 10.9.0.1', 'src 10.0.0.9']);
    // done() once per message, in order: window, allow, window, reset, window
    expect(completed.map((m) => (m.allow ? 'allow' : m.reset ? 'reset' : m.payload.windowStart))).to.deep.equal([T[0], 'allow', T[1], 'reset', T[2]]);
    expect(n.status.lastCall.args[0]).to.include({ fill: 'green' });
    expect(n.status.lastCall.args[0].text).to.match(/^3 windows evaluated · 2 anomalies/);
  });

  it('a bad record at the end of a large window is rejected, nothing of it is recorded, and the node keeps its evidence', async function () {
    await helper.load(detectorNode, flow);
    const n = helper.getNode('rd');
    const outs = [];
    helper.getNode('out').on('input', (m) => outs.push(m));
    const caught = new Promise((resolve) => helper.getNode('caught').once('input', resolve));
    n.receive({ payload: windowMessage(0, [srcScan('10.0.0.9', 60, range(1, 15))]) });
    n.receive({ payload: bigWindow(1, { bad: true }) }); // its scanner record (60 SYNs, ports 16–30) must not count
    expect((await caught).error.message).to.match(/records\[39999\]\.metrics\.synCount must be a finite number ≥ 0/);
    expect(n.status.lastCall.args[0]).to.include({ fill: 'red', shape: 'ring' });
    // had the rejected window counted, 60 + 60 + 60 SYNs would fire now; with windows 0 and 2 only it takes window 3 too
    n.receive({ payload: windowMessage(2, [srcScan('10.0.0.9', 30, range(31, 15))]) });
    await new Promise((r) => setTimeout(r, 100));
    expect(outs, 'window 0 + 2: 90 SYNs, not above 100').to.have.length(0);
    n.receive({ payload: windowMessage(3, [srcScan('10.0.0.9', 20, range(46, 15))]) });
    while (outs.length < 1) await new Promise((r) => setTimeout(r, 20));
    expect(outs[0].payload).to.include({ rule: 'port-scan', key: 'src 10.0.0.9', value: 45 }); // windows 0, 2, 3: 110 SYNs to 45 ports
  });

  it('closes cleanly while a large window is being judged: the window is dropped, nothing is sent afterwards, no error', async function () {
    await helper.load(detectorNode, flow);
    const n = helper.getNode('rd');
    const outs = [];
    helper.getNode('out').on('input', (m) => outs.push(m));
    // judged to the end, these would send 3 events: static (window 0), static + port-scan (window 1)
    n.receive({ payload: bigWindow(0) });
    n.receive({ payload: bigWindow(1) });
    n.receive({ reset: true });
    await new Promise((r) => setImmediate(r)); // window 0 is under way
    const log = helper.log();
    await helper.unload(); // the close handler must call done (else this times out)
    const sentBeforeClose = outs.length;
    expect(sentBeforeClose, 'not everything was judged before the close').to.be.below(3);
    await new Promise((r) => setTimeout(r, 300));
    expect(outs, 'nothing sent after the close').to.have.length(sentBeforeClose);
    const errors = log.args.filter(([e]) => e.level === log.ERROR || e.level === log.FATAL).map(([e]) => e.msg);
    expect(errors, 'no error logged').to.deep.equal([]);
  });
});
