'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const dgram = require('dgram');
const { expect } = require('chai');
const helper = require('node-red-node-test-helper');
const { packetAt, assertPacketBatch } = require('../../dist/core/contracts.js');
const { LiveCapture, LiveCaptureError, loadPcapModule } = require('../../dist/core/live-capture.js');
const P = require('../fixtures/pcaps.js');
const B = require('../fixtures/capture-builder.js');
const { callsOf, collector } = require('../fixtures/node-outputs.js');

helper.init(require.resolve('node-red'));
const pcapSourceNode = require('../../nodes/pcap-source.js');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pcap-source-test-'));
after(function () { fs.rmSync(tmp, { recursive: true, force: true }); });

function flow(config) {
  return [
    { id: 'n1', type: 'pcap-source', name: '', wires: [['out'], ['ev']], ...config },
    { id: 'out', type: 'helper' },
    { id: 'ev', type: 'helper' },
  ];
}

async function load(config) {
  await helper.load(pcapSourceNode, flow(config));
  const n1 = helper.getNode('n1');
  expect(n1, 'pcap-source node started').to.exist;
  return { n1, state: collector(helper.getNode('out'), helper.getNode('ev')) };
}

const completed = (s) => s.events.some((e) => e.event === 'replay-complete' || e.event === 'error');

