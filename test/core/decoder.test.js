'use strict';
const { expect } = require('chai');
const { PacketBatchBuilder } = require('../../dist/core/decoder.js');
const { readCaptureFileSync } = require('../../dist/core/replay.js');
const { packetAt, PACKET_INFO, assertPacketBatch } = require('../../dist/core/contracts.js');
const B = require('../fixtures/capture-builder.js');
const P = require('../fixtures/pcaps.js');

/** Decodes one frame; returns { batch, counters, p } with p the row object (or undefined). */
function decode(linkType, frame, { capturedLength = frame.length, wireLength = frame.length, timeMs = 1000, ifIndex = 0 } = {}) {
  const b = new PacketBatchBuilder(8);
  b.add(linkType, frame, capturedLength, wireLength, timeMs, ifIndex);
  const batch = b.flush('test', timeMs, true);
  assertPacketBatch(batch);
  return { batch, counters: batch.counters, p: batch.count ? packetAt(batch, 0) : undefined };
}

describe('decoder: hand-built frames', function () {
  it('Ethernet / IPv4 / TCP: every column', function () {
    const seg = B.tcp({ sport: 51234, dport: 443, seq: 0xdeadbeef, ack: 0x01020304, flags: 0x12, payload: Buffer.alloc(10) });
    const frame = B.eth(0x0800, B.ipv4({ src: '192.0.2.7', dst: '198.51.100.9', proto: 6, payload: seg }));
    const { p, counters } = decode(1, frame, { wireLength: 1514, timeMs: 1234.5, ifIndex: 3 });
    expect(p).to.deep.equal({
      timeMs: 1234.5, wireLength: 1514, ipVersion: 4, srcIp: '192.0.2.7', dstIp: '198.51.100.9', protocol: 6,
      srcPort: 51234, dstPort: 443, tcpFlags: 0x12, tcpSeq: 0xdeadbeef, tcpAck: 0x01020304,
      payloadLength: 30, info: 0, ifIndex: 3,
    });
    expect(counters).to.include({ packetsRead: 1, packetsDecoded: 1, malformed: 0 });
  });

  it('writes IPv4 as IPv4-mapped IPv6 bytes', function () {
    const { batch } = decode(1, B.eth(0x0800, B.ipv4({ src: '10.1.2.3', payload: B.tcp() })));
    expect(Array.from(batch.srcAddr.subarray(0, 16))).to.deep.equal([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3]);
  });

  it('VLAN: 802.1Q, QinQ (0x88a8 + 0x8100) and 0x9100 tags of any depth', function () {
    const ip = B.ipv4({ proto: 17, payload: B.udp({ sport: 1, dport: 2 }) });
    for (const tags of [[{ tpid: 0x8100, vid: 5 }], [{ tpid: 0x88a8, vid: 30 }, { tpid: 0x8100, vid: 20 }],
      [{ tpid: 0x9100, vid: 1 }, { tpid: 0x88a8, vid: 2 }, { tpid: 0x8100, vid: 3 }, { tpid: 0x8100, vid: 4 }]]) {
      const { p } = decode(1, B.eth(0x0800, ip, tags));
      expect(p, JSON.stringify(tags)).to.include({ srcIp: '10.0.0.1', srcPort: 1, dstPort: 2, protocol: 17 });
    }
    // a tag cut short → malformed
    const cut = B.eth(0x0800, ip, [{ tpid: 0x8100, vid: 5 }]).subarray(0, 16);
    expect(decode(1, cut).counters.malformed).to.equal(1);
  });

  it('non-IP: ARP, 802.3 length frames and unknown ethertypes count as nonIp', function () {
    expect(decode(1, B.eth(0x0806, Buffer.alloc(28))).counters.nonIp).to.equal(1);
    expect(decode(1, B.eth(0x0026, Buffer.alloc(38))).counters.nonIp).to.equal(1); // 802.3 length 38 + LLC
    expect(decode(1, B.eth(0x88cc, Buffer.alloc(40)), {}).counters.nonIp).to.equal(1); // LLDP
    expect(decode(1, B.eth(0x8100, Buffer.concat([Buffer.from([0, 5, 0x08, 0x06]), Buffer.alloc(28)]))).counters.nonIp).to.equal(1);
  });

  it('link types: NULL (both orders), LOOP, raw 101/12/14, 228, 229, SLL, SLL2; others unsupported', function () {
    const v4 = B.ipv4({ src: '127.0.0.1', dst: '127.0.0.1', proto: 17, payload: B.udp({ sport: 7, dport: 9 }) });
    const v6 = B.ipv6({ src: '::1', dst: '::1', next: 17, body: B.udp({ sport: 7, dport: 9 }) });
    const af = (n, le) => { const b = Buffer.alloc(4); le ? b.writeUInt32LE(n) : b.writeUInt32BE(n); return b; };
    const cases = [
      [0, Buffer.concat([af(2, true), v4]), '127.0.0.1'],
      [0, Buffer.concat([af(2, false), v4]), '127.0.0.1'],
      [0, Buffer.concat([af(30, true), v6]), '::1'],
      [0, Buffer.concat([af(24, false), v6]), '::1'],
      [0, Buffer.concat([af(28, true), v6]), '::1'],
      [0, Buffer.concat([af(10, true), v6]), '::1'],
      [108, Buffer.concat([af(2, false), v4]), '127.0.0.1'],
      [101, v4, '127.0.0.1'], [101, v6, '::1'], [12, v4, '127.0.0.1'], [14, v6, '::1'],
      [228, v4, '127.0.0.1'], [229, v6, '::1'],
    ];
    const sll = Buffer.alloc(16); sll.writeUInt16BE(0x0800, 14);
    cases.push([113, Buffer.concat([sll, v4]), '127.0.0.1']);
    const sll2 = Buffer.alloc(20); sll2.writeUInt16BE(0x86dd, 0);
    cases.push([276, Buffer.concat([sll2, v6]), '::1']);
    for (const [lt, frame, src] of cases) {
      const { p } = decode(lt, frame);
      expect(p, `linktype ${lt}`).to.include({ srcIp: src, srcPort: 7, dstPort: 9 });
    }
    expect(decode(0, Buffer.concat([af(7, true), v4])).counters.nonIp).to.equal(1);
    expect(decode(105, v4).counters.unsupportedLinkType).to.equal(1); // 802.11
    // the numbers of the skipped link types, distinct, in the order seen
    const { SUPPORTED_LINK_TYPES, isSupportedLinkType } = require('../../dist/core/decoder.js');
    const b = new PacketBatchBuilder(8);
    for (const lt of [147, 127, 147, 1]) b.add(lt, B.eth(0x0800, v4), 14 + v4.length, 14 + v4.length, 1000, 0);
    expect(b.unsupportedLinkTypes).to.deep.equal([147, 127]);
    expect(b.counters).to.include({ unsupportedLinkType: 3, packetsDecoded: 1 });
    // the link types of tcpdump.org/linktypes.html this decoder handles (the cases above)
    expect(SUPPORTED_LINK_TYPES).to.deep.equal([0, 1, 12, 14, 101, 108, 113, 228, 229, 276]);
    expect(isSupportedLinkType(147)).to.equal(false);
    expect(isSupportedLinkType(276)).to.equal(true);
    expect(decode(101, Buffer.from([0x50, 0, 0, 0])).counters.malformed).to.equal(1); // IP version 5
    expect(decode(1, B.eth(0x0800, v6)).counters.malformed).to.equal(1); // ethertype says v4, header says v6
  });

  it('IPv4 fragments: offset ≠ 0 → FRAGMENT, ports 0; first fragment keeps its ports', function () {
    const later = decode(1, B.eth(0x0800, B.ipv4({ proto: 17, fragOffset: 185, payload: Buffer.alloc(100, 0xaa) })));
    expect(later.p).to.include({ info: PACKET_INFO.FRAGMENT, srcPort: 0, dstPort: 0, protocol: 17, payloadLength: 100 });
    expect(later.counters.fragments).to.equal(1);
    expect(later.counters.firstFragments).to.equal(0);
    const first = decode(1, B.eth(0x0800, B.ipv4({ proto: 17, moreFragments: true, payload: B.udp({ sport: 11, dport: 22, payload: Buffer.alloc(50) }) })));
    expect(first.p).to.include({ info: 0, srcPort: 11, dstPort: 22 });
    expect(first.counters).to.include({ fragments: 0, firstFragments: 1 });
    // the last fragment (MF clear, offset ≠ 0) is a later fragment; an unfragmented packet is neither
    const last = decode(1, B.eth(0x0800, B.ipv4({ proto: 17, fragOffset: 370, payload: Buffer.alloc(20) })));
    expect(last.counters).to.include({ fragments: 1, firstFragments: 0 });
    const whole = decode(1, B.eth(0x0800, B.ipv4({ proto: 17, payload: B.udp({ sport: 11, dport: 22 }) })));
    expect(whole.counters).to.include({ fragments: 0, firstFragments: 0 });

    // a datagram in three fragments: every fragment counted, once
    const b = new PacketBatchBuilder(8);
    const parts = [
      B.ipv4({ proto: 17, moreFragments: true, payload: B.udp({ sport: 11, dport: 22, payload: Buffer.alloc(1472) }) }),
      B.ipv4({ proto: 17, moreFragments: true, fragOffset: 185, payload: Buffer.alloc(1480) }),
      B.ipv4({ proto: 17, fragOffset: 370, payload: Buffer.alloc(100) }),
    ];
    for (const ip of parts) { const f = B.eth(0x0800, ip); b.add(1, f, f.length, f.length, 1000, 0); }
    const c = b.flush('t', 1000, true).counters;
    expect(c).to.include({ packetsDecoded: 3, fragments: 2, firstFragments: 1 });
    expect(c.fragments + c.firstFragments, 'all fragments').to.equal(3);
  });

  it('tunnels (GRE 47, IP-in-IP 4, 6in4 41 over IPv4; 41 and 4 over IPv6) are counted as their outer protocol: outer addresses, ports 0, not malformed', function () {
    const innerV4 = B.ipv4({ src: '172.16.0.1', dst: '172.16.0.2', proto: 6, payload: B.tcp({ sport: 1111, dport: 2222 }) }); // 40 bytes
    const innerV6 = B.ipv6({ src: 'fd00::1', dst: 'fd00::2', next: 17, body: B.udp({ sport: 3333, dport: 4444 }) }); // 48 bytes
    const gre = Buffer.concat([Buffer.from([0x00, 0x00, 0x08, 0x00]), innerV4]); // RFC 2784: no flags, protocol type IPv4
    const cases = [
      ['IPv4 / GRE', B.eth(0x0800, B.ipv4({ src: '192.0.2.1', dst: '192.0.2.2', proto: 47, payload: gre })), 4, 47, gre.length],
      ['IPv4 / IPv4 (IP-in-IP)', B.eth(0x0800, B.ipv4({ src: '192.0.2.1', dst: '192.0.2.2', proto: 4, payload: innerV4 })), 4, 4, innerV4.length],
      ['IPv4 / IPv6 (6in4)', B.eth(0x0800, B.ipv4({ src: '192.0.2.1', dst: '192.0.2.2', proto: 41, payload: innerV6 })), 4, 41, innerV6.length],
      ['IPv6 / IPv6', B.eth(0x86dd, B.ipv6({ src: '2001:db8::a', dst: '2001:db8::b', next: 41, body: innerV6 })), 6, 41, innerV6.length],
      ['IPv6 / IPv4', B.eth(0x86dd, B.ipv6({ src: '2001:db8::a', dst: '2001:db8::b', next: 4, body: innerV4 })), 6, 4, innerV4.length],
    ];
    for (const [label, frame, version, protocol, innerLength] of cases) {
      const { p, counters } = decode(1, frame);
      expect(counters, label).to.include({ packetsDecoded: 1, malformed: 0, nonIp: 0 });
      expect(p, label).to.include({ ipVersion: version, protocol, srcPort: 0, dstPort: 0, tcpFlags: 0, info: 0, payloadLength: innerLength });
      expect(p.srcIp, label).to.equal(version === 4 ? '192.0.2.1' : '2001:db8::a');
      expect(p.dstIp, label).to.equal(version === 4 ? '192.0.2.2' : '2001:db8::b');
    }
    // what flow-aggregator (read-only use) makes of them: one flow per outer address pair and protocol,
    // protocol "ip-<number>", no ports in the record nor in its key ("ip-47 192.0.2.1 > 192.0.2.2"),
    // bytes = the outer frame's wire length (the tunnelled traffic is not looked into)
    const { FlowAggregator } = require('../../dist/core/flow-aggregator.js');
    const b = new PacketBatchBuilder(16);
    cases.forEach(([, frame], i) => b.add(1, frame, frame.length, frame.length, 1_700_000_000_000 + i, 0));
    const agg = new FlowAggregator({ windowMs: 10000 });
    const windows = agg.ingest(b.flush('tunnels', 1_700_000_000_010, true));
    const flows = windows.flatMap((w) => w.records).filter((r) => r.scope === 'flow');
    const seen = flows.map((r) => [r.key, r.srcIp, r.dstIp, r.protocol, r.srcPort, r.dstPort, r.metrics.packets, r.metrics.bytes]);
    expect(seen).to.have.deep.members(cases.map(([, frame, version, protocol]) => {
      const [src, dst] = version === 4 ? ['192.0.2.1', '192.0.2.2'] : ['2001:db8::a', '2001:db8::b'];
      return [`ip-${protocol} ${src} > ${dst}`, src, dst, `ip-${protocol}`, undefined, undefined, 1, frame.length];
    }));
  });

  it('IPv6 extension headers: hop-by-hop, routing, destination options, AH, fragment', function () {
    const udp = B.udp({ sport: 4000, dport: 5000, payload: Buffer.alloc(12) }); // 20 bytes
    const chain = Buffer.concat([B.ext6(43, 0), B.ext6(60, 1), B.ext6(51, 0), B.ah6(17, 12), udp]);
    const { p } = decode(1, B.eth(0x86dd, B.ipv6({ src: '2001:db8::1', dst: 'fe80::2', next: 0, body: chain })));
    // 8 + 16 + 8 + 24 bytes of extension headers before UDP
    expect(p).to.include({ ipVersion: 6, srcIp: '2001:db8::1', dstIp: 'fe80::2', protocol: 17, srcPort: 4000, dstPort: 5000, payloadLength: 20, info: 0 });

    const firstFrag = decode(1, B.eth(0x86dd, B.ipv6({ next: 44, body: Buffer.concat([B.frag6(6, 0, true), B.tcp({ sport: 80, dport: 9999 })]) })));
    expect(firstFrag.p).to.include({ protocol: 6, srcPort: 80, dstPort: 9999, info: 0 });
    expect(firstFrag.counters).to.include({ fragments: 0, firstFragments: 1 });
    // behind other extension headers too
    const firstFragDeep = decode(1, B.eth(0x86dd, B.ipv6({ next: 0, body: Buffer.concat([B.ext6(44), B.frag6(17, 0, true), B.udp({ sport: 5, dport: 6 })]) })));
    expect(firstFragDeep.p).to.include({ protocol: 17, srcPort: 5, dstPort: 6, info: 0 });
    expect(firstFragDeep.counters).to.include({ fragments: 0, firstFragments: 1 });
    // offset 0 and M clear: an atomic fragment (RFC 6946), a whole datagram, not counted as a fragment
    const atomic = decode(1, B.eth(0x86dd, B.ipv6({ next: 44, body: Buffer.concat([B.frag6(17, 0, false), B.udp({ sport: 5, dport: 6 })]) })));
    expect(atomic.p).to.include({ srcPort: 5, dstPort: 6, info: 0 });
    expect(atomic.counters).to.include({ fragments: 0, firstFragments: 0 });
    const laterFrag = decode(1, B.eth(0x86dd, B.ipv6({ next: 0, body: Buffer.concat([B.ext6(44), B.frag6(6, 100, false), Buffer.alloc(64)]) })));
    expect(laterFrag.p).to.include({ protocol: 6, srcPort: 0, dstPort: 0, info: PACKET_INFO.FRAGMENT, payloadLength: 64 });
    expect(laterFrag.counters.fragments).to.equal(1);
    expect(laterFrag.counters.firstFragments).to.equal(0);

    // an extension header claiming more than the payload → malformed
    const bad = decode(1, B.eth(0x86dd, B.ipv6({ next: 60, body: B.ext6(17, 10), payloadLength: 8 })));
    expect(bad.counters.malformed).to.equal(1);
  });

  it('transport cut by the snap length → TRANSPORT_TRUNCATED, ports 0, lengths from the headers', function () {
    const frame = B.eth(0x0800, B.ipv4({ proto: 6, payload: B.tcp({ sport: 1, dport: 2, payload: Buffer.alloc(1000) }) }));
    const { p, counters } = decode(1, frame, { capturedLength: 14 + 20 + 10, wireLength: frame.length });
    expect(p).to.include({ info: PACKET_INFO.TRANSPORT_TRUNCATED, srcPort: 0, dstPort: 0, tcpFlags: 0, protocol: 6, payloadLength: 1020, wireLength: frame.length });
    expect(counters.malformed).to.equal(0);
    const v6 = B.eth(0x86dd, B.ipv6({ next: 17, body: B.udp({ payload: Buffer.alloc(100) }) }));
    expect(decode(1, v6, { capturedLength: 14 + 40 + 4 }).p).to.include({ info: PACKET_INFO.TRANSPORT_TRUNCATED, payloadLength: 108 });
    // IP header itself incomplete → malformed, no row
    expect(decode(1, frame, { capturedLength: 14 + 19 }).counters.malformed).to.equal(1);
    expect(decode(1, v6, { capturedLength: 14 + 39 }).counters.malformed).to.equal(1);
    // the buffer shorter than capturedLength claims: bounded by the buffer
    expect(decode(1, frame.subarray(0, 30), { capturedLength: frame.length }).counters.malformed).to.equal(1);
  });

  it('ICMP and ICMPv6: dstPort = type × 256 + code, srcPort 0', function () {
    const unreachable = decode(1, B.eth(0x0800, B.ipv4({ proto: 1, payload: B.icmp({ type: 3, code: 3 }) })));
    expect(unreachable.p).to.include({ protocol: 1, srcPort: 0, dstPort: 3 * 256 + 3 });
    const echo = decode(1, B.eth(0x0800, B.ipv4({ proto: 1, payload: B.icmp({ type: 8, code: 0 }) })));
    expect(echo.p.dstPort).to.equal(2048);
    const ns6 = decode(1, B.eth(0x86dd, B.ipv6({ next: 58, body: B.icmp({ type: 135, code: 0 }) })));
    expect(ns6.p).to.include({ protocol: 58, srcPort: 0, dstPort: 135 * 256 });
  });

  it('bogus IHL / total length → malformed', function () {
    const ihl4 = B.eth(0x0800, B.ipv4({ ihlWords: 4, payload: B.tcp() }));
    expect(decode(1, ihl4).counters.malformed).to.equal(1);
    const ihl15 = B.eth(0x0800, B.ipv4({ payload: B.tcp() })); // IHL 15 (60 bytes) with only 40 bytes of IP captured
    ihl15[14] = 0x4f;
    expect(decode(1, ihl15).counters.malformed).to.equal(1);
    const totalZero = B.eth(0x0800, B.ipv4({ totalLength: 0, payload: B.icmp() }));
    expect(decode(1, totalZero).counters.malformed).to.equal(1);
    // IHL 6 (one option word) is fine: transport after 24 bytes
    const opt = B.eth(0x0800, B.ipv4({ ihlWords: 6, proto: 17, payload: B.udp({ sport: 3, dport: 4 }) }));
    expect(decode(1, opt).p).to.include({ srcPort: 3, dstPort: 4, payloadLength: 8 });
  });

  it('never throws on random or cut input', function () {
    const b = new PacketBatchBuilder(64);
    let seed = 42;
    const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
    const base = B.eth(0x86dd, B.ipv6({ next: 0, body: Buffer.concat([B.ext6(44), B.frag6(6, 0), B.tcp()]) }));
    for (let i = 0; i < 20000; i++) {
      const f = Buffer.from(base);
      for (let k = 0; k < 4; k++) f[rnd() % f.length] = rnd() & 0xff;
      const cut = rnd() % (f.length + 1);
      b.add([0, 1, 12, 101, 108, 113, 228, 229, 276][rnd() % 9], f, cut, f.length, i, 0);
      if (b.full) b.flush('x', i, false);
    }
    expect(b.counters.packetsRead).to.equal(20000);
    const c = b.counters;
    expect(c.packetsDecoded + c.malformed + c.nonIp + c.unsupportedLinkType).to.equal(20000);
  });
});

