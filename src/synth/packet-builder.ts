/**
 * Builds Ethernet/IPv4 frames carrying TCP, UDP or ICMP, with correct IPv4 header checksums
 * (RFC 791 §3.1, RFC 1071) and transport checksums over the pseudo-header (RFC 9293 §3.1, RFC 768).
 * For the synthetic traffic generators and tests; not used on the product's path.
 */

/** Parses a dotted-quad IPv4 address into 4 bytes. @throws {RangeError} on anything else. */
export function ipv4Bytes(address: string): Buffer {
  const parts = address.split('.');
  const bytes = parts.map((p) => Number(p));
  if (parts.length !== 4 || bytes.some((b, i) => !/^\d{1,3}$/.test(parts[i]!) || b > 255)) throw new RangeError(`not an IPv4 address: ${address}`);
  return Buffer.from(bytes);
}

/** One's-complement sum of 16-bit words (RFC 1071), not yet inverted. */
function onesComplementSum(buffers: Buffer[]): number {
  let sum = 0;
  for (const b of buffers) {
    for (let i = 0; i + 1 < b.length; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
    if (b.length % 2 === 1) sum += b[b.length - 1]! << 8;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** Internet checksum (RFC 1071) of the concatenation of `buffers` (each of even length but the last). */
export function internetChecksum(buffers: Buffer[]): number {
  return ~onesComplementSum(buffers) & 0xffff;
}

/** Fields of an IPv4 packet to build. */
export interface Ipv4Fields {
  src: string;
  dst: string;
  /** IP protocol number (6 TCP, 17 UDP, 1 ICMP). */
  protocol: number;
  ttl?: number;
  id?: number;
}

/** TCP segment fields. */
export interface TcpFields {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** Flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, ECE 0x40, CWR 0x80). */
  flags: number;
  window?: number;
  /** Payload length in bytes (filled with a repeating pattern). */
  payloadLength?: number;
}

const ETHERTYPE_IPV4 = 0x0800;

/** Locally administered MAC addresses derived from the last IPv4 byte, so frames look plausible. */
function macFor(ip: Buffer): Buffer {
  return Buffer.from([0x02, 0x00, 0x5e, ip[1]!, ip[2]!, ip[3]!]);
}

function ethernetIpv4(fields: Ipv4Fields, transport: Buffer): Buffer {
  const src = ipv4Bytes(fields.src);
  const dst = ipv4Bytes(fields.dst);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + transport.length, 2);
  ip.writeUInt16BE((fields.id ?? 0) & 0xffff, 4);
  ip.writeUInt16BE(0x4000, 6); // don't fragment
  ip[8] = fields.ttl ?? 64;
  ip[9] = fields.protocol;
  src.copy(ip, 12);
  dst.copy(ip, 16);
  ip.writeUInt16BE(internetChecksum([ip]), 10);
  if (fields.protocol === 6 || fields.protocol === 17) {
    const pseudo = Buffer.alloc(12);
    src.copy(pseudo, 0);
    dst.copy(pseudo, 4);
    pseudo[9] = fields.protocol;
    pseudo.writeUInt16BE(transport.length, 10);
    const offset = fields.protocol === 6 ? 16 : 6;
    transport.writeUInt16BE(0, offset);
    let sum = internetChecksum([pseudo, transport]);
    if (fields.protocol === 17 && sum === 0) sum = 0xffff; // RFC 768: 0 means "no checksum"
    transport.writeUInt16BE(sum, offset);
  }
  const eth = Buffer.alloc(14);
  macFor(dst).copy(eth, 0);
  macFor(src).copy(eth, 6);
  eth.writeUInt16BE(ETHERTYPE_IPV4, 12);
  return Buffer.concat([eth, ip, transport]);
}

function payload(length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = 0x41 + (i % 26);
  return b;
}

/** An Ethernet frame with an IPv4 TCP segment (20-byte TCP header, no options). */
export function tcpFrame(ip: Omit<Ipv4Fields, 'protocol'>, tcp: TcpFields): Buffer {
  const body = payload(tcp.payloadLength ?? 0);
  const seg = Buffer.alloc(20 + body.length);
  seg.writeUInt16BE(tcp.srcPort, 0);
  seg.writeUInt16BE(tcp.dstPort, 2);
  seg.writeUInt32BE(tcp.seq >>> 0, 4);
  seg.writeUInt32BE(tcp.ack >>> 0, 8);
  seg[12] = 5 << 4;
  seg[13] = tcp.flags & 0xff;
  seg.writeUInt16BE(tcp.window ?? 64240, 14);
  body.copy(seg, 20);
  return ethernetIpv4({ ...ip, protocol: 6 }, seg);
}

/** An Ethernet frame with an IPv4 UDP datagram. */
export function udpFrame(ip: Omit<Ipv4Fields, 'protocol'>, srcPort: number, dstPort: number, payloadLength: number): Buffer {
  const dgram = Buffer.alloc(8 + payloadLength);
  dgram.writeUInt16BE(srcPort, 0);
  dgram.writeUInt16BE(dstPort, 2);
  dgram.writeUInt16BE(8 + payloadLength, 4);
  payload(payloadLength).copy(dgram, 8);
  return ethernetIpv4({ ...ip, protocol: 17 }, dgram);
}

/** An Ethernet frame with an ICMP echo request (type 8) or reply (type 0). */
export function icmpEchoFrame(ip: Omit<Ipv4Fields, 'protocol'>, type: 0 | 8, id: number, seq: number, payloadLength = 32): Buffer {
  const msg = Buffer.alloc(8 + payloadLength);
  msg[0] = type;
  msg.writeUInt16BE(id, 4);
  msg.writeUInt16BE(seq, 6);
  payload(payloadLength).copy(msg, 8);
  msg.writeUInt16BE(internetChecksum([msg]), 2);
  return ethernetIpv4({ ...ip, protocol: 1 }, msg);
}
