/**
 * Header-only frame building and a streaming pcap writer for the labeled traffic generator
 * ({@link ./labeled-traffic}): hours of packet time are millions of packets, so frames are stored
 * cut to a snap length (as `tcpdump -s 96` stores them) while each record's original length and the
 * IP length fields say how long the packet was on the wire. Not used on the product's path.
 *
 * Frames are Ethernet II with IPv4 (RFC 791) or IPv6 (RFC 8200) and TCP (RFC 9293), UDP (RFC 768),
 * ICMP echo (RFC 792) or ICMPv6 echo (RFC 4443). Every checksum is correct for the whole packet,
 * including the payload bytes that are not stored: the payload is the repeating pattern
 * `0x41 + i mod 26` of `packet-builder.ts`, whose one's-complement sum (RFC 1071) is computed once per
 * length and cached. The file format is the classic libpcap one written by {@link PcapWriter}
 * (draft-ietf-opsawg-pcap: little-endian, µs), whose 24-byte file header is reused here.
 */
import { closeSync, openSync, writeSync } from 'fs';
import { internetChecksum, ipv4Bytes } from './packet-builder';
import { PcapWriter } from './pcap-writer';

/** An address ready for frame building: 4 bytes (IPv4) or 16 bytes (IPv6) plus a MAC derived from it. */
export interface FrameAddress {
  /** As written (`10.1.0.5`, `2001:db8:10::20`). */
  readonly text: string;
  readonly bytes: Buffer;
  readonly v6: boolean;
  readonly mac: Buffer;
}

/**
 * Parses an IPv6 address in RFC 4291 §2.2 text form (with at most one `::`; no embedded IPv4).
 * @throws {RangeError} on anything else.
 */
export function ipv6Bytes(address: string): Buffer {
  const halves = address.split('::');
  if (halves.length > 2) throw new RangeError(`not an IPv6 address: ${address}`);
  const words = (s: string): number[] => (s === '' ? [] : s.split(':').map((w) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(w)) throw new RangeError(`not an IPv6 address: ${address}`);
    return parseInt(w, 16);
  }));
  const head = words(halves[0]!), tail = halves.length === 2 ? words(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if ((halves.length === 1 && fill !== 0) || (halves.length === 2 && fill < 1)) throw new RangeError(`not an IPv6 address: ${address}`);
  const all = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  const b = Buffer.alloc(16);
  all.forEach((w, i) => b.writeUInt16BE(w, i * 2));
  return b;
}

const addressCache = new Map<string, FrameAddress>();

/**
 * The {@link FrameAddress} of a dotted-quad IPv4 or an IPv6 address (cached: the generator asks for
 * the same hosts millions of times).
 * @throws {RangeError} when `text` is neither.
 */
export function frameAddress(text: string): FrameAddress {
  let a = addressCache.get(text);
  if (a === undefined) {
    const v6 = text.includes(':');
    const bytes = v6 ? ipv6Bytes(text) : ipv4Bytes(text);
    const n = bytes.length;
    a = { text, bytes, v6, mac: Buffer.from([0x02, 0x00, 0x5e, bytes[n - 3]!, bytes[n - 2]!, bytes[n - 1]!]) };
    if (addressCache.size > 200_000) addressCache.clear();
    addressCache.set(text, a);
  }
  return a;
}

/** IP protocol numbers used by the generator. */
export const PROTO = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58 } as const;

/** TCP flag bits (RFC 9293 §3.1; ECE/CWR RFC 3168). */
export const TCP = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, ECE: 0x40, CWR: 0x80 } as const;

/**
 * One packet to write. For ICMP/ICMPv6 `srcPort` is unused and `dstPort` holds `type << 8 | code`
 * (echo request: 8 for ICMP, 128 for ICMPv6; reply 0 / 129), `seq` the echo identifier/sequence.
 */
