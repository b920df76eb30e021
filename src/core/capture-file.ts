/**
 * Incremental reader of capture files: classic pcap (µs and ns resolution, both byte orders) and
 * pcapng (any number of sections and interfaces). Bytes go in with {@link CaptureFileParser.push} in
 * chunks of any size; one callback per packet record comes out. No Node-RED, no I/O.
 *
 * Sources:
 * - classic pcap: draft-ietf-opsawg-pcap ("PCAP Capture File Format"),
 * - pcapng: draft-ietf-opsawg-pcapng ("PCAP Now Generic (pcapng) Capture File Format"),
 * - link types: https://www.tcpdump.org/linktypes.html.
 *
 * @packageDocumentation
 */

/** Largest captured length of one packet record the reader accepts (bytes); larger means a corrupt file. */
export const MAX_RECORD_BYTES = 256 * 1024;

/** Largest pcapng block the reader accepts (bytes): a packet of {@link MAX_RECORD_BYTES} plus generous options. */
export const MAX_PCAPNG_BLOCK_BYTES = 16 * 1024 * 1024;

/**
 * Largest backward step of packet time that is clamped, ms (60 s). Small steps back are jitter:
 * packets of several capture queues or CPUs merged slightly out of order, a clock slewed by NTP
 * (`ndpi__sites.pcapng` steps back by 47.7 s and 6.0 s); they are clamped to the latest time so
 * far and counted (`timeClamped`). A larger step back (a merged capture, a clock stepped back by
 * hours) is not clamped: clamping it would give every later packet the same time until time caught
 * up, piling them into one window as a false burst. It starts a new time epoch instead (counted in
 * `timeEpochs`): the packet times after it pass through as they are.
 */
export const MAX_CLAMPED_BACK_STEP_MS = 60_000;

/** Detected format of a capture file. */
export type CaptureFormat = 'pcap' | 'pcap-ns' | 'pcapng';

/**
 * Called once per packet record.
 * @param linkType - LINKTYPE_* value of the record's interface (tcpdump.org/linktypes.html).
 * @param data - the captured bytes: a subarray of the reader's buffer, NOT a copy; valid only during
 *   the call (copy what you keep).
 * @param capturedLength - bytes captured (`data.length`).
 * @param wireLength - the packet's original length on the wire (pcap `orig_len`), bytes.
 * @param timeMs - packet time, epoch ms, fractional part to the µs; never smaller than the previous
 *   packet's, except at the start of a new time epoch (a step back of more than
 *   {@link MAX_CLAMPED_BACK_STEP_MS}; see {@link CaptureFileParser}).
 * @param ifIndex - pcapng interface id within its section; 0 for classic pcap.
 * @returns `false` to pause BEFORE this record: it is not consumed and is delivered again by the next
 *   {@link CaptureFileParser.resume} / {@link CaptureFileParser.push}. Anything else consumes it.
 */
export type PacketCallback = (
  linkType: number, data: Buffer, capturedLength: number, wireLength: number, timeMs: number, ifIndex: number,
) => boolean | void;

/**
 * Called once per packet record, without a view of the record: the captured bytes are
 * `buf[offset … offset + capturedLength)`, where `buf` is the reader's current buffer (valid only
 * during the call), and the packet time (epoch ms, as `timeMs` of {@link PacketCallback}) is
 * `time[0]`. The allocation-free form of {@link PacketCallback}: no `Buffer` view per packet, and
 * no heap number for the time (a double passed as an argument to a call that V8 does not inline is
 * boxed). Pass them on to `PacketBatchBuilder.addAt(linkType, buf, offset, capturedLength,
 * wireLength, time[0], ifIndex)`. Other parameters and the return value as in {@link PacketCallback}.
 */
export type PacketAtCallback = (
  linkType: number, buf: Buffer, offset: number, capturedLength: number, wireLength: number, time: Float64Array, ifIndex: number,
) => boolean | void;

/** Callbacks and limits of a {@link CaptureFileParser}. Exactly one of `onPacket` and `onPacketAt` is required. */
export interface CaptureFileParserOptions {
  /** One call per packet record, with a view (`subarray`) of its bytes. */
  onPacket?: PacketCallback;
  /** One call per packet record, with the reader's buffer and the record's offset in it (no allocation per packet). Used instead of `onPacket` when given. */
  onPacketAt?: PacketAtCallback;
  /** A problem the reader survives (truncated file, unknown interface id…): a sentence naming the byte offset. */
  onWarning?: (message: string) => void;
  /** A problem that stops the reader (unknown magic, corrupt record); packets before it were delivered. */
  onError?: (message: string) => void;
}

