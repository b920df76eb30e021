'use strict';
/**
 * flow-aggregator node: a window close of tens of thousands of records is built in slices (issue #8:
 * Node-RED's event loop must stay responsive, p99 delay < 50 ms), with the same windows as the
 * synchronous core, in strict message order, and a close of the node while a window is being built.
 * Expected windows come from the core FlowAggregator fed the same batches synchronously.
 */
const { expect } = require('chai');
const helper = require('node-red-node-test-helper');
helper.init(require.resolve('node-red'));
const aggregatorNode = require('../../nodes/flow-aggregator.js');
const { FlowAggregator } = require('../../dist/core/flow-aggregator');
const { IPPROTO } = require('../../dist/core/contracts');

const T0 = 1_700_000_000_000; // a multiple of 10 000 ms

/** A PacketBatch of `n` TCP packets from 10.1.x.y (one source per packet, from `first`) to 10.200.0.1:80, at T0 + `offsetMs` + i ms. */
function hostsBatch(n, { first = 0, offsetMs = 0, clockMs } = {}) {
  const b = {
    kind: 'netbaseline/packets', version: 1, source: '/captures/slices.pcap', seq: 0, count: n,
    timeMs: new Float64Array(n), wireLength: new Uint32Array(n).fill(80), ipVersion: new Uint8Array(n).fill(4),
    srcAddr: new Uint8Array(16 * n), dstAddr: new Uint8Array(16 * n), protocol: new Uint8Array(n).fill(IPPROTO.TCP),
    srcPort: new Uint16Array(n), dstPort: new Uint16Array(n).fill(80), tcpFlags: new Uint8Array(n).fill(0x02),
    tcpSeq: new Uint32Array(n), tcpAck: new Uint32Array(n), payloadLength: new Uint32Array(n).fill(40),
    info: new Uint8Array(n), ifIndex: new Uint16Array(n),
    clockMs: clockMs !== undefined ? clockMs : T0 + offsetMs + 5000,
    counters: { packetsRead: n, packetsDecoded: n, nonIp: 0, unsupportedLinkType: 0, malformed: 0, fragments: 0, timeClamped: 0 },
    final: false,
  };
  for (let i = 0; i < n; i++) {
    const h = first + i;
    b.timeMs[i] = T0 + offsetMs + i * (5000 / n);
    const s = 16 * i;
    b.srcAddr[s + 10] = b.srcAddr[s + 11] = 0xff; b.srcAddr[s + 12] = 10; b.srcAddr[s + 13] = 1 + (h >> 16); b.srcAddr[s + 14] = (h >> 8) & 255; b.srcAddr[s + 15] = h & 255;
    b.dstAddr[s + 10] = b.dstAddr[s + 11] = 0xff; b.dstAddr[s + 12] = 10; b.dstAddr[s + 13] = 200; b.dstAddr[s + 15] = 1;
    b.srcPort[i] = 1024 + (h % 60000);
  }
  return b;
}

/** A batch with no packets whose clock closes the windows before `clockMs`. */
const tick = (clockMs) => ({ ...hostsBatch(0, { clockMs }) });

/** Collects `count` output messages of `node`. */
function outputs(node, count) {
  return new Promise((resolve) => {
    const got = [];
    const on = (msg) => { got.push(msg); if (got.length === count) { node.removeListener('input', on); resolve(got); } };
    node.on('input', on);
  });
}

describe('flow-aggregator node: window close in slices', function () {
  this.timeout(60_000);
  beforeEach(function (done) { helper.startServer(done); });
  afterEach(async function () {
    await helper.unload();
    await new Promise((resolve) => { helper.stopServer(resolve); });
  });

  const flow = [{ id: 'n1', type: 'flow-aggregator', windowSeconds: '10', wires: [['out']] }, { id: 'out', type: 'helper' }];

  it('lets the event loop run while a window of 60,000 records is built, and sends the same window as the synchronous core', async function () {
    await helper.load(aggregatorNode, flow);
    const n1 = helper.getNode('n1');
    const out = helper.getNode('out');
    expect(n1, 'node started').to.exist;
    const hosts = 30_000;
    const batches = [hostsBatch(hosts), tick(T0 + 10_000)];
    const core = new FlowAggregator({ windowMs: 10_000 });
    const want = batches.flatMap((b) => core.ingest(b));
    expect(want).to.have.length(1);
    expect(want[0].records.length, 'srcHost + flow record per source').to.be.greaterThan(2 * hosts);

    const got = outputs(out, 1);
    n1.receive({ payload: batches[0] });
    // count the turns the event loop takes while the node folds the tick batch and builds the window
    let turns = 0, running = true;
    const turn = () => { if (running) { turns++; setImmediate(turn); } };
    setImmediate(turn);
    n1.receive({ payload: batches[1] });
    const [msg] = await got;
    running = false;
    expect(turns, 'event-loop turns while the window was built').to.be.at.least(3);
    expect(msg.topic).to.equal('/captures/slices.pcap');
    expect(msg.payload.records).to.have.length(want[0].records.length);
    expect(msg.payload).to.deep.equal(want[0]);
  });

  it('handles messages strictly in order, a bad one in the middle included, and sends each window once', async function () {
    await helper.load(aggregatorNode, flow);
    const n1 = helper.getNode('n1');
    const out = helper.getNode('out');
    expect(n1, 'node started').to.exist;
    // three windows of 8,000 sources each, sent at once: each close takes several slices
    const batches = [0, 1, 2].map((k) => hostsBatch(8000, { first: 8000 * k, offsetMs: 10_000 * k }));
    batches.push(tick(T0 + 30_000));
    const core = new FlowAggregator({ windowMs: 10_000 });
    const want = batches.flatMap((b) => core.ingest(b));
    expect(want.map((w) => w.windowStart)).to.deep.equal([T0, T0 + 10_000, T0 + 20_000]);

    const got = outputs(out, 3);
    const errors = [];
    n1.on('call:error', (call) => { errors.push(String(call.args[0])); });
    n1.receive({ payload: batches[0] });
    n1.receive({ payload: batches[1] });
    n1.receive({ payload: { kind: 'netbaseline/packets' } }); // malformed, queued behind a long job
    n1.receive({ payload: batches[2] });
    n1.receive({ payload: batches[3] });
    const msgs = await got;
    expect(msgs.map((m) => m.payload.windowStart)).to.deep.equal(want.map((w) => w.windowStart));
    msgs.forEach((m, k) => { expect(m.payload).to.deep.equal(want[k]); });
    await new Promise((resolve) => { setTimeout(resolve, 50); });
    expect(errors.filter((e) => /packet batch|must be/.test(e)), 'the bad message is reported once').to.have.length(1);
  });

  it('closes (redeploy, stop) while a window is being built: the close waits for it and nothing escapes', async function () {
    await helper.load(aggregatorNode, flow);
    const n1 = helper.getNode('n1');
    expect(n1, 'node started').to.exist;
    const unhandled = [];
    const onUnhandled = (reason) => { unhandled.push(reason); };
    process.on('unhandledRejection', onUnhandled);
    try {
      n1.receive({ payload: hostsBatch(20_000) });
      n1.receive({ payload: tick(T0 + 10_000) }); // a long close
      n1.receive({ payload: tick(T0 + 20_000) }); // queued: dropped by the close
      await helper.unload(); // resolves only when the node's close handler called done
      await new Promise((resolve) => { setTimeout(resolve, 50); });
      expect(unhandled).to.deep.equal([]);
    } finally {
      process.removeListener('unhandledRejection', onUnhandled);
    }
  });
});
