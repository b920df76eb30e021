/**
 * Writes classic libpcap files (little-endian, microsecond timestamps), the format described in
 * draft-ietf-opsawg-pcap ("PCAP Capture File Format"). Used by the project's synthetic traffic
 * generators; the product itself only reads captures.
 */

/** Link types used by the generators (tcpdump.org/linktypes.html). */
export const LINKTYPE_ETHERNET = 1;

/** In-memory pcap writer: append frames, then take the bytes with {@link PcapWriter.toBuffer}. */
export class PcapWriter {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  /**
   * @param snapLength bytes of each frame that are stored (the rest is counted in the record's
   *   original length only, as `tcpdump -s` does); 1 … 262144.
   * @param linkType link type of every frame (default Ethernet).
   */
  constructor(readonly snapLength = 262144, readonly linkType = LINKTYPE_ETHERNET) {
    if (!Number.isInteger(snapLength) || snapLength < 1 || snapLength > 262144) throw new RangeError(`snapLength must be 1…262144, got ${snapLength}`);
    const header = Buffer.alloc(24);
    header.writeUInt32LE(0xa1b2c3d4, 0); // magic: µs resolution
    header.writeUInt16LE(2, 4); // version 2.4
    header.writeUInt16LE(4, 6);
    header.writeInt32LE(0, 8); // thiszone
    header.writeUInt32LE(0, 12); // sigfigs
    header.writeUInt32LE(snapLength, 16);
    header.writeUInt32LE(linkType, 20);
    this.push(header);
  }

  /**
   * Appends one frame.
   * @param timeMs packet time, epoch ms (sub-ms part kept to the µs).
   * @param frame the whole frame as it was on the wire; it is cut to the snap length when stored.
   */
  write(timeMs: number, frame: Buffer): void {
    if (!Number.isFinite(timeMs) || timeMs < 0) throw new RangeError(`timeMs must be a finite epoch ms ≥ 0, got ${timeMs}`);
    const captured = Math.min(frame.length, this.snapLength);
    const record = Buffer.alloc(16);
    const totalUs = Math.round(timeMs * 1000);
    record.writeUInt32LE(Math.floor(totalUs / 1e6), 0);
    record.writeUInt32LE(totalUs % 1e6, 4);
    record.writeUInt32LE(captured, 8);
    record.writeUInt32LE(frame.length, 12);
    this.push(record);
    this.push(captured === frame.length ? frame : frame.subarray(0, captured));
  }

  /** Bytes written so far. */
  get byteLength(): number {
    return this.size;
  }

  /** The whole file. */
  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }

  private push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
  }
}
