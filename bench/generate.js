'use strict';
/**
 * Seeded synthetic capture for the benchmark (issue #8): by default 5,000,000 packets over 5 minutes
 * of packet time, written as two classic pcap files (little-endian, µs; draft-ietf-opsawg-pcap) in
 * one pass: a full-size one and a 96-byte-snaplen one (`tcpdump -s 96`: each record's captured
 * length is min(96, frame length), its original length the whole frame).
 *
 * Traffic model (a busy office uplink seen on a mirror port):
 * - a pool of concurrent sessions (default 20,000 at 5M packets, scaled with --packets, at least
 *   500; each session is two directional 5-tuples, so tens of thousands of concurrent flows); every
 *   packet comes from a session picked uniformly from the pool; a session that ends is replaced by a
 *   new one, so flows keep starting and ending all through the capture;
 * - session kinds (share of new sessions): TCP 72 % (SYN, SYN+ACK, ACK, then a geometric number of
 *   data segments, mean 24: server→client MSS-sized data (1460 bytes over IPv4, 1440 over IPv6, so
 *   every frame fits a 1500-byte MTU), client ACKs, some client data, then FIN,
 *   FIN+ACK, ACK, or 6 % an RST; 3 % of TCP sessions are refused: SYN then RST+ACK), DNS 14 %
 *   (query to port 53, response), other UDP 8 % (QUIC 443, NTP 123, syslog 514: 2–30 datagrams),
 *   ICMP echo 2 % (2–10 request/reply), and 10 % of TCP and DNS sessions run over IPv6;
 * - IPv4 addresses from 198.18.0.0/15 (reserved for benchmarking, RFC 2544 / RFC 5735), clients in
 *   198.18.0.0/16, servers in 198.19.0.0/20; IPv6 from 2001:db8::/32 (documentation, RFC 3849);
 * - packet times: packet i at t0 + (i + u·0.5)·gap, u uniform in [0,1), gap = duration / packets, so
 *   times never go backwards.
 *
 * Frames are built straight into a preallocated output buffer per file (no per-packet allocation)
 * and streamed to disk with fs.writeSync in 16 MiB chunks. The IPv4 header checksum (RFC 791/1071)
 * and the ICMP checksum are correct; TCP and UDP checksums are left 0 (none of the measured tools
 * and none of our code verifies them; for UDP over IPv4, 0 means "no checksum", RFC 768).
 *
 * Usage: node bench/generate.js [--packets N] [--seconds S] [--seed N] [--sessions N] [--out DIR] [--force]
 * Prints the paths and a JSON summary. Files are cached: the same parameters reuse existing files.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');

const GENERATOR_VERSION = 2;
const T0_MS = Date.UTC(2026, 1, 2, 9, 0, 0);
const SNAP = 96;

/** mulberry32 (Tommy Ettinger, public domain), the same PRNG as src/synth/random.ts, inlined. */
function rng(seed) {
  let s = seed >>> 0;
  return function next() {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** DNS query for www.example.com A (RFC 1035 §4.1), transaction id patched per session. */
const DNS_QUERY = Buffer.from('00000100000100000000000003777777076578616d706c6503636f6d0000010001', 'hex');
/** Its response: the question and one A record 198.19.0.1 (TTL 300), compressed name pointer 0xc00c. */
const DNS_RESPONSE = Buffer.from('0000818000010001000000000377777707' + '6578616d706c6503636f6d0000010001' + 'c00c000100010000012c0004c6130001', 'hex');

const KIND = { TCP: 0, TCP_REFUSED: 1, DNS: 2, UDP: 3, ICMP: 4 };
const FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10;

/**
 * Default file names for a parameter set.
 * @param {{packets:number, seconds:number, seed:number, sessions:number, out:string}} o
 */
function capturePaths(o) {
  const base = `netbaseline-bench-${o.packets}p-${o.seconds}s-seed${o.seed}-s${o.sessions}`;
  return { full: path.join(o.out, `${base}-full.pcap`), snap: path.join(o.out, `${base}-snap96.pcap`), meta: path.join(o.out, `${base}.json`) };
}

/** Options with defaults. */
function resolveOptions(o = {}) {
  const packets = o.packets ?? 5_000_000;
  return {
    packets,
    seconds: o.seconds ?? 300,
    seed: o.seed ?? 20260202,
    sessions: o.sessions ?? Math.max(500, Math.round((20_000 * packets) / 5_000_000)),
    out: o.out ?? path.join(os.tmpdir(), 'netbaseline-bench'),
  };
}

/** Streams records into a file through a preallocated buffer. */
class Sink {
  constructor(file, size) {
    this.fd = fs.openSync(file, 'w');
    this.buf = Buffer.alloc(size);
    this.pos = 0;
    this.bytes = 0;
  }
  ensure(n) { if (this.pos + n > this.buf.length) this.flush(); }
  flush() {
    let off = 0;
    while (off < this.pos) off += fs.writeSync(this.fd, this.buf, off, this.pos - off);
    this.bytes += this.pos;
    this.pos = 0;
  }
  close() { this.flush(); fs.closeSync(this.fd); }
}

function pcapHeader(snapLength) {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(snapLength, 16);
  h.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  return h;
}

/**
 * Generates the two capture files.
 * @param {object} options see {@link resolveOptions}
 * @returns {{ full: string, snap: string, meta: object }}
 */
function generateCapture(options = {}) {
  const o = resolveOptions(options);
  const files = capturePaths(o);
  fs.mkdirSync(o.out, { recursive: true });
  const rand = rng(o.seed);
  const N = o.sessions;

  // session state, column-wise
  const kind = new Uint8Array(N);
  const v6 = new Uint8Array(N);
  const cAddr = new Uint32Array(N); // IPv4 client / low 32 bits of the IPv6 interface id
  const sAddr = new Uint32Array(N);
  const cPort = new Uint16Array(N);
  const sPort = new Uint16Array(N);
  const phase = new Uint32Array(N); // packets sent so far
  const total = new Uint32Array(N); // packets in the session (data part for TCP)
  const cSeq = new Uint32Array(N);
  const sSeq = new Uint32Array(N);
  const endRst = new Uint8Array(N);
  const ipId = new Uint16Array(N);
  const icmpId = new Uint16Array(N);

  const counts = { sessions: 0, tcp: 0, tcpRefused: 0, dns: 0, udp: 0, icmp: 0, ipv6Sessions: 0, packets: 0, ipv6Packets: 0, tcpPackets: 0, udpPackets: 0, icmpPackets: 0, syn: 0, bytes: 0 };

  function geometric(mean) { return 1 + Math.floor(-Math.log(1 - rand()) * (mean - 1)); }

  function newSession(i) {
    counts.sessions++;
    const r = rand();
    let k;
    if (r < 0.72) k = rand() < 0.03 ? KIND.TCP_REFUSED : KIND.TCP;
    else if (r < 0.86) k = KIND.DNS;
    else if (r < 0.94) k = KIND.UDP;
    else if (r < 0.96) k = KIND.ICMP;
    else k = KIND.TCP;
    kind[i] = k;
    v6[i] = (k === KIND.TCP || k === KIND.DNS) && rand() < 0.10 ? 1 : 0;
    if (v6[i]) counts.ipv6Sessions++;
    // clients: 198.18.0.1 … 198.18.255.254 (about 20,000 in use); servers: 198.19.0.1 … 198.19.15.254
    cAddr[i] = (198 << 24 | 18 << 16 | (1 + Math.floor(rand() * 20_000))) >>> 0;
    sAddr[i] = (198 << 24 | 19 << 16 | (1 + Math.floor(Math.pow(rand(), 3) * 4000))) >>> 0; // a few busy servers
    cPort[i] = 32768 + Math.floor(rand() * 28232);
    phase[i] = 0;
    cSeq[i] = (rand() * 4294967296) >>> 0;
    sSeq[i] = (rand() * 4294967296) >>> 0;
    ipId[i] = (rand() * 65536) >>> 0;
    endRst[i] = 0;
    switch (k) {
      case KIND.TCP: {
        counts.tcp++;
        const pr = rand();
        sPort[i] = pr < 0.7 ? 443 : pr < 0.85 ? 80 : pr < 0.9 ? 22 : pr < 0.95 ? 445 : 993;
        total[i] = geometric(24);
        endRst[i] = rand() < 0.06 ? 1 : 0;
        break;
      }
      case KIND.TCP_REFUSED: counts.tcpRefused++; sPort[i] = 1 + Math.floor(rand() * 10000); total[i] = 2; break;
      case KIND.DNS: counts.dns++; sPort[i] = 53; total[i] = 2; icmpId[i] = (rand() * 65536) >>> 0; break;
      case KIND.UDP: {
        counts.udp++;
        const pr = rand();
        sPort[i] = pr < 0.6 ? 443 : pr < 0.8 ? 123 : 514;
        total[i] = sPort[i] === 123 ? 2 : 2 + Math.floor(rand() * 29);
        break;
      }
      default: counts.icmp++; sPort[i] = 0; icmpId[i] = (rand() * 65536) >>> 0; total[i] = 2 * (1 + Math.floor(rand() * 5)); break;
    }
  }

  const full = new Sink(files.full, 16 << 20);
  const snap = new Sink(files.snap, 4 << 20);
  full.buf.set(pcapHeader(262144), 0); full.pos = 24;
  snap.buf.set(pcapHeader(SNAP), 0); snap.pos = 24;
  const pattern = Buffer.alloc(1500);
  for (let i = 0; i < pattern.length; i++) pattern[i] = 0x41 + (i % 26);

  for (let i = 0; i < N; i++) newSession(i);

  const gapUs = (o.seconds * 1e6) / o.packets;
  const t0Us = T0_MS * 1000;

  for (let p = 0; p < o.packets; p++) {
    const i = Math.floor(rand() * N);
    const k = kind[i];
    const ph = phase[i];
    // --- decide this packet: direction (0 client→server, 1 server→client), protocol, flags, payload
    let dir = 0, proto = 6, flags = 0, payload = 0, done = false, icmpType = 8;
    if (k === KIND.TCP) {
      const dataEnd = 3 + total[i];
      if (ph === 0) flags = SYN;
      else if (ph === 1) { dir = 1; flags = SYN | ACK; }
      else if (ph === 2) flags = ACK;
      else if (ph < dataEnd) {
        const r = rand();
        if (ph === 3) { flags = PSH | ACK; payload = 200 + Math.floor(rand() * 500); }
        else if (r < 0.58) { dir = 1; flags = ACK; payload = rand() < 0.8 ? 1460 : 100 + Math.floor(rand() * 1300); if (rand() < 0.2) flags |= PSH; }
        else if (r < 0.93) flags = ACK;
        else { flags = PSH | ACK; payload = 50 + Math.floor(rand() * 900); }
      } else if (endRst[i]) { flags = RST | ACK; done = true; }
      else if (ph === dataEnd) flags = FIN | ACK;
      else if (ph === dataEnd + 1) { dir = 1; flags = FIN | ACK; }
      else { flags = ACK; done = true; }
    } else if (k === KIND.TCP_REFUSED) {
      if (ph === 0) flags = SYN; else { dir = 1; flags = RST | ACK; done = true; }
    } else if (k === KIND.DNS) {
      proto = 17;
      if (ph === 0) payload = DNS_QUERY.length; else { dir = 1; payload = DNS_RESPONSE.length; done = true; }
    } else if (k === KIND.UDP) {
      proto = 17;
      dir = ph & 1;
      payload = sPort[i] === 123 ? 48 : sPort[i] === 514 ? 80 + Math.floor(rand() * 300) : (dir === 1 ? 1200 + Math.floor(rand() * 150) : 40 + Math.floor(rand() * 1200));
      if (sPort[i] === 514) dir = 0;
      done = ph + 1 >= total[i];
    } else {
      proto = 1;
      dir = ph & 1;
      icmpType = dir === 0 ? 8 : 0;
      payload = 56;
      done = ph + 1 >= total[i];
    }
    const isV6 = v6[i] === 1;
    if (isV6 && payload > 1440) payload = 1440; // IPv6 MSS on a 1500-byte MTU (40-byte header)
    const l4 = proto === 6 ? 20 : 8;
    const ipLen = (isV6 ? 40 : 20) + l4 + payload;
    const frameLen = 14 + ipLen;
    // --- record header
    full.ensure(16 + frameLen);
    snap.ensure(16 + SNAP);
    const b = full.buf;
    const rec = full.pos;
    const tUs = Math.floor(t0Us + (p + rand() * 0.5) * gapUs);
    const sec = Math.floor(tUs / 1e6);
    b.writeUInt32LE(sec, rec);
    b.writeUInt32LE(tUs - sec * 1e6, rec + 4);
    b.writeUInt32LE(frameLen, rec + 8);
    b.writeUInt32LE(frameLen, rec + 12);
    let o2 = rec + 16;
    // --- Ethernet: locally administered MACs from the address low bits
    const src4 = dir === 0 ? cAddr[i] : sAddr[i];
    const dst4 = dir === 0 ? sAddr[i] : cAddr[i];
    b[o2] = 0x02; b[o2 + 1] = 0x00; b.writeUInt32BE(dst4, o2 + 2);
    b[o2 + 6] = 0x02; b[o2 + 7] = 0x00; b.writeUInt32BE(src4, o2 + 8);
    b.writeUInt16BE(isV6 ? 0x86dd : 0x0800, o2 + 12);
    o2 += 14;
    // --- IP
    if (isV6) {
      b.writeUInt32BE(0x60000000, o2);
      b.writeUInt16BE(l4 + payload, o2 + 4);
      b[o2 + 6] = proto; b[o2 + 7] = 64;
      // 2001:db8:<0 client | 1 server>::<ipv4 as interface id>
      b.writeUInt32BE(0x20010db8, o2 + 8); b.writeUInt32BE(dir === 0 ? 0 : 0x00010000, o2 + 12); b.writeUInt32BE(0, o2 + 16); b.writeUInt32BE(src4, o2 + 20);
      b.writeUInt32BE(0x20010db8, o2 + 24); b.writeUInt32BE(dir === 0 ? 0x00010000 : 0, o2 + 28); b.writeUInt32BE(0, o2 + 32); b.writeUInt32BE(dst4, o2 + 36);
      o2 += 40;
      counts.ipv6Packets++;
    } else {
      b[o2] = 0x45; b[o2 + 1] = 0;
      b.writeUInt16BE(ipLen, o2 + 2);
      const id = ipId[i] = (ipId[i] + 1) & 0xffff;
      b.writeUInt16BE(id, o2 + 4);
      b.writeUInt16BE(0x4000, o2 + 6);
      b[o2 + 8] = dir === 0 ? 64 : 57; b[o2 + 9] = proto;
      b.writeUInt16BE(0, o2 + 10);
      b.writeUInt32BE(src4, o2 + 12);
      b.writeUInt32BE(dst4, o2 + 16);
      let sum = 0;
      for (let w = 0; w < 20; w += 2) sum += (b[o2 + w] << 8) | b[o2 + w + 1];
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      b.writeUInt16BE(~sum & 0xffff, o2 + 10);
      o2 += 20;
    }
    // --- transport
    const sp = dir === 0 ? cPort[i] : sPort[i];
    const dp = dir === 0 ? sPort[i] : cPort[i];
    if (proto === 6) {
      counts.tcpPackets++;
      if (flags === SYN) counts.syn++;
      b.writeUInt16BE(sp, o2); b.writeUInt16BE(dp, o2 + 2);
      const seq = dir === 0 ? cSeq[i] : sSeq[i];
      const ack = (flags & ACK) ? (dir === 0 ? sSeq[i] : cSeq[i]) : 0;
      b.writeUInt32BE(seq, o2 + 4); b.writeUInt32BE(ack, o2 + 8);
      b[o2 + 12] = 0x50; b[o2 + 13] = flags;
      b.writeUInt16BE(64240, o2 + 14); b.writeUInt32BE(0, o2 + 16);
      let adv = payload + ((flags & (SYN | FIN)) ? 1 : 0);
      if (dir === 0) cSeq[i] = (cSeq[i] + adv) >>> 0; else sSeq[i] = (sSeq[i] + adv) >>> 0;
      o2 += 20;
      pattern.copy(b, o2, 0, payload);
      o2 += payload;
    } else if (proto === 17) {
      counts.udpPackets++;
      b.writeUInt16BE(sp, o2); b.writeUInt16BE(dp, o2 + 2);
      b.writeUInt16BE(8 + payload, o2 + 4); b.writeUInt16BE(0, o2 + 6);
      const start = o2;
      o2 += 8;
      if (k === KIND.DNS) {
        (dir === 0 ? DNS_QUERY : DNS_RESPONSE).copy(b, o2);
        b.writeUInt16BE(icmpId[i], o2); // DNS transaction id
      } else {
        pattern.copy(b, o2, 0, payload);
      }
      o2 += payload;
      if (isV6) {
        // RFC 8200 §8.1: UDP over IPv6 must carry a checksum (pseudo-header: addresses, length, next header)
        let sum = 17 + 8 + payload;
        for (let w = start - 32; w < o2; w += 2) sum += (b[w] << 8) | (w + 1 < o2 ? b[w + 1] : 0);
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
        b.writeUInt16BE((~sum & 0xffff) || 0xffff, start + 6);
      }
    } else {
      counts.icmpPackets++;
      const start = o2;
      b[o2] = icmpType; b[o2 + 1] = 0; b.writeUInt16BE(0, o2 + 2);
      b.writeUInt16BE(icmpId[i], o2 + 4); b.writeUInt16BE(ph >>> 1, o2 + 6);
      o2 += 8;
      pattern.copy(b, o2, 0, payload);
      o2 += payload;
      let sum = 0;
      for (let w = start; w < o2; w += 2) sum += (b[w] << 8) | b[w + 1];
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      b.writeUInt16BE(~sum & 0xffff, start + 2);
    }
    full.pos = o2;
    // --- the same record cut to 96 bytes
    const cap = frameLen < SNAP ? frameLen : SNAP;
    const sb = snap.buf;
    b.copy(sb, snap.pos, rec, rec + 16 + cap);
    sb.writeUInt32LE(cap, snap.pos + 8);
    snap.pos += 16 + cap;
    counts.packets++;
    counts.bytes += frameLen;
    phase[i] = ph + 1;
    if (done) newSession(i);
  }
  full.close();
  snap.close();
  const meta = {
    generatorVersion: GENERATOR_VERSION, options: o, startMs: T0_MS, endMs: T0_MS + o.seconds * 1000,
    files: { full: files.full, snap96: files.snap }, fileBytes: { full: full.bytes, snap96: snap.bytes }, counts,
  };
  fs.writeFileSync(files.meta, JSON.stringify(meta, null, 2));
  return { full: files.full, snap: files.snap, meta };
}

/**
 * Returns the capture files for these options, generating them unless files written by this
 * generator version with the same options exist.
 */
function ensureCapture(options = {}, force = false) {
  const o = resolveOptions(options);
  const files = capturePaths(o);
  if (!force && fs.existsSync(files.meta) && fs.existsSync(files.full) && fs.existsSync(files.snap)) {
    try {
      const meta = JSON.parse(fs.readFileSync(files.meta, 'utf8'));
      if (meta.generatorVersion === GENERATOR_VERSION && fs.statSync(files.full).size === meta.fileBytes.full) return { full: files.full, snap: files.snap, meta, cached: true };
    } catch { /* regenerate */ }
  }
  return { ...generateCapture(o), cached: false };
}

/** Parses `--name value` pairs. */
function parseArgs(argv) {
  const a = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)$/.exec(argv[i]);
    if (!m) throw new Error(`unexpected argument ${argv[i]}`);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) a[m[1]] = true; else { a[m[1]] = next; i++; }
  }
  return a;
}

function numberArg(a, name) {
  if (a[name] === undefined) return undefined;
  const n = Number(a[name]);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${a[name]}`);
  return n;
}

if (require.main === module) {
  const a = parseArgs(process.argv.slice(2));
  const t = process.hrtime.bigint();
  const r = ensureCapture({ packets: numberArg(a, 'packets'), seconds: numberArg(a, 'seconds'), seed: numberArg(a, 'seed'), sessions: numberArg(a, 'sessions'), out: a.out }, a.force === true);
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  console.log(JSON.stringify({ ...r.meta, cached: r.cached, seconds: +s.toFixed(2) }, null, 2));
}

module.exports = { generateCapture, ensureCapture, resolveOptions, capturePaths, parseArgs, numberArg, GENERATOR_VERSION };