describe('decoder: batches', function () {
  it('full at batchSize, flush resets the row count and never overwrites a handed-out batch', function () {
    const b = new PacketBatchBuilder(2);
    const f1 = B.eth(0x0800, B.ipv4({ src: '1.1.1.1', payload: B.tcp({ sport: 1 }) }));
    const f2 = B.eth(0x0800, B.ipv4({ src: '2.2.2.2', payload: B.tcp({ sport: 2 }) }));
    b.add(1, f1, f1.length, f1.length, 1, 0);
    expect(b.full).to.equal(false);
    b.add(1, f1, f1.length, f1.length, 2, 0);
    expect(b.full).to.equal(true);
    const first = b.flush('s', 2, false);
    expect(b.count).to.equal(0);
    b.add(1, f2, f2.length, f2.length, 3, 0);
    b.add(1, f2, f2.length, f2.length, 4, 0);
    b.add(1, f2, f2.length, f2.length, 5, 0); // past full: columns grow, nothing lost
    const second = b.flush('s', 5, true);
    expect([first.seq, first.count, first.final, second.seq, second.count, second.final]).to.deep.equal([0, 2, false, 1, 3, true]);
    expect(packetAt(first, 0)).to.include({ srcIp: '1.1.1.1', srcPort: 1, timeMs: 1 });
    expect(packetAt(first, 1)).to.include({ srcIp: '1.1.1.1', timeMs: 2 });
    expect([0, 1, 2].map((i) => packetAt(second, i).timeMs)).to.deep.equal([3, 4, 5]);
    expect(second.counters.packetsRead).to.equal(5); // cumulative
    expect(first.counters.packetsRead).to.equal(2); // a snapshot
  });

  it('rejects a bad batch size', function () {
    expect(() => new PacketBatchBuilder(0)).to.throw(RangeError, /batch size/);
    expect(() => new PacketBatchBuilder(1.5)).to.throw(RangeError);
  });
});

