'use strict';
const { expect } = require('chai');
const helper = require('node-red-node-test-helper');
const { inputsOf } = require('../fixtures/node-outputs');
helper.init(require.resolve('node-red'));
const detectorNode = require('../../nodes/rule-detector.js');
const baselineNode = require('../../nodes/ewma-baseline.js');

const { WIN, T0, windowMessage } = require('../fixtures/windows');
const win = (i, records) => windowMessage(i, records, { source: 'test.pcap' });
const srcScan = (ip, syns, ports) => ({ scope: 'srcHost', key: `src ${ip}`, srcIp: ip, metrics: { synCount: syns }, scan: { synDstPorts: ports, truncated: false, synDstHosts: 1 } });
const range = (from, n) => Array.from({ length: n }, (_, i) => from + i);

const collect = (id) => inputsOf(helper.getNode(id));
const flow = (extra = {}) => [
  { id: 'rd', type: 'rule-detector', name: 'rules', wires: [['out']], ...extra },
  { id: 'out', type: 'helper' },
  { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
  { id: 'caught', type: 'helper' },
];

describe('rule-detector node', function () {
  beforeEach(function (done) { helper.startServer(done); });
  afterEach(async function () { await helper.unload(); await new Promise((r) => helper.stopServer(r)); });

  it('sends one message per anomaly, topic = key, and shows the count in status', async function () {
    await helper.load(detectorNode, flow());
    const n = helper.getNode('rd');
    expect(n, 'node started').to.exist;
    const out = collect('out');
    n.receive({ payload: win(0, [
      { scope: 'interface', key: 'iface eth0', metrics: { synCount: 9700 } },
      { scope: 'dstHost', key: 'dst 10.10.10.10', dstIp: '10.10.10.10', metrics: { synCount: 9639 } },
      { scope: 'dstHost', key: 'dst 10.10.10.11', dstIp: '10.10.10.11', metrics: { synCount: 3 } },
    ]) });
    const msgs = await out.count(2);
    expect(msgs.map((m) => m.topic)).to.deep.equal(['iface eth0', 'dst 10.10.10.10']);
    expect(msgs[1].payload).to.include({ kind: 'netbaseline/anomaly', rule: 'static', key: 'dst 10.10.10.10', dstIp: '10.10.10.10' });
    expect(msgs[1].payload.message).to.equal('SYN rate 964 SYN/s to dst 10.10.10.10 is above the bootstrap threshold 100 SYN/s (+864%)');
    expect(n.status.lastCall.args[0]).to.include({ fill: 'yellow', text: '2 anomalies · last: dst 10.10.10.10' });
    // a quiet window: green status with windows evaluated, nothing sent
    n.receive({ payload: win(1, [{ scope: 'dstHost', key: 'dst 10.10.10.10', metrics: { synCount: 1 } }]) });
    await new Promise((r) => setTimeout(r, 20));
    expect(out.msgs).to.have.length(2);
    expect(n.status.lastCall.args[0]).to.include({ fill: 'green', text: '2 windows evaluated · 2 anomalies' });
  });

  it('rejects malformed input with an error, keeps its port-scan evidence and keeps working', async function () {
    await helper.load(detectorNode, flow());
    const n = helper.getNode('rd');
    expect(n, 'node started').to.exist;
    const out = collect('out');
    const caught = collect('caught');
    n.receive({ payload: win(0, [srcScan('10.0.0.140', 60, range(1, 15))]) });
    n.receive({ payload: { kind: 'netbaseline/window', windowStart: 'soon' } });
    const [c] = await caught.count(1);
    expect(c.error.message).to.match(/windowStart must be a finite number/);
    expect(n.status.lastCall.args[0]).to.include({ fill: 'red', shape: 'ring' });
    n.receive({ payload: win(1, [srcScan('10.0.0.140', 60, range(16, 15))]) });
    const [m] = await out.count(1);
    // 60 + 60 SYNs to 30 ports within 60 s: the first window was not lost
    expect(m.payload).to.include({ rule: 'port-scan', key: 'src 10.0.0.140', value: 30 });
    expect(m.topic).to.equal('src 10.0.0.140');
  });

  it('takes thresholds from the editor fields (strings) and honours rule switches', async function () {
    await helper.load(detectorNode, flow({ portScan: true, scanSyns: '10', scanPorts: '5', scanWindowSeconds: '60', bootstrapStatic: false }));
    const n = helper.getNode('rd');
    const out = collect('out');
    n.receive({ payload: win(0, [srcScan('10.0.0.7', 11, range(1, 6)), { scope: 'dstHost', key: 'dst x', metrics: { synCount: 9639 } }]) });
    const [m] = await out.count(1);
    expect(m.payload).to.include({ rule: 'port-scan', key: 'src 10.0.0.7', value: 6, threshold: 5 });
    await new Promise((r) => setTimeout(r, 20));
    expect(out.msgs, 'static rule switched off: no event for dst x').to.have.length(1);
  });

  it('"mature keys only" per rule from the editor: a learning key is judged by the rules left unticked', async function () {
    const learning = () => ({ scope: 'dstHost', key: 'dst 10.0.0.9', dstIp: '10.0.0.9', metrics: { packetsPerSecond: 900 },
      baseline: { state: 'learning', firstSeen: T0 - 600_000, samples: 30, metrics: { packetsPerSecond: { fast: 50, slow: 50, mean: 50, std: 5, samples: 30 } } } });
    const rulesFor = async (extra) => {
      // output 2: each window once judged, after its anomalies
      await helper.load(detectorNode, [...flow({ bootstrapStatic: false, ...extra, wires: [['out'], ['judged']] }), { id: 'judged', type: 'helper' }]);
      const n = helper.getNode('rd');
      const out = collect('out');
      const judged = collect('judged');
      n.receive({ payload: win(0, [learning()]) });
      await judged.count(1);
      const rules = out.msgs.flatMap((m) => m.payload.findings.map((f) => f.rule)).sort();
      await helper.unload();
      return rules;
    };
    expect(await rulesFor({})).to.deep.equal(['dual-ewma', 'spike']);
    expect(await rulesFor({ dualEwmaMatureOnly: true })).to.deep.equal(['spike']);
    expect(await rulesFor({ dualEwmaMatureOnly: true, spikeMatureOnly: true })).to.deep.equal([]);
  });

  it('reports a bad configuration and stays deployed', async function () {
    await helper.load(detectorNode, flow({ highSigma: '2', mediumSigma: '3' }));
    const n = helper.getNode('rd');
    expect(n, 'node deployed').to.exist;
    expect(n.status.lastCall.args[0]).to.include({ fill: 'red' });
  });

  it('behind ewma-baseline: a SYN burst on a quiet, still-bootstrapping host fires the static rule with the baseline state', async function () {
    await helper.load([baselineNode, detectorNode], [
      { id: 'eb', type: 'ewma-baseline', persist: false, wires: [['rd']] },
      { id: 'rd', type: 'rule-detector', wires: [['out']] },
      { id: 'out', type: 'helper' },
    ]);
    expect(helper.getNode('eb'), 'ewma-baseline started').to.exist;
    expect(helper.getNode('rd'), 'rule-detector started').to.exist;
    const out = collect('out');
    // like stopddos: 3 windows of ~7 RST/s, then 9,639 SYNs
    for (let i = 0; i < 3; i++) helper.getNode('eb').receive({ payload: win(i, [{ scope: 'dstHost', key: 'dst 10.10.10.10', metrics: { packetsPerSecond: 7, synCount: 0 } }]) });
    helper.getNode('eb').receive({ payload: win(3, [{ scope: 'dstHost', key: 'dst 10.10.10.10', metrics: { packetsPerSecond: 964, synCount: 9639 } }]) });
    const [m] = await out.count(1);
    expect(m.payload).to.include({ rule: 'static', key: 'dst 10.10.10.10', metric: 'synPerSecond' });
    expect(m.payload.value).to.be.closeTo(963.9, 1e-9);
    expect(m.payload.id).to.equal(`static|dst 10.10.10.10|${T0 + 3 * WIN}`);
  });
});