describe('pcap-source node: file replay', function () {
  before(function () {
    if (!P.havePcaps()) { console.log(`    (skipped: ${P.PCAP_DIR} is missing)`); this.skip(); }
  });
  beforeEach(function (done) { helper.startServer(done); });
  afterEach(async function () { await helper.unload(); await new Promise((r) => helper.stopServer(r)); });

  it('replays a shared capture on deploy: batch counts add up to capinfos / MANIFEST, final batch, done status', async function () {
    const name = 'pcaphunt__ps-tcp_syn.pcap';
    const { n1, state } = await load({ mode: 'file', filename: P.pcapPath(name), batchSize: '1000', speed: 'max' });
    await state.waitFor(completed, 'replay-complete');
    const expected = P.expectedPacketCount(name).count;
    expect(state.batches.reduce((n, m) => n + m.payload.count, 0)).to.equal(expected);
    expect(state.batches.map((m) => m.payload.seq)).to.deep.equal(state.batches.map((_, i) => i));
    expect(state.batches[state.batches.length - 1].payload.final).to.equal(true);
    expect(state.batches.slice(0, -1).every((m) => !m.payload.final && m.payload.count === 1000)).to.equal(true);
    expect(state.batches[0].topic).to.equal(P.pcapPath(name));
    const done = state.events.find((e) => e.event === 'replay-complete');
    expect(done.summary.packetsRead).to.equal(expected);
    const last = callsOf(n1, 'status').pop()[0];
    expect(last).to.deep.equal({ fill: 'green', shape: 'dot', text: `done · ${expected}` + ' pkts' });
    expect(callsOf(n1, 'error')).to.deep.equal([]);
  });

  it('missing file: red status and an error; the node still replays a later valid msg.filename (relative path)', async function () {
    const { n1, state } = await load({ mode: 'file', filename: '', startOnDeploy: false });
    n1.receive({ filename: 'no/such/capture.pcap' });
    await state.waitFor((s) => s.events.some((e) => e.event === 'error'), 'error event');
    const statuses = callsOf(n1, 'status').map((a) => a[0]);
    expect(statuses[statuses.length - 1].fill).to.equal('red');
    expect(statuses[statuses.length - 1].text).to.match(/capture file not found/);
    await new Promise((r) => setImmediate(r));
    expect(callsOf(n1, 'error').some((a) => String(a[0]).includes('capture file not found: "no/such/capture.pcap"'))).to.equal(true);

    const rel = path.relative(process.cwd(), P.pcapPath('zeek__get-to-ssh-server.pcap'));
    n1.receive({ filename: rel });
    await state.waitFor((s) => s.events.some((e) => e.event === 'replay-complete'), 'replay-complete');
    expect(state.batches.reduce((n, m) => n + m.payload.count, 0)).to.equal(9);
    expect(state.batches[0].topic).to.equal(rel);
    const p = packetAt(state.batches[0].payload, 0);
    expect([p.srcIp, p.dstIp, p.dstPort]).to.deep.equal(['136.216.42.40', '130.74.164.231', 22]);
  });

  it('a truncated file: yellow status "truncated: kept N pkts" and a warning; the packets before the cut are sent', async function () {
    const { n1, state } = await load({ mode: 'file', filename: P.pcapPath('suricata-verify__http-mime-truncated.pcap') });
    await state.waitFor(completed, 'replay-complete');
    expect(state.batches.reduce((n, m) => n + m.payload.count, 0)).to.equal(2696);
    const last = callsOf(n1, 'status').pop()[0];
    expect(last).to.deep.equal({ fill: 'yellow', shape: 'ring', text: 'truncated: kept 2696 pkts' });
    expect(callsOf(n1, 'warn').some((a) => /capture truncated at byte \d+: last record incomplete/.test(String(a[0])))).to.equal(true);
  });

  it('a file that is not a capture: red status, node.error and an error event', async function () {
    const file = path.join(tmp, 'readme.txt');
    fs.writeFileSync(file, 'this is not a capture file');
    const { n1, state } = await load({ mode: 'file', filename: file });
    await state.waitFor((s) => s.events.some((e) => e.event === 'error'), 'error event');
    const ev = state.events.find((e) => e.event === 'error');
    expect(ev.message).to.equal(`${file}: not a pcap or pcapng file (magic 0x74686973)`);
    expect(callsOf(n1, 'status').pop()[0].fill).to.equal('red');
    expect(callsOf(n1, 'error').some((a) => String(a[0]).includes('not a pcap or pcapng file'))).to.equal(true);
  });

  it('the event loop keeps running during a replay of the largest shared capture', async function () {
    const { state } = await load({ mode: 'file', filename: P.pcapPath('suricata-verify__http-mime-truncated.pcap'), batchSize: '128' });
    // a timer scheduled once the replay is running must fire before the replay completes
    await state.waitFor((s) => s.batches.length >= 1, 'first batch');
    let fired = false;
    let completeBeforeTimer = null;
    setTimeout(() => { fired = true; completeBeforeTimer = completed(state); }, 0);
    await state.waitFor(completed, 'replay-complete');
    await new Promise((r) => setTimeout(r, 5));
    expect(fired).to.equal(true);
    expect(completeBeforeTimer, 'the timer fired while the replay was still running').to.equal(false);
    expect(state.batches.length).to.be.above(10);
  });

  it('"stop" stops a paced replay; close during a replay stops it and nothing is sent afterwards', async function () {
    // packets one hour apart at realtime speed: the replay sits in its pacing wait
    const file = path.join(tmp, 'slow.pcap');
    const frame = B.eth(0x0800, B.ipv4({ proto: 17, payload: B.udp() }));
    fs.writeFileSync(file, B.pcapFile({}, [{ sec: 1, data: frame }, { sec: 3601, data: frame }, { sec: 7201, data: frame }]));
    const { n1, state } = await load({ mode: 'file', filename: file, speed: 'realtime' });
    await state.waitFor((s) => s.batches.length >= 1, 'first batch');
    n1.receive({ payload: 'stop' });
    await state.waitFor(completed, 'replay-complete after stop');
    const summary = state.events.find((e) => e.event === 'replay-complete').summary;
    expect(summary.aborted).to.equal(true);
    expect(state.batches.map((m) => [m.payload.count, m.payload.final])).to.deep.equal([[1, false], [0, true]]);

    n1.receive({ payload: 'start' });
    await state.waitFor((s) => s.batches.length >= 3, 'first batch of the second run');
    const sent = state.batches.length;
    await helper.unload(); // close handler: aborts the replay, waits for it
    await new Promise((r) => setTimeout(r, 50));
    expect(state.batches.length).to.equal(sent);
  });

  it('bad configuration: red status, node deployed, inputs rejected with the reason', async function () {
    const { n1, state } = await load({ mode: 'file', filename: 'x.pcap', batchSize: 'lots' });
    expect(callsOf(n1, 'status')[0][0]).to.include({ fill: 'red' });
    expect(callsOf(n1, 'error')[0][0]).to.match(/batch size \(packets\) must be an integer/);
    n1.receive({ payload: 'start' });
    await state.waitFor((s) => s.events.some((e) => e.event === 'error'), 'error event');
    expect(state.batches).to.deep.equal([]);
  });

  it('takes the file from an environment variable (TypedInput env) and names an unset one in a red status', async function () {
    const name = 'pcaphunt__ps-tcp_syn.pcap';
    process.env.NB_TEST_CAPTURE = P.pcapPath(name);
    try {
      const { state } = await load({ mode: 'file', filename: 'NB_TEST_CAPTURE', filenameType: 'env', batchSize: '100000', speed: 'max' });
      await state.waitFor(completed, 'replay-complete');
      expect(state.batches.reduce((n, m) => n + m.payload.count, 0)).to.equal(P.expectedPacketCount(name).count);
      expect(state.batches[0].topic, 'the path the variable holds').to.equal(P.pcapPath(name));
    } finally {
      delete process.env.NB_TEST_CAPTURE;
    }
    await helper.unload();
    const { n1 } = await load({ mode: 'file', filename: 'NB_TEST_CAPTURE', filenameType: 'env' });
    expect(callsOf(n1, 'status')[0][0]).to.include({ fill: 'red' });
    expect(callsOf(n1, 'error')[0][0]).to.match(/filename: environment variable "NB_TEST_CAPTURE" is not set/);
  });

  it('rejects an unknown command', async function () {
    const { n1, state } = await load({ mode: 'file', filename: '', startOnDeploy: false });
    n1.receive({ payload: 'go faster' });
    await state.waitFor((s) => s.events.some((e) => e.event === 'error'), 'error event');
    expect(state.events[0].message).to.equal('expected msg.payload "start", "pause" or "stop", or msg.filename');
  });
});

