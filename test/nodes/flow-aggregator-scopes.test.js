'use strict';
/**
 * The service, hostPair and subnet scopes through the nodes (real Node-RED 4 runtime in the test
 * helper): flow-aggregator emits them when ticked, ewma-baseline baselines them when ticked, and
 * rule-detector judges them when ticked.
 */
const { expect } = require('chai');
const fs = require('fs');
const os = require('os');
const path = require('path');
const helper = require('node-red-node-test-helper');
const { inputsOf } = require('../fixtures/node-outputs');
helper.init(require.resolve('node-red'));
const aggregatorNode = require('../../nodes/flow-aggregator.js');
const baselineNode = require('../../nodes/ewma-baseline.js');
const detectorNode = require('../../nodes/rule-detector.js');
const { eth, ipv4, tcp, udp, pcapFile } = require('../fixtures/capture-builder');
const { assertWindowMessage } = require('../../dist/core/contracts');
const { readCaptureFileSync } = require('../../dist/core/replay');

const SYN = 0x02, ACK = 0x10, SYNACK = SYN | ACK;
const T0S = 1_700_000_000; // seconds; 1.7e12 ms is a multiple of 10 000

/** Writes frames [{ ms, frame }] to a pcap file and returns the decoded batches. */
function batchesOf(frames) {
  const file = path.join(os.tmpdir(), `agg-scopes-node-${process.pid}-${Math.random().toString(36).slice(2)}.pcap`);
  fs.writeFileSync(file, pcapFile({ linkType: 1 }, frames.map(({ ms, frame }) => ({
    sec: T0S + Math.floor(ms / 1000), frac: (ms % 1000) * 1000, data: frame,
  }))));
  try { return readCaptureFileSync(file).batches; } finally { fs.unlinkSync(file); }
}
const v4 = (src, dst, seg, proto = 6) => eth(0x0800, ipv4({ src, dst, proto, payload: seg }));

const collect = (id) => inputsOf(helper.getNode(id));

