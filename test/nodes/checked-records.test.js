'use strict';
// A window's records are checked in full (every metric value) once per process: ewma-baseline checks
// them before annotating and marks the array it sends on (markRecordsChecked in src/nodes/glue.ts);
// rule-detector then checks that array's shape only. Anything else — a window straight from
// flow-aggregator or a function node, a clone Node-RED made for a second wire — is checked in full.
const { expect } = require('chai');
const helper = require('node-red-node-test-helper');
helper.init(require.resolve('node-red'));
const baselineNode = require('../../nodes/ewma-baseline.js');
const detectorNode = require('../../nodes/rule-detector.js');
const { assertWindowRecords, ContractError } = require('../../dist/core/contracts');
const { markRecordsChecked, recordsChecked } = require('../../dist/nodes/glue');
const { RuleDetector } = require('../../dist/core/rules');
const { windowMessage } = require('../fixtures/windows');

const record = (metrics, extra = {}) => ({ scope: 'dstHost', key: 'dst 10.9.0.1', dstIp: '10.9.0.1', metrics, ...extra });
const rejects = (records, metricValues) => { try { assertWindowRecords(records, 0, records.length, metricValues); return null; } catch (err) { return err; } };
const waitFor = async (cond, ms = 5000) => { const end = Date.now() + ms; while (!cond()) { if (Date.now() > end) throw new Error('timed out'); await new Promise((r) => setTimeout(r, 10)); } };

describe('assertWindowRecords: metric values', function () {
  it('rejects a metric that is not a finite number ≥ 0, naming it, and accepts 0 and fractions', function () {
    for (const bad of [-1, NaN, Infinity, -Infinity, '5', null, undefined, {}]) {
      const err = rejects([record({ bytes: 10, synCount: bad })]);
      expect(err, `synCount ${String(bad)}`).to.be.instanceOf(ContractError);
      expect(err.message).to.equal('window: records[0].metrics.synCount must be a finite number ≥ 0');
    }
    expect(rejects([record({ bytes: 0, bitsPerSecond: 0.25, packets: Number.MAX_VALUE })])).to.equal(null);
  });

  it('skips an inherited enumerable property, as Object.entries does', function () {
    const metrics = Object.create({ inherited: 'not mine' });
    metrics.bytes = 10;
    expect(rejects([record(metrics)])).to.equal(null);
    metrics.own = 'mine';
    expect(rejects([record(metrics)]).message).to.match(/metrics\.own must be/);
  });

  it('with metricValues false checks the shape of every record but not the values', function () {
    expect(rejects([record({ synCount: -5 })], false)).to.equal(null);
    expect(rejects([record({ synCount: 1 }), 'junk'], false).message).to.equal('window: records[1] is not an object');
    expect(rejects([record({ synCount: 1 }, { scope: 'planet' })], false).message).to.match(/records\[0\]\.scope must be one of/);
    expect(rejects([record({ synCount: 1 }, { key: '' })], false).message).to.match(/records\[0\]\.key must be a non-empty string/);
    expect(rejects([record(7)], false).message).to.match(/records\[0\]\.metrics must be an object/);
  });
});

describe('records checked once per process (ewma-baseline → rule-detector)', function () {
  this.timeout(30_000);
  beforeEach(function (done) { helper.startServer(done); });
  afterEach(async function () { await helper.unload(); await new Promise((r) => helper.stopServer(r)); });

  it('ewma-baseline marks the records array it sends on; the events rule-detector finds are those of the core', async function () {
    await helper.load([baselineNode, detectorNode], [
      { id: 'eb', type: 'ewma-baseline', persist: false, wires: [['rd', 'tap']] },
      { id: 'tap', type: 'helper' },
      { id: 'rd', type: 'rule-detector', wires: [['out'], []] },
      { id: 'out', type: 'helper' },
    ]);
    const taps = [];
    helper.getNode('tap').on('input', (m) => taps.push(m));
    const events = [];
    helper.getNode('out').on('input', (m) => events.push(m.payload));
    const win = windowMessage(0, [record({ synCount: 9639, packets: 9639 }), record({ synCount: 1 }, { key: 'dst 10.9.0.2', dstIp: '10.9.0.2' })]);
    expect(recordsChecked(win.records), 'the input is not marked').to.equal(false);
    helper.getNode('eb').receive({ payload: win });
    await waitFor(() => taps.length === 1 && events.length > 0);
    // the second wire gets Node-RED's clone: a new array, not marked, checked in full where it goes
    expect(recordsChecked(taps[0].payload.records), 'a clone is not marked').to.equal(false);
    const expected = new RuleDetector().evaluate(taps[0].payload);
    expect(expected.length, 'the SYN flood is found').to.be.greaterThan(0);
    expect(events.map((e) => `${e.rule} ${e.key} ${e.metric}`)).to.deep.equal(expected.map((e) => `${e.rule} ${e.key} ${e.metric}`));
  });

  it('ewma-baseline output wired to one node carries the marked array', async function () {
    await helper.load([baselineNode], [
      { id: 'eb', type: 'ewma-baseline', persist: false, wires: [['tap']] },
      { id: 'tap', type: 'helper' },
    ]);
    const taps = [];
    helper.getNode('tap').on('input', (m) => taps.push(m));
    helper.getNode('eb').receive({ payload: windowMessage(0, [record({ synCount: 3 })]) });
    await waitFor(() => taps.length === 1);
    expect(recordsChecked(taps[0].payload.records)).to.equal(true);
  });

  it('rule-detector checks a marked array\'s shape only and any other array in full', async function () {
    await helper.load(detectorNode, [
      { id: 'rd', type: 'rule-detector', wires: [['out'], ['ticks']] },
      { id: 'out', type: 'helper' },
      { id: 'ticks', type: 'helper' },
      { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
    ]);
    const caught = [];
    helper.getNode('caught').on('input', (m) => caught.push(m));
    const ticks = [];
    helper.getNode('ticks').on('input', (m) => ticks.push(m));
    const rd = helper.getNode('rd');
    // a bad metric value: rejected when unmarked …
    rd.receive({ payload: windowMessage(0, [record({ synCount: -5 })]) });
    await waitFor(() => caught.length === 1);
    expect(caught[0].error.message).to.match(/metrics\.synCount must be a finite number ≥ 0/);
    // … judged when a node of this process checked it in full (the mark)
    const marked = windowMessage(1, [record({ synCount: -5 })]);
    markRecordsChecked(marked.records);
    rd.receive({ payload: marked });
    await waitFor(() => ticks.length === 1);
    expect(caught.length).to.equal(1);
    // a marked array whose record lost its shape is still rejected
    const broken = windowMessage(2, [record({ synCount: 1 })]);
    broken.records.push('junk');
    markRecordsChecked(broken.records);
    rd.receive({ payload: broken });
    await waitFor(() => caught.length === 2);
    expect(caught[1].error.message).to.match(/window: records\[1\] is not an object/);
  });
});
