'use strict';
const fs = require('fs');
const { expect } = require('chai');
const { CaptureFileParser, MAX_RECORD_BYTES } = require('../../dist/core/capture-file.js');
const B = require('../fixtures/capture-builder.js');
const P = require('../fixtures/pcaps.js');

/** Parses `bytes` (in chunks of `chunkSize`) and collects everything the parser reports. */
function parse(bytes, chunkSize = bytes.length || 1) {
  const packets = [];
  const warnings = [];
  const errors = [];
  const parser = new CaptureFileParser({
    onPacket: (linkType, data, capturedLength, wireLength, timeMs, ifIndex) => {
      packets.push({ linkType, data: Buffer.from(data), capturedLength, wireLength, timeMs, ifIndex });
    },
    onWarning: (m) => warnings.push(m),
    onError: (m) => errors.push(m),
  });
  for (let o = 0; o < bytes.length; o += chunkSize) parser.push(bytes.subarray(o, o + chunkSize));
  parser.end();
  return { packets, warnings, errors, parser };
}

const frameA = B.eth(0x0800, B.ipv4({ payload: B.tcp() }));
const frameB = B.eth(0x0800, B.ipv4({ proto: 17, payload: B.udp() }));

describe('capture-file: classic pcap (hand-built)', function () {
  it('reads µs little-endian records with times and lengths as written', function () {
    const file = B.pcapFile({}, [
      { sec: 1700000000, frac: 250000, data: frameA, wireLength: 1514 },
      { sec: 1700000001, frac: 5, data: frameB },
    ]);
    const { packets, warnings, errors, parser } = parse(file);
    expect(errors).to.deep.equal([]);
    expect(warnings).to.deep.equal([]);
    expect(parser.format).to.equal('pcap');
    expect(packets).to.have.length(2);
    expect(packets[0]).to.include({ linkType: 1, capturedLength: frameA.length, wireLength: 1514, timeMs: 1700000000250, ifIndex: 0 });
    expect(packets[0].data.equals(frameA)).to.equal(true);
    expect(packets[1].timeMs).to.equal(1700000001000.005);
  });

  it('reads big-endian and nanosecond files (ns rounded to µs)', function () {
    const file = B.pcapFile({ bigEndian: true, ns: true, linkType: 101 }, [
      { sec: 1600000000, frac: 123456789, data: frameA.subarray(14) },
    ]);
    const { packets, parser } = parse(file);
    expect(parser.format).to.equal('pcap-ns');
    expect(packets).to.have.length(1);
    expect(packets[0].linkType).to.equal(101);
    expect(packets[0].timeMs).to.be.closeTo(1600000000123.457, 1e-6);
  });

  it('takes the link type from the low 16 bits of the network field (upper bits: FCS info)', function () {
    const file = B.pcapFile({ network: (1 << 28) | (4 << 26) | 1 }, [{ sec: 1, data: frameA }]);
    expect(parse(file).packets[0].linkType).to.equal(1);
  });

  it('gives the same packets whatever the chunking (records split across chunks)', function () {
    const records = [];
    for (let i = 0; i < 50; i++) records.push({ sec: 1000 + i, frac: i, data: i % 2 ? frameA : frameB });
    const file = B.pcapFile({}, records);
    const whole = parse(file).packets;
    for (const size of [1, 3, 17, 40, 1000]) {
      const split = parse(file, size);
      expect(split.errors, `chunk ${size}`).to.deep.equal([]);
      expect(split.warnings, `chunk ${size}`).to.deep.equal([]);
      expect(split.packets, `chunk ${size}`).to.deep.equal(whole);
    }
    expect(whole).to.have.length(50);
  });

  it('carries µs fields ≥ 1,000,000 into the seconds and counts them', function () {
    const file = B.pcapFile({}, [{ sec: 10, frac: 1500000, data: frameA }]);
    const { packets, parser } = parse(file);
    expect(packets[0].timeMs).to.equal(11500);
    expect(parser.timeNormalized).to.equal(1);
  });

  it('a step back of at most 60 s is clamped, a larger one starts a new epoch (time kept, counted)', function () {
    const { MAX_CLAMPED_BACK_STEP_MS } = require('../../dist/core/capture-file.js');
    expect(MAX_CLAMPED_BACK_STEP_MS).to.equal(60000);
    const file = B.pcapFile({}, [
      { sec: 1000, data: frameA },
      { sec: 940, data: frameA }, // exactly 60 s back: clamped to 1000 s
      { sec: 1000, frac: 1, data: frameA },
      { sec: 940, data: frameA }, // 60.000001 s back: a new epoch
      { sec: 939, data: frameA }, // 1 s back within the new epoch: clamped to 940 s
      { sec: 941, data: frameA },
    ]);
    const { packets, parser } = parse(file);
    expect(packets.map((p) => p.timeMs)).to.deep.equal([1000000, 1000000, 1000000.001, 940000, 940000, 941000]);
    expect(parser.timeClamped).to.equal(2);
    expect(parser.timeEpochs).to.equal(1);
  });

  it('a clock stepped back by a day: every later packet keeps its own time (no pile-up on the last time), one epoch', function () {
    const T = 1_700_000_000;
    const secs = [T, T + 1, T + 2, T - 86400 + 3, T - 86400 + 4, T - 86400 + 5];
    const { packets, parser } = parse(B.pcapFile({ linkType: 1 }, secs.map((sec) => ({ sec, data: frameA }))));
    expect(packets.map((p) => p.timeMs)).to.deep.equal(secs.map((x) => x * 1000));
    expect(parser).to.include({ timeClamped: 0, timeEpochs: 1 });
    expect(parser.linkTypes).to.deep.equal([1]);
  });

  it('clamps times that go backwards to the previous packet time and counts them; forward jumps stay', function () {
    const file = B.pcapFile({}, [
      { sec: 100, data: frameA }, { sec: 90, data: frameA }, { sec: 95, data: frameA }, { sec: 100000, data: frameA },
    ]);
    const { packets, parser } = parse(file);
    expect(packets.map((p) => p.timeMs)).to.deep.equal([100000, 100000, 100000, 100000000]);
    expect(parser.timeClamped).to.equal(2);
  });

  it('reports a file cut inside a record as truncated, keeping the packets before it', function () {
    const full = B.pcapFile({}, [{ sec: 1, data: frameA }, { sec: 2, data: frameB }, { sec: 3, data: frameA }]);
    const cut = full.subarray(0, full.length - 5);
    const third = 24 + (16 + frameA.length) + (16 + frameB.length);
    const { packets, warnings, errors, parser } = parse(cut, 7);
    expect(errors).to.deep.equal([]);
    expect(packets).to.have.length(2);
    expect(warnings).to.deep.equal([`capture truncated at byte ${third}: last record incomplete`]);
    expect(parser.truncated).to.equal(true);
  });

  it('stops on a record whose captured length is absurd, keeping what was read', function () {
    const good = B.pcapFile({}, [{ sec: 1, data: frameA }]);
    const bad = Buffer.alloc(16);
    bad.writeUInt32LE(2, 0); bad.writeUInt32LE(MAX_RECORD_BYTES + 1, 8); bad.writeUInt32LE(60, 12);
    const { packets, errors, parser } = parse(Buffer.concat([good, bad, Buffer.alloc(100)]));
    expect(packets).to.have.length(1);
    expect(errors).to.have.length(1);
    expect(errors[0]).to.match(new RegExp(`^corrupt record at byte ${good.length}:`));
    expect(parser.failed).to.equal(true);
  });

  it('calls a record longer than snap length and the rest of the file corrupt, not truncated', function () {
    const good = B.pcapFile({ snapLength: 65535 }, [{ sec: 1, data: frameA }]);
    const bad = Buffer.alloc(16);
    bad.writeUInt32LE(100000, 8); bad.writeUInt32LE(100000, 12);
    const { packets, errors, warnings } = parse(Buffer.concat([good, bad, Buffer.alloc(10)]));
    expect(packets).to.have.length(1);
    expect(warnings).to.deep.equal([]);
    expect(errors[0]).to.match(new RegExp(`^corrupt record at byte ${good.length}:`));
  });

  it('rejects an unknown magic with a clear message and an empty input as not a capture', function () {
    const { errors, packets } = parse(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    expect(packets).to.deep.equal([]);
    expect(errors).to.deep.equal(['not a pcap or pcapng file (magic 0x47455420)']);
    expect(parse(Buffer.alloc(0)).errors[0]).to.match(/^not a pcap or pcapng file/);
  });

  it('pauses before a record when onPacket returns false and delivers it again on resume', function () {
    const file = B.pcapFile({}, [{ sec: 1, data: frameA }, { sec: 2, data: frameB }, { sec: 3, data: frameA }]);
    const seen = [];
    let refuse = true;
    const parser = new CaptureFileParser({
      onPacket: (lt, d, c, w, t) => {
        if (t === 2000 && refuse) { refuse = false; return false; }
        seen.push(t);
        return true;
      },
    });
    expect(parser.push(file)).to.equal(false);
    expect(seen).to.deep.equal([1000]);
    expect(parser.resume()).to.equal(true);
    expect(seen).to.deep.equal([1000, 2000, 3000]);
  });
});

describe('capture-file: pcapng (hand-built)', function () {
  it('handles IDB if_tsresol / if_tsoffset, EPB, SPB, obsolete PB, unknown blocks and a second big-endian section', function () {
    const le = B.pcapng(true);
    const be = B.pcapng(false);
    const tcpFrame = frameA;
    const rawIp = frameB.subarray(14);
    const file = Buffer.concat([
      le.shb(),
      le.idb({ linkType: 1, tsresol: 9, snapLength: tcpFrame.length }), // interface 0: Ethernet, ns, snap = frame
      le.idb({ linkType: 101, tsresol: 0x80 | 10, tsoffsetSeconds: 1000 }), // interface 1: raw IP, 2^-10 s, +1000 s
      le.epb({ ifId: 0, ts: 1700000000123456789n, data: tcpFrame, wireLength: 1500 }),
      le.unknown(),
      le.epb({ ifId: 1, ts: 2048n, data: rawIp }), // 2 s after 1970 + 1000 s
      le.spb({ data: tcpFrame, wireLength: 9000 }), // interface 0, previous packet time
      le.pb({ ifId: 0, ts: 1700000005000000000n, data: tcpFrame }),
      be.shb(), // new section: interfaces restart
      be.idb({ linkType: 113 }), // default resolution µs
      be.epb({ ifId: 0, ts: 1700000010000001n, data: Buffer.concat([Buffer.alloc(14), Buffer.from([0x08, 0x00]), rawIp]) }),
    ]);
    for (const chunk of [file.length, 5, 64]) {
      const { packets, errors, warnings, parser } = parse(file, chunk);
      expect(errors, `chunk ${chunk}`).to.deep.equal([]);
      expect(warnings).to.deep.equal([]);
      expect(parser.format).to.equal('pcapng');
      expect(packets.map((p) => [p.linkType, p.ifIndex, p.wireLength, p.capturedLength])).to.deep.equal([
        [1, 0, 1500, tcpFrame.length],
        [101, 1, rawIp.length, rawIp.length],
        [1, 0, 9000, tcpFrame.length],
        [1, 0, tcpFrame.length, tcpFrame.length],
        [113, 0, rawIp.length + 16, rawIp.length + 16],
      ]);
      expect(packets[0].timeMs).to.be.closeTo(1700000000123.457, 1e-6);
      // interface 1 (1002 s since 1970) lies 54 years before packet 0: far more than the 60 s that
      // are clamped, so it starts a new time epoch with its own time; the SPB takes that time
      expect(packets[1].timeMs).to.equal(1002000);
      expect(packets[2].timeMs).to.equal(1002000);
      expect(packets[3].timeMs).to.equal(1700000005000);
      expect(packets[4].timeMs).to.be.closeTo(1700000010000.001, 1e-6);
      expect(parser.timeClamped).to.equal(0);
      expect(parser.timeEpochs).to.equal(1);
      expect(parser.linkTypes, 'link types of the interfaces, in file order').to.deep.equal([1, 101, 113]);
      expect(packets[0].data.equals(tcpFrame)).to.equal(true);
    }
  });

  it('uses if_tsoffset when the time is not earlier than the previous one', function () {
    const le = B.pcapng(true);
    const file = Buffer.concat([le.shb(), le.idb({ linkType: 101, tsoffsetSeconds: 1600000000 }), le.epb({ ts: 1500000n, data: frameB.subarray(14) })]);
    expect(parse(file).packets[0].timeMs).to.equal(1600000001500);
  });

  it('reports a truncated pcapng block', function () {
    const le = B.pcapng(true);
    const head = Buffer.concat([le.shb(), le.idb({})]);
    const file = Buffer.concat([head, le.epb({ data: frameA }), le.epb({ data: frameA })]);
    const cut = file.subarray(0, file.length - 3);
    const { packets, warnings } = parse(cut);
    expect(packets).to.have.length(1);
    expect(warnings).to.deep.equal([`capture truncated at byte ${head.length + le.epb({ data: frameA }).length}: last record incomplete`]);
  });
});

describe('capture-file: every shared capture', function () {
  before(function () {
    if (!P.havePcaps()) { console.log(`    (skipped: ${P.PCAP_DIR} is missing)`); this.skip(); }
  });

  const names = P.havePcaps() ? fs.readdirSync(P.PCAP_DIR).filter((f) => !f.endsWith('.md')).sort() : [];
  it('the directory holds every capture of the MANIFEST', function () {
    expect(names).to.include.members(Object.keys(P.MANIFEST_COUNTS));
  });
  for (const name of names) {
    it(`${name}: read without error, packet count matches capinfos / MANIFEST`, function () {
      const bytes = fs.readFileSync(P.pcapPath(name));
      const { packets, errors } = parse(bytes, 65536);
      expect(errors).to.deep.equal([]);
      const { count, from } = P.expectedPacketCount(name);
      expect(packets.length, `count vs ${from}`).to.equal(count);
    });
  }

  it('suricata-verify__http-mime-truncated.pcap: reports truncation, keeps 2,696 packets', function () {
    const bytes = fs.readFileSync(P.pcapPath('suricata-verify__http-mime-truncated.pcap'));
    const { packets, warnings, parser } = parse(bytes, 1 << 20);
    expect(packets.length).to.equal(2696);
    expect(parser.truncated).to.equal(true);
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.match(/^capture truncated at byte \d+: last record incomplete$/);
    const at = Number(/byte (\d+)/.exec(warnings[0])[1]);
    expect(at).to.be.below(bytes.length).and.above(bytes.length - 65536 - 16);
  });

  it('tcpdump__timestamp_invalid_micro.pcap: out-of-range µs fields carried into the seconds', function () {
    const { packets, parser } = parse(fs.readFileSync(P.pcapPath('tcpdump__timestamp_invalid_micro.pcap')));
    // record headers (od -t x1): sec 1418145369 usec 999999; sec 1418145370 usec 1000000; sec 1418145370 usec 0x80000000
    expect(packets.map((p) => p.timeMs)).to.deep.equal([1418145369999.999, 1418145371000, 1418145370000 + 2147483.648]);
    expect(parser.timeNormalized).to.equal(2);
    expect(parser.timeClamped).to.equal(0);
  });

  const timeFiles = ['zeek__get-to-ssh-server.pcap', 'ndpi__nfsv3.pcap', 'wireshark__pcapng-example.pcapng', 'ndpi__sites.pcapng', 'ndpi__openvpn.pcap'];
  for (const name of timeFiles) {
    it(`${name}: times equal tshark frame.time_epoch (to the µs, with backward steps clamped)`, function () {
      if (!P.HAVE_TSHARK) { console.log('    (skipped: tshark not installed)'); this.skip(); }
      const expected = P.tshark(name, ['-T', 'fields', '-e', 'frame.time_epoch']).map((l) => Math.round(Number(l) * 1e6) / 1e3);
      let max = -Infinity;
      let clamped = 0;
      // the policy: a step back of at most 60 s is clamped (none of these files steps back further)
      const clampedExpected = expected.map((t) => { if (t < max && max - t <= 60000) { clamped++; return max; } max = t; return t; });
      const { packets, parser } = parse(fs.readFileSync(P.pcapPath(name)), 4096);
      expect(packets.length).to.equal(expected.length);
      packets.forEach((p, i) => expect(p.timeMs, `packet ${i + 1}`).to.be.closeTo(clampedExpected[i], 0.0016));
      expect(parser.timeClamped).to.equal(clamped);
      expect(parser.timeEpochs).to.equal(0);
    });
  }

  it('wireshark__pcapng-example.pcapng: interface 0 is Linux SLL, interface 1 Ethernet', function () {
    const { packets } = parse(fs.readFileSync(P.pcapPath('wireshark__pcapng-example.pcapng')));
    const byIf = {};
    for (const p of packets) byIf[p.ifIndex] = p.linkType;
    expect(byIf).to.deep.equal({ 0: 113, 1: 1 });
  });
});

describe('capture-file: onPacketAt (offsets into the reader buffer, no view per packet)', function () {
  /** Parses with onPacketAt, copying each record out of `buf` at the offset it was given. */
  function parseAt(bytes, chunkSize) {
    const packets = [];
    const parser = new CaptureFileParser({
      onPacketAt: (linkType, buf, offset, capturedLength, wireLength, time, ifIndex) => {
        expect(time).to.be.an.instanceOf(Float64Array);
        packets.push({ linkType, data: Buffer.from(buf.subarray(offset, offset + capturedLength)), capturedLength, wireLength, timeMs: time[0], ifIndex });
      },
    });
    for (let o = 0; o < bytes.length; o += chunkSize) parser.push(bytes.subarray(o, o + chunkSize));
    parser.end();
    return packets;
  }

  it('hand-built pcap: the record bytes sit at the offset given, with the times and lengths as written', function () {
    const file = B.pcapFile({}, [
      { sec: 1700000000, frac: 250000, data: frameA, wireLength: 1514 },
      { sec: 1700000001, frac: 5, data: frameB },
    ]);
    for (const chunk of [file.length, 7, 1]) {
      const packets = parseAt(file, chunk);
      expect(packets.map((p) => [p.linkType, p.capturedLength, p.wireLength, p.timeMs, p.ifIndex]), `chunks of ${chunk}`)
        .to.deep.equal([[1, frameA.length, 1514, 1700000000250, 0], [1, frameB.length, frameB.length, 1700000001000.005, 0]]);
      expect(packets[0].data.equals(frameA) && packets[1].data.equals(frameB), `bytes, chunks of ${chunk}`).to.equal(true);
    }
  });

  it('needs onPacket or onPacketAt', function () {
    expect(() => new CaptureFileParser({})).to.throw(TypeError, /onPacket/);
  });

  describe('shared captures: onPacketAt delivers what onPacket delivers', function () {
    before(function () {
      if (!P.havePcaps()) { console.log(`    (skipped: ${P.PCAP_DIR} is missing)`); this.skip(); }
    });
    // classic pcap (µs, ns, big-endian), pcapng with two interfaces and an SPB-free file
    for (const name of ['zeek__get-to-ssh-server.pcap', 'ndpi__nfsv3.pcap', 'wireshark__pcapng-example.pcapng', 'ndpi__sites.pcapng', 'wireshark__vlan.cap']) {
      it(name, function () {
        const bytes = fs.readFileSync(P.pcapPath(name));
        const viaView = parse(bytes, 4096).packets;
        const viaOffset = parseAt(bytes, 4096);
        expect(viaOffset.length).to.equal(P.MANIFEST_COUNTS[name]);
        expect(viaOffset).to.deep.equal(viaView);
      });
    }
  });
});