describe('flow-aggregator node: service, hostPair and subnet scopes', function () {
  beforeEach(function (done) { helper.startServer(done); });
  afterEach(async function () {
    await helper.unload();
    await new Promise((resolve) => { helper.stopServer(resolve); });
  });

  it('emits the ticked scopes with the configured IPv4 prefix, and keeps the defaults (no new scopes) otherwise', async function () {
    const frames = [
      { ms: 0, frame: v4('10.0.0.1', '10.0.1.5', tcp({ sport: 40000, dport: 443, seq: 1, flags: SYN })) },
      { ms: 100, frame: v4('10.0.1.5', '10.0.0.1', tcp({ sport: 443, dport: 40000, seq: 9, ack: 2, flags: SYNACK })) },
      { ms: 200, frame: v4('10.0.0.1', '10.0.1.5', tcp({ sport: 40000, dport: 443, seq: 2, ack: 10, flags: ACK })) },
      { ms: 300, frame: v4('10.2.0.7', '10.0.1.5', udp({ sport: 50000, dport: 53, payload: Buffer.alloc(20) }), 17) },
    ];
    const flow = [
      { id: 'all', type: 'flow-aggregator', scopeInterface: false, scopeDstHost: false, scopeSrcHost: false, scopeFlow: false,
        scopeService: true, scopeHostPair: true, scopeSubnet: true, subnetPrefixV4: '16', wires: [['outAll']] },
      { id: 'dflt', type: 'flow-aggregator', wires: [['outDflt']] },
      { id: 'outAll', type: 'helper' },
      { id: 'outDflt', type: 'helper' },
    ];
    await helper.load(aggregatorNode, flow);
    expect(helper.getNode('all'), 'node started').to.exist;
    const all = collect('outAll');
    const dflt = collect('outDflt');
    for (const b of batchesOf(frames)) { helper.getNode('all').receive({ payload: b }); helper.getNode('dflt').receive({ payload: b }); }
    const [[w], [d]] = await Promise.all([all.count(1), dflt.count(1)]);
    assertWindowMessage(w.payload);
    const keys = (scope) => w.payload.records.filter((r) => r.scope === scope).map((r) => r.key).sort();
    expect(new Set(w.payload.records.map((r) => r.scope))).to.deep.equal(new Set(['service', 'hostPair', 'subnet']));
    expect(keys('service')).to.deep.equal(['10.0.1.5:443/tcp', '10.0.1.5:53/udp']);
    expect(keys('hostPair')).to.deep.equal(['10.0.0.1 > 10.0.1.5', '10.0.1.5 > 10.0.0.1', '10.2.0.7 > 10.0.1.5'].sort());
    // /16: 10.0.0.1 and 10.0.1.5 share 10.0.0.0/16; 10.2.0.7 is in 10.2.0.0/16
    expect(keys('subnet')).to.deep.equal(['dst 10.0.0.0/16', 'src 10.0.0.0/16', 'src 10.2.0.0/16'].sort());
    const got = w.payload.records.find((r) => r.key === 'dst 10.0.0.0/16');
    expect(got.metrics.packets, 'all four packets went to 10.0.0.0/16').to.equal(4);
    expect(got.metrics.distinctHosts, '10.0.1.5 and 10.0.0.1 received').to.equal(2);
    expect(got.metrics.distinctPeers, 'from 10.0.0.1, 10.0.1.5 and 10.2.0.7').to.equal(3);
    expect(d.payload.records.some((r) => ['service', 'hostPair', 'subnet'].includes(r.scope)), 'default: no new scopes').to.equal(false);
    expect(d.payload.records.some((r) => r.scope === 'flow')).to.equal(true);
  });

  it('rejects a bad subnet prefix length as a configuration error (red status), not a crash', async function () {
    await helper.load(aggregatorNode, [{ id: 'n1', type: 'flow-aggregator', scopeSubnet: true, subnetPrefixV4: '40', wires: [[]] }]);
    const n1 = helper.getNode('n1');
    expect(n1, 'node started').to.exist;
    await new Promise((r) => setTimeout(r, 20));
    const last = n1.status.lastCall ? n1.status.lastCall.args[0] : n1.status.args[n1.status.args.length - 1];
    expect(last).to.include({ fill: 'red' });
    expect(last.text).to.match(/subnetPrefixV4/);
  });

  it('shows a yellow status when the service, host-pair or subnet table refuses keys', async function () {
    // cap 2 per role: sources A, B and destinations C, D fit the host table; their 4 pairs do not fit the pair table
    const frames = [['10.0.0.1', '10.0.1.3'], ['10.0.0.1', '10.0.1.4'], ['10.0.0.2', '10.0.1.3'], ['10.0.0.2', '10.0.1.4']]
      .map(([src, dst], i) => ({ ms: i * 10, frame: v4(src, dst, tcp({ sport: 40000 + i, dport: 443, flags: SYN })) }));
    await helper.load(aggregatorNode, [{ id: 'n1', type: 'flow-aggregator', scopeHostPair: true, maxHostsPerWindow: '2', wires: [['out']] },
      { id: 'out', type: 'helper' }]);
    const n1 = helper.getNode('n1');
    expect(n1, 'node started').to.exist;
    const out = collect('out');
    for (const b of batchesOf(frames)) n1.receive({ payload: b });
    const [w] = await out.count(1);
    expect(w.payload.counters.hostEvictions).to.equal(0);
    expect(w.payload.counters.hostPairEvictions).to.equal(2);
    expect(w.payload.records.filter((r) => r.scope === 'hostPair').map((r) => r.key)).to.deep.equal(['10.0.0.1 > 10.0.1.3', '10.0.0.1 > 10.0.1.4']);
    await new Promise((r) => setTimeout(r, 20));
    expect(n1.status.lastCall.args[0]).to.include({ fill: 'yellow', text: 'service/pair/subnet cap hit · 2 refused' });
  });

  it('ewma-baseline baselines and rule-detector judges service, hostPair and subnet records when ticked', async function () {
    // 10 s window 0: a SYN flood of 2,000 SYNs from 2,000 sources in 10.9.0.0/16 to 10.0.1.5:443 (200 SYN/s, above
    // rule-detector's bootstrap threshold of 100 SYN/s); a packet at 10 s closes the window.
    const frames = [];
    for (let i = 0; i < 2000; i++) {
      frames.push({ ms: i * 4, frame: v4(`10.9.${i >> 8}.${i & 255}`, '10.0.1.5', tcp({ sport: 1024 + i, dport: 443, seq: i, flags: SYN })) });
    }
    frames.push({ ms: 10_000, frame: v4('10.0.0.1', '10.0.1.5', tcp({ sport: 40000, dport: 22, seq: 1, flags: ACK })) });
    const scopes = { scopeInterface: false, scopeDstHost: false, scopeSrcHost: false, scopeFlow: false, scopeService: true, scopeHostPair: true, scopeSubnet: true };
    const flow = [
      { id: 'agg', type: 'flow-aggregator', ...scopes, wires: [['eb', 'ebOff']] },
      { id: 'eb', type: 'ewma-baseline', persist: false, ...scopes, wires: [['rd', 'annotated'], []] },
      { id: 'ebOff', type: 'ewma-baseline', persist: false, wires: [['plain'], []] },
      { id: 'rd', type: 'rule-detector', ...scopes, wires: [['anomalies']] },
      { id: 'annotated', type: 'helper' },
      { id: 'plain', type: 'helper' },
      { id: 'anomalies', type: 'helper' },
    ];
    await helper.load([aggregatorNode, baselineNode, detectorNode], flow);
    for (const id of ['agg', 'eb', 'ebOff', 'rd']) expect(helper.getNode(id), `${id} started`).to.exist;
    const annotated = collect('annotated');
    const plain = collect('plain');
    const anomalies = collect('anomalies');
    for (const b of batchesOf(frames)) helper.getNode('agg').receive({ payload: b });
    const [[a], [p]] = await Promise.all([annotated.count(1), plain.count(1)]);
    // ticked: every record of the three scopes carries a baseline
    const recs = a.payload.records;
    for (const scope of ['service', 'hostPair', 'subnet']) {
      const of = recs.filter((r) => r.scope === scope);
      expect(of.length, scope).to.be.greaterThan(0);
      for (const r of of) expect(r.baseline, `${scope} ${r.key}`).to.be.an('object');
    }
    expect(recs.filter((r) => r.scope === 'hostPair')).to.have.length(2000);
    // not ticked (ewma-baseline's default scopes): the records pass through without a baseline
    expect(p.payload.records.filter((r) => r.scope === 'service')).to.have.length(1);
    expect(p.payload.records.every((r) => r.baseline === undefined)).to.equal(true);
    // rule-detector: the flood on the service and on the destination subnet, judged by the bootstrap SYN-rate threshold
    await anomalies.count(2);
    await new Promise((r) => setTimeout(r, 50));
    const byKey = new Map(anomalies.msgs.map((m) => [m.payload.key, m.payload]));
    const svc = byKey.get('10.0.1.5:443/tcp');
    expect(svc, `anomaly keys: ${[...byKey.keys()].join(', ')}`).to.exist;
    expect(svc.scope).to.equal('service');
    expect(svc.message).to.include('to 10.0.1.5:443/tcp');
    const net = byKey.get('dst 10.0.1.0/24');
    expect(net, `anomaly keys: ${[...byKey.keys()].join(', ')}`).to.exist;
    expect(net.scope).to.equal('subnet');
    // each source /24 sent 256 SYNs (25.6 SYN/s), below the threshold: judged per record, not per scope
    expect(byKey.has('src 10.9.0.0/24')).to.equal(false);
    expect([...byKey.values()].every((e) => ['service', 'subnet', 'hostPair'].includes(e.scope))).to.equal(true);
  });
});
