'use strict';
// ewma-baseline annotates a large window over several event-loop turns (src/nodes/slices.ts):
// the messages still come out in order, a message sent meanwhile waits its turn, and a bad record
// anywhere in a large window changes nothing.
const { expect } = require('chai');
const helper = require('node-red-node-test-helper');
helper.init(require.resolve('node-red'));
const baselineNode = require('../../nodes/ewma-baseline.js');

const WIN = 10_000;
const T0 = 1_700_000_000_000;
const KEYS = 40_000; // enough records that annotating them takes more than one slice (12 ms) anywhere
function win(i, keys = KEYS, bad = -1) {
  const windowStart = T0 + i * WIN;
  const records = [];
  for (let k = 0; k < keys; k++) {
    records.push({ scope: 'dstHost', key: `dst 10.${k >> 16}.${(k >> 8) & 255}.${k & 255}`, windowStart, windowEnd: windowStart + WIN,
      metrics: { packets: k === bad ? -1 : 10 + i, bytes: 640, synCount: 1 } });
  }
  return { kind: 'netbaseline/window', version: 1, source: 'test', windowStart, windowEnd: windowStart + WIN, windowMs: WIN, gapBeforeMs: 0, final: false,
    counters: { packetsSeen: 0, packetsSkipped: 0, trackedFlows: 0, flowEvictions: 0, hostEvictions: 0, windows: i + 1 }, records };
}
const flow = [
  { id: 'eb', type: 'ewma-baseline', name: 'base', fastAlpha: '0.3', slowAlpha: '0.05', bootstrapMinutes: '5', maxKeys: '100000',
    scopeInterface: true, scopeDstHost: true, scopeSrcHost: true, scopeFlow: false, persist: false, wires: [['out'], []] },
  { id: 'out', type: 'helper' },
  { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
  { id: 'caught', type: 'helper' },
];

describe('ewma-baseline node: large windows in slices', function () {
  this.timeout(30_000);
  beforeEach(function (done) { helper.startServer(done); });
  afterEach(async function () { await helper.unload(); await new Promise((r) => helper.stopServer(r)); });

  it('keeps the order of windows and of a reset sent while a window is being annotated', async function () {
    await helper.load(baselineNode, flow);
    const n = helper.getNode('eb');
    expect(n, 'node started').to.exist;
    const outs = [];
    helper.getNode('out').on('input', (m) => outs.push(m));
    n.receive({ payload: win(0) });
    n.receive({ payload: win(1) });
    n.receive({ reset: true }); // must apply after window 1, before window 2
    n.receive({ payload: win(2) });
    while (outs.length < 3) await new Promise((r) => setTimeout(r, 20));
    expect(outs.map((m) => m.payload.windowStart)).to.deep.equal([T0, T0 + WIN, T0 + 2 * WIN]);
    // window 0: every key new; window 1: one sample each (10 packets); window 2: after the reset, new again
    expect(outs[0].payload.records.every((r) => r.baseline.samples === 0)).to.equal(true);
    expect(outs[1].payload.records.every((r) => r.baseline.samples === 1 && r.baseline.metrics.packets.fast === 10)).to.equal(true);
    expect(outs[2].payload.records.every((r) => r.baseline.samples === 0 && Object.keys(r.baseline.metrics).length === 0)).to.equal(true);
    expect(outs[2].payload.records).to.have.length(KEYS);
  });

  it('a bad record at the end of a large window is rejected and nothing of the window is learned', async function () {
    await helper.load(baselineNode, flow);
    const n = helper.getNode('eb');
    const caught = new Promise((resolve) => helper.getNode('caught').once('input', resolve));
    n.receive({ payload: win(0, KEYS, KEYS - 1) });
    expect((await caught).error.message).to.match(/records\[39999\]\.metrics\.packets must be a finite number ≥ 0/);
    const got = new Promise((resolve) => helper.getNode('out').once('input', resolve));
    n.receive({ payload: win(1, 3) });
    const recs = (await got).payload.records;
    expect(recs.map((r) => r.baseline.samples), 'the keys of the rejected window were not learned').to.deep.equal([0, 0, 0]);
  });
});