// ---------------------------------------------------------------------------------------------
// Live capture on the loopback interface. Needs the pcap module and root / CAP_NET_RAW. In CI
// (env CI set) a missing module fails the tests; elsewhere they are skipped with the reason.
// ---------------------------------------------------------------------------------------------

function livePrerequisite(ctx) {
  let reason = null;
  try {
    loadPcapModule();
  } catch (e) {
    reason = e.message;
  }
  if (reason === null && typeof process.getuid === 'function' && process.getuid() !== 0) {
    reason = 'not running as root (live capture needs CAP_NET_RAW)';
  }
  if (reason !== null) {
    if (process.env.CI) throw new Error(`live capture tests cannot run in CI: ${reason}`);
    console.log(`    (skipped: ${reason})`);
    ctx.skip();
  }
}

function sendUdp(port, count, payloadBytes) {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    let sent = 0;
    const next = () => {
      if (sent === count) { sock.close(); resolve(sock); return; }
      sock.send(Buffer.alloc(payloadBytes, sent), port, '127.0.0.1', (err) => { if (err) { reject(err); return; } sent++; next(); });
    };
    next();
  });
}

describe('LiveCapture (core) on lo', function () {
  before(function () { livePrerequisite(this); });

  it('captures N UDP datagrams sent to 127.0.0.1 with the right ports and wire lengths', async function () {
    const port = 40000 + Math.floor(Math.random() * 20000);
    const batches = [];
    const cap = new LiveCapture({ interface: 'lo', filter: `udp port ${port}`, flushIntervalMs: 50, batchSize: 4, onBatch: (b) => batches.push(b) });
    cap.start();
    try {
      await new Promise((r) => setTimeout(r, 200));
      const N = 10;
      await sendUdp(port, N, 32);
      const deadline = Date.now() + 10000;
      while (batches.reduce((n, b) => n + b.count, 0) < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const rows = [];
      for (const b of batches) { assertPacketBatch(b); for (let i = 0; i < b.count; i++) rows.push(packetAt(b, i)); }
      expect(rows).to.have.length(N);
      // lo has Ethernet framing on Linux: 14 + IPv4 20 + UDP 8 + 32 payload
      for (const r of rows) expect(r).to.include({ srcIp: '127.0.0.1', dstIp: '127.0.0.1', protocol: 17, dstPort: port, wireLength: 74, payloadLength: 40 });
      expect(batches.some((b) => b.count === 0), 'empty batches keep the clock going').to.equal(true);
      expect(batches.every((b) => b.count <= 4)).to.equal(true);
      expect(cap.stats()).to.have.keys(['received', 'droppedByKernel', 'droppedByInterface']);
    } finally {
      cap.stop();
      cap.stop(); // idempotent
      await sendUdp(port, 1, 1); // node_pcap releases the handle on the next packet after close()
    }
    expect(batches[batches.length - 1].final).to.equal(true);
    expect(cap.running).to.equal(false);
  });

  it('an unknown interface gives a clear error listing the available ones', function () {
    const cap = new LiveCapture({ interface: 'nosuch0', onBatch: () => {} });
    let err;
    try { cap.start(); } catch (e) { err = e; }
    expect(err).to.be.instanceOf(LiveCaptureError);
    expect(err.code).to.equal('NO_SUCH_INTERFACE');
    expect(err.message).to.match(/^no such interface "nosuch0"; available: .*\blo\b/);
  });

  it('an invalid BPF filter gives libpcap\'s message', function () {
    const cap = new LiveCapture({ interface: 'lo', filter: 'udp port and', onBatch: () => {} });
    let err;
    try { cap.start(); } catch (e) { err = e; }
    expect(err.code).to.equal('BAD_FILTER');
    expect(err.message).to.match(/^invalid BPF filter "udp port and": .*syntax error/);
  });

  it('a missing pcap module gives the install advice', function () {
    const cap = new LiveCapture({ interface: 'lo', onBatch: () => {}, loadPcap: () => { throw new LiveCaptureError('PCAP_UNAVAILABLE', require('../../dist/core/live-capture.js').PCAP_UNAVAILABLE_MESSAGE); } });
    expect(() => cap.start()).to.throw(/install libpcap-dev \(apt-get install libpcap-dev\) and run npm rebuild pcap/);
  });
});

describe('LiveCapture (core) with a stand-in pcap module', function () {
  const { EventEmitter } = require('events');
  /** A stand-in for node_pcap: createSession returns an emitter, or throws `openError`. */
  function fakePcap({ openError, linkType = 'LINKTYPE_ETHERNET' } = {}) {
    const fake = { sessions: [], options: null };
    fake.findalldevs = () => [{ name: 'eth0' }, { name: 'lo' }];
    fake.createSession = (dev, options) => {
      fake.options = options;
      if (openError) throw new Error(openError);
      const s = new EventEmitter();
      s.link_type = linkType;
      s.closed = false;
      s.close = () => { s.closed = true; s.removeAllListeners(); };
      s.stats = () => ({ ps_recv: 7, ps_drop: 1, ps_ifdrop: 2 });
      fake.sessions.push(s);
      return s;
    };
    return fake;
  }
  function header(sec, usec, capLen, wireLen) {
    const h = Buffer.alloc(16);
    const w = os.endianness() === 'LE' ? 'writeUInt32LE' : 'writeUInt32BE';
    h[w](sec, 0); h[w](usec, 4); h[w](capLen, 8); h[w](wireLen, 12);
    return h;
  }

  it('maps permission errors to the setcap advice', function () {
    const pcap = fakePcap({ openError: "eth0: You don't have permission to perform this capture on that device (socket: Operation not permitted)" });
    const cap = new LiveCapture({ interface: 'eth0', onBatch: () => {}, loadPcap: () => pcap });
    let err;
    try { cap.start(); } catch (e) { err = e; }
    expect(err.code).to.equal('PERMISSION_DENIED');
    expect(err.message).to.include('run Node-RED with CAP_NET_RAW and CAP_NET_ADMIN');
    expect(err.message).to.include('sudo setcap cap_net_raw,cap_net_admin=eip $(readlink -f $(which node))');
  });

  it('passes the options to createSession, decodes packets with the header times and lengths, flushes when full', function () {
    const pcap = fakePcap({ linkType: 'LINKTYPE_RAW' });
    const batches = [];
    const cap = new LiveCapture({ interface: 'eth0', filter: 'tcp', snapLength: 1500, bufferSize: 4 * 1024 * 1024, promiscuous: false, batchSize: 2, flushIntervalMs: 60000, onBatch: (b) => batches.push(b), loadPcap: () => pcap });
    cap.start();
    expect(pcap.options).to.include({ filter: 'tcp', snap_length: 1500, buffer_size: 4 * 1024 * 1024, promiscuous: false });
    expect(cap.linkType).to.equal(101);
    const pkt = B.ipv4({ src: '192.0.2.1', dst: '192.0.2.2', proto: 6, payload: B.tcp({ sport: 1, dport: 443 }) });
    const s = pcap.sessions[0];
    for (let i = 0; i < 3; i++) s.emit('packet', { buf: pkt, header: header(1700000000 + i, 500, pkt.length, 1400), link_type: 'LINKTYPE_RAW' });
    expect(batches.map((b) => [b.count, b.final])).to.deep.equal([[2, false]]);
    expect(packetAt(batches[0], 1)).to.include({ srcIp: '192.0.2.1', dstPort: 443, wireLength: 1400, timeMs: 1700000001000.5 });
    expect(cap.stats()).to.deep.equal({ received: 7, droppedByKernel: 1, droppedByInterface: 2 });
    cap.stop();
    expect(s.closed).to.equal(true);
    expect(batches.map((b) => [b.count, b.final])).to.deep.equal([[2, false], [1, true]]);
    expect(batches[1].source).to.equal('eth0');
  });
});

describe('LiveCapture (core) with a stand-in pcap module: defaults and time epochs', function () {
  const { EventEmitter } = require('events');
  function fakePcap(linkType = 'LINKTYPE_RAW') {
    const fake = { sessions: [], options: null };
    fake.findalldevs = () => [{ name: 'eth0' }];
    fake.createSession = (dev, options) => {
      fake.options = options;
      const s = new EventEmitter();
      s.link_type = linkType;
      s.close = () => { s.closed = true; };
      s.stats = () => { if (s.closed) throw new Error('session already closed'); return { ps_recv: 0, ps_drop: 0, ps_ifdrop: 0 }; };
      fake.sessions.push(s);
      return s;
    };
    return fake;
  }
  function header(sec, usec, len) {
    const h = Buffer.alloc(16);
    const w = os.endianness() === 'LE' ? 'writeUInt32LE' : 'writeUInt32BE';
    h[w](sec, 0); h[w](usec, 4); h[w](len, 8); h[w](len, 12);
    return h;
  }

  it('without options createSession gets snap length 128 (headers only), a 32 MiB buffer and promiscuous mode', function () {
    const pcap = fakePcap();
    const cap = new LiveCapture({ interface: 'eth0', onBatch: () => {}, loadPcap: () => pcap, healthCheckIntervalMs: 0 });
    cap.start();
    expect(pcap.options).to.include({ snap_length: 128, buffer_size: 32 * 1024 * 1024, promiscuous: true, filter: '' });
    cap.stop();
  });

  it('the system clock stepped back a day: the packets before it go out as a final batch, the later ones keep their times, counted in timeEpochs; 30 s back is clamped', function () {
    const pcap = fakePcap();
    const batches = [];
    const cap = new LiveCapture({ interface: 'eth0', batchSize: 100, flushIntervalMs: 60000, healthCheckIntervalMs: 0, onBatch: (b) => batches.push(b), loadPcap: () => pcap });
    cap.start();
    const s = pcap.sessions[0];
    const T = 1_700_000_000;
    const send = (sec, sport) => {
      const pkt = B.ipv4({ proto: 17, payload: B.udp({ sport, dport: 53 }) });
      s.emit('packet', { buf: pkt, header: header(sec, 0, pkt.length), link_type: 'LINKTYPE_RAW' });
    };
    send(T, 1); send(T + 1, 2); send(T - 29, 3); // 30 s back: clamped to T + 1
    expect(batches).to.have.length(0);
    send(T + 1 - 86400, 4); // a day back: a new epoch
    expect(batches.map((b) => [b.count, b.final, b.counters.timeEpochs, b.counters.timeClamped])).to.deep.equal([[3, true, 1, 1]]);
    send(T + 2 - 86400, 5);
    expect(cap.running, 'the capture goes on').to.equal(true);
    cap.stop();
    expect(batches.map((b) => [b.count, b.final])).to.deep.equal([[3, true], [2, true]]);
    const times = batches.flatMap((b) => Array.from({ length: b.count }, (_, i) => packetAt(b, i).timeMs));
    expect(times).to.deep.equal([T, T + 1, T + 1, T + 1 - 86400, T + 2 - 86400].map((x) => x * 1000));
    expect(batches[1].counters).to.include({ timeEpochs: 1, timeClamped: 1, packetsRead: 5 });
  });
});

describe('LiveCapture (core) with a stand-in pcap module: the interface disappears and returns', function () {
  const { EventEmitter } = require('events');

  it('down, then retrying with a delay doubling from 20 ms and capped at 80 ms (interface missing, then createSession throwing), then up; counting goes on', async function () {
    const fake = { listed: true, failOpens: 0, opens: 0, sessions: [] };
    fake.findalldevs = () => (fake.listed ? [{ name: 'fake9' }, { name: 'lo' }] : [{ name: 'lo' }]);
    fake.createSession = () => {
      fake.opens++;
      if (fake.failOpens > 0) { fake.failOpens--; throw new Error("fake9: SIOCGIFHWADDR: No such device"); }
      const s = new EventEmitter();
      s.link_type = 'LINKTYPE_RAW';
      s.close = () => { s.closed = true; };
      s.stats = () => { if (s.closed) throw new Error('session already closed'); return { ps_recv: 0, ps_drop: 0, ps_ifdrop: 0 }; };
      fake.sessions.push(s);
      return s;
    };
    const events = [];
    const batches = [];
    const cap = new LiveCapture({
      interface: 'fake9', batchSize: 1, flushIntervalMs: 60000, healthCheckIntervalMs: 5,
      retry: { initialDelayMs: 20, maxDelayMs: 80 },
      onBatch: (b) => batches.push(b), onInterfaceState: (e) => events.push(e), loadPcap: () => fake,
    });
    const waitFor = async (pred, what) => {
      for (let i = 0; i < 1000 && !pred(); i++) await new Promise((r) => setTimeout(r, 5));
      expect(pred(), what).to.equal(true);
    };
    const packet = (sport) => {
      const pkt = B.ipv4({ proto: 17, payload: B.udp({ sport, dport: 53 }) });
      const h = Buffer.alloc(16);
      const w = os.endianness() === 'LE' ? 'writeUInt32LE' : 'writeUInt32BE';
      h[w](1_700_000_000, 0); h[w](pkt.length, 8); h[w](pkt.length, 12);
      fake.sessions[fake.sessions.length - 1].emit('packet', { buf: pkt, header: h, link_type: 'LINKTYPE_RAW' });
    };
    try {
      cap.start();
      packet(1);
      fake.listed = false; // the interface disappears
      await waitFor(() => events.length >= 1, 'down');
      expect(events[0]).to.include({ state: 'down', reason: 'gone', retryInMs: 20 });
      expect(fake.sessions[0].closed, 'the handle was closed').to.equal(true);
      expect(cap.down).to.equal(true);
      await waitFor(() => events.length >= 4, 'three retries while the interface is missing');
      fake.failOpens = 2; // listed again, but opening it fails twice more
      fake.listed = true;
      const opensBefore = fake.opens;
      await waitFor(() => events.some((e) => e.state === 'up'), 'up');
      expect(fake.opens - opensBefore, 'two failed opens and the one that worked').to.equal(3);
      const retries = events.slice(1, -1);
      expect(retries.every((e) => e.state === 'retrying')).to.equal(true);
      expect(retries.length).to.be.at.least(5);
      const delays = retries.map((e) => e.retryInMs);
      expect(delays.slice(0, 3)).to.deep.equal([40, 80, 80]);
      expect(delays.every((d) => d === 80 || d === 40)).to.equal(true);
      expect(retries.slice(-2).map((e) => e.message)).to.satisfy((m) => m.every((x) => /cannot be opened yet \(.*No such device/.test(x)));
      expect(events[events.length - 1].state).to.equal('up');
      expect(cap.running).to.equal(true);
      packet(2);
      expect(batches.filter((b) => b.count > 0).map((b) => packetAt(b, 0).srcPort)).to.deep.equal([1, 2]);
      expect(batches.map((b) => b.seq)).to.deep.equal(batches.map((_, i) => i)); // one run across the outage
    } finally {
      cap.stop();
    }
  });
});

describe('pcap-source node: live capture on lo', function () {
  before(function () { livePrerequisite(this); });
  beforeEach(function (done) { helper.startServer(done); });
  afterEach(async function () { await helper.unload(); await new Promise((r) => helper.stopServer(r)); });

  it('sends the datagrams as batches and a live status; "stop" sends the final batch', async function () {
    const port = 40000 + Math.floor(Math.random() * 20000);
    const { n1, state } = await load({ mode: 'live', iface: 'lo', filter: `udp port ${port}`, batchSize: '100' });
    await new Promise((r) => setTimeout(r, 200));
    await sendUdp(port, 5, 100);
    await state.waitFor((s) => s.batches.reduce((n, m) => n + m.payload.count, 0) >= 5, '5 packets');
    const rows = [];
    for (const m of state.batches) for (let i = 0; i < m.payload.count; i++) rows.push(packetAt(m.payload, i));
    expect(rows.map((r) => [r.dstPort, r.wireLength])).to.deep.equal(Array(5).fill([port, 14 + 20 + 8 + 100]));
    expect(state.batches[0].topic).to.equal('lo');
    n1.receive({ payload: 'stop' });
    await state.waitFor((s) => s.batches.some((m) => m.payload.final), 'final batch');
    await state.waitFor((s) => s.events.some((e) => e.event === 'capture-stopped'), 'capture-stopped event');
    expect(callsOf(n1, 'status').some((a) => /^lo · \S+ pps · \d+ dropped$/.test(a[0].text))).to.equal(true);
    await sendUdp(port, 1, 1); // node_pcap releases the handle on the next packet after close()
  });

  it('an unknown interface: red status and an error naming the available interfaces', async function () {
    const { n1, state } = await load({ mode: 'live', iface: 'nosuch0' });
    await state.waitFor((s) => s.events.some((e) => e.event === 'error'), 'error event');
    expect(state.events[0].message).to.match(/^no such interface "nosuch0"; available: /);
    expect(callsOf(n1, 'status').pop()[0].fill).to.equal('red');
  });
});