interface Interface { linkType: number; snapLength: number; unitsPerSecond: number; binaryResolution: boolean; offsetMs: number }

/**
 * Incremental pcap/pcapng parser.
 *
 * Usage: `push(chunk)` as bytes arrive, then `end()` once. Records split across chunks are handled:
 * only the unconsumed tail is kept between pushes. Nothing is thrown for bad input; problems go to
 * `onWarning` / `onError` and the counters below.
 *
 * Time policy:
 * - classic pcap µs fields ≥ 1,000,000 (out of range) are carried into the seconds and counted in
 *   {@link timeNormalized};
 * - nanosecond times (pcap `a1b23c4d`, pcapng `if_tsresol` finer than µs) are rounded to the µs;
 * - pcapng `if_tsoffset` (option 14, seconds) is added to the interface's times;
 * - a time earlier than the latest so far by at most {@link MAX_CLAMPED_BACK_STEP_MS} (60 s) is
 *   clamped to that latest time and counted in {@link timeClamped} (windows downstream assume
 *   non-decreasing time);
 * - a time earlier than the latest so far by more than that starts a new time epoch: it is delivered
 *   as it is, counted in {@link timeEpochs}, and becomes the latest time (the caller ends its batch
 *   there, see `replayCaptureFile`);
 * - forward jumps of any size are left as they are;
 * - a pcapng Simple Packet Block has no time: it gets the previous packet's time.
 *
 * Errors (reader stops, {@link failed} set): unknown magic → "not a pcap or pcapng file (magic 0x…)";
 * captured length > {@link MAX_RECORD_BYTES} or pcapng block length invalid → "corrupt record at byte N".
 * A file that ends inside a record → warning "capture truncated at byte N: last record incomplete" and
 * {@link truncated} set; the packets before it were delivered.
 */
export class CaptureFileParser {
  /** Format detected from the magic number; `null` until the first 4 bytes arrived. */
  format: CaptureFormat | null = null;
  /** Packet records delivered (consumed by `onPacket`). */
  packets = 0;
  /** Packet times clamped because they went backwards by at most {@link MAX_CLAMPED_BACK_STEP_MS}. */
  timeClamped = 0;
  /** Packet times that went backwards by more than {@link MAX_CLAMPED_BACK_STEP_MS}: each started a new time epoch. */
  timeEpochs = 0;
  /** Classic pcap records whose µs field was ≥ 1,000,000 and was carried into the seconds. */
  timeNormalized = 0;
  /** True once the input ended inside a record (or inside the file header). */
  truncated = false;
  /** Set when the reader stopped on an error: the message. */
  error: string | undefined = undefined;
  /** Problems survived, in order. */
  readonly warnings: string[] = [];
  /**
   * LINKTYPE_* numbers (tcpdump.org/linktypes.html) the file declares, distinct, in file order: the
   * classic pcap header's, or those of the pcapng interfaces (Interface Description Blocks) read so far.
   */
  readonly linkTypes: number[] = [];

  private readonly opts: CaptureFileParserOptions;
  private pending: Buffer = Buffer.alloc(0);
  /** Absolute file offset of `pending[0]`. */
  private base = 0;
  private ended = false;
  private headerDone = false;
  private littleEndian = true;
  // classic pcap
  private pcapLinkType = 0;
  private pcapSnapLength = 0;
  private nanoseconds = false;
  // pcapng
  private interfaces: Interface[] = [];
  private unknownInterfaceWarned = false;
  private lastTimeMs = -Infinity;
  /** The time handed to `onPacketAt` (see {@link PacketAtCallback}). */
  private readonly time = new Float64Array(1);

  /**
   * @throws {TypeError} when neither `onPacket` nor `onPacketAt` is a function.
   */
  constructor(options: CaptureFileParserOptions) {
    if (typeof options.onPacketAt !== 'function' && typeof options.onPacket !== 'function') throw new TypeError('CaptureFileParser needs an onPacket or onPacketAt callback');
    this.opts = options;
  }

  /** Delivers one record (pcapng paths): through `onPacketAt`, or a view of it through `onPacket`. */
  private deliver(linkType: number, buf: Buffer, offset: number, capLen: number, wireLen: number, t: number, ifIndex: number): boolean | void {
    const at = this.opts.onPacketAt;
    if (at !== undefined) { this.time[0] = t; return at(linkType, buf, offset, capLen, wireLen, this.time, ifIndex); }
    return this.opts.onPacket!(linkType, buf.subarray(offset, offset + capLen), capLen, wireLen, t, ifIndex);
  }

