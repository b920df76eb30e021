'use strict';
/**
 * pcap-source in the Node-RED 4 test helper on bad input an operator meets (issue #2 "Bad input",
 * issue #3): a capture of a link type the decoder does not support, no permission to capture (a
 * stand-in pcap module), a capture whose clock steps back by a day (the timestamp policy, checked
 * through flow-aggregator), and capture statistics with drops. Every expectation is stated from the
 * hand-built input.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { EventEmitter } = require('events');
const { expect } = require('chai');
const helper = require('node-red-node-test-helper');
const B = require('../fixtures/capture-builder.js');
const { callsOf, collector, inputsOf } = require('../fixtures/node-outputs.js');

helper.init(require.resolve('node-red'));
const pcapSourceNode = require('../../nodes/pcap-source.js');
const aggregatorNode = require('../../nodes/flow-aggregator.js');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pcap-source-bad-input-'));
after(function () { fs.rmSync(tmp, { recursive: true, force: true }); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function load(config) {
  await helper.load(pcapSourceNode, [
    { id: 'n1', type: 'pcap-source', name: '', wires: [['out'], ['ev']], ...config },
    { id: 'out', type: 'helper' },
    { id: 'ev', type: 'helper' },
  ]);
  const n1 = helper.getNode('n1');
  expect(n1, 'pcap-source node started').to.exist;
  return { n1, state: collector(helper.getNode('out'), helper.getNode('ev')) };
}

const udpFrame = (sport) => B.eth(0x0800, B.ipv4({ src: '192.0.2.1', dst: '192.0.2.2', proto: 17, payload: B.udp({ sport, dport: 53 }) }));

describe('pcap-source node: a capture of an unsupported link type', function () {
  beforeEach(function (done) { helper.startServer(done); });
  afterEach(async function () { await helper.unload(); await new Promise((r) => helper.stopServer(r)); });

  it('link type 147 (a user DLT): yellow status naming it and the 3 frames skipped, one warning listing what is supported, replay-complete sent', async function () {
    const file = path.join(tmp, 'dlt147.pcap');
    // three records whose bytes would decode as Ethernet/IPv4/UDP: only the link type says "skip"
    fs.writeFileSync(file, B.pcapFile({ linkType: 147 }, [1, 2, 3].map((i) => ({ sec: 1_700_000_000 + i, data: udpFrame(1000 + i) }))));
    const { n1, state } = await load({ mode: 'file', filename: file });
    await state.waitFor((s) => s.events.some((e) => e.event === 'replay-complete'), 'replay-complete');
    const summary = state.events.find((e) => e.event === 'replay-complete').summary;
    expect(summary.counters).to.include({ packetsRead: 3, packetsDecoded: 0, unsupportedLinkType: 3 });
    expect(summary.linkTypes).to.deep.equal([147]);
    expect(summary.unsupportedLinkTypes).to.deep.equal([147]);
    expect(state.packets()).to.equal(0);
    expect(state.batches[state.batches.length - 1].payload.final).to.equal(true);
    expect(callsOf(n1, 'status').pop()[0]).to.deep.equal({ fill: 'yellow', shape: 'ring', text: 'unsupported link type 147: 3 pkts skipped' });
    const warnings = callsOf(n1, 'warn').map((a) => String(a[0])).filter((w) => w.includes('link type'));
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.include('link type 147 is not supported: 3 frames skipped');
    expect(warnings[0]).to.match(/Supported link types: 0 NULL, 1 ETHERNET, .*113 LINUX_SLL, .*276 LINUX_SLL2$/);
    expect(callsOf(n1, 'error')).to.deep.equal([]);
  });

  it('in a loop the warning is given once per run, not once per pass', async function () {
    const file = path.join(tmp, 'dlt147-loop.pcap');
    fs.writeFileSync(file, B.pcapFile({ linkType: 147 }, [{ sec: 1_700_000_000, data: udpFrame(1) }]));
    const { n1, state } = await load({ mode: 'file', filename: file, loop: true });
    await state.waitFor((s) => s.events.filter((e) => e.event === 'replay-complete').length >= 3, 'three passes');
    n1.receive({ payload: 'stop' });
    await state.waitFor((s) => s.events.some((e) => e.event === 'replay-complete' && e.summary.aborted), 'the stopped pass');
    expect(callsOf(n1, 'warn').filter((a) => String(a[0]).includes('link type 147'))).to.have.length(1);
  });

  it('a supported link type (Ethernet) gives the green done status and no link-type warning', async function () {
    const file = path.join(tmp, 'eth.pcap');
    fs.writeFileSync(file, B.pcapFile({ linkType: 1 }, [1, 2, 3].map((i) => ({ sec: 1_700_000_000 + i, data: udpFrame(1000 + i) }))));
    const { n1, state } = await load({ mode: 'file', filename: file });
    await state.waitFor((s) => s.events.some((e) => e.event === 'replay-complete'), 'replay-complete');
    expect(state.packets()).to.equal(3);
    expect(callsOf(n1, 'status').pop()[0]).to.deep.equal({ fill: 'green', shape: 'dot', text: 'done · 3 pkts' });
    expect(callsOf(n1, 'warn')).to.deep.equal([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Live capture through a stand-in for the `pcap` module (node_pcap), put into require's cache so
// that the node's own loader (`require('pcap')` in core/live-capture) gets it.
// ---------------------------------------------------------------------------------------------

/** Stand-in for node_pcap: findalldevs lists `names`, createSession throws `openErrors.shift()` or opens a session. */
function fakePcap({ names = ['fake0', 'lo'], openErrors = [], linkType = 'LINKTYPE_ETHERNET', stats = { ps_recv: 7, ps_drop: 1, ps_ifdrop: 2 } } = {}) {
  const fake = { sessions: [], opens: [], names };
  fake.findalldevs = () => fake.names.map((name) => ({ name }));
  fake.createSession = (dev, options) => {
    fake.opens.push({ dev, options });
    const err = openErrors.shift();
    if (err) throw new Error(err);
    const s = new EventEmitter();
    s.link_type = linkType;
    s.closed = false;
    s.close = () => { s.closed = true; s.removeAllListeners('packet'); };
    s.stats = () => { if (s.closed) throw new Error('session already closed'); return stats; };
    fake.sessions.push(s);
    return s;
  };
  return fake;
}

