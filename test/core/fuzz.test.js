'use strict';
/**
 * Seeded fuzz test of the capture reader and the decoder: thousands of mutated and truncated versions
 * of the shared captures (and of hand-built ones for every link type), fed in chunks of random size.
 * For every case: nothing is thrown, the run ends (bounded loop), and what was skipped is accounted
 * for: packetsRead = packetsDecoded + nonIp + unsupportedLinkType + malformed, the rows handed out
 * equal packetsDecoded, the reader's record count equals packetsRead, and a reader that stopped says
 * why. Set FUZZ_SEED to replay a run; FUZZ_CASES to change the number of cases.
 */
const fs = require('fs');
const path = require('path');
const { expect } = require('chai');
const { CaptureFileParser } = require('../../dist/core/capture-file.js');
const { PacketBatchBuilder } = require('../../dist/core/decoder.js');
const { assertPacketBatch } = require('../../dist/core/contracts.js');
const P = require('../fixtures/pcaps.js');
const B = require('../fixtures/capture-builder.js');

const SEED = Number(process.env.FUZZ_SEED || 20261121);
const CASES = Number(process.env.FUZZ_CASES || 4000);
/** Bytes of each shared capture used as a fuzz seed (mutations near the start exercise headers, later ones records). */
const MAX_SEED_BYTES = 96 * 1024;

/** mulberry32: a small seeded PRNG (public domain, Tommy Ettinger). */
function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (n) => Math.floor(next() * n);
  next.pick = (arr) => arr[next.int(arr.length)];
  return next;
}

/** The mutations: each takes the original bytes and returns a new buffer. */
const MUTATIONS = {
  truncate: (r, b) => b.subarray(0, r.int(b.length + 1)),
  flipBytes: (r, b) => { const c = Buffer.from(b); const n = 1 + r.int(16); for (let i = 0; i < n; i++) c[r.int(c.length)] = r.int(256); return c; },
  flipHeaderBytes: (r, b) => { const c = Buffer.from(b); const n = 1 + r.int(4); for (let i = 0; i < n; i++) c[r.int(Math.min(c.length, 128))] = r.int(256); return c; },
  bigLength: (r, b) => {
    // a 32-bit length-like field set to an extreme value at a random 4-aligned offset
    const c = Buffer.from(b);
    if (c.length < 8) return c;
    const off = 4 * r.int(Math.floor(c.length / 4));
    c.writeUInt32LE(r.pick([0, 1, 0xffffffff, 0x7fffffff, 0x40000, 0x40001, 65535, 12, 28, 3]), Math.min(off, c.length - 4));
    return c;
  },
  duplicateRegion: (r, b) => { const s = r.int(b.length + 1); const e = Math.min(b.length, s + r.int(256)); return Buffer.concat([b.subarray(0, e), b.subarray(s, e), b.subarray(e)]); },
  deleteRegion: (r, b) => { const s = r.int(b.length + 1); const e = Math.min(b.length, s + 1 + r.int(64)); return Buffer.concat([b.subarray(0, s), b.subarray(e)]); },
  insertRandom: (r, b) => { const s = r.int(b.length + 1); const junk = Buffer.alloc(1 + r.int(64)); for (let i = 0; i < junk.length; i++) junk[i] = r.int(256); return Buffer.concat([b.subarray(0, s), junk, b.subarray(s)]); },
  zeroTail: (r, b) => { const c = Buffer.from(b); c.fill(0, r.int(c.length + 1)); return c; },
};

/**
 * Reads `bytes` as the replay does (reader → decoder, batches flushed when full), in chunks of random
 * size. Returns the batches, the reader and the builder. Throws only if the code under test throws.
 */
function readFuzzed(bytes, r, batchSize) {
  const builder = new PacketBatchBuilder(batchSize);
  const parser = new CaptureFileParser({
    onPacket: (linkType, data, capLen, wireLen, timeMs, ifIndex) => {
      if (builder.full) return false;
      builder.add(linkType, data, capLen, wireLen, timeMs, ifIndex);
      return true;
    },
  });
  const batches = [];
  let steps = 0;
  const guard = () => { if (++steps > 10 * bytes.length + 1000) throw new Error('the reader does not make progress (hang)'); };
  for (let off = 0; off < bytes.length;) {
    const n = 1 + r.int(r() < 0.5 ? 64 : 64 * 1024);
    let more = parser.push(bytes.subarray(off, off + n));
    off += n;
    while (!more) { guard(); batches.push(builder.flush('fuzz', 0, false)); more = parser.resume(); }
  }
  parser.end();
  builder.counters.timeClamped = parser.timeClamped;
  batches.push(builder.flush('fuzz', 0, true));
  return { batches, parser, builder };
}

