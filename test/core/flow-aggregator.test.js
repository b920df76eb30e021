'use strict';
const { expect } = require('chai');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { FlowAggregator, resolveAggregatorOptions, baseName } = require('../../dist/core/flow-aggregator');
const { SCOPES, PACKET_INFO, TCP_FLAG, IPPROTO, assertWindowMessage } = require('../../dist/core/contracts');

// ------------------------------------------------------------------------------------------------
// Hand-built batches
// ------------------------------------------------------------------------------------------------

/** Parses an IPv4 or IPv6 text address into 16 bytes (IPv4 as ::ffff:a.b.c.d, RFC 4291 §2.5.5.2). */
function addrBytes(text) {
  const out = new Uint8Array(16);
  if (text.includes('.')) {
    out[10] = 0xff; out[11] = 0xff;
    text.split('.').forEach((p, i) => { out[12 + i] = Number(p); });
    return out;
  }
  const [head, tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const words = [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t].map((w) => parseInt(w, 16));
  words.forEach((w, i) => { out[2 * i] = w >> 8; out[2 * i + 1] = w & 0xff; });
  return out;
}

/**
 * Builds a PacketBatch from packet objects:
 * { t (ms), src, dst, proto = 6, sp = 0, dp = 0, flags = 0, len = 100, info = 0 }.
 */
function makeBatch(packets, { source = '/captures/test.pcap', seq = 0, clockMs, final = false } = {}) {
  const n = packets.length;
  const b = {
    kind: 'netbaseline/packets', version: 1, source, seq, count: n,
    timeMs: new Float64Array(n), wireLength: new Uint32Array(n), ipVersion: new Uint8Array(n),
    srcAddr: new Uint8Array(16 * n), dstAddr: new Uint8Array(16 * n), protocol: new Uint8Array(n),
    srcPort: new Uint16Array(n), dstPort: new Uint16Array(n), tcpFlags: new Uint8Array(n),
    tcpSeq: new Uint32Array(n), tcpAck: new Uint32Array(n), payloadLength: new Uint32Array(n),
    info: new Uint8Array(n), ifIndex: new Uint16Array(n),
    clockMs: clockMs !== undefined ? clockMs : (n ? packets[n - 1].t : 0),
    counters: { packetsRead: n, packetsDecoded: n, nonIp: 0, unsupportedLinkType: 0, malformed: 0, fragments: 0, timeClamped: 0 },
    final,
  };
  packets.forEach((p, i) => {
    b.timeMs[i] = p.t;
    b.wireLength[i] = p.len !== undefined ? p.len : 100;
    b.ipVersion[i] = p.src.includes(':') ? 6 : 4;
    b.srcAddr.set(addrBytes(p.src), 16 * i);
    b.dstAddr.set(addrBytes(p.dst), 16 * i);
    b.protocol[i] = p.proto !== undefined ? p.proto : IPPROTO.TCP;
    b.srcPort[i] = p.sp || 0;
    b.dstPort[i] = p.dp || 0;
    b.tcpFlags[i] = p.flags || 0;
    b.info[i] = p.info || 0;
  });
  return b;
}

const SYN = TCP_FLAG.SYN;
const SYNACK = TCP_FLAG.SYN | TCP_FLAG.ACK;
const ACK = TCP_FLAG.ACK;
const T0 = 1_700_000_000_000; // a multiple of 10 000 ms

const recordsOf = (w, scope) => w.records.filter((r) => r.scope === scope);
const rec = (w, key) => w.records.find((r) => r.key === key);
/** Everything from one ingest plus a flush. */
function run(agg, packets, opts) {
  return [...agg.ingest(makeBatch(packets, opts)), ...agg.flush()];
}

describe('FlowAggregator (core)', function () {
  describe('options', function () {
    it('applies the documented defaults', function () {
      const o = resolveAggregatorOptions();
      expect(o).to.include({ windowMs: 10000, maxFlows: 100000, maxHostsPerWindow: 50000, flowIdleTimeoutMs: 60000, maxEmptyWindows: 30, maxScanPortsPerSource: 1024 });
      expect(o.scopes).to.deep.equal(['interface', 'dstHost', 'srcHost', 'flow']);
    });
    it('throws a RangeError naming the bad option', function () {
      expect(() => new FlowAggregator({ windowMs: 0 })).to.throw(RangeError, /windowMs/);
      expect(() => new FlowAggregator({ windowMs: 2.5 })).to.throw(RangeError, /windowMs/);
      expect(() => new FlowAggregator({ maxFlows: -1 })).to.throw(RangeError, /maxFlows/);
      expect(() => new FlowAggregator({ maxHostsPerWindow: 'many' })).to.throw(RangeError, /maxHostsPerWindow/);
      expect(() => new FlowAggregator({ flowIdleTimeoutMs: NaN })).to.throw(RangeError, /flowIdleTimeoutMs/);
      expect(() => new FlowAggregator({ scopes: ['flows'] })).to.throw(RangeError, /scopes/);
    });
    it('baseName takes the last path component', function () {
      expect(baseName('/a/b/x.pcap')).to.equal('x.pcap');
      expect(baseName('C:\\caps\\y.pcapng')).to.equal('y.pcapng');
      expect(baseName('eth0')).to.equal('eth0');
    });
  });

  describe('metrics of one window', function () {
    it('sums bytes and packets; bps and pps are per second of the window', function () {
      const agg = new FlowAggregator({ windowMs: 10000 });
      const p = { src: '10.0.0.1', dst: '10.0.0.2', sp: 1000, dp: 80, flags: ACK };
      const wins = run(agg, [{ ...p, t: T0 + 1, len: 100 }, { ...p, t: T0 + 2, len: 200 }, { ...p, t: T0 + 3, len: 300 }]);
      expect(wins).to.have.length(1);
      const w = wins[0];
      expect(w).to.include({ kind: 'netbaseline/window', windowStart: T0, windowEnd: T0 + 10000, windowMs: 10000, gapBeforeMs: 0, source: '/captures/test.pcap' });
      // 600 bytes in 10 s = 480 bit/s; 3 packets in 10 s = 0.3 packet/s
      const expected = { bytes: 600, packets: 3, bitsPerSecond: 480, packetsPerSecond: 0.3 };
      for (const key of ['iface test.pcap', 'src 10.0.0.1', 'dst 10.0.0.2', 'tcp 10.0.0.1:1000 > 10.0.0.2:80']) {
        expect(rec(w, key), key).to.exist;
        expect(rec(w, key).metrics, key).to.include(expected);
      }
      const flow = rec(w, 'tcp 10.0.0.1:1000 > 10.0.0.2:80');
      expect(flow).to.include({ srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 1000, dstPort: 80, protocol: 'tcp' });
      expect(flow.metrics).to.include({ newFlows: 1, distinctDstPorts: 1, distinctPeers: 1, flowDurationMs: 2 });
      expect(rec(w, 'src 10.0.0.1')).to.include({ srcIp: '10.0.0.1' }).and.not.have.property('dstIp');
      expect(rec(w, 'dst 10.0.0.2')).to.include({ dstIp: '10.0.0.2' }).and.not.have.property('srcIp');
      assertWindowMessage(w);
    });

    it('emits records in scope order interface, dstHost, srcHost, flow and as plain JSON', function () {
      const agg = new FlowAggregator();
      const w = run(agg, [
        { t: T0 + 1, src: '10.0.0.1', dst: '10.0.0.2', sp: 1, dp: 2 },
        { t: T0 + 2, src: '10.0.0.3', dst: '10.0.0.2', proto: IPPROTO.UDP, sp: 53, dp: 53 },
      ])[0];
      const scopes = w.records.map((r) => r.scope);
      const ranks = scopes.map((s) => SCOPES.indexOf(s));
      expect(ranks).to.deep.equal([...ranks].sort((a, b) => a - b));
      expect(scopes.filter((s) => s === 'interface')).to.have.length(1);
      expect(JSON.parse(JSON.stringify(w))).to.deep.equal(w); // no typed arrays, Maps or undefined values
      for (const r of w.records) for (const v of Object.values(r)) expect(v).to.not.equal(undefined);
    });

    it('counts SYN without ACK as synCount and SYN+ACK as synAckCount', function () {
      const agg = new FlowAggregator();
      const c = { src: '10.0.0.1', dst: '10.0.0.2', sp: 40000, dp: 443 };
      const s = { src: '10.0.0.2', dst: '10.0.0.1', sp: 443, dp: 40000 };
      const w = run(agg, [
        { ...c, t: T0 + 1, flags: SYN },
        { ...c, t: T0 + 2, flags: SYN | TCP_FLAG.ECE | TCP_FLAG.CWR }, // ECN-setup SYN (RFC 3168) is still a SYN
        { ...s, t: T0 + 3, flags: SYNACK },
        { ...c, t: T0 + 4, flags: ACK },
        { ...c, t: T0 + 5, flags: TCP_FLAG.FIN | ACK },
      ])[0];
      expect(rec(w, 'iface test.pcap').metrics).to.include({ synCount: 2, synAckCount: 1, packets: 5 });
      expect(rec(w, 'src 10.0.0.1').metrics).to.include({ synCount: 2, synAckCount: 0 });
      expect(rec(w, 'src 10.0.0.2').metrics).to.include({ synCount: 0, synAckCount: 1 });
      expect(rec(w, 'tcp 10.0.0.1:40000 > 10.0.0.2:443').metrics).to.include({ synCount: 2, packets: 4 });
      expect(rec(w, 'tcp 10.0.0.2:443 > 10.0.0.1:40000').metrics).to.include({ synAckCount: 1, packets: 1 });
      // 2 directional 5-tuples → 2 new flows on the interface
      expect(rec(w, 'iface test.pcap').metrics.newFlows).to.equal(2);
    });

    it('counts distinct destination ports and peers per host and hosts on the interface', function () {
      const agg = new FlowAggregator();
      const w = run(agg, [
        { t: T0 + 1, src: '10.0.0.1', dst: '10.0.0.2', sp: 5000, dp: 80 },
        { t: T0 + 2, src: '10.0.0.1', dst: '10.0.0.2', sp: 5001, dp: 443 },
        { t: T0 + 3, src: '10.0.0.1', dst: '10.0.0.3', sp: 5002, dp: 80 },
        { t: T0 + 4, src: '10.0.0.1', dst: '10.0.0.2', proto: IPPROTO.UDP, sp: 5003, dp: 80 }, // UDP 80 ≠ TCP 80
        { t: T0 + 5, src: '10.0.0.4', dst: '10.0.0.2', sp: 6000, dp: 80 },
        { t: T0 + 6, src: '10.0.0.4', dst: '10.0.0.2', proto: IPPROTO.ICMP, dp: 8 * 256 }, // ICMP type is no port
      ])[0];
      expect(rec(w, 'src 10.0.0.1').metrics).to.include({ distinctDstPorts: 3, distinctPeers: 2, newFlows: 4, packets: 4 });
      expect(rec(w, 'src 10.0.0.4').metrics).to.include({ distinctDstPorts: 1, distinctPeers: 1 });
      expect(rec(w, 'dst 10.0.0.2').metrics).to.include({ distinctDstPorts: 3, distinctPeers: 2, packets: 5, newFlows: 5 });
      expect(rec(w, 'dst 10.0.0.3').metrics).to.include({ distinctDstPorts: 1, distinctPeers: 1 });
      expect(rec(w, 'iface test.pcap').metrics).to.include({ distinctPeers: 4, distinctDstPorts: 3, newFlows: 6 });
      expect(recordsOf(w, 'srcHost')).to.have.length(2);
      expect(recordsOf(w, 'dstHost')).to.have.length(2);
      expect(recordsOf(w, 'flow')).to.have.length(6);
    });

    it('treats a host talking to itself (loopback) as one address', function () {
      const agg = new FlowAggregator();
      const w = run(agg, [
        { t: T0 + 1, src: '127.0.0.1', dst: '127.0.0.1', sp: 50000, dp: 6379 },
        { t: T0 + 2, src: '127.0.0.1', dst: '127.0.0.1', sp: 6379, dp: 50000 },
      ])[0];
      expect(rec(w, 'iface test.pcap').metrics.distinctPeers).to.equal(1);
      expect(rec(w, 'src 127.0.0.1').metrics).to.include({ packets: 2, distinctPeers: 1, distinctDstPorts: 2 });
      expect(rec(w, 'dst 127.0.0.1').metrics).to.include({ packets: 2, distinctPeers: 1 });
      expect(recordsOf(w, 'flow')).to.have.length(2);
    });

    it('formats ICMP, IPv6 and other-protocol flow keys as the contract says', function () {
      const agg = new FlowAggregator();
      const w = run(agg, [
        { t: T0 + 1, src: '10.0.0.1', dst: '10.0.0.2', proto: IPPROTO.ICMP, dp: 8 * 256 + 0 },
        { t: T0 + 2, src: '2001:db8::1', dst: '2001:db8::2', sp: 443, dp: 5555 },
        { t: T0 + 3, src: 'fe80::1', dst: 'ff02::1', proto: IPPROTO.ICMPV6, dp: 128 * 256 },
        { t: T0 + 4, src: '10.0.0.1', dst: '10.0.0.9', proto: 47 },
      ])[0];
      const icmp = rec(w, 'icmp 10.0.0.1 > 10.0.0.2 type 8 code 0');
      expect(icmp).to.include({ protocol: 'icmp', dstPort: 2048 }).and.not.have.property('srcPort');
      expect(rec(w, 'tcp [2001:db8::1]:443 > [2001:db8::2]:5555')).to.include({ srcIp: '2001:db8::1', dstIp: '2001:db8::2' });
      expect(rec(w, 'icmpv6 fe80::1 > ff02::1 type 128 code 0')).to.exist;
      const gre = rec(w, 'ip-47 10.0.0.1 > 10.0.0.9');
      expect(gre).to.include({ protocol: 'ip-47' }).and.not.have.any.keys('srcPort', 'dstPort');
      expect(rec(w, 'src 2001:db8::1')).to.exist;
      expect(rec(w, 'dst ff02::1')).to.exist;
    });

    it('puts scan evidence on srcHost records of sources that sent SYNs', function () {
      const agg = new FlowAggregator({ maxScanPortsPerSource: 3 });
      const scanner = '192.168.1.10';
      const pk = [];
      let t = T0;
      for (const dst of ['192.168.1.25', '192.168.1.26']) for (const dp of [443, 22, 80, 22]) pk.push({ t: ++t, src: scanner, dst, sp: 50000, dp, flags: SYN });
      pk.push({ t: ++t, src: '192.168.1.25', dst: scanner, sp: 22, dp: 50000, flags: SYNACK });
      const w = run(agg, pk)[0];
      expect(rec(w, `src ${scanner}`).scan).to.deep.equal({ synDstPorts: [22, 80, 443], truncated: false, synDstHosts: 2 });
      expect(rec(w, 'src 192.168.1.25')).to.not.have.property('scan');

      const capped = new FlowAggregator({ maxScanPortsPerSource: 2 });
      const w2 = run(capped, pk)[0];
      const scan = rec(w2, `src ${scanner}`).scan;
      expect(scan.synDstPorts).to.have.length(2);
      expect(scan.truncated).to.equal(true);
      expect(scan.synDstPorts).to.deep.equal([...scan.synDstPorts].sort((a, b) => a - b));
    });

    it('uses interfaceName when given', function () {
      const agg = new FlowAggregator({ interfaceName: 'wan0' });
      const w = run(agg, [{ t: T0, src: '10.0.0.1', dst: '10.0.0.2' }])[0];
      expect(recordsOf(w, 'interface')[0].key).to.equal('iface wan0');
    });

    it('emits only the configured scopes', function () {
      const agg = new FlowAggregator({ scopes: ['interface', 'srcHost'] });
      const w = run(agg, [{ t: T0, src: '10.0.0.1', dst: '10.0.0.2' }])[0];
      expect(w.records.map((r) => r.scope)).to.deep.equal(['interface', 'srcHost']);
    });
  });

  describe('windows', function () {
    it('aligns windows to multiples of windowMs and closes at windowEnd exactly', function () {
      const agg = new FlowAggregator({ windowMs: 10000 });
      const p = { src: '10.0.0.1', dst: '10.0.0.2' };
      const closed = agg.ingest(makeBatch([{ ...p, t: T0 + 3500 }, { ...p, t: T0 + 9999.999 }, { ...p, t: T0 + 10000 }]));
      expect(closed).to.have.length(1);
      expect(closed[0]).to.include({ windowStart: T0, windowEnd: T0 + 10000 });
      expect(rec(closed[0], 'iface test.pcap').metrics.packets).to.equal(2);
      const last = agg.flush();
      expect(last[0]).to.include({ windowStart: T0 + 10000, windowEnd: T0 + 20000 });
      expect(rec(last[0], 'iface test.pcap').metrics.packets).to.equal(1);
    });

    it('fills gaps with empty windows up to maxEmptyWindows, then jumps and sets gapBeforeMs', function () {
      const agg = new FlowAggregator({ windowMs: 10000, maxEmptyWindows: 2 });
      const p = { src: '10.0.0.1', dst: '10.0.0.2' };
      const wins = run(agg, [{ ...p, t: T0 + 5000 }, { ...p, t: T0 + 35000 }, { ...p, t: T0 + 95000 }]);
      // [0,10) data, [10,20) [20,30) empty, [30,40) data, [40,50) [50,60) empty, skip 60…90, [90,100) data
      expect(wins.map((w) => (w.windowStart - T0) / 1000)).to.deep.equal([0, 10, 20, 30, 40, 50, 90]);
      expect(wins.map((w) => w.gapBeforeMs)).to.deep.equal([0, 0, 0, 0, 0, 0, 30000]);
      for (const i of [1, 2, 4, 5]) {
        expect(wins[i].records, `window ${i}`).to.have.length(1);
        expect(wins[i].records[0].scope).to.equal('interface');
        expect(wins[i].records[0].metrics).to.include({ bytes: 0, packets: 0, bitsPerSecond: 0, packetsPerSecond: 0, distinctPeers: 0 });
      }
      expect(agg.counters.windows).to.equal(7);
    });

    it('closes windows when an empty batch advances clockMs', function () {
      const agg = new FlowAggregator({ windowMs: 10000 });
      expect(agg.ingest(makeBatch([{ t: T0 + 15000, src: '10.0.0.1', dst: '10.0.0.2' }]))).to.deep.equal([]);
      expect(agg.ingest(makeBatch([], { clockMs: T0 + 19999 }))).to.deep.equal([]);
      const closed = agg.ingest(makeBatch([], { clockMs: T0 + 41000 }));
      expect(closed.map((w) => (w.windowStart - T0) / 1000)).to.deep.equal([10, 20, 30]);
      expect(rec(closed[0], 'iface test.pcap').metrics.packets).to.equal(1);
      expect(agg.currentWindowStart).to.equal(T0 + 40000);
    });

    it('counts an out-of-order packet in the current window', function () {
      const agg = new FlowAggregator({ windowMs: 10000 });
      const p = { src: '10.0.0.1', dst: '10.0.0.2', sp: 1, dp: 2 };
      const wins = run(agg, [{ ...p, t: T0 + 15000 }, { ...p, t: T0 + 25000 }, { ...p, t: T0 + 12000, len: 77 }]);
      expect(wins).to.have.length(2);
      expect(rec(wins[0], 'iface test.pcap').metrics.packets).to.equal(1);
      expect(rec(wins[1], 'iface test.pcap').metrics).to.include({ packets: 2, bytes: 177 });
      expect(wins[1].windowStart).to.equal(T0 + 20000);
    });

    it('marks the window closed by a final batch and starts a fresh grid afterwards', function () {
      const agg = new FlowAggregator({ windowMs: 10000 });
      const p = { src: '10.0.0.1', dst: '10.0.0.2', sp: 1, dp: 2 };
      const wins = agg.ingest(makeBatch([{ ...p, t: T0 + 1000 }, { ...p, t: T0 + 12000 }], { final: true }));
      expect(wins.map((w) => w.final)).to.deep.equal([false, true]);
      expect(agg.counters.trackedFlows).to.equal(0);
      // a second replay of earlier packets: its own windows, the flow is new again
      const again = run(agg, [{ ...p, t: T0 + 1000 }]);
      expect(again[0].windowStart).to.equal(T0);
      expect(rec(again[0], 'tcp 10.0.0.1:1 > 10.0.0.2:2').metrics.newFlows).to.equal(1);
    });

    it('flush returns [] when the open window is empty or none is open', function () {
      const agg = new FlowAggregator();
      expect(agg.flush()).to.deep.equal([]);
      agg.ingest(makeBatch([{ t: T0, src: '10.0.0.1', dst: '10.0.0.2' }]));
      expect(agg.flush()).to.have.length(1);
      expect(agg.flush()).to.deep.equal([]);
    });
  });

  describe('flows across windows', function () {
    it('does not form flows from non-first fragments but counts them on hosts and interface', function () {
      const agg = new FlowAggregator();
      const w = run(agg, [
        { t: T0 + 1, src: '10.0.0.1', dst: '10.0.0.2', proto: IPPROTO.UDP, sp: 5000, dp: 53, len: 1500 },
        { t: T0 + 2, src: '10.0.0.1', dst: '10.0.0.2', proto: IPPROTO.UDP, len: 600, info: PACKET_INFO.FRAGMENT },
        { t: T0 + 3, src: '10.0.0.7', dst: '10.0.0.2', proto: IPPROTO.UDP, len: 600, info: PACKET_INFO.FRAGMENT },
      ])[0];
      expect(recordsOf(w, 'flow').map((r) => r.key)).to.deep.equal(['udp 10.0.0.1:5000 > 10.0.0.2:53']);
      expect(rec(w, 'udp 10.0.0.1:5000 > 10.0.0.2:53').metrics).to.include({ packets: 1, bytes: 1500 });
      expect(rec(w, 'src 10.0.0.1').metrics).to.include({ packets: 2, bytes: 2100, distinctDstPorts: 1 });
      expect(rec(w, 'src 10.0.0.7').metrics).to.include({ packets: 1, newFlows: 0, distinctDstPorts: 0, distinctPeers: 1 });
      expect(rec(w, 'dst 10.0.0.2').metrics).to.include({ packets: 3, bytes: 2700, distinctPeers: 2 });
      expect(rec(w, 'iface test.pcap').metrics).to.include({ packets: 3, bytes: 2700, newFlows: 1 });
      expect(w.counters).to.include({ packetsSeen: 3, packetsSkipped: 2, trackedFlows: 1 });
    });

    it('measures flowDurationMs from the first packet, across windows; newFlows only in the first', function () {
      const agg = new FlowAggregator({ windowMs: 10000 });
      const p = { src: '10.0.0.1', dst: '10.0.0.2', sp: 1234, dp: 80 };
      const wins = run(agg, [{ ...p, t: T0 + 1000 }, { ...p, t: T0 + 5000 }, { ...p, t: T0 + 12000 }, { ...p, t: T0 + 18000 }]);
      const key = 'tcp 10.0.0.1:1234 > 10.0.0.2:80';
      expect(wins.map((w) => rec(w, key).metrics.flowDurationMs)).to.deep.equal([4000, 17000]);
      expect(wins.map((w) => rec(w, key).metrics.newFlows)).to.deep.equal([1, 0]);
      expect(wins.map((w) => rec(w, 'src 10.0.0.1').metrics.newFlows)).to.deep.equal([1, 0]);
    });

    it('forgets a flow idle longer than flowIdleTimeoutMs', function () {
      const p = { src: '10.0.0.1', dst: '10.0.0.2', sp: 1234, dp: 80 };
      const key = 'tcp 10.0.0.1:1234 > 10.0.0.2:80';
      const packets = [{ ...p, t: T0 + 1000 }, { ...p, t: T0 + 35000 }];
      // idle 34 s: with a 20 s timeout the flow is gone when it sends again
      const short = run(new FlowAggregator({ windowMs: 10000, flowIdleTimeoutMs: 20000 }), packets);
      expect(rec(short[short.length - 1], key).metrics).to.include({ newFlows: 1, flowDurationMs: 0 });
      expect(short[1].counters.trackedFlows, 'after the first empty window').to.equal(1);
      expect(short[2].counters.trackedFlows, 'still counted when [20,30) closes, expired after').to.equal(1);
      // with the default 60 s it is the same flow
      const long = run(new FlowAggregator({ windowMs: 10000 }), packets);
      expect(rec(long[long.length - 1], key).metrics).to.include({ newFlows: 0, flowDurationMs: 34000 });
    });
  });

  describe('bounded memory', function () {
    /** 10,000 one-packet SYNs, each from a different spoofed source, to one victim; a real flow sends every 50th packet. */
    function floodPackets() {
      const pk = [];
      for (let i = 0; i < 10000; i++) {
        pk.push({ t: T0 + i * 0.1, src: `11.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, dst: '10.10.10.10', sp: 1024 + (i % 50000), dp: 80, flags: SYN, len: 60 });
        if (i % 50 === 0) pk.push({ t: T0 + i * 0.1 + 0.05, src: '10.0.0.5', dst: '10.10.10.10', sp: 44444, dp: 22, flags: ACK, len: 1000 });
      }
      return pk;
    }

    it('caps the flow table under a spoofed SYN flood while hosts and interface count every packet', function () {
      const agg = new FlowAggregator({ maxFlows: 100 });
      const wins = run(agg, floodPackets());
      expect(wins).to.have.length(1);
      const w = wins[0];
      expect(w.counters.trackedFlows).to.be.at.most(100);
      expect(agg.counters.trackedFlows).to.be.at.most(100);
      // 10,001 distinct 5-tuples through a table of 100: at least 9,901 evictions
      expect(w.counters.flowEvictions).to.be.at.least(10001 - 100);
      expect(recordsOf(w, 'flow').length).to.be.at.most(100);
      const victim = rec(w, 'dst 10.10.10.10');
      expect(victim.metrics).to.include({ packets: 10200, synCount: 10000, distinctPeers: 10001 });
      expect(rec(w, 'iface test.pcap').metrics).to.include({ packets: 10200, synCount: 10000, bytes: 10000 * 60 + 200 * 1000 });
      // least recently seen goes first: the flow that keeps sending survives with all its packets
      const ssh = rec(w, 'tcp 10.0.0.5:44444 > 10.10.10.10:22');
      expect(ssh, 'busy flow kept').to.exist;
      expect(ssh.metrics).to.include({ packets: 200, newFlows: 1 });
      expect(w.counters.hostEvictions).to.equal(0);
    });

    it('caps host records per window; the victim and the interface still count the flood', function () {
      const agg = new FlowAggregator({ maxFlows: 100, maxHostsPerWindow: 50 });
      const w = run(agg, floodPackets())[0];
      expect(recordsOf(w, 'srcHost')).to.have.length(50);
      expect(recordsOf(w, 'dstHost')).to.have.length(1);
      // 10,200 packets, 50 sources got records: every packet from another source was refused once
      const fromRecorded = recordsOf(w, 'srcHost').reduce((s, r) => s + r.metrics.packets, 0);
      expect(w.counters.hostEvictions).to.equal(10200 - fromRecorded);
      expect(rec(w, 'dst 10.10.10.10').metrics).to.include({ packets: 10200, synCount: 10000 });
      expect(rec(w, 'iface test.pcap').metrics).to.include({ packets: 10200, synCount: 10000 });
      // distinct counts stop at the caps
      expect(rec(w, 'dst 10.10.10.10').metrics.distinctPeers).to.be.at.most(50);
    });

    it('keeps every flow when the table grows (5,000 flows, each seen before and after growth)', function () {
      const agg = new FlowAggregator(); // starts small and doubles up to maxFlows
      const pk = [];
      for (const pass of [0, 1]) for (let i = 0; i < 5000; i++) pk.push({ t: T0 + pass * 1000 + i * 0.01, src: `10.1.${i >> 8}.${i & 255}`, dst: '10.0.0.1', sp: 2000 + i, dp: 443, len: 50 + pass });
      const w = run(agg, pk)[0];
      const flows = recordsOf(w, 'flow');
      expect(flows).to.have.length(5000);
      expect(flows.every((r) => r.metrics.packets === 2 && r.metrics.bytes === 101 && r.metrics.newFlows === 1)).to.equal(true);
      expect(new Set(flows.map((r) => r.key)).size).to.equal(5000);
      expect(w.counters).to.include({ trackedFlows: 5000, flowEvictions: 0 });
      expect(recordsOf(w, 'srcHost')).to.have.length(5000);
      expect(rec(w, 'dst 10.0.0.1').metrics).to.include({ packets: 10000, distinctPeers: 5000, newFlows: 5000 });
    });

    it('reset() forgets flows, windows and counters', function () {
      const agg = new FlowAggregator({ maxFlows: 100 });
      agg.ingest(makeBatch(floodPackets()));
      agg.reset();
      expect(agg.counters).to.deep.equal({ packetsSeen: 0, packetsSkipped: 0, trackedFlows: 0, flowEvictions: 0, hostEvictions: 0, windows: 0 });
      expect(agg.flush()).to.deep.equal([]);
    });
  });

  describe('bad input', function () {
    it('rejects a malformed batch with a ContractError and keeps its state', function () {
      const agg = new FlowAggregator();
      agg.ingest(makeBatch([{ t: T0, src: '10.0.0.1', dst: '10.0.0.2' }]));
      const bad = makeBatch([{ t: T0 + 1, src: '10.0.0.1', dst: '10.0.0.2' }]);
      bad.timeMs = [T0 + 1];
      expect(() => agg.ingest(bad)).to.throw(/timeMs must be a Float64Array/);
      expect(() => agg.ingest(null)).to.throw(/packet batch/);
      expect(agg.counters).to.include({ packetsSeen: 1, packetsSkipped: 1 });
      const w = agg.flush()[0];
      expect(rec(w, 'iface test.pcap').metrics.packets).to.equal(1);
    });
  });

  // ----------------------------------------------------------------------------------------------
  // Real captures (MANIFEST ground truth, tshark)
  // ----------------------------------------------------------------------------------------------
  describe('real captures', function () {
    const PCAPS = '/work/shared/pcaps';
    let readCaptureFileSync;
    try { ({ readCaptureFileSync } = require('../../dist/core/replay')); } catch (e) { readCaptureFileSync = undefined; }
    const hasTshark = (() => { try { execFileSync('tshark', ['-v'], { stdio: 'ignore' }); return true; } catch (e) { return false; } })();
    const tshark = (file, args) => execFileSync('tshark', ['-n', '-r', file, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
    const countLines = (s) => s.split('\n').filter((l) => l.trim() !== '').length;

    before(function () {
      if (!readCaptureFileSync || !fs.existsSync(PCAPS)) this.skip();
    });

    function aggregate(file, options) {
      const { batches } = readCaptureFileSync(path.join(PCAPS, file));
      const agg = new FlowAggregator(options);
      const wins = [];
      for (const b of batches) wins.push(...agg.ingest(b));
      return { wins, batches, agg };
    }

    it('stopddos DOMINATE: dst 10.10.10.10 synCount over the windows equals the SYNs tshark counts', function () {
      if (!hasTshark) this.skip();
      const file = 'stopddos__pkt.TCP.DOMINATE.syn.ecn.cwr.pcapng';
      const synTshark = countLines(tshark(path.join(PCAPS, file), ['-Y', 'ip.dst==10.10.10.10 && tcp.flags.syn==1 && tcp.flags.ack==0']));
      expect(synTshark, 'MANIFEST: 9,639 SYNs in the burst').to.be.at.least(9639);
      const { wins } = aggregate(file, { windowMs: 1000 });
      let syn = 0;
      for (const w of wins) { const r = rec(w, 'dst 10.10.10.10'); if (r) syn += r.metrics.synCount; }
      expect(syn).to.equal(synTshark);
      // the burst (33.83–34.27 s) falls in the last one or two 1 s windows: they hold ≥ 9,639 SYNs
      const lastTwo = wins.slice(-2).reduce((s, w) => s + (rec(w, 'dst 10.10.10.10') ? rec(w, 'dst 10.10.10.10').metrics.synCount : 0), 0);
      expect(lastTwo).to.be.at.least(9639);
      expect(wins[wins.length - 1].final).to.equal(true);
      for (const w of wins) assertWindowMessage(w);
    });

    it('pcaphunt SYN scan: srcHost 10.0.0.140 SYNs and scan ports match tshark', function () {
      if (!hasTshark) this.skip();
      const file = path.join(PCAPS, 'pcaphunt__ps-tcp_syn.pcap');
      const synLines = tshark(file, ['-Y', 'ip.src==10.0.0.140 && tcp.flags.syn==1 && tcp.flags.ack==0', '-T', 'fields', '-e', 'ip.dst', '-e', 'tcp.dstport']);
      const rows = synLines.split('\n').filter((l) => l.trim() !== '').map((l) => l.split('\t'));
      const { wins } = aggregate('pcaphunt__ps-tcp_syn.pcap', { windowMs: 60000 });
      const recs = wins.map((w) => rec(w, 'src 10.0.0.140')).filter(Boolean);
      expect(recs.reduce((s, r) => s + r.metrics.synCount, 0)).to.equal(rows.length);
      // 6.1 s of capture fits one or two 60 s windows; the union of their scan ports is tshark's port set
      const ports = new Set(recs.flatMap((r) => r.scan.synDstPorts));
      expect(ports.size).to.equal(new Set(rows.map((r) => Number(r[1]))).size);
      expect(Math.max(...recs.map((r) => r.scan.synDstHosts))).to.equal(new Set(rows.map((r) => r[0])).size);
    });

    it('SkypeIRC: interface bytes and packets over all windows equal tshark sums over IP frames', function () {
      if (!hasTshark) this.skip();
      const file = path.join(PCAPS, 'wireshark__SkypeIRC.cap');
      const lens = tshark(file, ['-Y', 'ip || ipv6', '-T', 'fields', '-e', 'frame.len']).split('\n').filter((l) => l.trim() !== '').map(Number);
      const { wins } = aggregate('wireshark__SkypeIRC.cap', { windowMs: 10000 });
      const ifaces = wins.map((w) => recordsOf(w, 'interface')[0]);
      expect(ifaces.every((r) => r.key === 'iface wireshark__SkypeIRC.cap')).to.equal(true);
      expect(ifaces.reduce((s, r) => s + r.metrics.packets, 0)).to.equal(lens.length);
      expect(ifaces.reduce((s, r) => s + r.metrics.bytes, 0)).to.equal(lens.reduce((a, b) => a + b, 0));
      // 322.75 s of capture in 10 s windows: contiguous, no gap
      expect(wins.every((w, i) => i === 0 || w.windowStart === wins[i - 1].windowEnd)).to.equal(true);
      expect(wins.length).to.be.within(33, 34);
      // MANIFEST: the IRC session to 212.204.214.114:6667 lasts the whole capture
      const irc = wins.map((w) => recordsOf(w, 'flow').find((r) => r.dstIp === '212.204.214.114' && r.dstPort === 6667)).filter(Boolean);
      expect(irc.length).to.be.greaterThan(20);
      expect(irc.filter((r) => r.metrics.newFlows === 1)).to.have.length(1);
    });

    it('ndpi sites: month-long timestamp gaps become gapBeforeMs instead of millions of empty windows', function () {
      const { wins } = aggregate('ndpi__sites.pcapng', { windowMs: 10000, maxEmptyWindows: 30 });
      // MANIFEST: sessions from 2020 to 2024 with gaps of months
      expect(wins.some((w) => w.gapBeforeMs > 30 * 86400000)).to.equal(true);
      const empty = (w) => recordsOf(w, 'interface')[0].metrics.packets === 0;
      let run = 0;
      wins.forEach((w, i) => {
        if (w.gapBeforeMs > 0) {
          expect(run, `window ${i}: 30 empty windows before the jump`).to.equal(30);
          expect(w.gapBeforeMs % 10000).to.equal(0);
        }
        run = empty(w) ? run + 1 : 0;
        expect(run).to.be.at.most(30);
      });
      const total = wins.reduce((s, w) => s + recordsOf(w, 'interface')[0].metrics.packets, 0);
      expect(total).to.be.at.most(699);
      for (const w of wins) expect(w.windowEnd - w.windowStart).to.equal(10000);
    });
  });
});
