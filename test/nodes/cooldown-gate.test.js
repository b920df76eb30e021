'use strict';
const { expect } = require('chai');
const helper = require('node-red-node-test-helper');
const { useTempUserDir } = require('../fixtures/helper-user-dir');
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
    { id: 'n1', z: 'f1', type: 'cooldown-gate', name: 'gate', cooldown: '5', persist: false, wires: [['out'], ['summary'], ['answer']], ...config },
    { id: 'out', z: 'f1', type: 'helper' }, { id: 'summary', z: 'f1', type: 'helper' }, { id: 'answer', z: 'f1', type: 'helper' },
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
  return { n1, out: collect(helper.getNode('out')), summary: collect(helper.getNode('summary')), answer: collect(helper.getNode('answer')), caught: collect(helper.getNode('caught')), statuses };
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
    await until(() => statuses.some((s) => s.text === '1 open · 2 passed · 2 held'));
    expect(statuses[statuses.length - 1]).to.deep.equal({ fill: 'green', shape: 'dot', text: '1 open · 2 passed · 2 held' });
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
    n1.receive({ payload: { kind: 'netbaseline/windows', records: [] } });
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
    await until(() => statuses[statuses.length - 1].text === '1 open · 2 passed · 1 held');
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
    expect(err.error.message).to.match(/cooldown-gate: cooldownMs must be a finite number/);
    const logged = helper.log().args.map((a) => a[0]).filter((e) => e.level === helper.log().ERROR && e.id === 'n1');
    expect(logged.map((e) => e.msg).join('\n')).to.match(/cooldownMs must be/);
  });

  it('reads the cooldown from an environment variable (TypedInput env) when it starts', async function () {
    process.env.NB_TEST_COOLDOWN_MIN = '1';
    try {
      const { n1, out } = await start({ cooldown: 'NB_TEST_COOLDOWN_MIN', cooldownType: 'env' });
      n1.receive({ payload: event() });
      await out.next();
      n1.receive({ payload: event({ time: T0 + MIN - 1, message: 'held' }) });
      n1.receive({ payload: event({ time: T0 + MIN, message: 'passes' }) });
      expect((await out.next()).payload.message, 'a 1 min cooldown, not the default 5').to.equal('passes');
    } finally {
      delete process.env.NB_TEST_COOLDOWN_MIN;
    }
  });

  it('reads the incident window from global context (TypedInput global)', async function () {
    helper.settings({ functionGlobalContext: { incidentSeconds: 5 } }); // global context as settings.js seeds it
    let started;
    try {
      started = await start({ incidentWindowSeconds: 'incidentSeconds', incidentWindowSecondsType: 'global', notify: 'incident' });
    } finally {
      helper.settings({});
    }
    const { n1, answer } = started;
    n1.receive({ payload: event({ key: 'dst 10.0.0.7', scope: 'dstHost', dstIp: '10.0.0.7' }) });
    n1.receive({ payload: event({ key: 'dst 10.0.0.7', scope: 'dstHost', dstIp: '10.0.0.7', rule: 'spike', time: T0 + 10_000 }) });
    await new Promise((r) => setTimeout(r, 60));
    n1.receive({ query: 'open' });
    const open = (await answer.next()).payload;
    expect(open).to.have.length(2);
    expect(open[0].incident.id, '10 s apart with a 5 s incident window: two incidents').to.not.equal(open[1].incident.id);
  });

  it('an unset or non-numeric environment variable is a config error naming it; the node stays deployed', async function () {
    delete process.env.NB_TEST_UNSET;
    const { n1, caught } = await start({ cooldown: 'NB_TEST_UNSET', cooldownType: 'env' });
    n1.receive({ payload: event() });
    const err = await caught.next();
    expect(err.error.message).to.match(/environment variable "NB_TEST_UNSET" is not set/);
    await helper.unload();
    process.env.NB_TEST_NAN = 'five';
    try {
      const second = await start({ cooldown: 'NB_TEST_NAN', cooldownType: 'env' });
      second.n1.receive({ payload: event() });
      expect((await second.caught.next()).error.message).to.match(/cooldown: "five" is not a number/);
    } finally {
      delete process.env.NB_TEST_NAN;
    }
  });

  it('a window message is a tick: an anomaly quiet for the resolve period comes out as a resolved event', async function () {
    const { n1, out } = await start({ resolveAfterSeconds: '30' });
    const tick = (end, final = false) => n1.receive({ payload: { kind: 'netbaseline/window', windowStart: end - 10_000, windowEnd: end, windowMs: 10_000, records: [], final } });
    n1.receive({ payload: event({ value: 700 }) });
    expect((await out.next()).payload.status).to.equal('firing');
    n1.receive({ payload: event({ time: T0 + 10_000, value: 900 }) }); // held
    for (const t of [10, 20, 30]) tick(T0 + t * 1000); // 20 s after the last event: still open
    n1.receive({ query: 'open', marker: 1 });
    tick(T0 + 40_000);
    const resolved = await out.next();
    expect(resolved.topic).to.equal('src 10.0.0.140');
    expect(resolved.payload).to.include({ status: 'resolved', time: T0 + 40_000, peakValue: 900, suppressedCount: 1, durationMs: 20_000 });
  });

  it('msg.query "open" answers on output 3 with the open anomalies, keeping msg (e.g. an HTTP request)', async function () {
    const { n1, answer } = await start();
    n1.receive({ payload: event({ key: 'src a', srcIp: 'a' }) });
    n1.receive({ payload: event({ key: 'src b', srcIp: 'b', rule: 'spike' }) });
    n1.receive({ query: 'open', req: 'the request' });
    const reply = await answer.next();
    expect(reply.req).to.equal('the request');
    expect(reply.payload.map((e) => `${e.key} ${e.rule}`)).to.deep.equal(['src a port-scan', 'src b spike']);
    n1.receive({ query: 'stats' });
    expect((await answer.next()).payload).to.include({ keys: 2, passed: 2, incidents: 2 });
  });

  it('incident mode: the events of one window are one page, led by the host event, and one resolved event', async function () {
    const { n1, out } = await start({ notify: 'incident' });
    const w = { start: T0 - 10_000, end: T0, ms: 10_000 };
    n1.receive({ payload: event({ window: w, rule: 'dual-ewma', severity: 'high', scope: 'interface', key: 'iface eth0', metric: 'synCount' }) });
    n1.receive({ payload: event({ window: w, rule: 'dual-ewma', severity: 'high', scope: 'dstHost', key: 'dst 10.0.0.5', dstIp: '10.0.0.5', metric: 'synCount' }) });
    const page = await out.next();
    expect(page.payload.key).to.equal('dst 10.0.0.5');
    expect(page.payload.incident).to.include({ events: 2, keyCount: 2 });
    n1.receive({ payload: { kind: 'netbaseline/window', windowStart: T0 + 20_000, windowEnd: T0 + 30_000, windowMs: 10_000, records: [], final: false } });
    const resolved = await out.next();
    expect(resolved.payload).to.include({ status: 'resolved', key: 'dst 10.0.0.5', time: T0 + 30_000 });
    expect(resolved.payload.incident.id).to.equal(page.payload.incident.id);
  });

  it('msg.maintenance holds alerts (blue status) and sends a summary on output 2 when it ends', async function () {
    const { n1, out, summary, statuses } = await start();
    n1.receive({ maintenance: 'on' });
    await until(() => statuses.some((s) => s.fill === 'blue'));
    n1.receive({ payload: event() });
    n1.receive({ payload: event({ time: T0 + 10_000 }) });
    n1.receive({ maintenance: false, topic: 'button' });
    const s = await summary.next();
    expect(s.topic).to.equal('maintenance');
    expect(s.payload).to.include({ kind: 'netbaseline/maintenance-summary', held: 2, keyCount: 1, reason: 'manual' });
    // the anomaly was never notified: its next event passes
    n1.receive({ payload: event({ time: T0 + 20_000, message: 'after maintenance' }) });
    expect((await out.next()).payload.message).to.equal('after maintenance');
  });

  it('a bad schedule is a config error naming the line', async function () {
    const { n1, caught } = await start({ schedules: 'Mon-Fri 22:00-06:00 Europe/Berlin\nsometimes' });
    n1.receive({ payload: event() });
    expect((await caught.next()).error.message).to.match(/schedule line 2 "sometimes"/);
  });
});