function checkAccounting(label, { batches, parser, builder }) {
  const c = builder.counters;
  expect(c.packetsRead, `${label}: packetsRead = decoded + nonIp + unsupportedLinkType + malformed`).to.equal(c.packetsDecoded + c.nonIp + c.unsupportedLinkType + c.malformed);
  expect(parser.packets, `${label}: records read by the reader`).to.equal(c.packetsRead);
  expect(batches.reduce((n, b) => n + b.count, 0), `${label}: rows handed out`).to.equal(c.packetsDecoded);
  expect(c.fragments, `${label}: fragments are decoded rows`).to.be.at.most(c.packetsDecoded);
  if (parser.failed) expect(parser.error, `${label}: a stopped reader says why`).to.be.a('string').and.not.equal('');
  for (const b of batches) assertPacketBatch(b);
  expect(c.fragments + c.firstFragments, `${label}: fragments (later and first) are decoded rows`).to.be.at.most(c.packetsDecoded);
  // time goes back only where the reader started a new time epoch (a step back of more than 60 s)
  let backSteps = 0;
  let previous = -Infinity;
  for (const b of batches) for (let i = 0; i < b.count; i++) { if (b.timeMs[i] < previous) backSteps++; previous = b.timeMs[i]; }
  expect(backSteps, `${label}: time goes back only at a new epoch`).to.be.at.most(parser.timeEpochs);
}

