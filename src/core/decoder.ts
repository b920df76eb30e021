/**
 * Packet decoder: link layer → IP → transport, written straight into the typed-array columns of a
 * {@link PacketBatch}. The per-packet path reads bytes at offsets with explicit bounds checks, allocates
 * nothing and never throws.
 *
 * Sources: link types from https://www.tcpdump.org/linktypes.html; IPv4 RFC 791; IPv6 RFC 8200
 * (extension headers §4), AH RFC 4302 §2.2 (length in 32-bit words minus 2); TCP RFC 9293 §3.1;
 * UDP RFC 768; ICMP RFC 792; ICMPv6 RFC 4443; IEEE 802.1Q / 802.1ad VLAN tags.
 *
 * @packageDocumentation
 */
import { CONTRACT_VERSION, PACKET_INFO, type DecodeCounters, type PacketBatch } from './contracts';

/** Default number of packets per batch. */
export const DEFAULT_BATCH_SIZE = 4096;

/** LINKTYPE_* values the decoder understands (tcpdump.org/linktypes.html). */
export const LINKTYPE = {
  NULL: 0, ETHERNET: 1, RAW_OPENBSD: 12, RAW_BSDOS: 14, RAW: 101, LOOP: 108, LINUX_SLL: 113,
  IPV4: 228, IPV6: 229, LINUX_SLL2: 276,
} as const;

/** Link types the decoder decodes, by LINKTYPE_* number (sorted), for messages naming what is supported. */
export const SUPPORTED_LINK_TYPES: readonly number[] = Object.values(LINKTYPE).sort((a, b) => a - b);

/** True when the decoder decodes frames of LINKTYPE_* `linkType` (one of {@link SUPPORTED_LINK_TYPES}). */
export function isSupportedLinkType(linkType: number): boolean {
  return SUPPORTED_LINK_TYPES.includes(linkType);
}

/**
 * A short list of the supported link types for a log line:
 * "0 NULL, 1 ETHERNET, 12 RAW_OPENBSD, …" (numbers and names of tcpdump.org/linktypes.html).
 */
export function supportedLinkTypesText(): string {
  return (Object.entries(LINKTYPE) as Array<[string, number]>).sort((a, b) => a[1] - b[1]).map(([name, n]) => `${n} ${name}`).join(', ');
}

/** A fresh set of zeroed counters. */
export function emptyCounters(): DecodeCounters {
  return { packetsRead: 0, packetsDecoded: 0, nonIp: 0, unsupportedLinkType: 0, malformed: 0, fragments: 0, timeClamped: 0, timeEpochs: 0, firstFragments: 0 };
}

const MAX_IPV6_EXTENSION_HEADERS = 16;

/**
 * Builds {@link PacketBatch}es. Owns preallocated columns of `batchSize` packets; {@link add} decodes one
 * frame into the next row (or counts why it could not), {@link flush} hands the rows out as fresh
 * arrays and starts over.
 *
 * What a row holds (see {@link PacketBatch} for the columns):
 * - IPv4 addresses as IPv4-mapped IPv6 (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2);
 * - `payloadLength`: the IP payload as the IP header declares it (IPv4 total length − IHL; IPv6 payload
 *   length − extension headers), i.e. the transport header plus its data, not limited by the snap length;
 * - non-first fragments (IPv4 offset ≠ 0, IPv6 fragment header offset ≠ 0): {@link PACKET_INFO.FRAGMENT},
 *   ports 0, counted in `fragments`; first fragments (IPv4 MF set and offset 0; IPv6 fragment header
 *   with M set and offset 0) carry the transport header and are decoded as usual, counted in
 *   `firstFragments`, so `fragments + firstFragments` counts every fragment;
 * - tunnels (GRE 47, IP-in-IP 4, IPv6-in-IP 41, and any other protocol without ports): a row of the
 *   outer header (outer addresses and protocol number), ports 0; the inner packet is not decoded;
 * - transport header (or an IPv6 extension header) cut by the snap length while the IP header is
 *   complete: {@link PACKET_INFO.TRANSPORT_TRUNCATED}, ports/flags/seq 0;
 * - TCP: `tcpHeaderLength` = data offset × 4 (RFC 9293 §3.1, 20 … 60; 0 when the data offset is below 5),
 *   so that flow-aggregator knows each segment's data length exactly; 0 for other protocols;
 * - ICMP / ICMPv6: `srcPort` 0, `dstPort` = type × 256 + code.
 *
 * Not a row, only counted: non-IP frames and 802.3 length frames (`nonIp`), other link types
 * (`unsupportedLinkType`), frames whose link or IP header is cut short or inconsistent — IHL < 5, IHL
 * beyond the captured bytes, IPv4 total length < IHL, wrong IP version, an IPv6 extension header
 * longer than the payload — (`malformed`).
 *
 * `counters` are cumulative for the run; `timeClamped` is maintained by the reader
 * ({@link CaptureFileParser}) and copied in by the caller.
 */