/** Makes `require('pcap')` return `fake` until the returned function is called. */
function installFakePcap(fake) {
  const id = require.resolve('pcap');
  const saved = require.cache[id];
  const m = new (require('module'))(id);
  m.filename = id; m.loaded = true; m.exports = fake;
  require.cache[id] = m;
  return () => { if (saved) require.cache[id] = saved; else delete require.cache[id]; };
}

function pcapHeader(sec, usec, capLen, wireLen) {
  const h = Buffer.alloc(16);
  const w = os.endianness() === 'LE' ? 'writeUInt32LE' : 'writeUInt32BE';
  h[w](sec, 0); h[w](usec, 4); h[w](capLen, 8); h[w](wireLen, 12);
  return h;
}

describe('pcap-source node: live capture with a stand-in pcap module', function () {
  let restore = null;
  beforeEach(function (done) { helper.startServer(done); });
  afterEach(async function () {
    await helper.unload();
    await new Promise((r) => helper.stopServer(r));
    if (restore) { restore(); restore = null; }
  });

  it('no permission: red status with the setcap advice, node.error, the node keeps running and a later "start" captures', async function () {
    const fake = fakePcap({ openErrors: ["fake0: You don't have permission to perform this capture on that device (socket: Operation not permitted)"] });
    restore = installFakePcap(fake);
    const { n1, state } = await load({ mode: 'live', iface: 'fake0', flushIntervalMs: '50' });
    await state.waitFor((s) => s.events.some((e) => e.event === 'error'), 'error event');
    const status = callsOf(n1, 'status').pop()[0];
    expect(status.fill).to.equal('red');
    // the full message is too long for the status bar (60 characters): the status keeps the advice
    expect(status.text).to.equal('no permission: setcap cap_net_raw,cap_net_admin=eip node');
    const errors = callsOf(n1, 'error').map((a) => String(a[0]));
    expect(errors).to.have.length(1);
    expect(errors[0]).to.include('no permission to capture on "fake0"');
    expect(errors[0]).to.include('run Node-RED with CAP_NET_RAW and CAP_NET_ADMIN, e.g. `sudo setcap cap_net_raw,cap_net_admin=eip $(readlink -f $(which node))`, rather than as root');
    expect(fake.sessions).to.have.length(0);

    // the operator grants the capability; "start" opens the interface now
    n1.receive({ payload: 'start' });
    await sleep(50);
    expect(fake.sessions).to.have.length(1);
    expect(callsOf(n1, 'status').pop()[0]).to.deep.equal({ fill: 'green', shape: 'dot', text: 'fake0 · 0 pps · 0 dropped' });
    const pkt = udpFrame(4000);
    fake.sessions[0].emit('packet', { buf: pkt, header: pcapHeader(1_700_000_000, 0, pkt.length, pkt.length), link_type: 'LINKTYPE_ETHERNET' });
    await state.waitFor((s) => s.packets() >= 1, 'the packet');
    n1.receive({ payload: 'stop' });
    await state.waitFor((s) => s.events.some((e) => e.event === 'capture-stopped'), 'capture-stopped');
    expect(fake.sessions[0].closed).to.equal(true);
    expect(callsOf(n1, 'error')).to.have.length(1);
  });

  it('capture statistics with drops: the live status counts ps_drop + ps_ifdrop (1 + 2 → "3 dropped"), default snap length 128 and the buffer size reach createSession', async function () {
    const fake = fakePcap({ stats: { ps_recv: 10, ps_drop: 1, ps_ifdrop: 2 } });
    restore = installFakePcap(fake);
    const { n1, state } = await load({ mode: 'live', iface: 'fake0', flushIntervalMs: '50', bufferSizeMiB: '3', statsIntervalSeconds: '1' });
    await sleep(20);
    expect(fake.opens).to.have.length(1);
    expect(fake.opens[0].dev).to.equal('fake0');
    expect(fake.opens[0].options).to.include({ snap_length: 128, buffer_size: 3 * 1024 * 1024, promiscuous: true });
    // the live status is refreshed about once a second from the batches
    await state.waitFor((s) => s.events.some((e) => e.event === 'capture-stats'), 'capture-stats', 5000);
    await sleep(100);
    const texts = callsOf(n1, 'status').map((a) => a[0].text);
    expect(texts).to.include('fake0 · 0 pps · 3 dropped');
    const ev = state.events.find((e) => e.event === 'capture-stats');
    expect(ev.stats).to.deep.equal({ received: 10, droppedByKernel: 1, droppedByInterface: 2 });
  });

  it('an interface of an unsupported link type (802.11 radiotap, 127): yellow status and one warning at start, the skipped frames counted in the status', async function () {
    const fake = fakePcap({ linkType: 'LINKTYPE_IEEE802_11_RADIO' });
    restore = installFakePcap(fake);
    const { n1, state } = await load({ mode: 'live', iface: 'fake0', flushIntervalMs: '50' });
    await sleep(20);
    expect(callsOf(n1, 'status').pop()[0]).to.deep.equal({ fill: 'yellow', shape: 'ring', text: 'unsupported link type 127: 0 pkts skipped' });
    const pkt = udpFrame(4000);
    for (let i = 0; i < 4; i++) fake.sessions[0].emit('packet', { buf: pkt, header: pcapHeader(1_700_000_000 + i, 0, pkt.length, pkt.length), link_type: 'LINKTYPE_IEEE802_11_RADIO' });
    await sleep(1200);
    expect(callsOf(n1, 'status').map((a) => a[0].text)).to.include('unsupported link type 127: 4 pkts skipped');
    expect(callsOf(n1, 'status').pop()[0].fill).to.equal('yellow');
    const warnings = callsOf(n1, 'warn').map((a) => String(a[0]));
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.match(/^fake0: link type 127 is not supported: .*Supported link types: 0 NULL, 1 ETHERNET/);
    expect(state.packets()).to.equal(0);
  });
});