describe('decoder: shared captures', function () {
  before(function () {
    if (!P.havePcaps()) { console.log(`    (skipped: ${P.PCAP_DIR} is missing)`); this.skip(); }
  });

  function rows(name) {
    const { batches, summary } = readCaptureFileSync(P.pcapPath(name), 512);
    const out = [];
    for (const b of batches) for (let i = 0; i < b.count; i++) out.push(packetAt(b, i));
    return { rows: out, summary };
  }

  // known addresses from the MANIFEST "Ground truth" column
  const known = [
    ['zeek__get-to-ssh-server.pcap', 'ns resolution', (r) => r.srcIp === '136.216.42.40' && r.dstIp === '130.74.164.231' && r.dstPort === 22 && r.protocol === 6],
    ['ndpi__nfsv3.pcap', 'big-endian', (r) => r.srcIp === '139.25.22.102' && r.dstIp === '139.25.22.2' && r.protocol === 17],
    ['wireshark__pcapng-example.pcapng', 'pcapng SLL interface 0', (r) => r.ifIndex === 0 && r.srcIp === '127.0.0.1' && r.protocol === 1],
    ['wireshark__pcapng-example.pcapng', 'pcapng Ethernet interface 1', (r) => r.ifIndex === 1 && (r.srcIp === '192.168.1.1' || r.dstIp === '192.168.1.1')],
    ['zeek__linux_dlt_sll2.pcap', 'SLL2 ICMP', (r) => r.protocol === 1 && r.dstPort === 8 * 256],
    ['zeek__linux_dlt_sll2.pcap', 'SLL2 ICMPv6', (r) => r.protocol === 58 && r.ipVersion === 6],
    ['ndpi__ocs.pcap', 'raw IPv4', (r) => r.srcIp === '192.168.180.2'],
    ['wireshark__RawPacketIPv6Tunnel-UK6x.cap', 'raw IPv6', (r) => r.srcIp === '2001:618:400::5199:cc70' && r.dstIp === '2001:618:1:8000::5'],
    ['zeek__redis_pubsub.pcap', 'NULL loopback', (r) => r.srcIp === '127.0.0.1' && r.dstPort === 6379],
    ['zeek__vlan-qinqinq.pcap', 'three stacked VLAN tags', (r) => r.srcIp === '141.142.228.5' && r.dstIp === '192.150.187.43' && r.dstPort === 80],
    ['ndpi__KakaoTalk_talk.pcap', 'Linux SLL v1', (r) => r.srcIp === '10.24.82.188' && r.dstIp === '1.201.1.174' && r.protocol === 17],
    ['suricata-verify__rsmurf6.pcap', 'ICMPv6 echo to ff02::1', (r) => r.srcIp === 'ff02::1' && r.dstIp === 'ff02::1' && r.dstPort === 128 * 256],
  ];
  for (const [name, what, match] of known) {
    it(`${name} (${what}) decodes a known packet`, function () {
      const { rows: rs } = rows(name);
      expect(rs.some(match), what).to.equal(true);
    });
  }

  it('every packet of one-way captures comes from the stated source', function () {
    expect(rows('ndpi__ocs.pcap').rows.every((r) => r.srcIp === '192.168.180.2')).to.equal(true);
    const syn = rows('pcaphunt__ps-tcp_syn.pcap').rows;
    expect(syn).to.have.length(4993);
    expect(syn.every((r) => r.srcIp === '10.0.0.140' && r.tcpFlags === 0x02)).to.equal(true);
    expect(new Set(syn.map((r) => r.dstIp))).to.deep.equal(new Set(['10.0.0.1', '10.0.0.2', '10.0.0.254']));
  });

  it('zeek truncation cases: counted malformed, no row', function () {
    for (const name of ['zeek__trunc-hdr.pcap', 'zeek__ip4-trunc.pcap', 'zeek__ip6-trunc.pcap', 'zeek__ip-bogus-header-len.pcap']) {
      const { summary } = rows(name);
      expect(summary.counters, name).to.include({ packetsRead: 1, packetsDecoded: 0, malformed: 1 });
    }
  });

  it('wireshark__vlan.cap: IP packets and fragments as tshark counts them', function () {
    if (!P.HAVE_TSHARK) { console.log('    (skipped: tshark not installed)'); this.skip(); }
    const { summary } = rows('wireshark__vlan.cap');
    const ip = P.tshark('wireshark__vlan.cap', ['-Y', 'ip or ipv6']).length;
    const frags = P.tshark('wireshark__vlan.cap', ['-o', 'ip.defragment:FALSE', '-Y', 'ip.frag_offset > 0']).length;
    expect(summary.counters.packetsDecoded).to.equal(ip);
    expect(summary.counters.fragments).to.equal(frags);
    const firstFrags = P.tshark('wireshark__vlan.cap', ['-o', 'ip.defragment:FALSE', '-Y', 'ip.flags.mf == 1 && ip.frag_offset == 0']).length;
    expect(firstFrags, 'the capture holds first fragments').to.be.above(0);
    expect(summary.counters.firstFragments).to.equal(firstFrags);
    expect(summary.counters.nonIp).to.equal(395 - ip);
  });

  // Per-5-tuple directional packet and byte totals against tshark. tshark's conv tables merge both
  // directions and print bytes rounded ("11 kB"), so the byte check uses tshark's per-frame fields and
  // the conversation table checks the two-way frame counts.
  for (const [name, proto] of [['wireshark__SkypeIRC.cap', 'tcp'], ['wireshark__SkypeIRC.cap', 'udp'], ['ndpi__nfsv3.pcap', 'udp'], ['evilfingers__TCP_SYN_SCAN.pcap', 'tcp']]) {
    it(`${name}: per-5-tuple ${proto} packets and bytes equal tshark`, function () {
      if (!P.HAVE_TSHARK) { console.log('    (skipped: tshark not installed)'); this.skip(); }
      const pnum = proto === 'tcp' ? 6 : 17;
      const ours = new Map();
      for (const r of rows(name).rows) {
        if (r.protocol !== pnum || r.info !== 0) continue;
        const k = `${r.srcIp}:${r.srcPort}>${r.dstIp}:${r.dstPort}`;
        const v = ours.get(k) || { packets: 0, bytes: 0 };
        v.packets++; v.bytes += r.wireLength;
        ours.set(k, v);
      }
      const theirs = new Map();
      const lines = P.tshark(name, ['-o', 'ip.defragment:FALSE', '-Y', `${proto} && !icmp && !icmpv6`, '-T', 'fields', '-E', 'occurrence=f',
        '-e', 'ip.src', '-e', `${proto}.srcport`, '-e', 'ip.dst', '-e', `${proto}.dstport`, '-e', 'frame.len']);
      for (const l of lines) {
        const [s, sp, d, dp, len] = l.split('\t');
        const k = `${s}:${sp}>${d}:${dp}`;
        const v = theirs.get(k) || { packets: 0, bytes: 0 };
        v.packets++; v.bytes += Number(len);
        theirs.set(k, v);
      }
      expect(theirs.size).to.be.above(0);
      expect(Object.fromEntries(ours)).to.deep.equal(Object.fromEntries(theirs));

      // two-way frame counts of `tshark -q -z conv,<proto>`
      const conv = P.tshark(name, ['-q', '-z', `conv,${proto}`]).filter((l) => l.includes('<->'));
      expect(conv.length).to.be.above(0);
      for (const l of conv) {
        const t = l.trim().split(/\s+/);
        const [a, , b] = t;
        const total = Number(t[9].replace(/,/g, ''));
        const ab = ours.get(`${a}>${b}`), ba = ours.get(`${b}>${a}`);
        expect((ab ? ab.packets : 0) + (ba ? ba.packets : 0), l).to.equal(total);
      }
    });
  }
});

