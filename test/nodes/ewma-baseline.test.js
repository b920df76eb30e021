'use strict';
const fs = require('fs');
const path = require('path');
const { expect } = require('chai');
const helper = require('node-red-node-test-helper');
const { useTempUserDir } = require('../fixtures/helper-user-dir');
helper.init(require.resolve('node-red'));
const baselineNode = require('../../nodes/ewma-baseline.js');

const WIN = 10_000;
const T0 = 1_700_000_000_000;
function win(i, records) {
  const windowStart = T0 + i * WIN;
  return {
    kind: 'netbaseline/window', version: 1, source: 'test', windowStart, windowEnd: windowStart + WIN, windowMs: WIN, gapBeforeMs: 0, final: false,
    counters: { packetsSeen: 0, packetsSkipped: 0, trackedFlows: 0, flowEvictions: 0, hostEvictions: 0, windows: i + 1 },
    records: records.map(([scope, key, metrics]) => ({ scope, key, windowStart, windowEnd: windowStart + WIN, metrics })),
  };
}
/** Resolves with the next message the node `id` receives. */
function nextMessage(id) {
  return new Promise((resolve) => helper.getNode(id).once('input', resolve));
}
const flowOf = (id, extra = {}) => [
  { id, type: 'ewma-baseline', name: 'base', fastAlpha: '0.9', slowAlpha: '0.5', bootstrapMinutes: '0', maxKeys: '1000',
    scopeInterface: true, scopeDstHost: true, scopeSrcHost: true, scopeFlow: false, persist: true, wires: [['out'], ['exp']], ...extra },
  { id: 'out', type: 'helper' },
  { id: 'exp', type: 'helper' },
  { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
  { id: 'caught', type: 'helper' },
];

describe('ewma-baseline node', function () {
  const currentUserDir = useTempUserDir(helper, 'nb-ewma-');

  it('annotates a window and keeps msg.topic', async function () {
    await helper.load(baselineNode, flowOf('eb0', { bootstrapMinutes: '5' }));
    const n = helper.getNode('eb0');
    expect(n, 'node started').to.exist;
    const got = nextMessage('out');
    n.receive({ topic: 'windows', payload: win(0, [['dstHost', 'dst 10.0.0.1', { packets: 5 }]]) });
    const msg = await got;
    expect(msg.topic).to.equal('windows');
    expect(msg.payload.records[0].baseline).to.deep.equal({ state: 'bootstrap', firstSeen: T0, samples: 0, metrics: {} });
  });

  it('persists learned baselines across a restart with the same node id and userDir', async function () {
    // slow α 0.5 → mature after ceil(ln 0.05 / ln 0.5) = 5 samples; bootstrap 0 min
    await helper.load(baselineNode, flowOf('eb1'));
    const n = helper.getNode('eb1');
    expect(n, 'node started').to.exist;
    const values = [10, 20, 30, 40, 50, 60];
    for (let i = 0; i < values.length; i++) {
      const got = nextMessage('out');
      n.receive({ payload: win(i, [['dstHost', 'dst 10.0.0.1', { packetsPerSecond: values[i] }]]) });
      await got;
    }
    await helper.unload();
    const file = path.join(currentUserDir(), 'netbaseline', 'baseline-eb1.json');
    expect(fs.existsSync(file), 'snapshot written on close').to.equal(true);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).to.include({ format: 'netbaseline/baseline', version: 1 });

    await helper.load(baselineNode, flowOf('eb1'));
    const n2 = helper.getNode('eb1');
    expect(n2, 'node restarted').to.exist;
    const got = nextMessage('out');
    n2.receive({ payload: win(6, [['dstHost', 'dst 10.0.0.1', { packetsPerSecond: 70 }]]) });
    const b = (await got).payload.records[0].baseline;
    expect(b.state).to.equal('mature');
    expect(b.samples).to.equal(6);
    expect(b.firstSeen).to.equal(T0);
    // slow EWMA α 0.5 of 10,20,…,60 by hand: 10 → 15 → 22.5 → 31.25 → 40.625 → 50.3125
    expect(b.metrics.packetsPerSecond.slow).to.be.closeTo(50.3125, 1e-9);
    // fast α 0.9: 10 → 19 → 28.9 → 38.89 → 48.889 → 58.8889
    expect(b.metrics.packetsPerSecond.fast).to.be.closeTo(58.8889, 1e-9);
  });

  it('a node with another id does not see that file', async function () {
    await helper.load(baselineNode, flowOf('eb1'));
    const got = nextMessage('out');
    helper.getNode('eb1').receive({ payload: win(0, [['dstHost', 'dst 10.0.0.1', { p: 1 }]]) });
    await got;
    await helper.unload();
    await helper.load(baselineNode, flowOf('eb9'));
    const got2 = nextMessage('out');
    helper.getNode('eb9').receive({ payload: win(1, [['dstHost', 'dst 10.0.0.1', { p: 1 }]]) });
    expect((await got2).payload.records[0].baseline.samples).to.equal(0);
  });

  for (const [label, content] of [['not JSON', '{"format": "netbaseline/base'], ['a foreign JSON file', '{"format":"someone/else","version":1}']]) {
    it(`renames a corrupt saved file (${label}) aside, warns and learns afresh`, async function () {
      const dir = path.join(currentUserDir(), 'netbaseline');
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, 'baseline-eb2.json');
      fs.writeFileSync(file, content);
      await helper.load(baselineNode, flowOf('eb2'));
      const n = helper.getNode('eb2');
      expect(n, 'node started').to.exist;
      const aside = fs.readdirSync(dir).filter((f) => /^baseline-eb2\.json\.corrupt-\d+$/.test(f));
      expect(aside).to.have.length(1);
      expect(fs.readFileSync(path.join(dir, aside[0]), 'utf8'), 'kept byte for byte').to.equal(content);
      expect(fs.existsSync(file)).to.equal(false);
      expect(n.warn.called, 'warned').to.equal(true);
      expect(String(n.warn.firstCall.args[0])).to.match(/corrupt or foreign/);
      expect(n.status.lastCall.args[0]).to.include({ fill: 'yellow' });
      const got = nextMessage('out');
      n.receive({ payload: win(0, [['dstHost', 'dst 10.0.0.1', { p: 1 }]]) });
      expect((await got).payload.records[0].baseline.samples).to.equal(0);
    });
  }

  it('rejects a malformed window with an error and red status, keeps its state and keeps working', async function () {
    await helper.load(baselineNode, flowOf('eb3', { persist: false }));
    const n = helper.getNode('eb3');
    expect(n, 'node started').to.exist;
    let got = nextMessage('out');
    n.receive({ payload: win(0, [['dstHost', 'dst 10.0.0.1', { p: 4 }]]) });
    await got;
    const caught = nextMessage('caught');
    n.receive({ payload: win(1, [['dstHost', 'dst 10.0.0.1', { p: -1 }]]) });
    const err = await caught;
    expect(err.error.message).to.match(/metrics\.p must be a finite number ≥ 0/);
    expect(n.status.lastCall.args[0]).to.include({ fill: 'red', shape: 'ring' });
    const caught2 = nextMessage('caught');
    n.receive({ payload: 'hello' });
    expect((await caught2).error.message).to.match(/expected a window object/);
    got = nextMessage('out');
    n.receive({ payload: win(2, [['dstHost', 'dst 10.0.0.1', { p: 8 }]]) });
    const b = (await got).payload.records[0].baseline;
    expect(b.samples, 'only the good window was folded in').to.equal(1);
    expect(b.metrics.p.slow).to.equal(4);
    expect(n.status.lastCall.args[0]).to.include({ fill: 'green', text: '1 key · 0% mature · 1 learning' });
  });

  it('msg.reset clears one key or all keys', async function () {
    await helper.load(baselineNode, flowOf('eb4', { persist: false }));
    const n = helper.getNode('eb4');
    let got = nextMessage('out');
    n.receive({ payload: win(0, [['dstHost', 'dst a', { p: 1 }], ['dstHost', 'dst b', { p: 1 }]]) });
    await got;
    n.receive({ reset: 'dst a' });
    got = nextMessage('out');
    n.receive({ payload: win(1, [['dstHost', 'dst a', { p: 1 }], ['dstHost', 'dst b', { p: 1 }]]) });
    let recs = (await got).payload.records;
    expect(recs.map((r) => r.baseline.samples)).to.deep.equal([0, 1]);
    n.receive({ reset: true });
    got = nextMessage('out');
    n.receive({ payload: win(2, [['dstHost', 'dst a', { p: 1 }], ['dstHost', 'dst b', { p: 1 }]]) });
    recs = (await got).payload.records;
    expect(recs.map((r) => r.baseline.samples)).to.deep.equal([0, 0]);
  });

  it('shows the bootstrap status while most keys bootstrap', async function () {
    await helper.load(baselineNode, flowOf('eb5', { persist: false, bootstrapMinutes: '5' }));
    const n = helper.getNode('eb5');
    const got = nextMessage('out');
    n.receive({ payload: win(0, [['dstHost', 'dst a', { p: 1 }], ['dstHost', 'dst b', { p: 1 }]]) });
    await got;
    expect(n.status.lastCall.args[0]).to.deep.equal({ fill: 'blue', shape: 'dot', text: '2 keys · 0% mature · 2 bootstrap' });
  });

  it('reports a bad configuration and stays deployed', async function () {
    await helper.load(baselineNode, flowOf('eb6', { persist: false, fastAlpha: '0.01' }));
    const n = helper.getNode('eb6');
    expect(n, 'node deployed').to.exist;
    expect(n.status.lastCall.args[0]).to.include({ fill: 'red' });
    expect(String(n.error.firstCall.args[0])).to.match(/fastAlpha/);
  });

  it('reads α and the bootstrap period from environment variables (TypedInput env) when it starts', async function () {
    process.env.NB_TEST_FAST_ALPHA = '0.6';
    process.env.NB_TEST_BOOTSTRAP_MIN = '0';
    try {
      await helper.load(baselineNode, flowOf('eb8', { persist: false, fastAlpha: 'NB_TEST_FAST_ALPHA', fastAlphaType: 'env', bootstrapMinutes: 'NB_TEST_BOOTSTRAP_MIN', bootstrapMinutesType: 'env' }));
      const n = helper.getNode('eb8');
      expect(n, 'node started').to.exist;
      let got = nextMessage('out');
      n.receive({ payload: win(0, [['dstHost', 'dst a', { packets: 10 }]]) });
      await got;
      got = nextMessage('out');
      n.receive({ payload: win(1, [['dstHost', 'dst a', { packets: 20 }]]) });
      await got;
      got = nextMessage('out');
      n.receive({ payload: win(2, [['dstHost', 'dst a', { packets: 30 }]]) });
      const b = (await got).payload.records[0].baseline; // the baseline a window is judged against: before its own sample
      // after samples 10 and 20: fast EWMA = 0.6·20 + 0.4·10 with α from the variable (0.9 in the flow's default)
      expect(b.metrics.packets.fast).to.be.closeTo(0.6 * 20 + 0.4 * 10, 1e-9);
      expect(b.state, 'bootstrap 0 min from the variable').to.not.equal('bootstrap');
    } finally {
      delete process.env.NB_TEST_FAST_ALPHA;
      delete process.env.NB_TEST_BOOTSTRAP_MIN;
    }
  });

  it('an unset environment variable for α is a config error naming it; the node stays deployed', async function () {
    delete process.env.NB_TEST_UNSET_ALPHA;
    await helper.load(baselineNode, flowOf('eb9', { persist: false, slowAlpha: 'NB_TEST_UNSET_ALPHA', slowAlphaType: 'env' }));
    const n = helper.getNode('eb9');
    expect(n, 'node deployed').to.exist;
    expect(n.status.lastCall.args[0]).to.include({ fill: 'red' });
    expect(String(n.error.firstCall.args[0])).to.match(/slowAlpha: environment variable "NB_TEST_UNSET_ALPHA" is not set/);
  });

  it('keeps the saved keys when the configured α changed, and says so in the log', async function () {
    await helper.load(baselineNode, flowOf('eb7'));
    const got = nextMessage('out');
    helper.getNode('eb7').receive({ payload: win(0, [['dstHost', 'dst a', { p: 1 }]]) });
    await got;
    await helper.unload();
    await helper.load(baselineNode, flowOf('eb7', { slowAlpha: '0.2' }));
    const n = helper.getNode('eb7');
    const logged = n.log.getCalls().map((c) => String(c.args[0])).join('\n');
    expect(logged).to.match(/slowAlpha 0\.5 → 0\.2/).and.match(/learned keys kept/);
    const got2 = nextMessage('out');
    n.receive({ payload: win(1, [['dstHost', 'dst a', { p: 1 }]]) });
    expect((await got2).payload.records[0].baseline.samples).to.equal(1);
  });

  it('without a userDir setting it warns and does not persist', async function () {
    helper.settings({ userDir: undefined });
    await helper.load(baselineNode, flowOf('eb8'));
    const n = helper.getNode('eb8');
    expect(n, 'node started').to.exist;
    expect(String(n.warn.firstCall.args[0])).to.match(/userDir is not set/);
    const got = nextMessage('out');
    n.receive({ payload: win(0, [['dstHost', 'dst a', { p: 1 }]]) });
    await got;
    await helper.unload();
    expect(fs.existsSync(path.join(currentUserDir(), 'netbaseline'))).to.equal(false);
  });

  it('status counts keys per maturity state', async function () {
    // slow α 0.5 → mature at 5 samples; bootstrap 0.5 min = 30 s
    await helper.load(baselineNode, flowOf('eb10', { persist: false, bootstrapMinutes: '0.5', zeroFillMinutes: '0' }));
    const n = helper.getNode('eb10');
    expect(n, 'node started').to.exist;
    // windows 0..5: dst a every window; dst b from window 3; dst c in window 5 only
    for (let i = 0; i < 6; i++) {
      const recs = [['dstHost', 'dst a', { p: 1 }]];
      if (i >= 3) recs.push(['dstHost', 'dst b', { p: 1 }]);
      if (i === 5) recs.push(['dstHost', 'dst c', { p: 1 }]);
      const got = nextMessage('out');
      n.receive({ payload: win(i, recs) });
      await got;
    }
    // clock = end of window 5 = T0 + 60 s. a: 6 samples, 60 s old → mature; b: first seen T0 + 30 s,
    // 30 s ≥ 30 s → learning (3 samples); c: first seen T0 + 50 s → bootstrap. floor(1/3·100) = 33 %
    expect(n.status.lastCall.args[0]).to.deep.equal({ fill: 'green', shape: 'dot', text: '3 keys · 33% mature · 1 learning · 1 bootstrap' });
  });

  it('msg.maintenance and msg.freeze switch learning modes, shown in the status; bad values are rejected', async function () {
    await helper.load(baselineNode, flowOf('eb11', { persist: false }));
    const n = helper.getNode('eb11');
    let got = nextMessage('out');
    n.receive({ payload: win(0, [['dstHost', 'dst a', { p: 10 }]]) });
    await got;
    n.receive({ freeze: true });
    expect(n.status.lastCall.args[0]).to.include({ fill: 'yellow', text: '1 key · 0% mature · 1 learning · frozen' });
    got = nextMessage('out');
    n.receive({ payload: win(1, [['dstHost', 'dst a', { p: 1000 }], ['dstHost', 'dst z', { p: 1 }]]) });
    let recs = (await got).payload.records;
    expect(recs[0].baseline.samples).to.equal(1);
    n.receive({ freeze: false });
    got = nextMessage('out');
    n.receive({ payload: win(2, [['dstHost', 'dst a', { p: 10 }], ['dstHost', 'dst z', { p: 1 }]]) });
    recs = (await got).payload.records;
    expect(recs.map((r) => r.baseline.samples), 'nothing learned while frozen').to.deep.equal([1, 0]);
    const caught = nextMessage('caught');
    n.receive({ maintenance: 'yes' });
    expect((await caught).error.message).to.match(/msg\.maintenance must be true\/"on" or false\/"off"/);
    n.receive({ maintenance: 'on' }); // as cooldown-gate reads it, so one message drives both
    expect(n.status.lastCall.args[0].text).to.match(/· maintenance$/);
  });

  /** Feeds windows `from`..`to` (inclusive) of one host at `pps` packet/s; resolves with the last annotated window. */
  async function feed(n, from, to, pps) {
    let out;
    for (let i = from; i <= to; i++) {
      const got = nextMessage('out');
      n.receive({ payload: win(i, [['dstHost', 'dst a', { packetsPerSecond: typeof pps === 'function' ? pps(i) : pps }]]) });
      out = (await got).payload;
    }
    return out;
  }

  it('msg.maintenance learns a surge at full weight; without it the surge is clipped', async function () {
    // slow α 0.5: after 6 windows at 100 the slow EWMA is 100 with σ 0; a 5,000 packet/s window then
    // enters at full weight in maintenance (0.5·5000 + 0.5·100 = 2550), else clipped at μ + floor (10)
    await helper.load(baselineNode, flowOf('eb11m', { persist: false }));
    const n = helper.getNode('eb11m');
    await feed(n, 0, 5, 100);
    n.receive({ maintenance: true });
    await feed(n, 6, 6, 5000);
    n.receive({ maintenance: 'off' });
    const after = await feed(n, 7, 7, 100);
    expect(after.records[0].baseline.metrics.packetsPerSecond.slow).to.be.closeTo(2550, 1e-9);

    await helper.unload();
    await helper.load(baselineNode, flowOf('eb11c', { persist: false }));
    const c = helper.getNode('eb11c');
    await feed(c, 0, 6, (i) => (i === 6 ? 5000 : 100));
    const clipped = await feed(c, 7, 7, 100);
    expect(clipped.records[0].baseline.metrics.packetsPerSecond.slow).to.be.below(200);
  });

  it('maintenance schedules from the editor (cooldown-gate syntax, packet time) learn at full weight and show in the status', async function () {
    // T0 is 2023-11-14 22:13:20 UTC: window 40 starts at 22:20:00, window 100 at 22:30:00
    await helper.load(baselineNode, flowOf('eb11s', { persist: false, maintenanceSchedules: '# nightly change window\ndaily 22:20-22:30 UTC' }));
    const n = helper.getNode('eb11s');
    await feed(n, 0, 39, 100);
    expect(n.status.lastCall.args[0].text).to.not.match(/maintenance/);
    await feed(n, 40, 40, 5000);
    expect(n.status.lastCall.args[0]).to.include({ fill: 'yellow' });
    expect(n.status.lastCall.args[0].text).to.match(/· maintenance$/);
    const next = await feed(n, 41, 41, 100);
    expect(next.records[0].baseline.metrics.packetsPerSecond.slow).to.be.closeTo(2550, 1e-9);
    await feed(n, 100, 100, 100);
    expect(n.status.lastCall.args[0].text).to.not.match(/maintenance/);
  });

  it('a bad maintenance schedule is a config error naming the line; the node stays deployed and rejects input', async function () {
    await helper.load(baselineNode, flowOf('eb11b', { persist: false, maintenanceSchedules: 'Mon-Fri 25:00-26:00' }));
    const n = helper.getNode('eb11b');
    expect(n, 'node started').to.exist;
    expect(n.status.lastCall.args[0].fill).to.equal('red');
    expect(n.status.lastCall.args[0].text).to.match(/schedule line 1/);
    const caught = nextMessage('caught');
    n.receive({ payload: win(0, [['dstHost', 'dst a', { p: 1 }]]) });
    expect((await caught).error.message).to.match(/schedule line 1/);
  });

  it('exports the state on the second output (topic baseline-export) and imports a snapshot (topic baseline-import)', async function () {
    await helper.load(baselineNode, flowOf('eb12', { persist: false }));
    const n = helper.getNode('eb12');
    for (let i = 0; i < 3; i++) {
      const got = nextMessage('out');
      n.receive({ payload: win(i, [['dstHost', 'dst a', { p: 10 * (i + 1) }]]) });
      await got;
    }
    let exported = nextMessage('exp');
    n.receive({ topic: 'baseline-export' });
    const snap = (await exported).payload;
    expect((await exported).topic).to.equal('baseline-export');
    expect(snap).to.include({ format: 'netbaseline/baseline', version: 1 });
    expect(snap.keys.map((k) => [k.key, k.samples])).to.deep.equal([['dst a', 3]]);
    const text = JSON.stringify(snap);

    // a bad import is rejected and changes nothing
    const caught = nextMessage('caught');
    n.receive({ topic: 'baseline-import', payload: { format: 'netbaseline/baseline', version: 1, keys: 'x' } });
    expect((await caught).error.message).to.match(/baseline snapshot: options must be an object/);
    n.receive({ reset: true });
    exported = nextMessage('exp');
    n.receive({ topic: 'baseline-export' });
    expect((await exported).payload.keys).to.deep.equal([]);

    // import the JSON text exported before the reset: the key is back with its samples
    n.receive({ topic: 'baseline-import', payload: text });
    const got = nextMessage('out');
    n.receive({ payload: win(3, [['dstHost', 'dst a', { p: 40 }]]) });
    const b = (await got).payload.records[0].baseline;
    expect(b.samples).to.equal(3);
    // slow α 0.5 of 10, 20, 30: 10 → 15 → 22.5
    expect(b.metrics.p.slow).to.be.closeTo(22.5, 1e-12);
  });

  it('puts the line-rate bootstrap thresholds on the window', async function () {
    await helper.load(baselineNode, flowOf('eb13', { persist: false, lineRateMbps: '1000', lineRatePercent: '10' }));
    const got = nextMessage('out');
    helper.getNode('eb13').receive({ payload: win(0, [['interface', 'iface eth0', { p: 1 }]]) });
    const t = (await got).payload.bootstrapThresholds;
    expect(t).to.include({ bitsPerSecond: 1e8, lineRateBitsPerSecond: 1e9, fraction: 0.1 });
    expect(t.packetsPerSecond).to.be.closeTo(1e8 / 672, 1e-6);
  });

  it('takes the packet/s threshold from "Line rate (packet/s)" when it is set', async function () {
    await helper.load(baselineNode, flowOf('eb13p', { persist: false, lineRateMbps: '1000', lineRatePps: '500000', lineRatePercent: '20' }));
    const got = nextMessage('out');
    helper.getNode('eb13p').receive({ payload: win(0, [['interface', 'iface eth0', { p: 1 }]]) });
    expect((await got).payload.bootstrapThresholds).to.include({ bitsPerSecond: 2e8, packetsPerSecond: 100_000, fraction: 0.2 });
  });

  it('seasonal hour-of-day profile from the editor: records are baselined under "<key> @HHh"', async function () {
    await helper.load(baselineNode, flowOf('eb14', { persist: false, seasonal: 'hour-of-day', seasonalDays: '3', seasonalTimeZone: 'utc' }));
    const n = helper.getNode('eb14');
    expect(n, 'node started').to.exist;
    expect(n.status.called && n.status.lastCall.args[0].fill === 'red', 'no config error').to.equal(false);
    for (let i = 0; i < 2; i++) {
      const got = nextMessage('out');
      n.receive({ payload: win(i, [['dstHost', 'dst a', { p: 1 }]]) });
      await got;
    }
    const exported = nextMessage('exp');
    n.receive({ topic: 'baseline-export' });
    // T0 = 1,700,000,000,000 ms = 2023-11-14 22:13:20 UTC
    expect((await exported).payload.keys.map((k) => [k.key, k.samples])).to.deep.equal([['dst a @22h', 2]]);
  });
});