export interface SynthPacket {
  /** Packet time, epoch ms. */
  t: number;
  src: FrameAddress;
  dst: FrameAddress;
  /** {@link PROTO} value; ICMP over IPv6 must be ICMPV6. */
  proto: number;
  srcPort: number;
  dstPort: number;
  /** TCP: flags byte; otherwise 0. */
  flags: number;
  seq: number;
  ack: number;
  /** Transport payload length in bytes (not stored beyond the snap length). */
  payload: number;
  ttl: number;
}

const patternSums = new Map<number, number>();

/** Folded one's-complement sum (RFC 1071) of the payload pattern of `length` bytes. */
function patternSum(length: number): number {
  let s = patternSums.get(length);
  if (s === undefined) {
    const b = Buffer.alloc(length);
    for (let i = 0; i < length; i++) b[i] = 0x41 + (i % 26);
    s = (~internetChecksum([b])) & 0xffff;
    patternSums.set(length, s);
  }
  return s;
}

function sum16(b: Buffer, start: number, end: number): number {
  let s = 0;
  for (let i = start; i + 1 < end; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if ((end - start) % 2 === 1) s += b[end - 1]! << 8;
  return s;
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** Transport header length for a protocol (TCP 20, UDP 8, ICMP/ICMPv6 echo 8). */
export function transportHeaderLength(proto: number): number {
  return proto === PROTO.TCP ? 20 : 8;
}

/** Length of the whole frame on the wire (Ethernet header included, no FCS), bytes. */
export function wireLength(p: SynthPacket): number {
  return 14 + (p.src.v6 ? 40 : 20) + transportHeaderLength(p.proto) + p.payload;
}

/**
 * Builds the first `snapLength` bytes of the frame of `p` into `out` at `offset` (which must have
 * room for them) and returns how many bytes were written (min(snap length, wire length)).
 * @throws {RangeError} when source and destination differ in IP version.
 */
export function buildFrame(p: SynthPacket, out: Buffer, offset: number, snapLength: number): number {
  if (p.src.v6 !== p.dst.v6) throw new RangeError(`${p.src.text} → ${p.dst.text}: mixed IP versions`);
  const v6 = p.src.v6;
  const ipLen = v6 ? 40 : 20;
  const l4Len = transportHeaderLength(p.proto);
  const headerEnd = 14 + ipLen + l4Len;
  const total = headerEnd + p.payload;
  const stored = Math.min(total, snapLength);
  // build the headers into a scratch area, then copy what the snap length keeps
  const h = scratch;
  h.fill(0, 0, headerEnd);
  p.dst.mac.copy(h, 0);
  p.src.mac.copy(h, 6);
  h.writeUInt16BE(v6 ? 0x86dd : 0x0800, 12);
  const ip = 14;
  const l4 = ip + ipLen;
  const transportLength = l4Len + p.payload;
  if (v6) {
    h.writeUInt32BE(0x60000000, ip);
    h.writeUInt16BE(transportLength, ip + 4);
    h[ip + 6] = p.proto;
    h[ip + 7] = p.ttl;
    p.src.bytes.copy(h, ip + 8);
    p.dst.bytes.copy(h, ip + 24);
  } else {
    h[ip] = 0x45;
    h.writeUInt16BE(20 + transportLength, ip + 2);
    h.writeUInt16BE(p.seq & 0xffff, ip + 4);
    h.writeUInt16BE(0x4000, ip + 6);
    h[ip + 8] = p.ttl;
    h[ip + 9] = p.proto;
    p.src.bytes.copy(h, ip + 12);
    p.dst.bytes.copy(h, ip + 16);
    h.writeUInt16BE(internetChecksum([h.subarray(ip, ip + 20)]), ip + 10);
  }
  let checksumAt: number;
  if (p.proto === PROTO.TCP) {
    h.writeUInt16BE(p.srcPort, l4);
    h.writeUInt16BE(p.dstPort, l4 + 2);
    h.writeUInt32BE(p.seq >>> 0, l4 + 4);
    h.writeUInt32BE(p.ack >>> 0, l4 + 8);
    h[l4 + 12] = 5 << 4;
    h[l4 + 13] = p.flags & 0xff;
    h.writeUInt16BE(64240, l4 + 14);
    checksumAt = l4 + 16;
  } else if (p.proto === PROTO.UDP) {
    h.writeUInt16BE(p.srcPort, l4);
    h.writeUInt16BE(p.dstPort, l4 + 2);
    h.writeUInt16BE(transportLength, l4 + 4);
    checksumAt = l4 + 6;
  } else {
    h[l4] = (p.dstPort >> 8) & 0xff;
    h[l4 + 1] = p.dstPort & 0xff;
    h.writeUInt16BE((p.seq >>> 16) & 0xffff, l4 + 4);
    h.writeUInt16BE(p.seq & 0xffff, l4 + 6);
    checksumAt = l4 + 2;
  }
  // transport checksum: pseudo-header (TCP/UDP always, ICMPv6 too; RFC 8200 §8.1) + header + payload
  let s = sum16(h, l4, headerEnd) + patternSum(p.payload);
  if (p.proto !== PROTO.ICMP) {
    if (v6) s += sum16(h, ip + 8, ip + 40) + Math.floor(transportLength / 0x10000) + (transportLength & 0xffff) + p.proto;
    else s += sum16(h, ip + 12, ip + 20) + p.proto + transportLength;
  }
  let c = (~fold(s)) & 0xffff;
  if (p.proto === PROTO.UDP && c === 0) c = 0xffff; // RFC 768: 0 means "no checksum"
  h.writeUInt16BE(c, checksumAt);
  const fromHeader = Math.min(stored, headerEnd);
  h.copy(out, offset, 0, fromHeader);
  for (let i = fromHeader; i < stored; i++) out[offset + i] = 0x41 + ((i - headerEnd) % 26);
  return stored;
}

const scratch = Buffer.alloc(128);

/**
 * Writes a classic pcap file (the format of {@link PcapWriter}) record by record to disk, buffering
 * about 4 MiB at a time, so that captures of millions of packets never sit in memory.
 */
export class StreamingPcapWriter {
  private readonly fd: number;
  private readonly buf = Buffer.alloc(4 * 1024 * 1024);
  private used = 0;
  private count = 0;
  private closed = false;

  /**
   * Creates (truncates) `path` and writes the file header.
   * @param snapLength bytes of each frame stored, 64 … 262144 (default 96, as `tcpdump -s 96`).
   * @throws {RangeError} on a bad snap length; an fs error when the file cannot be created.
   */
  constructor(readonly path: string, readonly snapLength = 96) {
    if (!Number.isInteger(snapLength) || snapLength < 64 || snapLength > 262144) throw new RangeError(`snapLength must be 64…262144, got ${snapLength}`);
    this.fd = openSync(path, 'w');
    const header = new PcapWriter(snapLength).toBuffer();
    header.copy(this.buf, 0);
    this.used = header.length;
  }

  /** Appends one packet (times must not go backwards; the writer does not check). */
  write(p: SynthPacket): void {
    if (this.closed) throw new Error('StreamingPcapWriter: write after close');
    if (this.used + 16 + this.snapLength > this.buf.length) this.drain();
    const at = this.used;
    const stored = buildFrame(p, this.buf, at + 16, this.snapLength);
    const totalUs = Math.round(p.t * 1000);
    this.buf.writeUInt32LE(Math.floor(totalUs / 1e6), at);
    this.buf.writeUInt32LE(totalUs % 1e6, at + 4);
    this.buf.writeUInt32LE(stored, at + 8);
    this.buf.writeUInt32LE(wireLength(p), at + 12);
    this.used += 16 + stored;
    this.count++;
  }

  /** Packets written so far. */
  get packets(): number {
    return this.count;
  }

  /** Writes what is buffered and closes the file. */
  close(): void {
    if (this.closed) return;
    this.drain();
    closeSync(this.fd);
    this.closed = true;
  }

  private drain(): void {
    let off = 0;
    while (off < this.used) off += writeSync(this.fd, this.buf, off, this.used - off);
    this.used = 0;
  }
}