describe('decoder: addAt (frame at an offset inside a larger buffer)', function () {
  const seg = B.tcp({ sport: 40000, dport: 80, flags: 0x02 });
  const frames = [
    [1, B.eth(0x0800, B.ipv4({ src: '192.0.2.1', dst: '198.51.100.2', proto: 6, payload: seg }))],
    [1, B.eth(0x86dd, B.ipv6({ src: '2001:db8::1', dst: '2001:db8::2', next: 17, body: B.udp({ sport: 53, dport: 5353 }) }))],
    [113, Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00]), B.ipv4({ proto: 1, payload: B.icmp() })])], // Linux SLL
    [0, Buffer.concat([Buffer.from([2, 0, 0, 0]), B.ipv4({ proto: 17, payload: B.udp() })])], // NULL, little-endian AF_INET
    [101, B.ipv4({ proto: 6, payload: seg })], // raw
  ];

  it('decodes each frame between junk bytes exactly as add() decodes it alone', function () {
    for (const [linkType, frame] of frames) {
      const junk = Buffer.alloc(37, 0xee);
      const buf = Buffer.concat([junk, frame, junk]);
      const a = new PacketBatchBuilder(4), b = new PacketBatchBuilder(4);
      a.add(linkType, frame, frame.length, frame.length + 4, 1700000000123.456, 2);
      b.addAt(linkType, buf, junk.length, frame.length, frame.length + 4, 1700000000123.456, 2);
      const ba = a.flush('t', 0, true), bb = b.flush('t', 0, true);
      expect(bb.count, `link type ${linkType}`).to.equal(1);
      expect(packetAt(bb, 0), `link type ${linkType}`).to.deep.equal(packetAt(ba, 0));
      expect(bb.counters).to.deep.equal(ba.counters);
    }
  });

  it('reads no byte past offset + capturedLength, nor past the buffer', function () {
    const [linkType, frame] = frames[0];
    // captured length cut inside the TCP header: the bytes after it (a valid TCP header) must not be read
    const ipAndPart = 14 + 20 + 10;
    const b = new PacketBatchBuilder(4);
    b.addAt(linkType, Buffer.concat([Buffer.alloc(5), frame]), 5, ipAndPart, frame.length, 1, 0);
    // a captured length larger than what the buffer holds after the offset: only the buffer is read
    b.addAt(linkType, frame.subarray(0, 20), 0, frame.length, frame.length, 2, 0);
    const batch = b.flush('t', 0, true);
    expect(batch.count).to.equal(1);
    expect(packetAt(batch, 0)).to.include({ info: PACKET_INFO.TRANSPORT_TRUNCATED, srcPort: 0, dstPort: 0 });
    expect(batch.counters).to.include({ packetsRead: 2, malformed: 1 });
  });
});