describe('cooldown-gate node: state survives a restart', function () {
  const fs = require('fs');
  const path = require('path');
  const currentUserDir = useTempUserDir(helper, 'nb-gate-');

  it('writes open anomalies and cooldowns to <userDir>/netbaseline/cooldown-<id>.json on stop and reads them on start', async function () {
    let { n1, out } = await start({ persist: true });
    n1.receive({ payload: event() });
    await out.next();
    n1.receive({ payload: event({ time: T0 + 10_000 }) }); // held
    await helper.unload(); // close: the state is written
    const file = path.join(currentUserDir(), 'netbaseline', 'cooldown-n1.json');
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).to.include({ kind: 'netbaseline/cooldown-snapshot', version: 2, passed: 1, suppressed: 1 });
    ({ n1, out } = await start({ persist: true }));
    n1.receive({ query: 'open' });
    n1.receive({ payload: event({ time: T0 + 20_000 }) }); // still in its cooldown after the restart: held
    n1.receive({ payload: event({ time: T0 + 5 * MIN, message: 'after' }) });
    const after = await out.next();
    expect(after.payload.message).to.equal('after');
    expect(after.payload.suppressedCount).to.equal(2); // one before the restart, one after
  });

  it('a corrupt state file is moved aside with a warning and the node starts empty', async function () {
    fs.mkdirSync(path.join(currentUserDir(), 'netbaseline'), { recursive: true });
    fs.writeFileSync(path.join(currentUserDir(), 'netbaseline', 'cooldown-n1.json'), '{ not json');
    const { n1, out } = await start({ persist: true });
    expect(fs.readdirSync(path.join(currentUserDir(), 'netbaseline')).some((f) => /^cooldown-n1\.json\.corrupt-/.test(f))).to.equal(true);
    n1.receive({ payload: event() });
    expect((await out.next()).payload.suppressedCount).to.equal(0);
    const warned = helper.log().args.map((x) => x[0]).filter((e) => e.level === helper.log().WARN && e.id === 'n1');
    expect(warned.map((e) => e.msg).join('\n')).to.match(/corrupt or foreign: not valid JSON/);
  });
});
