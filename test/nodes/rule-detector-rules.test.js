'use strict';
/**
 * rule-detector node (Node-RED 4 test helper): the sensitivity profile and the rules of issue #6
 * reach the runtime from the panel's fields (strings, as the editor saves them), and the runtime
 * control messages msg.allow / msg.override change the lists without losing evidence.
 */
const { expect } = require('chai');
const helper = require('node-red-node-test-helper');
const { inputsOf } = require('../fixtures/node-outputs');
helper.init(require.resolve('node-red'));
const detectorNode = require('../../nodes/rule-detector.js');

const { WIN, T0, windowMessage } = require('../fixtures/windows');
const win = (i, records) => windowMessage(i, records, { source: 'test.pcap' });
const mature = { state: 'mature', firstSeen: T0 - 3_600_000, samples: 100, metrics: { newFlows: { fast: 100, slow: 100, mean: 100, std: 1, samples: 100 } } };
/** 550 new flows against fast = slow = 100: above default (3, 5), below spiky (5, 8.33). */
const burst = (ip) => ({ scope: 'dstHost', key: `dst ${ip}`, dstIp: ip, metrics: { newFlows: 550 }, baseline: mature });
const flood = (ip) => ({ scope: 'dstHost', key: `dst ${ip}`, dstIp: ip, metrics: { synCount: 5000, distinctPeers: 3000, handshakes: 0 } });
const srcScan = (ip, syns, ports) => ({ scope: 'srcHost', key: `src ${ip}`, srcIp: ip, metrics: { synCount: syns }, scan: { synDstPorts: ports, truncated: false, synDstHosts: 1 } });
const range = (from, n) => Array.from({ length: n }, (_, i) => from + i);