export class PacketBatchBuilder {
  /** Rows a batch holds before {@link full} turns true. */
  readonly batchSize: number;
  /** Cumulative counters of the run (mutable: the reader adds `timeClamped`). */
  readonly counters: DecodeCounters = emptyCounters();
  /**
   * LINKTYPE_* numbers of the frames counted in `counters.unsupportedLinkType`, distinct, in the order
   * first seen (cumulative for the run, like the counters). Empty when every frame had a supported link type.
   */
  readonly unsupportedLinkTypes: number[] = [];
  /** Rows currently written. */
  count = 0;
  private seq = 0;
  /** Time of the packet being added (see {@link addAt}). */
  private readonly nextTimeMs = new Float64Array(1);
  private capacity: number;
  private timeMs!: Float64Array;
  private wireLength!: Uint32Array;
  private ipVersion!: Uint8Array;
  private srcAddr!: Uint8Array;
  private dstAddr!: Uint8Array;
  private protocol!: Uint8Array;
  private srcPort!: Uint16Array;
  private dstPort!: Uint16Array;
  private tcpFlags!: Uint8Array;
  /** TCP header length in bytes (data offset × 4), 0 for other protocols or a data offset below 5. */
  private tcpHeaderLength!: Uint8Array;
  private tcpSeq!: Uint32Array;
  private tcpAck!: Uint32Array;
  private payloadLength!: Uint32Array;
  private info!: Uint8Array;
  private ifIndex!: Uint16Array;

