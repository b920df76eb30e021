'use strict';
/**
 * The real live test: pcap-source (Node-RED 4 test helper, real libpcap) captures on one end of a
 * veth pair whose other end sits in a network namespace of its own; tcpreplay sends a known capture
 * through that other end at a moderate rate. The node must count what was sent: packets (capinfos /
 * tcpreplay), IP packets and bytes (tshark), directional TCP/UDP 5-tuple flows with their packets and
 * bytes (tshark), every decoded header equal to the file decoder's, and zero drops (pcap_stats).
 *
 * Safety: nothing leaves this machine, and the capturing host's IP stack never takes the frames in.
 * The frames go from the namespace end into the capturing end only. Before sending, the test sets
 * every frame's destination MAC to a locally administered unicast address no interface has
 * (02:00:00:6e:62:74), so the capturing end classes each frame as PACKET_OTHERHOST: the capture taps
 * see it, IPv4/IPv6/ARP drop it (nothing is forwarded, answered or delivered). Besides, the capturing
 * end has no address, IPv4 forwarding off, IPv6 off and ARP off, and the namespace end has IPv6 off,
 * so neither end sends anything of its own (router solicitations, DAD) that would be counted.
 * Headers, lengths and counts are unchanged by the MAC rewrite (MACs are not in a packet batch).
 *
 * Needs root (or CAP_NET_ADMIN + CAP_NET_RAW), iproute2, tcpreplay, tshark/capinfos and
 * the pcap module. Where namespaces cannot be created it captures on loopback instead, with a
 * hand-built capture of 127.0.0.1 datagrams (also addressed to a MAC that lo does not have), and says
 * so; in CI (env CI set) missing tools fail the test.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');
const { expect } = require('chai');
const helper = require('node-red-node-test-helper');
const { packetAt, assertPacketBatch, PACKET_INFO } = require('../../dist/core/contracts.js');
const { loadPcapModule, pendingSessionCloses } = require('../../dist/core/live-capture.js');
const { readCaptureFileSync } = require('../../dist/core/replay.js');
const P = require('../fixtures/pcaps.js');
const B = require('../fixtures/capture-builder.js');

helper.init(require.resolve('node-red'));
const pcapSourceNode = require('../../nodes/pcap-source.js');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tag = String(process.pid % 100000);
const NS = `nbt3-${tag}`;
const CAP_IF = `nbcap${tag}`; // ≤ 15 characters
const TX_IF = `nbtx${tag}`;

function run(cmd, args) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function hasTool(cmd, args = ['--version']) {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return !r.error;
}

/** Creates the namespace and the veth pair; returns null when it works, else the reason. */
function setUpVeth() {
  try {
    if (!run('ip', ['netns', 'list']).split('\n').some((l) => l.split(' ')[0] === NS)) run('ip', ['netns', 'add', NS]);
    run('ip', ['link', 'add', CAP_IF, 'type', 'veth', 'peer', 'name', TX_IF, 'netns', NS]);
    fs.writeFileSync(`/proc/sys/net/ipv6/conf/${CAP_IF}/disable_ipv6`, '1');
    fs.writeFileSync(`/proc/sys/net/ipv4/conf/${CAP_IF}/forwarding`, '0');
    run('ip', ['netns', 'exec', NS, 'sh', '-c', `echo 1 > /proc/sys/net/ipv6/conf/${TX_IF}/disable_ipv6`]);
    run('ip', ['link', 'set', CAP_IF, 'arp', 'off', 'up']);
    run('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', TX_IF, 'up']);
    return null;
  } catch (err) {
    tearDownVeth();
    return (err.stderr || err.message || String(err)).toString().trim().split('\n')[0];
  }
}

function tearDownVeth() {
  spawnSync('ip', ['link', 'del', CAP_IF], { stdio: 'ignore' }); // removes the peer too
  spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
}

/** Sends `file` through `iface` (inside the namespace when `ns`); returns tcpreplay's counts. */
function tcpreplay(file, iface, pps, ns) {
  const args = [`--intf1=${iface}`, `--pps=${pps}`, file];
  const out = ns ? run('ip', ['netns', 'exec', ns, 'tcpreplay', ...args]) : run('tcpreplay', args);
  const num = (re) => { const m = re.exec(out); return m ? Number(m[1]) : NaN; };
  return { successful: num(/Successful packets:\s+(\d+)/), failed: num(/Failed packets:\s+(\d+)/), output: out };
}