describe('fuzz: mutated and truncated captures never throw, never hang, and account for every record', function () {
  this.timeout(60000);
  const seeds = [];

  before(function () {
    // hand-built seeds for the link types and headers the shared captures lack
    const v4 = (o) => B.ipv4({ src: '10.0.0.1', dst: '10.0.0.2', ...o });
    const frames = [
      B.eth(0x0800, v4({ proto: 6, payload: B.tcp({ sport: 1, dport: 2 }) })),
      B.eth(0x0800, v4({ proto: 17, payload: B.udp() }), [{ tpid: 0x88a8, vid: 10 }, { tpid: 0x8100, vid: 20 }]),
      B.eth(0x86dd, B.ipv6({ src: '2001:db8::1', dst: '2001:db8::2', next: 58, body: B.icmp({ type: 128 }) })),
      B.eth(0x0800, v4({ proto: 17, payload: B.udp(), moreFragments: true })),
      B.eth(0x0800, v4({ proto: 6, ihlWords: 7, payload: B.tcp() })),
      B.eth(0x0806, Buffer.alloc(28)),
    ];
    seeds.push({ name: 'hand-built ethernet', bytes: B.pcapFile({}, frames.map((data, i) => ({ sec: 10 + i, data }))) });
    seeds.push({ name: 'hand-built raw', bytes: B.pcapFile({ linkType: 101 }, [{ sec: 1, data: v4({ proto: 17, payload: B.udp() }) }, { sec: 2, data: B.ipv6({ next: 6, body: B.tcp() }) }]) });
    seeds.push({ name: 'hand-built null big-endian', bytes: B.pcapFile({ linkType: 0, bigEndian: true }, [{ sec: 1, data: Buffer.concat([Buffer.from([0, 0, 0, 2]), v4({ proto: 1, payload: B.icmp() })]) }]) });
    seeds.push({ name: 'hand-built ns', bytes: B.pcapFile({ ns: true }, frames.slice(0, 3).map((data, i) => ({ sec: 5 + i, data }))) });
    if (P.havePcaps()) {
      for (const name of fs.readdirSync(P.PCAP_DIR).filter((n) => /\.(pcap|pcapng|cap)$/.test(n)).sort()) {
        const bytes = fs.readFileSync(path.join(P.PCAP_DIR, name));
        seeds.push({ name, bytes: bytes.subarray(0, MAX_SEED_BYTES) });
      }
    } else {
      console.log(`    (${P.PCAP_DIR} is missing: fuzzing hand-built captures only)`);
    }
  });

  it(`${CASES} seeded cases (seed ${SEED}) over every shared capture and hand-built ones for each link type`, function () {
    const r = prng(SEED);
    const names = Object.keys(MUTATIONS);
    const tally = { failed: 0, truncated: 0, malformed: 0, nonIp: 0, unsupportedLinkType: 0, cases: 0 };
    const started = Date.now();
    for (let i = 0; i < CASES; i++) {
      const seed = seeds[i % seeds.length];
      let bytes = seed.bytes;
      const applied = [];
      const rounds = 1 + r.int(3);
      for (let k = 0; k < rounds; k++) { const m = r.pick(names); applied.push(m); bytes = MUTATIONS[m](r, bytes); }
      const label = `case ${i} (${seed.name}: ${applied.join(' + ')}; FUZZ_SEED=${SEED})`;
      let result;
      try {
        result = readFuzzed(bytes, r, 1 + r.int(300));
      } catch (err) {
        throw new Error(`${label} threw: ${err.stack}`);
      }
      checkAccounting(label, result);
      tally.cases++;
      if (result.parser.failed) tally.failed++;
      if (result.parser.truncated) tally.truncated++;
      for (const k of ['malformed', 'nonIp', 'unsupportedLinkType']) tally[k] += result.builder.counters[k];
    }
    console.log(`      ${tally.cases} cases in ${Date.now() - started} ms: reader stopped on ${tally.failed}, truncated ${tally.truncated}; frames counted malformed ${tally.malformed}, non-IP ${tally.nonIp}, unsupported link type ${tally.unsupportedLinkType}`);
    // the mutations reach every skip path (else the test proves little)
    expect(tally.failed).to.be.above(0);
    expect(tally.truncated).to.be.above(0);
    expect(tally.malformed).to.be.above(0);
    expect(tally.unsupportedLinkType).to.be.above(0);
  });

  it('random frames of every link type the decoder knows (and some it does not) are decoded or counted, never thrown', function () {
    const r = prng(SEED ^ 0x5eed);
    const builder = new PacketBatchBuilder(64);
    const linkTypes = [0, 1, 101, 108, 113, 228, 229, 276, 12, 14, 105, 127, 147, 65535, 0xffffffff];
    const templates = [
      B.eth(0x0800, B.ipv4({ proto: 6, payload: B.tcp() })), B.eth(0x86dd, B.ipv6({ next: 17, body: B.udp() })),
      B.ipv4({ proto: 17, payload: B.udp() }), B.ipv6({ next: 0, body: Buffer.alloc(16) }),
    ];
    let rows = 0;
    for (let i = 0; i < 20000; i++) {
      let data;
      if (r() < 0.5) {
        data = Buffer.alloc(r.int(100));
        for (let k = 0; k < data.length; k++) data[k] = r.int(256);
      } else {
        data = Buffer.from(r.pick(templates));
        for (let k = 0, n = 1 + r.int(6); k < n; k++) data[r.int(data.length)] = r.int(256);
        data = data.subarray(0, r.int(data.length + 1));
      }
      const wire = r() < 0.9 ? data.length + r.int(1500) : r.int(4);
      try {
        builder.add(r.pick(linkTypes), data, data.length, wire, i, r.int(4));
      } catch (err) {
        throw new Error(`frame ${i} (${data.toString('hex')}) threw: ${err.stack}`);
      }
      if (builder.full) rows += builder.flush('fuzz', i, false).count;
    }
    rows += builder.flush('fuzz', 0, true).count;
    const c = builder.counters;
    expect(c.packetsRead).to.equal(20000);
    expect(c.packetsRead).to.equal(c.packetsDecoded + c.nonIp + c.unsupportedLinkType + c.malformed);
    expect(rows).to.equal(c.packetsDecoded);
    expect(c.unsupportedLinkType).to.be.above(0);
    expect(c.malformed).to.be.above(0);
    expect(c.packetsDecoded).to.be.above(0);
  });
});
