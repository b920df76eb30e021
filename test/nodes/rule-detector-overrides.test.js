'use strict';
/**
 * rule-detector node: the panel's per-host overrides, allow-list and environment-variable settings
 * reach the runtime (Node-RED 4 test helper), and status texts come from the message catalogue.
 */
const { expect } = require('chai');
const fs = require('fs');
const path = require('path');
const helper = require('node-red-node-test-helper');
const { inputsOf } = require('../fixtures/node-outputs');
helper.init(require.resolve('node-red'));
const detectorNode = require('../../nodes/rule-detector.js');

const catalogue = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'nodes', 'locales', 'en-US', 'rule-detector.json'), 'utf8'))['rule-detector'];
const { WIN, T0, windowMessage } = require('../fixtures/windows');
const win = (i, records) => windowMessage(i, records, { source: 'test' });
const mature = { state: 'mature', firstSeen: T0 - 3_600_000, samples: 100, metrics: { synCount: { fast: 10, slow: 5, mean: 5, std: 1, samples: 100 } } };
// 40 SYNs against fast EWMA 10 / slow EWMA 5: above 3 × 10 and 5 × 5 (the defaults), below 5 × 10
const dst = (ip, syn = 40) => ({ scope: 'dstHost', key: `dst ${ip}`, dstIp: ip, metrics: { synCount: syn }, baseline: mature });
const scanner = (ip, syns, ports) => ({ scope: 'srcHost', key: `src ${ip}`, srcIp: ip, metrics: { synCount: syns }, scan: { synDstPorts: ports, truncated: false, synDstHosts: 1 } });
const range = (from, n) => Array.from({ length: n }, (_, i) => from + i);

const collect = (id) => inputsOf(helper.getNode(id)).msgs;
const settle = () => new Promise((r) => setTimeout(r, 30));
const flow = (extra = {}) => [
  { id: 'rd', type: 'rule-detector', name: 'rules', spike: false, bootstrapStatic: false, wires: [['out']], ...extra },
  { id: 'out', type: 'helper' },
];

describe('rule-detector node: overrides, allow-list, env settings, catalogue', function () {
  beforeEach(function (done) { helper.startServer(done); });
  afterEach(async function () {
    delete process.env.NB_TEST_FAST;
    await helper.unload();
    await new Promise((r) => helper.stopServer(r));
  });

  it('judges hosts in an override with its values and skips allow-listed hosts (as the editor saves them)', async function () {
    await helper.load(detectorNode, flow({
      peakGuard: false, // the same host again at 60 after 40: judged on its multipliers alone, not held back as within 2 × its recent peak
      overrides: [{ cidr: '192.168.10.5/32', fastMultiplier: '5' }, { cidr: '10.9.0.0/16', scanSyns: '10', scanPorts: '5' }],
      allowList: [{ cidr: '192.168.10.0/24', note: 'office' }, { cidr: '10.0.0.0/8' }],
    }));
    const n = helper.getNode('rd');
    expect(n, 'node started').to.exist;
    const out = collect('out');
    n.receive({ payload: win(0, [
      dst('192.168.10.5'), // override /32 beats the allow-listed /24: fast × 5 = 50 > 40, no alert
      dst('192.168.10.6'), // allow-listed
      dst('172.16.0.1'), // the node's own settings: alerts
      scanner('10.1.2.3', 200, range(1, 50)), // allow-listed: no port-scan alert although it scans
      scanner('10.9.0.1', 11, range(1, 6)), // override: 11 SYNs > 10 to 6 ports > 5
    ]) });
    await settle();
    expect(out.map((m) => [m.topic, m.payload.rule])).to.deep.equal([['dst 172.16.0.1', 'dual-ewma'], ['src 10.9.0.1', 'port-scan']]);
    const status = n.status.lastCall.args[0];
    expect(status.fill).to.equal('yellow');
    expect(status.text).to.equal('2 anomalies · last: src 10.9.0.1 · 2 allow-listed');
    // above 5 × its fast EWMA the overridden host alerts, with the override's multiplier in the explanation
    n.receive({ payload: win(1, [dst('192.168.10.5', 60)]) });
    await settle();
    expect(out).to.have.length(3);
    expect(out[2].payload.message).to.match(/above 5× its fast EWMA/);
  });

  it('reads a threshold from an environment variable (TypedInput env)', async function () {
    process.env.NB_TEST_FAST = '5';
    // peak guard off: 60 after 40 would be within 2 × the host's recent peak
    await helper.load(detectorNode, flow({ fastMultiplier: 'NB_TEST_FAST', fastMultiplierType: 'env', peakGuard: false }));
    const n = helper.getNode('rd');
    expect(n, 'node started').to.exist;
    const out = collect('out');
    n.receive({ payload: win(0, [dst('172.16.0.1', 40)]) }); // 40 < 5 × 10
    n.receive({ payload: win(1, [dst('172.16.0.1', 60)]) }); // 60 > 5 × 10
    await settle();
    expect(out.map((m) => m.payload.value)).to.deep.equal([60]);
  });

  it('reports an environment variable that is not a number, and a bad CIDR, in status and log', async function () {
    process.env.NB_TEST_FAST = 'three';
    await helper.load(detectorNode, flow({ fastMultiplier: 'NB_TEST_FAST', fastMultiplierType: 'env' }));
    let n = helper.getNode('rd');
    expect(n, 'node stays deployed').to.exist;
    expect(n.status.lastCall.args[0]).to.include({ fill: 'red', shape: 'ring' });
    expect(n.error.lastCall.args[0]).to.equal('rule-detector: bad configuration: fastMultiplier: environment variable NB_TEST_FAST is "three", not a number');
    await helper.unload();

    await helper.load(detectorNode, flow({ allowList: [{ cidr: '10.0.0.0/8' }, { cidr: '192.168.1.300/24' }] }));
    n = helper.getNode('rd');
    expect(n, 'node stays deployed').to.exist;
    expect(n.error.lastCall.args[0]).to.match(/^rule-detector: bad configuration: allow-list entry 2: "192\.168\.1\.300\/24": .*not an IPv4 address/);
    expect(n.status.lastCall.args[0].text).to.match(/^config: allow-list entry 2/);
  });

  it('takes its status texts from the catalogue nodes/locales/en-US/rule-detector.json', async function () {
    await helper.load(detectorNode, flow());
    const n = helper.getNode('rd');
    expect(n, 'node started').to.exist;
    n.receive({ payload: win(0, [dst('172.16.0.1', 1)]) });
    await settle();
    const fill = (tpl, vars) => tpl.replace(/__(\w+)__/g, (_m, k) => String(vars[k]));
    expect(n.status.lastCall.args[0].text).to.equal(fill(catalogue.status.window, { windows: 1, anomalies: 0 }));
    n.receive({ payload: win(1, [dst('172.16.0.1', 40)]) });
    await settle();
    expect(n.status.lastCall.args[0].text).to.equal(fill(catalogue.status.anomaly, { count: 1, key: 'dst 172.16.0.1' }));
    n.receive({ reset: true });
    await settle();
    expect(n.status.lastCall.args[0].text).to.equal(catalogue.status.cleared);
  });
});