/** What tshark says the capture holds: IP packets and bytes, and directional TCP/UDP 5-tuples (ICMP errors with inner headers excluded). */
function tsharkTruth(name) {
  const ipLens = P.tshark(name, ['-Y', 'ip or ipv6', '-T', 'fields', '-e', 'frame.len']).map(Number);
  const flows = new Map();
  const rows = P.tshark(name, ['-Y', '(tcp or udp) and not icmp and not icmpv6 and not ip.flags.mf == 1 and not ip.frag_offset > 0', '-T', 'fields', '-E', 'separator=|',
    '-e', 'ip.src', '-e', 'ipv6.src', '-e', 'ip.dst', '-e', 'ipv6.dst', '-e', 'tcp.srcport', '-e', 'udp.srcport', '-e', 'tcp.dstport', '-e', 'udp.dstport', '-e', 'frame.len']);
  for (const r of rows) {
    const [s4, s6, d4, d6, ts, us, td, ud, len] = r.split('|');
    const proto = ts ? 'tcp' : 'udp';
    const key = `${proto} ${s4 || s6} ${ts || us} > ${d4 || d6} ${td || ud}`;
    const f = flows.get(key) || { packets: 0, bytes: 0 };
    f.packets++; f.bytes += Number(len);
    flows.set(key, f);
  }
  return { ipPackets: ipLens.length, ipBytes: ipLens.reduce((a, b) => a + b, 0), flows };
}

/**
 * A copy of classic pcap Ethernet `file` whose frames are all addressed to a MAC no interface has
 * (see the top of this file): the first 6 bytes of each record are overwritten, nothing else
 * (tcprewrite --enet-dmac also "fixes" the IPv4 total length of padded frames, so it is not used).
 */
function otherHostCopy(file, dir) {
  const buf = Buffer.from(fs.readFileSync(file));
  const magic = buf.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && buf.readUInt32BE(0) !== 0xa1b2c3d4 && buf.readUInt32BE(0) !== 0xa1b23c4d) throw new Error(`${file}: not a classic pcap file`);
  if ((le ? buf.readUInt32LE(20) : buf.readUInt32BE(20)) !== 1) throw new Error(`${file}: not Ethernet`);
  const mac = Buffer.from([0x02, 0x00, 0x00, 0x6e, 0x62, 0x74]);
  for (let off = 24; off + 16 <= buf.length;) {
    const capLen = le ? buf.readUInt32LE(off + 8) : buf.readUInt32BE(off + 8);
    if (capLen >= 6 && off + 16 + capLen <= buf.length) mac.copy(buf, off + 16);
    off += 16 + capLen;
  }
  const out = path.join(dir, `otherhost-${path.basename(file)}`);
  fs.writeFileSync(out, buf);
  return out;
}

const CASES = [
  { name: 'wireshark__SkypeIRC.cap', pps: 1000 }, // TCP, UDP, ICMP errors, ARP; frames up to 1514 bytes
  { name: 'pcaphunt__ps-tcp_syn.pcap', pps: 2500 }, // a SYN scan: thousands of small flows
];

