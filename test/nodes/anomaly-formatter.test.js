'use strict';
const { expect } = require('chai');
const helper = require('node-red-node-test-helper');
helper.init(require.resolve('node-red'));
const formatterNode = require('../../nodes/anomaly-formatter.js');
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

const TIME = Date.UTC(2024, 4, 1, 10, 42, 17);

/**
 * Message properties the `e-mail` (send) node of node-red-node-email 5.2.5 reads (61-email.js):
 * the formatter sets topic (subject), payload (HTML body) and plaintext (text alternative), and must
 * set none of the others, which would change recipients, sender, headers or attachments.
 */
const EMAIL_NODE_READS_OTHER = ['to', 'cc', 'bcc', 'from', 'replyTo', 'inReplyTo', 'references', 'headers', 'header',
  'priority', 'envelope', 'attachments', 'title', 'filename', 'description'];

/** The e-mail node (61-email.js) sends msg.payload as HTML, with msg.plaintext as the text part, when it matches this. */
const EMAIL_NODE_HTML_SNIFF = /<[a-z][\s\S]*>/i;

function event(over = {}) {
  return {
    kind: 'netbaseline/anomaly', version: 1, id: 'port-scan|src 10.0.0.140|0', status: 'firing',
    time: TIME, window: { start: TIME - 10_000, end: TIME, ms: 10_000 },
    rule: 'port-scan', severity: 'high', scope: 'srcHost', key: 'src 10.0.0.140', srcIp: '10.0.0.140',
    metric: 'distinctDstPorts', value: 1000, threshold: 100, baseline: null, deviationPercent: 900,
    message: 'SYNs to 1,000 ports',
    findings: [{ rule: 'port-scan', severity: 'high', metric: 'distinctDstPorts', value: 1000, threshold: 100, baseline: null, deviationPercent: 900, explanation: '' }],
    source: 'scan.pcap', suppressedCount: 4, ...over,
  };
}

function collect(node) {
  const queue = []; const waiting = [];
  node.on('input', (msg) => { if (waiting.length) waiting.shift()(msg); else queue.push(msg); });
  return { next: () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiting.push(r))) };
}

async function until(predicate) {
  while (!predicate()) await new Promise((r) => setImmediate(r));
}