const collect = (id) => inputsOf(helper.getNode(id)).msgs;
const settle = () => new Promise((r) => setTimeout(r, 30));
const flow = (extra = {}) => [
  { id: 'rd', type: 'rule-detector', name: 'rules', spike: false, wires: [['out']], ...extra },
  { id: 'out', type: 'helper' },
  { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
  { id: 'caught', type: 'helper' },
];
const rulesOf = (msgs) => msgs.flatMap((m) => m.payload.findings.map((f) => `${f.rule} ${m.payload.key}`));

describe('rule-detector node: profiles, new rules, runtime allow/override', function () {
  beforeEach(function (done) { helper.startServer(done); });
  afterEach(async function () { await helper.unload(); await new Promise((r) => helper.stopServer(r)); });

  it('the panel\'s profile sets the multipliers (spiky: no alert, default: alert); a flow without a profile keeps its numbers', async function () {
    for (const [extra, expected] of [[{ profile: 'spiky' }, []], [{ profile: 'default' }, ['dual-ewma dst 10.0.0.5']],
      [{ profile: 'default', fastMultiplier: '9' }, ['dual-ewma dst 10.0.0.5']], // preset wins over the (greyed) numbers
      [{ fastMultiplier: '9' }, []]]) { // no profile field (flow saved before profiles): custom, fast × 9
      await helper.load(detectorNode, flow(extra));
      const n = helper.getNode('rd');
      expect(n, 'node started').to.exist;
      const out = collect('out');
      n.receive({ payload: win(0, [burst('10.0.0.5')]) });
      await settle();
      expect(rulesOf(out), JSON.stringify(extra)).to.deep.equal(expected);
      await helper.unload();
    }
  });

  it('the noise floors come from the panel (default 1 Mbit/s: a 500 kbit/s burst of an idle host is no alert)', async function () {
    const idle = { state: 'mature', firstSeen: T0 - 3_600_000, samples: 100, metrics: { bitsPerSecond: { fast: 10_000, slow: 10_000, mean: 10_000, std: 1_000, samples: 100 } } };
    const rec = { scope: 'dstHost', key: 'dst 10.0.0.9', dstIp: '10.0.0.9', metrics: { bitsPerSecond: 500_000 }, baseline: idle };
    for (const [extra, expected] of [[{}, []], [{ floorMbps: '0.08' }, ['dual-ewma dst 10.0.0.9']]]) {
      await helper.load(detectorNode, flow(extra));
      const out = collect('out');
      helper.getNode('rd').receive({ payload: win(0, [rec]) });
      await settle();
      expect(rulesOf(out), JSON.stringify(extra)).to.deep.equal(expected);
      await helper.unload();
    }
  });

  it('the recent-peak guard comes from the panel: on in a flow without its fields, off unticked, factor and half-life (min, also from env)', async function () {
    // bursts of 550 new flows (above 3 × and 5 × the baseline 100) in windows 0, 1 and 2 h later (burst 0, 1, 2): which alert per setting
    const later = 1 + (2 * 3_600_000) / WIN;
    process.env.NB_TEST_PEAK_FACTOR = '1.2';
    for (const [extra, expected] of [
      [{}, [0, 2]], // on by default: the second burst is within 2 × the first; after 2 h (4 half-lives of 30 min) the peak is 550 / 16 and 550 > 2 × 34 fires
      [{ peakGuard: false }, [0, 1, 2]],
      [{ peakFactor: '0' }, [0, 1, 2]],
      [{ peakFactor: 'NB_TEST_PEAK_FACTOR', peakFactorType: 'env', peakHalfLifeMinutes: '600' }, [0]], // 550 ≤ 1.2 × 550; 2 h of a 10 h half-life: 550 × 0.87 × 1.2 > 550
      [{ peakHalfLifeMinutes: '600' }, [0]],
    ]) {
      await helper.load(detectorNode, flow(extra));
      const n = helper.getNode('rd');
      expect(n, 'node started').to.exist;
      const out = collect('out');
      for (const i of [0, 1, later]) n.receive({ payload: win(i, [burst('10.0.0.5')]) });
      await settle();
      const fired = out.map((m) => [0, 1, later].indexOf((m.payload.window.start - T0) / WIN));
      expect(fired, JSON.stringify(extra)).to.deep.equal(expected);
      await helper.unload();
    }
  });

  it('an unknown profile is a configuration error (red status), the node stays deployed', async function () {
    await helper.load(detectorNode, flow({ profile: 'paranoid' }));
    const n = helper.getNode('rd');
    expect(n, 'node deployed').to.exist;
    expect(n.status.lastCall.args[0]).to.include({ fill: 'red' });
    expect(n.status.lastCall.args[0].text).to.include('paranoid');
  });

  it('new rules are switched and tuned from the panel: syn-flood on, off, and with a stricter source count', async function () {
    for (const [extra, fires] of [[{}, true], [{ synFlood: false }, false], [{ floodMinSources: '5000' }, false], [{ floodSynPerSecond: '400' }, true]]) {
      await helper.load(detectorNode, flow({ bootstrapStatic: false, ...extra }));
      const out = collect('out');
      helper.getNode('rd').receive({ payload: win(0, [flood('10.10.10.10')]) });
      await settle();
      expect(rulesOf(out).includes('syn-flood dst 10.10.10.10'), JSON.stringify(extra)).to.equal(fires);
      if (fires) expect(out[0].payload.hints).to.deep.equal(['SYN flood']);
      await helper.unload();
    }
  });

  it('msg.allow adds to the allow-list at runtime (status says so), remove takes it out; evidence of others is kept', async function () {
    await helper.load(detectorNode, flow({ bootstrapStatic: false }));
    const n = helper.getNode('rd');
    const out = collect('out');
    n.receive({ payload: win(0, [srcScan('10.0.0.140', 60, range(1, 15))]) });
    // the dashboard's "false positive" button
    n.receive({ allow: { cidr: '10.10.10.10/32', note: 'false positive: syn-flood dst 10.10.10.10' } });
    await settle();
    expect(n.status.lastCall.args[0].text).to.include('allow-list +10.10.10.10/32');
    expect(n.status.lastCall.args[0].text).to.include('allow-listed');
    n.receive({ payload: win(1, [flood('10.10.10.10'), srcScan('10.0.0.140', 60, range(16, 15))]) });
    await settle();
    // the flood target is allow-listed; the scanner's first window was not lost (60 + 60 SYNs to 30 ports)
    expect(rulesOf(out)).to.deep.equal(['port-scan src 10.0.0.140']);
    n.receive({ allow: { cidr: '10.10.10.10/32', remove: true } });
    n.receive({ payload: win(2, [flood('10.10.10.10')]) });
    await settle();
    expect(rulesOf(out)).to.deep.equal(['port-scan src 10.0.0.140', 'syn-flood dst 10.10.10.10']);
  });

  it('an allow-list row with a service port (as the editor saves it) skips only that service\'s flows', async function () {
    await helper.load(detectorNode, flow({ scopeFlow: true, bootstrapStatic: true, allowList: [{ cidr: '10.0.0.80/32', port: '5201/tcp', note: 'speed test' }] }));
    const n = helper.getNode('rd');
    expect(n, 'node started').to.exist;
    const out = collect('out');
    const busy = (sport, dport) => ({ scope: 'flow', key: `tcp 192.0.2.1:${sport} > 10.0.0.80:${dport}`, srcIp: '192.0.2.1', srcPort: sport, dstIp: '10.0.0.80', dstPort: dport, protocol: 'tcp', metrics: { packetsPerSecond: 20_000 } });
    n.receive({ payload: win(0, [busy(50000, 5201), busy(50001, 22)]) });
    await settle();
    expect(out.map((m) => m.payload.key)).to.deep.equal(['tcp 192.0.2.1:50001 > 10.0.0.80:22']);
    expect(n.status.lastCall.args[0].text).to.include('1 allow-listed');
  });

  it('admin-fanout ports come from the panel as text; a bad one is a configuration error', async function () {
    const tries = (n, port) => [{ scope: 'srcHost', key: 'src 10.1.0.27', srcIp: '10.1.0.27', metrics: { synCount: n } },
      ...Array.from({ length: n }, (_, k) => ({ scope: 'flow', key: `tcp 10.1.0.27:${40000 + k} > 10.1.1.${k}:${port}`, srcIp: '10.1.0.27', srcPort: 40000 + k, dstIp: `10.1.1.${k}`, dstPort: port, protocol: 'tcp', metrics: { synCount: 1, packets: 1 } }))];
    for (const [extra, port, expected] of [[{}, 8080, []], [{ adminPorts: '8080, 9090' }, 8080, ['admin-fanout src 10.1.0.27']], [{ adminFanout: false }, 445, []]]) {
      await helper.load(detectorNode, flow({ bootstrapStatic: false, horizontalScan: false, ...extra }));
      const out = collect('out');
      helper.getNode('rd').receive({ payload: win(0, tries(25, port)) });
      await settle();
      expect(rulesOf(out), JSON.stringify(extra)).to.deep.equal(expected);
      await helper.unload();
    }
    await helper.load(detectorNode, flow({ adminPorts: '22, ssh' }));
    expect(helper.getNode('rd').status.lastCall.args[0].text).to.include('admin ports: "ssh" is not a port');
  });

  it('a bad service port in the panel is a configuration error', async function () {
    await helper.load(detectorNode, flow({ allowList: [{ cidr: '10.0.0.80/32', port: '99999' }] }));
    const n = helper.getNode('rd');
    expect(n, 'node deployed').to.exist;
    expect(n.status.lastCall.args[0]).to.include({ fill: 'red' });
    expect(n.status.lastCall.args[0].text).to.match(/allow-list entry 1: port must be 1–65535/);
  });

  it('msg.override gives a host a profile at runtime; a bad CIDR is rejected and changes nothing', async function () {
    await helper.load(detectorNode, flow({ profile: 'default' }));
    const n = helper.getNode('rd');
    const out = collect('out');
    const caught = collect('caught');
    n.receive({ override: { cidr: '10.0.0.5/32', profile: 'spiky' } });
    n.receive({ allow: 'not-a-cidr' });
    await settle();
    expect(caught).to.have.length(1);
    expect(caught[0].error.message).to.match(/not an IPv4 address/);
    expect(n.status.lastCall.args[0]).to.include({ fill: 'red' });
    n.receive({ payload: win(0, [burst('10.0.0.5'), burst('10.0.0.6')]) });
    await settle();
    expect(rulesOf(out)).to.deep.equal(['dual-ewma dst 10.0.0.6']);
    n.receive({ override: { cidr: '10.0.0.5/32', remove: true } });
    n.receive({ payload: win(1, [burst('10.0.0.5')]) });
    await settle();
    expect(rulesOf(out)).to.deep.equal(['dual-ewma dst 10.0.0.6', 'dual-ewma dst 10.0.0.5']);
  });
});