  /** True once the reader stopped on an error. */
  get failed(): boolean {
    return this.error !== undefined;
  }

  /** File offset up to which bytes were consumed (bytes). */
  get bytesConsumed(): number {
    return this.base;
  }

  /**
   * Feeds the next bytes of the file and parses every complete record.
   * @returns `true` when all complete records were consumed, `false` when `onPacket` paused (call
   *   {@link resume} later).
   */
  push(chunk: Buffer): boolean {
    if (this.failed || this.ended) return true;
    if (chunk.length > 0) this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    return this.parse();
  }

  /** Continues after `onPacket` paused. Same result as {@link push}. */
  resume(): boolean {
    if (this.failed) return true;
    return this.parse();
  }

  /**
   * Marks the end of the input. Bytes left over (a record cut short) produce the truncation warning;
   * an input with no bytes at all is an error. Call after `push`/`resume` returned `true`.
   */
  end(): void {
    if (this.ended || this.failed) { this.ended = true; return; }
    this.ended = true;
    if (this.base === 0 && this.pending.length === 0) {
      this.fail('not a pcap or pcapng file (the file is empty)');
      return;
    }
    if (this.pending.length > 0) {
      if (!this.headerDone && this.format === null) {
        this.fail(`not a pcap or pcapng file (only ${this.pending.length} bytes)`);
        return;
      }
      const buf = this.pending;
      if (this.format !== 'pcapng' && this.headerDone && buf.length >= 16) {
        // a complete record header whose captured length exceeds the file's snap length and what is
        // left of the file is garbage, not a record cut short
        const capLen = this.littleEndian ? buf.readUInt32LE(8) : buf.readUInt32BE(8);
        if (this.pcapSnapLength > 0 && capLen > this.pcapSnapLength) {
          this.fail(`corrupt record at byte ${this.base}: captured length ${capLen} exceeds the snap length ${this.pcapSnapLength} and the rest of the file`);
          return;
        }
      }
      this.truncated = true;
      this.warn(`capture truncated at byte ${this.base}: last record incomplete`);
      this.pending = Buffer.alloc(0);
    }
  }

  private warn(message: string): void {
    this.warnings.push(message);
    this.opts.onWarning?.(message);
  }

  private fail(message: string): void {
    this.error = message;
    this.pending = Buffer.alloc(0);
    this.opts.onError?.(message);
  }


  private parse(): boolean {
    const buf = this.pending;
    let pos = 0;
    let paused = false;
    if (!this.headerDone) {
      if (buf.length < 4) return true;
      if (this.format === null && !this.detect(buf)) return true;
      if (this.format !== 'pcapng') {
        if (buf.length < 24) return true;
        const le = this.littleEndian;
        this.pcapSnapLength = le ? buf.readUInt32LE(16) : buf.readUInt32BE(16);
        // link type: low 16 bits of `network`; the upper bits carry FCS information (draft-ietf-opsawg-pcap §4)
        this.pcapLinkType = (le ? buf.readUInt32LE(20) : buf.readUInt32BE(20)) & 0xffff;
        this.noteLinkType(this.pcapLinkType);
        pos = 24;
      }
      this.headerDone = true;
    }
    if (this.format === 'pcapng') {
      const r = this.parsePcapng(buf, pos);
      pos = r.pos; paused = r.paused;
    } else {
      const r = this.parsePcap(buf, pos);
      pos = r.pos; paused = r.paused;
    }
    if (this.failed) return true;
    this.base += pos;
    this.pending = pos >= buf.length ? Buffer.alloc(0) : buf.subarray(pos);
    return !paused;
  }

  /** Sets the format from the first 4 bytes; false after failing on an unknown magic. */
  private detect(buf: Buffer): boolean {
    const be = buf.readUInt32BE(0);
    switch (be) {
      case 0xa1b2c3d4: this.format = 'pcap'; this.littleEndian = false; return true;
      case 0xd4c3b2a1: this.format = 'pcap'; this.littleEndian = true; return true;
      case 0xa1b23c4d: this.format = 'pcap-ns'; this.nanoseconds = true; this.littleEndian = false; return true;
      case 0x4d3cb2a1: this.format = 'pcap-ns'; this.nanoseconds = true; this.littleEndian = true; return true;
      case 0x0a0d0d0a: this.format = 'pcapng'; return true;
      default:
        this.fail(`not a pcap or pcapng file (magic 0x${be.toString(16).padStart(8, '0')})`);
        return false;
    }
  }

