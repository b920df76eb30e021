'use strict';
const { expect } = require('chai');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const { buildFrame, frameAddress, ipv6Bytes, wireLength, StreamingPcapWriter, PROTO, TCP } = require('../../dist/synth/frames.js');
const { tcpFrame, udpFrame, icmpEchoFrame } = require('../../dist/synth/packet-builder.js');
const { readCaptureFileSync } = require('../../dist/core/replay.js');

let haveTshark = false;
try { execFileSync('tshark', ['-v'], { stdio: 'ignore' }); haveTshark = true; } catch { /* skipped below */ }

const P = (src, dst, proto, srcPort, dstPort, flags, seq, ack, payload) => ({ t: 1_700_000_000_000, src: frameAddress(src), dst: frameAddress(dst), proto, srcPort, dstPort, flags, seq, ack, payload, ttl: 64 });
const full = (p) => { const b = Buffer.alloc(wireLength(p)); const n = buildFrame(p, b, 0, 262144); return b.subarray(0, n); };

describe('header-only frames and streaming pcap writer (src/synth/frames.ts)', function () {
  it('IPv4 frames with the whole payload are byte-identical to packet-builder\'s (so every checksum agrees)', function () {
    const tcp = P('10.1.0.20', '198.51.100.10', PROTO.TCP, 40000, 443, TCP.PSH | TCP.ACK, 123456789, 987654321, 1000);
    expect(full(tcp).equals(tcpFrame({ src: '10.1.0.20', dst: '198.51.100.10', id: 123456789 & 0xffff }, { srcPort: 40000, dstPort: 443, seq: 123456789, ack: 987654321, flags: TCP.PSH | TCP.ACK, payloadLength: 1000 }))).to.equal(true);
    const udp = P('10.1.0.2', '10.1.0.33', PROTO.UDP, 53, 51000, 0, 4321, 0, 333);
    expect(full(udp).equals(udpFrame({ src: '10.1.0.2', dst: '10.1.0.33', id: 4321 }, 53, 51000, 333))).to.equal(true);
    const icmp = P('10.1.0.3', '10.1.0.5', PROTO.ICMP, 0, 8 << 8, 0, 0x4d000007, 0, 56);
    expect(full(icmp).equals(icmpEchoFrame({ src: '10.1.0.3', dst: '10.1.0.5', id: 0x0007 }, 8, 0x4d00, 0x0007, 56))).to.equal(true);
  });

  it('cuts a frame at the snap length and keeps its wire length', function () {
    const p = P('10.1.0.20', '198.51.100.10', PROTO.TCP, 40000, 443, TCP.ACK, 1, 1, 1448);
    const b = Buffer.alloc(200);
    expect(buildFrame(p, b, 0, 96)).to.equal(96);
    expect(wireLength(p)).to.equal(14 + 20 + 20 + 1448);
    expect(b.subarray(0, 96).equals(full(p).subarray(0, 96))).to.equal(true);
  });

  it('parses IPv6 text forms and rejects bad ones', function () {
    expect(ipv6Bytes('2001:db8:10::20').toString('hex')).to.equal('20010db8001000000000000000000020');
    expect(ipv6Bytes('::1').toString('hex')).to.equal('00000000000000000000000000000001');
    expect(ipv6Bytes('1:2:3:4:5:6:7:8').toString('hex')).to.equal('00010002000300040005000600070008');
    for (const bad of ['1::2::3', '1:2:3', 'g::1', '1:2:3:4:5:6:7:8:9', '1:2:3:4::5:6:7:8']) expect(() => ipv6Bytes(bad), bad).to.throw(RangeError);
    expect(() => frameAddress('300.1.1.1')).to.throw(RangeError);
  });

  describe('a written file', function () {
    let dir, file;
    const packets = [
      P('2001:db8:10::20', '2001:db8:ffff::1', PROTO.TCP, 40000, 443, TCP.SYN, 1000, 0, 0),
      P('2001:db8:ffff::1', '2001:db8:10::20', PROTO.TCP, 443, 40000, TCP.ACK | TCP.PSH, 5000, 1001, 300),
      P('2001:db8:10::20', '2001:db8:10::2', PROTO.UDP, 50000, 53, 0, 1, 0, 41),
      P('2001:db8:10::20', '2001:db8:10::2', PROTO.ICMPV6, 0, 128 << 8, 0, 0x00010002, 0, 32),
      P('10.1.0.20', '10.1.0.5', PROTO.TCP, 40001, 80, TCP.SYN, 7, 0, 0),
    ];
    before(function () {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'frames-'));
      file = path.join(dir, 'f.pcap');
      const w = new StreamingPcapWriter(file, 2000);
      packets.forEach((p, i) => w.write({ ...p, t: p.t + i }));
      w.close();
    });
    after(function () { fs.rmSync(dir, { recursive: true, force: true }); });

    it('decodes to the packets written (addresses, ports, flags, lengths)', function () {
      const { batches } = readCaptureFileSync(file);
      const b = batches.find((x) => x.count > 0);
      expect(b.count).to.equal(packets.length);
      packets.forEach((p, i) => {
        expect(b.ipVersion[i]).to.equal(p.src.v6 ? 6 : 4);
        expect(b.protocol[i]).to.equal(p.proto);
        expect(b.wireLength[i]).to.equal(wireLength(p));
        if (p.proto === PROTO.TCP) expect(b.tcpFlags[i]).to.equal(p.flags);
        if (p.proto !== PROTO.ICMPV6) expect(b.dstPort[i]).to.equal(p.dstPort);
      });
    });

    it('tshark finds every TCP, UDP and ICMPv6 checksum correct, IPv6 included', function () {
      if (!haveTshark) this.skip();
      const out = execFileSync('tshark', ['-r', file, '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE', '-T', 'fields', '-E', 'separator=|',
        '-e', 'tcp.checksum.status', '-e', 'udp.checksum.status', '-e', 'icmpv6.checksum.status', '-e', 'ip.checksum.status'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const rows = out.trim().split('\n').map((l) => l.split('|'));
      expect(rows).to.have.length(packets.length);
      // status 1 = good (0 bad, 2 unverified)
      expect(rows.map((r) => { const s = r.filter((x) => x !== ''); return s.length > 0 && s.every((x) => x === '1'); })).to.deep.equal(packets.map(() => true));
    });
  });
});