async function start(shape, extra = {}) {
  await helper.load([formatterNode, catchNode], [
    { id: 'f1', type: 'tab', label: 'test' },
    { id: 'n1', z: 'f1', type: 'anomaly-formatter', name: '', shape, wires: [['out']], ...extra },
    { id: 'out', z: 'f1', type: 'helper' },
    { id: 'c1', z: 'f1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'f1', type: 'helper' },
  ]);
  const n1 = helper.getNode('n1');
  expect(n1, 'anomaly-formatter started').to.exist;
  const statuses = [];
  n1.on('call:status', (call) => statuses.push(call.args[0]));
  return { n1, out: collect(helper.getNode('out')), caught: collect(helper.getNode('caught')), statuses };
}

describe('anomaly-formatter node', function () {
  beforeEach(function (done) { helper.startServer(done); });
  afterEach(async function () { await helper.unload(); await new Promise((r) => helper.stopServer(r)); });

  it('text: one line per alert and finding, MQTT topic, other properties kept', async function () {
    const { n1, out, statuses } = await start('text');
    n1.receive({ payload: event(), topic: 'src 10.0.0.140', extra: 42 });
    const msg = await out.next();
    expect(msg.extra).to.equal(42);
    expect(msg.topic).to.equal('netbaseline/high/srcHost/src_10.0.0.140');
    expect(msg.payload).to.equal([
      '[HIGH] 2024-05-01T10:42:17Z port-scan src 10.0.0.140: SYNs to 1,000 ports [4 repeats held back]',
      '  port-scan: distinctDstPorts 1,000 ports vs 100 ports (no baseline, +900%)',
    ].join('\n'));
    expect(msg).to.not.have.property('plaintext');
    await until(() => statuses.some((s) => s.text === 'text · 1 sent'));
  });

  it('json: the event as an object and the MQTT topic', async function () {
    const { n1, out } = await start('json');
    const e = event({ scope: 'flow', key: 'tcp 10.0.0.1:51234 > 10.0.0.2:80' });
    n1.receive({ payload: e });
    const msg = await out.next();
    expect(msg.payload).to.deep.equal(e);
    expect(msg.topic).to.equal('netbaseline/high/flow/tcp_10.0.0.1:51234_>_10.0.0.2:80');
  });

  it('email: sets topic, payload (HTML) and plaintext, and nothing else node-red-node-email reads', async function () {
    const { n1, out, statuses } = await start('email');
    const input = { payload: event({ key: 'src <10.0.0.140> & co' }), topic: 'src 10.0.0.140', keep: 'me' };
    n1.receive(input);
    const msg = await out.next();
    expect(Object.keys(msg).sort()).to.deep.equal(['_msgid', 'keep', 'payload', 'plaintext', 'topic']);
    for (const p of EMAIL_NODE_READS_OTHER) expect(msg, p).to.not.have.property(p);
    expect(msg).to.not.have.property('html'); // the e-mail node never reads it
    expect(msg.topic).to.equal('[netbaseline] HIGH port-scan on src <10.0.0.140> & co');
    expect(msg.payload).to.be.a('string').and.to.match(EMAIL_NODE_HTML_SNIFF); // sent as the HTML part
    expect(msg.payload).to.include('src &lt;10.0.0.140&gt; &amp; co');
    expect(msg.payload).to.not.include('<10.0.0.140>');
    expect(msg.payload).to.include('signal to investigate, not a verdict');
    expect(msg.plaintext).to.be.a('string').and.to.include('signal to investigate, not a verdict');
    expect(msg.plaintext).to.include('src <10.0.0.140> & co');
    expect(msg.plaintext).to.not.include('&lt;');
    await until(() => statuses.some((s) => s.text === 'email · 1 sent' && s.fill === 'green'));
  });

  it('rejects a malformed message (red status, error to Catch) and keeps working', async function () {
    const { n1, out, caught, statuses } = await start('email');
    n1.receive({ payload: 'not an event' });
    const err = await caught.next();
    expect(err.error.message).to.match(/expected an anomaly object in msg\.payload/);
    await until(() => statuses.some((s) => s.fill === 'red' && /anomaly object/.test(s.text)));
    n1.receive({ payload: event() });
    const msg = await out.next();
    expect(msg.topic).to.equal('[netbaseline] HIGH port-scan on src 10.0.0.140');
    await until(() => statuses[statuses.length - 1].text === 'email · 1 sent');
  });

  it('an unknown shape is a config error: logged, inputs rejected, node stays deployed', async function () {
    const { n1, caught } = await start('sms');
    n1.receive({ payload: event() });
    const err = await caught.next();
    expect(err.error.message).to.match(/shape must be one of text, json, email, mqtt, slack, teams, discord, syslog, cef, dashboard-table, dashboard-notification, dashboard-chart, got "sms"/);
    const logged = helper.log().args.map((a) => a[0]).filter((e) => e.level === helper.log().ERROR && e.id === 'n1');
    expect(logged.map((e) => e.msg).join('\n')).to.match(/shape must be one of/);
  });

  it('mqtt with retain: firing retained; resolved sent, then an empty retained payload on the same topic', async function () {
    const { n1, out } = await start('mqtt', { retain: true, topicTemplate: 'nb/{scope}/{key}' });
    n1.receive({ payload: event() });
    const firing = await out.next();
    expect(firing.topic).to.equal('nb/srcHost/src_10.0.0.140');
    expect(firing.retain).to.equal(true);
    expect(firing.payload.status).to.equal('firing');
    n1.receive({ payload: event({ status: 'resolved', time: TIME + 30_000, durationMs: 10_000, peakValue: 1000 }) });
    const resolved = await out.next();
    const clear = await out.next();
    expect(resolved).to.include({ topic: firing.topic, retain: false });
    expect(resolved.payload.status).to.equal('resolved');
    expect(clear).to.include({ topic: firing.topic, payload: '', retain: true });
  });

  it('slack: JSON body and content-type header for the http request node', async function () {
    const { n1, out } = await start('slack');
    n1.receive({ payload: event() });
    const msg = await out.next();
    expect(msg.headers).to.deep.equal({ 'content-type': 'application/json' });
    expect(msg.payload.text).to.match(/^HIGH port-scan on src 10\.0\.0\.140: SYNs to 1,000 ports$/);
  });

  it('a bad topic template or syslog facility is a config error', async function () {
    const { n1, caught } = await start('mqtt', { topicTemplate: 'nb/{colour}' });
    n1.receive({ payload: event() });
    expect((await caught.next()).error.message).to.match(/unknown placeholder \{colour\}/);
  });

  describe('FlowFuse Dashboard 2 shapes', function () {
    const gateNode = require('../../nodes/cooldown-gate.js');
    const changeNode = require('@node-red/nodes/core/function/15-change.js');

    it('dashboard-table: the open anomalies as rows; a single event is refused with a pointer to msg.query', async function () {
      const { n1, out, caught, statuses } = await start('dashboard-table');
      n1.receive({ payload: [event(), event({ key: 'dst 10.0.0.9', scope: 'dstHost', srcIp: undefined, dstIp: '10.0.0.9', severity: 'medium', time: TIME + 10_000 })] });
      const msg = await out.next();
      expect(msg.topic).to.equal('netbaseline/open-anomalies');
      expect(msg.payload.map((r) => [r.key, r.cidr])).to.deep.equal([['src 10.0.0.140', '10.0.0.140/32'], ['dst 10.0.0.9', '10.0.0.9/32']]);
      await until(() => statuses.some((s) => s.text === 'table · 2 open'));
      n1.receive({ payload: event() });
      expect((await caught.next()).error.message).to.match(/msg\.query = "open"/);
    });

    it('dashboard-notification: the toast text and msg.ui_update.color', async function () {
      const { n1, out } = await start('dashboard-notification');
      n1.receive({ payload: event(), keep: 'me' });
      const msg = await out.next();
      expect(msg.payload).to.equal('HIGH port-scan on src 10.0.0.140: SYNs to 1,000 ports · 4 repeats held back');
      expect(msg.ui_update).to.deep.equal({ color: '#c62828' });
      expect(msg.keep, 'other properties kept').to.equal('me');
    });

    it('dashboard-chart: msg.chartKey chooses the key and clears the chart; windows give value and baseline points', async function () {
      const { n1, out, caught, statuses } = await start('dashboard-chart');
      const window = {
        kind: 'netbaseline/window', version: 1, source: 's', windowStart: TIME, windowEnd: TIME + 10_000, windowMs: 10_000, gapBeforeMs: 0, final: false, counters: {},
        records: [{ scope: 'dstHost', key: 'dst 10.0.0.9', windowStart: TIME, windowEnd: TIME + 10_000, metrics: { packetsPerSecond: 50, synCount: 9 },
          baseline: { state: 'learning', firstSeen: TIME - 300_000, samples: 30, metrics: { packetsPerSecond: { fast: 12, slow: 10, mean: 10, std: 2, samples: 30 } } } }],
      };
      n1.receive({ payload: window }); // no key chosen yet: a window cannot be plotted
      expect((await caught.next()).error.message).to.match(/chartKey/);
      n1.receive({ chartKey: 'dst 10.0.0.9', payload: { ignored: true } });
      const clear = await out.next();
      expect(clear).to.include({ topic: 'netbaseline/chart' });
      expect(clear.payload).to.deep.equal([]);
      await until(() => statuses.some((s) => /^chart · dst 10\.0\.0\.9 · /.test(s.text)));
      n1.receive({ payload: window });
      const a = await out.next();
      const b = await out.next();
      expect([a, b].map((m) => [m.topic, m.payload])).to.deep.equal([
        ['dst 10.0.0.9 packetsPerSecond', { x: TIME + 10_000, y: 50 }],
        ['dst 10.0.0.9 baseline', { x: TIME + 10_000, y: 10 }],
      ]);
      n1.receive({ chartMetric: 'synCount' });
      expect((await out.next()).payload).to.deep.equal([]);
      n1.receive({ payload: window });
      expect([(await out.next())].map((m) => [m.topic, m.payload.y])).to.deep.equal([['dst 10.0.0.9 synCount', 9]]);
      n1.receive({ chartKey: 42 });
      expect((await caught.next()).error.message).to.match(/msg\.chartKey must be a string/);
    });

    it('wired as in the dashboard example: cooldown-gate answers msg.query "open" after each event; the row goes when the anomaly resolves', async function () {
      await helper.load([formatterNode, gateNode, changeNode, catchNode], [
        { id: 'f1', type: 'tab', label: 'test' },
        { id: 'gate', z: 'f1', type: 'cooldown-gate', name: '', cooldown: '5', resolveAfterSeconds: '30', incidentWindowSeconds: '60', notify: 'event', schedules: '', persist: false, wires: [['ask', 'toast'], [], ['table']] },
        { id: 'ask', z: 'f1', type: 'change', name: '', rules: [{ t: 'set', p: 'query', pt: 'msg', to: 'open', tot: 'str' }], wires: [['gate']] },
        { id: 'table', z: 'f1', type: 'anomaly-formatter', name: '', shape: 'dashboard-table', wires: [['rows']] },
        { id: 'toast', z: 'f1', type: 'anomaly-formatter', name: '', shape: 'dashboard-notification', wires: [['toasts']] },
        { id: 'rows', z: 'f1', type: 'helper' },
        { id: 'toasts', z: 'f1', type: 'helper' },
        { id: 'c1', z: 'f1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', z: 'f1', type: 'helper' },
      ]);
      for (const id of ['gate', 'ask', 'table', 'toast']) expect(helper.getNode(id), `${id} started`).to.exist;
      const rows = collect(helper.getNode('rows'));
      const toasts = collect(helper.getNode('toasts'));
      const errors = [];
      helper.getNode('caught').on('input', (m) => errors.push(m.error.message));
      const gate = helper.getNode('gate');
      const tick = (end) => ({ payload: { kind: 'netbaseline/window', version: 1, windowStart: end - 10_000, windowEnd: end, windowMs: 10_000, final: false } });

      gate.receive({ payload: event({ suppressedCount: undefined }) });
      expect((await rows.next()).payload.map((r) => r.key)).to.deep.equal(['src 10.0.0.140']);
      expect((await toasts.next()).payload).to.match(/^HIGH port-scan on src 10\.0\.0\.140/);
      // a second key opens: both rows
      gate.receive({ payload: event({ id: 'x', key: 'dst 10.0.0.9', scope: 'dstHost', srcIp: undefined, dstIp: '10.0.0.9', severity: 'medium', rule: 'spike', time: TIME + 10_000, window: { start: TIME, end: TIME + 10_000, ms: 10_000 }, suppressedCount: undefined }) });
      expect((await rows.next()).payload.map((r) => r.key)).to.deep.equal(['src 10.0.0.140', 'dst 10.0.0.9']);
      await toasts.next();
      // 30 s of packet time without an event for the port scan, 20 s for the other: only the scan resolves
      gate.receive(tick(TIME + 30_000));
      const resolvedToast = await toasts.next();
      expect(resolvedToast.payload).to.match(/^RESOLVED port-scan on src 10\.0\.0\.140/);
      expect(resolvedToast.ui_update.color).to.equal('#2e7d32');
      expect((await rows.next()).payload.map((r) => r.key)).to.deep.equal(['dst 10.0.0.9']);
      gate.receive(tick(TIME + 40_000));
      await toasts.next();
      expect((await rows.next()).payload).to.deep.equal([]);
      expect(errors).to.deep.equal([]);
    });
  });
});
