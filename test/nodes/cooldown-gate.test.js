'use strict';
const { expect } = require('chai');
const helper = require('node-red-node-test-helper');
helper.init(require.resolve('node-red'));
const cooldownNode = require('../../nodes/cooldown-gate.js');
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

const T0 = Date.UTC(2024, 4, 1, 10, 0, 0);
const MIN = 60_000;

function event(over = {}) {
  return {
    kind: 'netbaseline/anomaly', version: 1, id: 'x', status: 'firing',
    time: T0, window: { start: T0 - 10_000, end: T0, ms: 10_000 },
    rule: 'port-scan', severity: 'medium', scope: 'srcHost', key: 'src 10.0.0.140',
    metric: 'distinctDstPorts', value: 500, threshold: 100, baseline: null, deviationPercent: 400,
    message: 'scan', findings: [], source: 'test.pcap', ...over,
  };
}

/** Messages a helper node receives, in order; `next()` resolves with the next one. */
function collect(node) {
  const queue = []; const waiting = [];
  node.on('input', (msg) => { if (waiting.length) waiting.shift()(msg); else queue.push(msg); });
  return { next: () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiting.push(r))) };
}

/** Resolves once `predicate()` is true (polls the event loop; no timing is asserted). */
async function until(predicate) {
  while (!predicate()) await new Promise((r) => setImmediate(r));
}

function flow(config = {}) {
  return [
    { id: 'f1', type: 'tab', label: 'test' },
    { id: 'n1', z: 'f1', type: 'cooldown-gate', name: 'gate', cooldown: '5', wires: [['out']], ...config },
    { id: 'out', z: 'f1', type: 'helper' },
    { id: 'c1', z: 'f1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'f1', type: 'helper' },
  ];
}

async function start(config) {
  await helper.load([cooldownNode, catchNode], flow(config));
  const n1 = helper.getNode('n1');
  expect(n1, 'cooldown-gate started').to.exist;
  expect(helper.getNode('c1'), 'catch started').to.exist;
  const statuses = [];
  n1.on('call:status', (call) => statuses.push(call.args[0]));
  return { n1, out: collect(helper.getNode('out')), caught: collect(helper.getNode('caught')), statuses };
}

describe('cooldown-gate node', function () {
  beforeEach(function (done) { helper.startServer(done); });
  afterEach(async function () { await helper.unload(); await new Promise((r) => helper.stopServer(r)); });

  it('passes the first event, holds repeats, and passes after the cooldown with the count', async function () {
    const { n1, out, statuses } = await start();
    n1.receive({ payload: event(), extra: 'kept' });
    const first = await out.next();
    expect(first.topic).to.equal('src 10.0.0.140');
    expect(first.extra).to.equal('kept');
    expect(first.payload.suppressedCount).to.equal(0);
    n1.receive({ payload: event({ time: T0 + 1 * MIN }) });
    n1.receive({ payload: event({ time: T0 + 2 * MIN }) });
    n1.receive({ payload: event({ time: T0 + 5 * MIN, message: 'after' }) });
    // the held events produced nothing: the next output is the one after the cooldown
    const after = await out.next();
    expect(after.payload.message).to.equal('after');
    expect(after.payload.suppressedCount).to.equal(2);
    await until(() => statuses.some((s) => s.text === '2 passed · 2 held'));
    expect(statuses[statuses.length - 1]).to.deep.equal({ fill: 'green', shape: 'dot', text: '2 passed · 2 held' });
  });

  it('uses the configured cooldown in minutes of packet time', async function () {
    const { n1, out } = await start({ cooldown: '1' });
    n1.receive({ payload: event() });
    await out.next();
    n1.receive({ payload: event({ time: T0 + MIN - 1, message: 'held' }) });
    n1.receive({ payload: event({ time: T0 + MIN, message: 'passes' }) });
    expect((await out.next()).payload.message).to.equal('passes');
  });

  it('lets an escalation to high pass at once', async function () {
    const { n1, out } = await start();
    n1.receive({ payload: event() });
    await out.next();
    n1.receive({ payload: event({ time: T0 + 10_000 }) });
    n1.receive({ payload: event({ time: T0 + 20_000, severity: 'high' }) });
    const up = await out.next();
    expect(up.payload.severity).to.equal('high');
    expect(up.payload.suppressedCount).to.equal(1);
  });

  it('rejects a malformed message (red status, error to Catch) and keeps its state', async function () {
    const { n1, out, caught, statuses } = await start();
    n1.receive({ payload: event() });
    await out.next();
    n1.receive({ payload: event({ time: T0 + 10_000 }) }); // held: 1 held
    n1.receive({ payload: { kind: 'netbaseline/window', records: [] } });
    const err = await caught.next();
    expect(err.error.message).to.match(/expected msg\.payload\.kind "netbaseline\/anomaly"/);
    expect(err.error.source.id).to.equal('n1');
    await until(() => statuses.some((s) => s.fill === 'red'));
    const red = statuses.find((s) => s.fill === 'red');
    expect(red.shape).to.equal('ring');
    expect(red.text).to.match(/netbaseline\/anomaly/);
    // still running, and the held count survived the bad message
    n1.receive({ payload: event({ time: T0 + 5 * MIN }) });
    const after = await out.next();
    expect(after.payload.suppressedCount).to.equal(1);
    await until(() => statuses[statuses.length - 1].text === '2 passed · 1 held');
  });

  it('msg.reset clears the state', async function () {
    const { n1, out, statuses } = await start();
    n1.receive({ payload: event() });
    await out.next();
    n1.receive({ reset: true });
    await until(() => statuses.some((s) => /^reset/.test(s.text)));
    n1.receive({ payload: event({ time: T0 + 10_000, message: 'again' }) }); // would be held without the reset
    const again = await out.next();
    expect(again.payload.message).to.equal('again');
    expect(again.payload.suppressedCount).to.equal(0);
  });

  it('a bad cooldown is a config error: red status, inputs rejected, node stays deployed', async function () {
    const { n1, caught } = await start({ cooldown: '-3' });
    n1.receive({ payload: event() });
    const err = await caught.next();
    expect(err.error.message).to.match(/cooldown: cooldownMs must be a finite number/);
    const logged = helper.log().args.map((a) => a[0]).filter((e) => e.level === helper.log().ERROR && e.id === 'n1');
    expect(logged.map((e) => e.msg).join('\n')).to.match(/cooldown: cooldownMs must be/);
  });
});
