'use strict';
/**
 * The command-line tool and a Node-RED flow of the six nodes (with the same defaults) give the same
 * alerts on the same capture.
 */
const { expect } = require('chai');
const { Writable } = require('stream');
const path = require('path');
const helper = require('node-red-node-test-helper');
const { main } = require('../../dist/cli/traffic-anomaly');

helper.init(require.resolve('node-red'));

const root = path.resolve(__dirname, '..', '..');
const TYPES = ['pcap-source', 'flow-aggregator', 'ewma-baseline', 'rule-detector', 'cooldown-gate', 'anomaly-formatter'];
const nodeModules = TYPES.map((t) => require(path.join(root, 'nodes', `${t}.js`)));
const CAPTURES = [
  path.join(root, 'examples', 'demo-scan-and-flood.pcap'),
  path.resolve(root, '..', 'shared', 'pcaps', 'pcaphunt__ps-tcp_syn.pcap'),
  path.resolve(root, '..', 'shared', 'pcaps', 'stopddos__pkt.TCP.DOMINATE.syn.ecn.cwr.pcapng'),
];

async function cliEvents(file) {
  const lines = [];
  const out = new Writable({ write(c, _e, cb) { lines.push(...c.toString().split('\n').filter(Boolean)); cb(); } });
  const err = new Writable({ write(_c, _e, cb) { cb(); } });
  expect(await main([file], out, err)).to.equal(0);
  return lines.map((l) => JSON.parse(l));
}

async function flowEvents(file) {
  const flow = [
    { id: 'src', type: 'pcap-source', mode: 'file', filename: file, startOnDeploy: true, wires: [['agg'], ['events']] },
    { id: 'agg', type: 'flow-aggregator', wires: [['base']] },
    { id: 'base', type: 'ewma-baseline', persist: false, wires: [['det', 'windows']] },
    { id: 'det', type: 'rule-detector', wires: [['gate']] },
    { id: 'gate', type: 'cooldown-gate', wires: [['alerts']] },
    { id: 'alerts', type: 'helper' }, { id: 'events', type: 'helper' }, { id: 'windows', type: 'helper' },
  ];
  const alerts = [];
  let finalSeen = false;
  await helper.load(nodeModules, flow);
  for (const id of ['src', 'agg', 'base', 'det', 'gate']) expect(helper.getNode(id), `${id} started`).to.exist;
  helper.getNode('alerts').on('input', (msg) => alerts.push(msg.payload));
  helper.getNode('windows').on('input', (msg) => { if (msg.payload.final) finalSeen = true; });
  const deadline = Date.now() + 30_000;
  while (!finalSeen) {
    if (Date.now() > deadline) throw new Error('the final window never reached ewma-baseline');
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 300)); // let the last window's events through detector and gate
  return alerts;
}

describe('command line and Node-RED flow agree', function () {
  this.timeout(60_000);
  beforeEach(function (done) { helper.startServer(done); });
  afterEach(async function () { await helper.unload(); await new Promise((r) => helper.stopServer(r)); });

  for (const file of CAPTURES) {
    it(`same alerts on ${path.basename(file)}`, async function () {
      const [fromCli, fromFlow] = [await cliEvents(file), await flowEvents(file)];
      expect(fromCli.length, 'the capture raises alerts').to.be.above(0);
      const summary = (e) => `${e.id} ${e.severity} ${e.metric}=${e.value} thr=${e.threshold} findings=${e.findings.length}`;
      expect(fromFlow.map(summary)).to.deep.equal(fromCli.map(summary));
      expect(fromFlow).to.deep.equal(fromCli);
    });
  }
});
