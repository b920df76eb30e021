'use strict';
/**
 * rule-detector's second output: each window once judged, records left out, sent after that
 * window's anomalies, so that cooldown-gate (wired to both outputs) resolves anomalies in order
 * however long the judging takes.
 */
const { expect } = require('chai');
const helper = require('node-red-node-test-helper');
const { inputsOf } = require('../fixtures/node-outputs');
const { windowMessage } = require('../fixtures/windows');
helper.init(require.resolve('node-red'));
const detectorNode = require('../../nodes/rule-detector.js');
const gateNode = require('../../nodes/cooldown-gate.js');

const win = (i, records, extra = {}) => ({ ...windowMessage(i, records), ...extra });
const srcScan = (ip, syns, ports) => ({ scope: 'srcHost', key: `src ${ip}`, srcIp: ip, metrics: { synCount: syns }, scan: { synDstPorts: ports, truncated: false, synDstHosts: 2 } });
const range = (from, n) => Array.from({ length: n }, (_, i) => from + i);
/** Padding records (quiet hosts) that make a window take several slices to judge. */
const quiet = (n) => Array.from({ length: n }, (_, i) => ({ scope: 'dstHost', key: `dst 10.9.${i >> 8}.${i & 255}`, dstIp: `10.9.${i >> 8}.${i & 255}`, metrics: { packets: 1 } }));

describe('rule-detector node: windows judged on output 2', function () {
  beforeEach(function (done) { helper.startServer(done); });
  afterEach(async function () { await helper.unload(); await new Promise((r) => helper.stopServer(r)); });

  it('sends every window with its records left out, after the anomalies of that window', async function () {
    await helper.load(detectorNode, [
      { id: 'rd', type: 'rule-detector', wires: [['all'], ['all']] },
      { id: 'all', type: 'helper' },
    ]);
    expect(helper.getNode('rd'), 'rule-detector started').to.exist;
    const got = inputsOf(helper.getNode('all'));
    helper.getNode('rd').receive({ topic: 'windows', payload: win(0, [srcScan('10.0.0.140', 150, range(1000, 30)), ...quiet(30000)]) });
    helper.getNode('rd').receive({ topic: 'windows', payload: win(1, quiet(10)) });
    const msgs = await got.count(3);
    expect(msgs.map((m) => m.payload.kind)).to.deep.equal(['netbaseline/anomaly', 'netbaseline/window', 'netbaseline/window']);
    expect(msgs[0].payload).to.include({ rule: 'port-scan', key: 'src 10.0.0.140' });
    expect(msgs[1].payload).to.include({ windowStart: win(0, []).windowStart, final: false });
    expect(msgs[1].payload.records).to.deep.equal([]);
    expect(msgs[1].topic).to.equal('windows');
    expect(msgs[2].payload.windowStart).to.equal(win(1, []).windowStart);
  });

  it('with cooldown-gate on both outputs, a final window judged slowly still resolves the anomaly before it', async function () {
    await helper.load([detectorNode, gateNode], [
      { id: 'rd', type: 'rule-detector', wires: [['gate'], ['gate']] },
      { id: 'gate', type: 'cooldown-gate', cooldown: '5', resolveAfterSeconds: '30', persist: false, wires: [['out'], [], []] },
      { id: 'out', type: 'helper' },
    ]);
    expect(helper.getNode('gate'), 'cooldown-gate started').to.exist;
    const out = inputsOf(helper.getNode('out'));
    // the scan's window is large (judged over several event-loop turns); the final window is small
    helper.getNode('rd').receive({ payload: win(0, [srcScan('10.0.0.140', 150, range(1000, 30)), ...quiet(40000)]) });
    helper.getNode('rd').receive({ payload: win(1, [], { final: true }) });
    const msgs = await out.count(2);
    expect(msgs.map((m) => m.payload.status)).to.deep.equal(['firing', 'resolved']);
    expect(msgs[1].payload).to.include({ rule: 'port-scan', resolvedReason: 'capture ended' });
  });
});