  private parsePcap(buf: Buffer, start: number): { pos: number; paused: boolean } {
    const le = this.littleEndian;
    const onPacket = this.opts.onPacket;
    const onPacketAt = this.opts.onPacketAt;
    const time = this.time;
    const linkType = this.pcapLinkType;
    let pos = start;
    while (buf.length - pos >= 16) {
      const sec = le ? buf.readUInt32LE(pos) : buf.readUInt32BE(pos);
      const frac = le ? buf.readUInt32LE(pos + 4) : buf.readUInt32BE(pos + 4);
      const capLen = le ? buf.readUInt32LE(pos + 8) : buf.readUInt32BE(pos + 8);
      const wireLen = le ? buf.readUInt32LE(pos + 12) : buf.readUInt32BE(pos + 12);
      if (capLen > MAX_RECORD_BYTES) {
        this.fail(`corrupt record at byte ${this.base + pos}: captured length ${capLen} exceeds ${MAX_RECORD_BYTES} bytes`);
        return { pos, paused: false };
      }
      if (buf.length - pos - 16 < capLen) break;
      let timeMs: number;
      if (this.nanoseconds) {
        timeMs = sec * 1000 + Math.round(frac / 1000) / 1000;
      } else {
        if (frac >= 1_000_000) this.timeNormalized++;
        timeMs = sec * 1000 + frac / 1000; // a µs field ≥ 1e6 carries into the seconds here
      }
      const last = this.lastTimeMs;
      const t = timeMs < last && last - timeMs <= MAX_CLAMPED_BACK_STEP_MS ? last : timeMs;
      if (onPacketAt !== undefined) {
        time[0] = t;
        if (onPacketAt(linkType, buf, pos + 16, capLen, wireLen, time, 0) === false) return { pos, paused: true };
      } else if (onPacket!(linkType, buf.subarray(pos + 16, pos + 16 + capLen), capLen, wireLen, t, 0) === false) {
        return { pos, paused: true };
      }
      // clampTime(timeMs), written out: a double passed to a call V8 does not inline is boxed (a heap number per packet)
      if (timeMs >= last) this.lastTimeMs = timeMs;
      else if (last - timeMs <= MAX_CLAMPED_BACK_STEP_MS) this.timeClamped++;
      else { this.timeEpochs++; this.lastTimeMs = timeMs; }
      this.packets++;
      pos += 16 + capLen;
    }
    return { pos, paused: false };
  }