describe('pcap-source → flow-aggregator: a capture whose clock steps back by a day', function () {
  beforeEach(function (done) { helper.startServer(done); });
  afterEach(async function () { await helper.unload(); await new Promise((r) => helper.stopServer(r)); });

  it('starts a new time epoch: no window gets packets of the other epoch, the epoch ends with a final window, counters say so', async function () {
    const T = 1_700_000_000; // 2023-11-14T22:13:20Z, on a 10 s window boundary
    const DAY = 86400;
    // epoch A: 26 packets one second apart from 10.0.0.1; then the clock is stepped back a day;
    // epoch B: 26 packets one second apart from 10.0.0.9
    const frame = (src, sport) => B.eth(0x0800, B.ipv4({ src, dst: '10.0.0.2', proto: 17, payload: B.udp({ sport, dport: 53 }) }));
    const records = [];
    for (let i = 0; i < 26; i++) records.push({ sec: T + i, data: frame('10.0.0.1', 1000 + i) });
    for (let i = 0; i < 26; i++) records.push({ sec: T - DAY + i, data: frame('10.0.0.9', 2000 + i) });
    const file = path.join(tmp, 'day-back.pcap');
    fs.writeFileSync(file, B.pcapFile({}, records));

    await helper.load([pcapSourceNode, aggregatorNode], [
      { id: 'n1', type: 'pcap-source', name: '', mode: 'file', filename: file, batchSize: '8', wires: [['agg'], ['ev']] },
      { id: 'agg', type: 'flow-aggregator', name: '', windowSeconds: '10', wires: [['win']] },
      { id: 'ev', type: 'helper' },
      { id: 'win', type: 'helper' },
    ]);
    expect(helper.getNode('n1'), 'pcap-source started').to.exist;
    expect(helper.getNode('agg'), 'flow-aggregator started').to.exist;
    const events = inputsOf(helper.getNode('ev'));
    const windows = inputsOf(helper.getNode('win'));
    await events.count(1);
    expect(events.msgs[0].payload.event).to.equal('replay-complete');
    const summary = events.msgs[0].payload.summary;
    expect(summary).to.include({ packetsRead: 52, timeEpochs: 1 });
    expect(summary.counters).to.include({ timeEpochs: 1, timeClamped: 0, packetsDecoded: 52 });
    // epoch A covers [T, T + 30 s) in 3 windows, epoch B [T − 1 day, T − 1 day + 30 s) in 3
    for (let k = 0; k < 500 && windows.msgs.filter((m) => m.payload.final).length < 2; k++) await sleep(10);
    const ws = windows.msgs.map((m) => m.payload);
    const inEpoch = (w, start) => w.windowStart >= start * 1000 && w.windowEnd <= (start + 30) * 1000;
    const srcHosts = (w) => w.records.filter((r) => r.scope === 'srcHost').map((r) => r.srcIp ?? r.key);
    const ifPackets = (w) => w.records.filter((r) => r.scope === 'interface').reduce((n, r) => n + r.metrics.packets, 0);
    const a = ws.filter((w) => inEpoch(w, T));
    const b = ws.filter((w) => inEpoch(w, T - DAY));
    expect(a.length + b.length, 'every window lies within one epoch').to.equal(ws.length);
    expect(a.map(ifPackets), 'epoch A: 10 + 10 + 6 packets').to.deep.equal([10, 10, 6]);
    expect(b.map(ifPackets), 'epoch B: 10 + 10 + 6 packets (no pile-up in one window)').to.deep.equal([10, 10, 6]);
    for (const w of a) expect(srcHosts(w).join(' '), `window ${w.windowStart}`).to.include('10.0.0.1').and.not.include('10.0.0.9');
    for (const w of b) expect(srcHosts(w).join(' '), `window ${w.windowStart}`).to.include('10.0.0.9').and.not.include('10.0.0.1');
    expect(ws.map((w) => w.final), 'the last window of each epoch is final').to.deep.equal([false, false, true, false, false, true]);
    expect(callsOf(helper.getNode('n1'), 'error')).to.deep.equal([]);
  });
});