  /**
   * @param batchSize - packets per batch (integer 1…1,000,000, default {@link DEFAULT_BATCH_SIZE}).
   * @throws {RangeError} when batchSize is out of range.
   */
  constructor(batchSize: number = DEFAULT_BATCH_SIZE) {
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1_000_000) {
      throw new RangeError(`batch size must be an integer from 1 to 1000000, got ${batchSize}`);
    }
    this.batchSize = batchSize;
    this.capacity = batchSize;
    this.allocate(batchSize);
  }

  /** True when {@link count} reached {@link batchSize}: flush before adding more (adding still works: the columns grow). */
  get full(): boolean {
    return this.count >= this.batchSize;
  }

  private allocate(n: number): void {
    const old = this.count > 0 ? this.columns() : null;
    this.timeMs = new Float64Array(n);
    this.wireLength = new Uint32Array(n);
    this.ipVersion = new Uint8Array(n);
    this.srcAddr = new Uint8Array(n * 16);
    this.dstAddr = new Uint8Array(n * 16);
    this.protocol = new Uint8Array(n);
    this.srcPort = new Uint16Array(n);
    this.dstPort = new Uint16Array(n);
    this.tcpFlags = new Uint8Array(n);
    this.tcpHeaderLength = new Uint8Array(n);
    this.tcpSeq = new Uint32Array(n);
    this.tcpAck = new Uint32Array(n);
    this.payloadLength = new Uint32Array(n);
    this.info = new Uint8Array(n);
    this.ifIndex = new Uint16Array(n);
    if (old) {
      const now = this.columns();
      for (let c = 0; c < now.length; c++) (now[c] as Uint8Array).set(old[c] as Uint8Array);
    }
    this.capacity = n;
  }

  private columns(): ArrayLike<number>[] {
    return [this.timeMs, this.wireLength, this.ipVersion, this.srcAddr, this.dstAddr, this.protocol, this.srcPort,
      this.dstPort, this.tcpFlags, this.tcpHeaderLength, this.tcpSeq, this.tcpAck, this.payloadLength, this.info, this.ifIndex];
  }

  /**
   * Decodes one frame into the next row, or counts it (`nonIp`, `unsupportedLinkType`, `malformed`).
   * Never throws and allocates nothing (unless called while {@link full}, when the columns double).
   * The same as {@link addAt} with offset 0.
   * @param linkType - LINKTYPE_* of the frame.
   * @param data - the captured bytes (only the first `capturedLength` are read).
   * @param capturedLength - captured bytes, ≤ `data.length`.
   * @param wireLength - original length on the wire (pcap orig_len), bytes.
   * @param timeMs - packet time, epoch ms.
   * @param ifIndex - capture interface index.
   */
  add(linkType: number, data: Uint8Array, capturedLength: number, wireLength: number, timeMs: number, ifIndex: number): void {
    this.addAt(linkType, data, 0, capturedLength, wireLength, timeMs, ifIndex);
  }

  /**
   * Decodes the frame that starts at byte `offset` of `data` (e.g. inside the reader's chunk, so that
   * no view per packet is needed) into the next row, or counts it. Never throws and allocates nothing
   * (unless called while {@link full}, when the columns double).
   * @param linkType - LINKTYPE_* of the frame.
   * @param data - a buffer holding the frame at `offset`.
   * @param offset - byte offset of the frame's first byte in `data`, 0 ≤ offset ≤ data.length.
   * @param capturedLength - captured bytes of the frame (at most `data.length − offset` are read).
   * @param wireLength - original length on the wire (pcap orig_len), bytes.
   * @param timeMs - packet time, epoch ms.
   * @param ifIndex - capture interface index.
   */
  addAt(linkType: number, data: Uint8Array, offset: number, capturedLength: number, wireLength: number, timeMs: number, ifIndex: number): void {
    // small enough to be inlined into the caller: the time goes through a Float64Array, so no double
    // crosses a call that is not inlined (which would box it: one heap number per packet)
    this.nextTimeMs[0] = timeMs;
    this.decodeAt(linkType, data, offset, capturedLength, wireLength, ifIndex);
  }

  /** {@link addAt} with the packet time in `nextTimeMs[0]`. */
  private decodeAt(linkType: number, data: Uint8Array, offset: number, capturedLength: number, wireLength: number, ifIndex: number): void {
    const c = this.counters;
    c.packetsRead++;
    const room = data.length - offset;
    const len = capturedLength < room ? capturedLength : room; // captured bytes available
    const b = offset;
    const cap = b + len; // end of the captured bytes in data
    let off = b;
    let etherType = -1; // -1: IP version from the first nibble
    switch (linkType) {
      case LINKTYPE.ETHERNET:
        if (len < 14) { c.malformed++; return; }
        etherType = (data[b + 12]! << 8) | data[b + 13]!;
        off = b + 14;
        break;
      case LINKTYPE.NULL: {
        if (len < 4) { c.malformed++; return; }
        // AF_ value in the capturing host's byte order: accept both
        const le = data[b + 0]! | (data[b + 1]! << 8) | (data[b + 2]! << 16) | (data[b + 3]! << 24);
        const be = (data[b + 0]! << 24) | (data[b + 1]! << 16) | (data[b + 2]! << 8) | data[b + 3]!;
        const af = (le >>> 0) <= 0xff ? le : be;
        if (af === 2) etherType = 0x0800;
        else if (af === 10 || af === 24 || af === 28 || af === 30) etherType = 0x86dd;
        else { c.nonIp++; return; }
        off = b + 4;
        break;
      }
      case LINKTYPE.LOOP: {
        if (len < 4) { c.malformed++; return; }
        const af = ((data[b + 0]! << 24) | (data[b + 1]! << 16) | (data[b + 2]! << 8) | data[b + 3]!) >>> 0;
        if (af === 2) etherType = 0x0800;
        else if (af === 10 || af === 24 || af === 28 || af === 30) etherType = 0x86dd;
        else { c.nonIp++; return; }
        off = b + 4;
        break;
      }
      case LINKTYPE.RAW: case LINKTYPE.RAW_OPENBSD: case LINKTYPE.RAW_BSDOS:
        break;
      case LINKTYPE.IPV4: etherType = 0x0800; break;
      case LINKTYPE.IPV6: etherType = 0x86dd; break;
      case LINKTYPE.LINUX_SLL:
        if (len < 16) { c.malformed++; return; }
        etherType = (data[b + 14]! << 8) | data[b + 15]!;
        off = b + 16;
        break;
      case LINKTYPE.LINUX_SLL2:
        if (len < 20) { c.malformed++; return; }
        etherType = (data[b + 0]! << 8) | data[b + 1]!;
        off = b + 20;
        break;
      default:
        c.unsupportedLinkType++;
        if (this.unsupportedLinkTypes.indexOf(linkType) < 0) this.unsupportedLinkTypes.push(linkType);
        return;
    }
    // VLAN tags of any depth: 802.1Q, 802.1ad, and the pre-standard 0x9100
    while (etherType === 0x8100 || etherType === 0x88a8 || etherType === 0x9100) {
      if (off + 4 > cap) { c.malformed++; return; }
      etherType = (data[off + 2]! << 8) | data[off + 3]!;
      off += 4;
    }
    let version: number;
    if (etherType === -1) {
      if (off >= cap) { c.malformed++; return; }
      version = data[off]! >> 4;
    } else if (etherType === 0x0800) version = 4;
    else if (etherType === 0x86dd) version = 6;
    else { c.nonIp++; return; } // 802.3 length field (< 0x0600), ARP, LLDP, …
    if (version === 4) this.ipv4(data, off, cap, wireLength, ifIndex);
    else if (version === 6) this.ipv6(data, off, cap, wireLength, ifIndex);
    else c.malformed++;
  }

  /** Starts row `count`: grows when full, writes the common columns. Returns the row index. */
  private row(version: number, wireLength: number, ifIndex: number, protocol: number, payloadLength: number): number {
    if (this.count >= this.capacity) this.allocate(this.capacity * 2);
    const i = this.count;
    this.timeMs[i] = this.nextTimeMs[0]!;
    this.wireLength[i] = wireLength;
    this.ipVersion[i] = version;
    this.protocol[i] = protocol;
    this.payloadLength[i] = payloadLength;
    this.ifIndex[i] = ifIndex;
    this.srcPort[i] = 0;
    this.dstPort[i] = 0;
    this.tcpFlags[i] = 0;
    this.tcpHeaderLength[i] = 0;
    this.tcpSeq[i] = 0;
    this.tcpAck[i] = 0;
    this.info[i] = 0;
    return i;
  }

  private ipv4(d: Uint8Array, o: number, cap: number, wireLength: number, ifIndex: number): void {
    const c = this.counters;
    if (o + 20 > cap) { c.malformed++; return; }
    const vihl = d[o]!;
    const ihl = (vihl & 0x0f) * 4;
    if (vihl >> 4 !== 4 || ihl < 20 || o + ihl > cap) { c.malformed++; return; }
    const totalLength = (d[o + 2]! << 8) | d[o + 3]!;
    if (totalLength < ihl) { c.malformed++; return; }
    const flagsOffset = (d[o + 6]! << 8) | d[o + 7]!;
    const fragmentOffset = flagsOffset & 0x1fff;
    const protocol = d[o + 9]!;
    const i = this.row(4, wireLength, ifIndex, protocol, totalLength - ihl);
    const a = i * 16;
    const src = this.srcAddr, dst = this.dstAddr;
    src.fill(0, a, a + 10); dst.fill(0, a, a + 10);
    src[a + 10] = 0xff; src[a + 11] = 0xff; dst[a + 10] = 0xff; dst[a + 11] = 0xff;
    src[a + 12] = d[o + 12]!; src[a + 13] = d[o + 13]!; src[a + 14] = d[o + 14]!; src[a + 15] = d[o + 15]!;
    dst[a + 12] = d[o + 16]!; dst[a + 13] = d[o + 17]!; dst[a + 14] = d[o + 18]!; dst[a + 15] = d[o + 19]!;
    this.count++;
    c.packetsDecoded++;
    if (fragmentOffset !== 0) { this.info[i] = PACKET_INFO.FRAGMENT; c.fragments++; return; }
    if ((flagsOffset & 0x2000) !== 0) c.firstFragments = (c.firstFragments ?? 0) + 1; // MF set, offset 0 (RFC 791)
    this.transport(i, d, o + ihl, cap, protocol);
  }

  private ipv6(d: Uint8Array, o: number, cap: number, wireLength: number, ifIndex: number): void {
    const c = this.counters;
    if (o + 40 > cap || d[o]! >> 4 !== 6) { c.malformed++; return; }
    let remaining = (d[o + 4]! << 8) | d[o + 5]!;
    let next = d[o + 6]!;
    let p = o + 40;
    let fragment = false;
    let firstFragment = false;
    let truncated = false;
    // extension header chain (RFC 8200 §4): hop-by-hop 0, routing 43, fragment 44, destination 60, AH 51
    for (let n = 0; n < MAX_IPV6_EXTENSION_HEADERS; n++) {
      if (next !== 0 && next !== 43 && next !== 44 && next !== 60 && next !== 51) break;
      if (p + 8 > cap) { truncated = true; break; }
      let len: number;
      if (next === 44) {
        len = 8;
        const offsetFlags = (d[p + 2]! << 8) | d[p + 3]!;
        if ((offsetFlags >> 3) !== 0) fragment = true;
        else if ((offsetFlags & 1) !== 0) firstFragment = true; // offset 0, M set (RFC 8200 §4.5); M clear: an atomic fragment (RFC 6946), not counted
      } else if (next === 51) {
        len = (d[p + 1]! + 2) * 4; // RFC 4302 §2.2: payload length in 32-bit words, minus 2
      } else {
        len = (d[p + 1]! + 1) * 8; // RFC 8200 §4.3: Hdr Ext Len in 8-octet units, not counting the first 8
      }
      if (len > remaining) { c.malformed++; return; }
      next = d[p]!;
      p += len;
      remaining -= len;
      if (fragment) break;
    }
    const i = this.row(6, wireLength, ifIndex, next, remaining);
    const a = i * 16;
    const src = this.srcAddr, dst = this.dstAddr;
    for (let k = 0; k < 16; k++) { src[a + k] = d[o + 8 + k]!; dst[a + k] = d[o + 24 + k]!; }
    this.count++;
    c.packetsDecoded++;
    if (fragment) { this.info[i] = PACKET_INFO.FRAGMENT; c.fragments++; return; }
    if (firstFragment) c.firstFragments = (c.firstFragments ?? 0) + 1;
    if (truncated) { this.info[i] = PACKET_INFO.TRANSPORT_TRUNCATED; return; }
    this.transport(i, d, p, cap, next);
  }

  private transport(i: number, d: Uint8Array, t: number, cap: number, protocol: number): void {
    switch (protocol) {
      case 6: // TCP
        if (t + 20 > cap) { this.info[i] = PACKET_INFO.TRANSPORT_TRUNCATED; return; }
        this.srcPort[i] = (d[t]! << 8) | d[t + 1]!;
        this.dstPort[i] = (d[t + 2]! << 8) | d[t + 3]!;
        this.tcpSeq[i] = ((d[t + 4]! << 24) | (d[t + 5]! << 16) | (d[t + 6]! << 8) | d[t + 7]!) >>> 0;
        this.tcpAck[i] = ((d[t + 8]! << 24) | (d[t + 9]! << 16) | (d[t + 10]! << 8) | d[t + 11]!) >>> 0;
        this.tcpFlags[i] = d[t + 13]!;
        {
          // data offset (RFC 9293 §3.1): header length in 32-bit words; below 5 is malformed (0 = unknown)
          const hdr = (d[t + 12]! >> 4) * 4;
          this.tcpHeaderLength[i] = hdr >= 20 ? hdr : 0;
        }
        return;
      case 17: // UDP
        if (t + 8 > cap) { this.info[i] = PACKET_INFO.TRANSPORT_TRUNCATED; return; }
        this.srcPort[i] = (d[t]! << 8) | d[t + 1]!;
        this.dstPort[i] = (d[t + 2]! << 8) | d[t + 3]!;
        return;
      case 1: // ICMP
      case 58: // ICMPv6
        if (t + 2 > cap) { this.info[i] = PACKET_INFO.TRANSPORT_TRUNCATED; return; }
        this.dstPort[i] = (d[t]! << 8) | d[t + 1]!; // type * 256 + code
        return;
      default:
        return;
    }
  }

  /**
   * Hands out the rows written since the last flush as a {@link PacketBatch} and starts a new one.
   * The batch's columns are fresh copies the receiver may keep; the counters are a snapshot.
   * @param source - capture file path or interface name.
   * @param clockMs - the source's clock, epoch ms (last packet time for a replay, wall clock live).
   * @param final - true on the last batch of the run.
   */
  flush(source: string, clockMs: number, final: boolean): PacketBatch {
    const n = this.count;
    const batch: PacketBatch = {
      kind: 'netbaseline/packets',
      version: CONTRACT_VERSION,
      source,
      seq: this.seq++,
      count: n,
      timeMs: this.timeMs.slice(0, n),
      wireLength: this.wireLength.slice(0, n),
      ipVersion: this.ipVersion.slice(0, n),
      srcAddr: this.srcAddr.slice(0, n * 16),
      dstAddr: this.dstAddr.slice(0, n * 16),
      protocol: this.protocol.slice(0, n),
      srcPort: this.srcPort.slice(0, n),
      dstPort: this.dstPort.slice(0, n),
      tcpFlags: this.tcpFlags.slice(0, n),
      tcpHeaderLength: this.tcpHeaderLength.slice(0, n),
      tcpSeq: this.tcpSeq.slice(0, n),
      tcpAck: this.tcpAck.slice(0, n),
      payloadLength: this.payloadLength.slice(0, n),
      info: this.info.slice(0, n),
      ifIndex: this.ifIndex.slice(0, n),
      clockMs,
      counters: { ...this.counters },
      final,
    };
    this.count = 0;
    if (this.capacity > this.batchSize) this.allocate(this.batchSize);
    return batch;
  }
}