describe('pcap-source node: live capture of a known capture sent through a veth pair', function () {
  this.timeout(60000);
  let where = null; // { iface, ns } or null when skipped

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pcap-source-veth-'));
  after(function () { fs.rmSync(tmp, { recursive: true, force: true }); });

  before(function () {
    const missing = [];
    try { loadPcapModule(); } catch (e) { missing.push(e.message); }
    if (typeof process.getuid === 'function' && process.getuid() !== 0) missing.push('not root (needs CAP_NET_ADMIN and CAP_NET_RAW)');
    if (!hasTool('tcpreplay')) missing.push('tcpreplay is not installed (apt-get install tcpreplay)');
    if (!hasTool('ip', ['-V'])) missing.push('iproute2 is not installed');
    if (!P.HAVE_TSHARK || !P.HAVE_CAPINFOS) missing.push('tshark / capinfos are not installed');
    if (!P.havePcaps()) missing.push(`${P.PCAP_DIR} is missing`);
    if (missing.length > 0) {
      if (process.env.CI) throw new Error(`the live veth test cannot run in CI: ${missing.join('; ')}`);
      console.log(`    (skipped: ${missing.join('; ')})`);
      this.skip();
    }
    tearDownVeth(); // a leftover of an interrupted run
    const reason = process.env.NETBASELINE_VETH === '0' ? 'NETBASELINE_VETH=0' : setUpVeth();
    if (reason === null) {
      where = { iface: CAP_IF, ns: NS };
    } else {
      console.log(`    (network namespaces are not available here: ${reason}; capturing on loopback instead)`);
      where = { iface: 'lo', ns: null };
    }
  });

  after(function () {
    if (where && where.ns) tearDownVeth();
  });

  beforeEach(function (done) { helper.startServer(done); });
  afterEach(async function () { await helper.unload(); await new Promise((r) => helper.stopServer(r)); });

  /** Deploys a live pcap-source, sends `file` with tcpreplay, stops; returns the batches, events and tcpreplay's counts. */
  async function captureWhileSending(file, pps, filter) {
    const config = { mode: 'live', iface: where.iface, batchSize: '512', flushIntervalMs: '100', statsIntervalSeconds: '1', bufferSizeMiB: '32', promiscuous: true, filter };
    await helper.load(pcapSourceNode, [
        { id: 'n1', type: 'pcap-source', wires: [['out'], ['ev']], ...config },
        { id: 'out', type: 'helper' }, { id: 'ev', type: 'helper' },
      ]);
      const n1 = helper.getNode('n1');
      expect(n1, 'pcap-source node started').to.exist;
      const batches = []; const events = [];
      helper.getNode('out').on('input', (m) => { assertPacketBatch(m.payload); batches.push(m.payload); });
      helper.getNode('ev').on('input', (m) => events.push(m.payload));
      await sleep(300); // the handle is open
      expect(events.filter((e) => e.event === 'error'), 'no capture error').to.deep.equal([]);

      const tx = tcpreplay(file, where.ns ? TX_IF : 'lo', pps, where.ns);
      expect(tx.failed, tx.output).to.equal(0);
      const read = () => (batches.length ? batches[batches.length - 1].counters.packetsRead : 0);
      for (let t = 0; t < 50 && read() < tx.successful; t++) await sleep(100);
      await sleep(1200); // a stats event after the last packet
      n1.receive({ payload: 'stop' });
      for (let t = 0; t < 50 && !events.some((e) => e.event === 'capture-stopped'); t++) await sleep(100);
      const stopped = events.find((e) => e.event === 'capture-stopped');
      expect(stopped, 'capture-stopped event').to.exist;
      return { batches, events, stopped, tx };
  }

  for (const { name, pps } of CASES) {
    it(`${name} at ${pps} pps: packets, bytes, 5-tuple flows and headers as sent; zero drops`, async function () {
      if (!where.ns) { console.log('      (namespaces unavailable: this capture is not sent on loopback)'); this.skip(); }
      const sent = P.expectedPacketCount(name).count;
      const truth = tsharkTruth(name);
      const fromFile = readCaptureFileSync(P.pcapPath(name)).batches;
      const { batches, events, stopped, tx } = await captureWhileSending(otherHostCopy(P.pcapPath(name), tmp), pps, '');
      expect(tx.successful, 'tcpreplay sent every packet of the capture').to.equal(sent);

      const last = batches[batches.length - 1];
      expect(last.final).to.equal(true);
      const c = last.counters;
      expect(c.packetsRead, 'packets captured = packets sent').to.equal(sent);
      expect(c.packetsRead).to.equal(c.packetsDecoded + c.nonIp + c.unsupportedLinkType + c.malformed);
      expect(c.packetsDecoded, 'IP packets (tshark)').to.equal(truth.ipPackets);
      expect(stopped.stats.droppedByKernel, 'dropped by the kernel').to.equal(0);
      expect(stopped.stats.droppedByInterface, 'dropped by the interface').to.equal(0);
      if (where.ns) expect(stopped.stats.received, 'libpcap received').to.equal(sent);
      expect(events.some((e) => e.event === 'capture-stats'), 'periodic capture-stats events').to.equal(true);

      // bytes and flows
      const rows = [];
      for (const b of batches) for (let i = 0; i < b.count; i++) rows.push(packetAt(b, i));
      expect(rows.reduce((n, r) => n + r.wireLength, 0), 'IP bytes (tshark frame.len)').to.equal(truth.ipBytes);
      const flows = new Map();
      for (const r of rows) {
        if ((r.protocol !== 6 && r.protocol !== 17) || (r.info & (PACKET_INFO.FRAGMENT | PACKET_INFO.TRANSPORT_TRUNCATED))) continue;
        const key = `${r.protocol === 6 ? 'tcp' : 'udp'} ${r.srcIp} ${r.srcPort} > ${r.dstIp} ${r.dstPort}`;
        const f = flows.get(key) || { packets: 0, bytes: 0 };
        f.packets++; f.bytes += r.wireLength;
        flows.set(key, f);
      }
      expect(flows.size, 'directional TCP/UDP 5-tuples (tshark)').to.equal(truth.flows.size);
      expect([...flows.entries()].sort()).to.deep.equal([...truth.flows.entries()].sort());

      // every decoded header as the file decoder reads it (snap length 128 keeps all headers here)
      const expectedRows = [];
      for (const b of fromFile) for (let i = 0; i < b.count; i++) expectedRows.push(packetAt(b, i));
      const strip = (r) => { const { timeMs, ...rest } = r; return rest; };
      const diffs = [];
      for (let i = 0; i < Math.max(rows.length, expectedRows.length) && diffs.length < 3; i++) {
        if (JSON.stringify(strip(rows[i] || {})) !== JSON.stringify(strip(expectedRows[i] || {}))) diffs.push({ i, live: strip(rows[i] || {}), file: strip(expectedRows[i] || {}) });
      }
      expect(diffs, 'packets whose headers differ from the file decoder\'s').to.deep.equal([]);
      console.log(`      captured ${c.packetsRead} packets on ${where.iface} (veth, peer in namespace ${where.ns}): ${flows.size} flows, 0 drops`);
      // node_pcap releases a closed handle on the next packet; the namespace teardown ends it otherwise
      expect(pendingSessionCloses()).to.be.at.most(1);
    });
  }

  it('loopback (only where namespaces are unavailable): hand-built 127.0.0.1 datagrams sent with tcpreplay are counted exactly', async function () {
    if (where.ns) this.skip();
    const port = 40000 + Math.floor(Math.random() * 20000);
    const N = 500;
    const records = [];
    for (let i = 0; i < N; i++) {
      const payload = Buffer.alloc(i % 200);
      records.push({ sec: 1_700_000_000 + i, data: B.eth(0x0800, B.ipv4({ src: '127.0.0.1', dst: '127.0.0.1', proto: 17, payload: B.udp({ sport: 1000 + (i % 50), dport: port, payload }) })) });
    }
    const file = path.join(tmp, 'loopback.pcap');
    fs.writeFileSync(file, B.pcapFile({}, records));
    const bytes = records.reduce((n, r) => n + r.data.length, 0);
    const { batches, stopped, tx } = await captureWhileSending(file, 500, `udp dst port ${port}`);
    expect(tx.successful).to.equal(N);
    const rows = [];
    for (const b of batches) for (let i = 0; i < b.count; i++) rows.push(packetAt(b, i));
    expect(rows).to.have.length(N);
    expect(rows.reduce((n, r) => n + r.wireLength, 0)).to.equal(bytes);
    expect(new Set(rows.map((r) => r.srcPort)).size, 'flows').to.equal(50);
    expect(stopped.stats.droppedByKernel).to.equal(0);
    console.log(`      captured ${N} packets on lo (loopback fallback: no network namespaces)`);
  });

  /**
   * A live pcap-source on the capturing end, fed one small capture through the veth pair: returns
   * the node, what it sent and helpers to wait on it.
   */
  async function captureNineSshPackets() {
    const name = 'zeek__get-to-ssh-server.pcap'; // 9 packets (capinfos)
    const sent = P.expectedPacketCount(name).count;
    const file = otherHostCopy(P.pcapPath(name), tmp);
    await helper.load(pcapSourceNode, [
      { id: 'n1', type: 'pcap-source', wires: [['out'], ['ev']], mode: 'live', iface: CAP_IF, flushIntervalMs: '100', statsIntervalSeconds: '60' },
      { id: 'out', type: 'helper' }, { id: 'ev', type: 'helper' },
    ]);
    const n1 = helper.getNode('n1');
    expect(n1, 'pcap-source node started').to.exist;
    const batches = []; const events = [];
    helper.getNode('out').on('input', (m) => batches.push(m.payload));
    helper.getNode('ev').on('input', (m) => events.push(m.payload));
    const read = () => (batches.length ? batches[batches.length - 1].counters.packetsRead : 0);
    const until = async (pred, what, ms = 15000) => {
      for (const end = Date.now() + ms; !pred();) { if (Date.now() > end) throw new Error(`timed out waiting for ${what}`); await sleep(50); }
    };
    await sleep(300);
    tcpreplay(file, TX_IF, 100, NS);
    await until(() => read() >= sent, 'the first packets');
    return { n1, sent, file, batches, events, read, until };
  }

  it('the capturing interface disappears and comes back: yellow status and interface-down, reopened with back-off, counting goes on', async function () {
    if (!where.ns) { console.log('      (namespaces unavailable)'); this.skip(); }
    const { n1, sent, file, batches, events, read, until } = await captureNineSshPackets();

    run('ip', ['link', 'del', CAP_IF]); // the peer in the namespace goes with it
    await until(() => events.some((e) => e.event === 'interface-down'), 'interface-down');
    const down = events.find((e) => e.event === 'interface-down');
    expect(down.message).to.match(new RegExp(`^interface "${CAP_IF}" disappeared; capture suspended, reopening it`));
    expect(n1.warn.getCalls().some((c) => c.thisValue === n1 && String(c.args[0]) === down.message), 'logged as a warning').to.equal(true);
    const downStatus = n1.status.getCalls().filter((c) => c.thisValue === n1).pop().args[0];
    expect(downStatus).to.deep.equal({ fill: 'yellow', shape: 'ring', text: `${CAP_IF} gone: retry in 1 s` });
    const batchesWhileDown = batches.length;
    await sleep(1500);
    expect(batches.length <= batchesWhileDown + 1, 'no batches while the interface is gone').to.equal(true);

    expect(setUpVeth(), 'the veth pair re-created').to.equal(null);
    await until(() => events.some((e) => e.event === 'interface-up'), 'interface-up', 40000);
    expect(n1.status.getCalls().filter((c) => c.thisValue === n1).pop().args[0].fill).to.equal('green');
    await sleep(300);
    tcpreplay(file, TX_IF, 100, NS);
    await until(() => read() >= 2 * sent, 'the packets after the return');
    n1.receive({ payload: 'stop' });
    await until(() => batches.some((b) => b.final), 'final batch');
    expect(read()).to.equal(2 * sent);
    expect(batches.map((b) => b.seq), 'one run: the sequence goes on').to.deep.equal(batches.map((_, i) => i));
    expect(batches.filter((b) => b.final)).to.have.length(1);
    expect(events.filter((e) => e.event === 'error')).to.deep.equal([]);
  });

  it('the capturing interface goes down (still present) and up again: "down" status and interface-down, counting goes on', async function () {
    if (!where.ns) { console.log('      (namespaces unavailable)'); this.skip(); }
    let present = true;
    try { run('ip', ['link', 'show', CAP_IF]); } catch { present = false; }
    if (!present) expect(setUpVeth(), 'the veth pair').to.equal(null);
    const { n1, sent, file, batches, events, read, until } = await captureNineSshPackets();

    run('ip', ['link', 'set', CAP_IF, 'down']);
    try {
      await until(() => events.some((e) => e.event === 'interface-down'), 'interface-down');
      const down = events.find((e) => e.event === 'interface-down');
      expect(down.message).to.match(new RegExp(`^interface "${CAP_IF}" went down; capture suspended`));
      expect(down.reason).to.equal('link-down');
      const downStatus = n1.status.getCalls().filter((c) => c.thisValue === n1).pop().args[0];
      expect(downStatus).to.deep.equal({ fill: 'yellow', shape: 'ring', text: `${CAP_IF} down: retry in 1 s` });
      await sleep(1500); // a reopen attempt while it is down fails and is retried
    } finally {
      run('ip', ['link', 'set', CAP_IF, 'up']);
    }
    await until(() => events.some((e) => e.event === 'interface-up'), 'interface-up', 40000);
    expect(n1.status.getCalls().filter((c) => c.thisValue === n1).pop().args[0].fill).to.equal('green');
    await sleep(300);
    tcpreplay(file, TX_IF, 100, NS);
    await until(() => read() >= 2 * sent, 'the packets after the link came back');
    n1.receive({ payload: 'stop' });
    await until(() => batches.some((b) => b.final), 'final batch');
    expect(read()).to.equal(2 * sent);
    expect(events.filter((e) => e.event === 'error')).to.deep.equal([]);
  });
});