  private parsePcapng(buf: Buffer, start: number): { pos: number; paused: boolean } {
    let pos = start;
    while (buf.length - pos >= 12) {
      const blockType = this.readU32(buf, pos);
      if (blockType === 0x0a0d0d0a) {
        // Section Header Block: the byte-order magic decides the endianness of the whole section
        const bom = buf.readUInt32BE(pos + 8);
        if (bom === 0x1a2b3c4d) this.littleEndian = false;
        else if (bom === 0x4d3c2b1a) this.littleEndian = true;
        else {
          this.fail(`corrupt record at byte ${this.base + pos}: pcapng section header has byte-order magic 0x${bom.toString(16)}`);
          return { pos, paused: false };
        }
      }
      const total = this.readU32(buf, pos + 4);
      if (total < 12 || total % 4 !== 0 || total > MAX_PCAPNG_BLOCK_BYTES) {
        this.fail(`corrupt record at byte ${this.base + pos}: pcapng block length ${total} is invalid`);
        return { pos, paused: false };
      }
      if (buf.length - pos < total) break;
      switch (blockType) {
        case 0x0a0d0d0a: // SHB: a new section, interface ids restart
          this.interfaces = [];
          break;
        case 0x00000001: // IDB
          if (total < 20) {
            this.fail(`corrupt record at byte ${this.base + pos}: interface description block of ${total} bytes`);
            return { pos, paused: false };
          }
          this.interfaces.push(this.readInterface(buf, pos, total));
          this.noteLinkType(this.interfaces[this.interfaces.length - 1]!.linkType);
          break;
        case 0x00000006: // EPB
        case 0x00000002: { // obsolete Packet Block: same layout, u16 interface id + u16 drops count
          if (total < 32) {
            this.fail(`corrupt record at byte ${this.base + pos}: packet block of ${total} bytes`);
            return { pos, paused: false };
          }
          const ifId = blockType === 6 ? this.readU32(buf, pos + 8) : this.readU16(buf, pos + 8);
          const high = this.readU32(buf, pos + 12);
          const low = this.readU32(buf, pos + 16);
          const capLen = this.readU32(buf, pos + 20);
          const wireLen = this.readU32(buf, pos + 24);
          if (capLen > MAX_RECORD_BYTES || 28 + capLen > total - 4) {
            this.fail(`corrupt record at byte ${this.base + pos}: captured length ${capLen} does not fit its block of ${total} bytes`);
            return { pos, paused: false };
          }
          const iface = this.interfaces[ifId];
          if (iface === undefined) {
            this.unknownInterface(pos, ifId);
            break;
          }
          // timestamp in units of if_tsresol since 1970 (+ if_tsoffset seconds)
          const ms = (high * 4294967296 + low) / iface.unitsPerSecond * 1000 + iface.offsetMs;
          const timeMs = Math.round(ms * 1000) / 1000;
          const last = this.lastTimeMs;
          const t = timeMs < last && last - timeMs <= MAX_CLAMPED_BACK_STEP_MS ? last : timeMs;
          if (this.deliver(iface.linkType, buf, pos + 28, capLen, wireLen, t, ifId) === false) return { pos, paused: true };
          // clampTime(timeMs), written out (see parsePcap)
          if (timeMs >= last) this.lastTimeMs = timeMs;
          else if (last - timeMs <= MAX_CLAMPED_BACK_STEP_MS) this.timeClamped++;
          else { this.timeEpochs++; this.lastTimeMs = timeMs; }
          this.packets++;
          break;
        }
        case 0x00000003: { // SPB: interface 0, no timestamp, captured = min(orig_len, snaplen, block room)
          const iface = this.interfaces[0];
          if (iface === undefined) { this.unknownInterface(pos, 0); break; }
          const wireLen = this.readU32(buf, pos + 8);
          let capLen = Math.min(wireLen, total - 16);
          if (iface.snapLength > 0) capLen = Math.min(capLen, iface.snapLength);
          const t = this.lastTimeMs === -Infinity ? 0 : this.lastTimeMs;
          if (this.deliver(iface.linkType, buf, pos + 12, capLen, wireLen, t, 0) === false) return { pos, paused: true };
          this.lastTimeMs = t;
          this.packets++;
          break;
        }
        default: // NRB, ISB, DSB, custom blocks…: skipped
          break;
      }
      pos += total;
    }
    return { pos, paused: false };
  }

  private noteLinkType(linkType: number): void {
    if (!this.linkTypes.includes(linkType)) this.linkTypes.push(linkType);
  }

  private unknownInterface(pos: number, ifId: number): void {
    if (!this.unknownInterfaceWarned) {
      this.unknownInterfaceWarned = true;
      this.warn(`packet block at byte ${this.base + pos} names interface ${ifId}, which the section does not describe: skipped (further ones skipped silently)`);
    }
  }

  private readInterface(buf: Buffer, pos: number, total: number): Interface {
    const iface: Interface = {
      linkType: this.readU16(buf, pos + 8),
      snapLength: this.readU32(buf, pos + 12),
      unitsPerSecond: 1e6,
      binaryResolution: false,
      offsetMs: 0,
    };
    let o = pos + 16;
    const endOpts = pos + total - 4;
    while (o + 4 <= endOpts) {
      const code = this.readU16(buf, o);
      const len = this.readU16(buf, o + 2);
      if (code === 0) break;
      const v = o + 4;
      if (v + len > endOpts) break;
      if (code === 9 && len >= 1) {
        // if_tsresol: MSB clear → 10^-n s, MSB set → 2^-n s (draft-ietf-opsawg-pcapng §4.2)
        const r = buf[v]!;
        const n = r & 0x7f;
        iface.binaryResolution = (r & 0x80) !== 0;
        iface.unitsPerSecond = iface.binaryResolution ? 2 ** n : 10 ** n;
      } else if (code === 14 && len >= 8) {
        // if_tsoffset: signed 64-bit seconds added to every timestamp
        const hi = this.littleEndian ? buf.readInt32LE(v + 4) : buf.readInt32BE(v);
        const lo = this.littleEndian ? buf.readUInt32LE(v) : buf.readUInt32BE(v + 4);
        iface.offsetMs = (hi * 4294967296 + lo) * 1000;
      }
      o = v + ((len + 3) & ~3);
    }
    return iface;
  }

  private readU32(buf: Buffer, o: number): number {
    return this.littleEndian ? buf.readUInt32LE(o) : buf.readUInt32BE(o);
  }

  private readU16(buf: Buffer, o: number): number {
    return this.littleEndian ? buf.readUInt16LE(o) : buf.readUInt16BE(o);
  }
}