describe('decoder: tcpHeaderLength column (TCP data offset × 4, RFC 9293 §3.1)', function () {
  const v4tcp = (dataOffsetWords, payloadBytes) => B.eth(0x0800, B.ipv4({ proto: 6, payload: B.tcp({ flags: 0x18, dataOffsetWords, payload: Buffer.alloc(payloadBytes) }) }));
  const v6tcp = (dataOffsetWords) => B.eth(0x86dd, B.ipv6({ src: '2001:db8::1', dst: '2001:db8::2', next: 6, body: B.tcp({ flags: 0x10, dataOffsetWords }) }));
  const udp = B.eth(0x0800, B.ipv4({ proto: 17, payload: B.udp({ sport: 53, dport: 5353 }) }));

  it('holds the header length of each TCP row (IPv4 and IPv6), 0 for UDP, through add() and addAt()', function () {
    // 5 words = 20 bytes (no options), 8 = 32 (timestamps), 15 = 60 (the most); a UDP row between them
    const frames = [v4tcp(5, 100), v4tcp(8, 0), udp, v6tcp(15), v4tcp(11, 7)];
    const want = [20, 32, 0, 60, 44];
    const a = new PacketBatchBuilder(2); // smaller than the frames: the column is copied when the builder grows
    const b = new PacketBatchBuilder(8);
    for (const f of frames) {
      a.add(1, f, f.length, f.length, 1, 0);
      const junk = Buffer.alloc(9, 0xaa);
      b.addAt(1, Buffer.concat([junk, f, junk]), junk.length, f.length, f.length, 1, 0);
    }
    for (const batch of [a.flush('t', 0, false), b.flush('t', 0, false)]) {
      assertPacketBatch(batch);
      expect(batch.tcpHeaderLength).to.be.instanceOf(Uint8Array);
      expect(batch.tcpHeaderLength.length).to.equal(batch.count);
      expect(Array.from(batch.tcpHeaderLength)).to.deep.equal(want);
      // the data length the aggregator derives: IP payload − header
      expect(batch.payloadLength[0] - batch.tcpHeaderLength[0]).to.equal(100);
    }
  });

  it('is 0 for a data offset below 5 words and for a TCP header cut by the snap length; rows are reset between batches', function () {
    const b = new PacketBatchBuilder(4);
    const bad = Buffer.from(v4tcp(5, 0));
    bad[14 + 20 + 12] = 3 << 4; // data offset 3 words: malformed, the length is unknown
    b.add(1, bad, bad.length, bad.length, 1, 0);
    const full = v4tcp(8, 0);
    b.add(1, full, 14 + 20 + 10, full.length, 2, 0); // TCP header cut after 10 bytes
    b.add(1, full, full.length, full.length, 3, 0);
    const first = b.flush('t', 0, false);
    expect(Array.from(first.tcpHeaderLength)).to.deep.equal([0, 0, 32]);
    expect(first.info[1]).to.equal(PACKET_INFO.TRANSPORT_TRUNCATED);
    b.add(1, udp, udp.length, udp.length, 4, 0); // row 0 reused: no leftover 32 from the previous batch's rows
    const second = b.flush('t', 0, true);
    expect(Array.from(second.tcpHeaderLength)).to.deep.equal([0]);
    expect(first.tcpHeaderLength[2], 'a flushed batch keeps its own copy').to.equal(32);
  });

  it('wireshark__SkypeIRC.cap: every row equals tshark\'s tcp.hdr_len (0 where tshark has none)', function () {
    if (!P.havePcaps() || !P.HAVE_TSHARK) this.skip();
    const name = 'wireshark__SkypeIRC.cap';
    // one line per IP frame in capture order (frame.number keeps the lines of non-TCP frames)
    const want = P.tshark(name, ['-Y', 'ip || ipv6', '-T', 'fields', '-e', 'frame.number', '-e', 'tcp.hdr_len'])
      .map((l) => Number(l.split('\t')[1].split(',')[0]) || 0);
    const { batches } = readCaptureFileSync(P.pcapPath(name), 512);
    const got = [];
    for (const b of batches) got.push(...b.tcpHeaderLength);
    expect(got.length, 'rows line up with tshark\'s IP frames').to.equal(want.length);
    expect(want.filter((h) => h > 0).length, 'the capture has TCP').to.be.greaterThan(1000);
    const mismatches = [];
    got.forEach((h, i) => { if (h !== want[i]) mismatches.push({ row: i, got: h, tshark: want[i] }); });
    expect(mismatches.slice(0, 5)).to.deep.equal([]);
  });
});
