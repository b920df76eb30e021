/**
 * The demo capture shipped with the package (`examples/demo-scan-and-flood.pcap`), written
 * at build time by a seeded generator so that it is ours to redistribute and the same on every
 * machine.
 *
 * Nine minutes of a small office network 192.168.10.0/24, captured with a 96-byte snap length:
 * - background all along: ten clients open short HTTP connections (three-way handshake, a request,
 *   a response, FIN exchange) to the web server 192.168.10.5:80 and query the DNS resolver
 *   192.168.10.1:53;
 * - {@link DEMO_GROUND_TRUTH}.portScan: at 5 min, 192.168.10.66 sends SYNs to ports 1–1024 of the
 *   NAS 192.168.10.40 within 8 s (it answers RST-ACK on closed ports);
 * - {@link DEMO_GROUND_TRUTH}.synFlood: at 8 min, 10 s of spoofed SYNs to 192.168.10.5:80, 1,000 per second,
 *   each from a random source in 203.0.113.0/24 and 198.51.100.0/24 (TEST-NET-3/-2, RFC 5737).
 */
import { writeFileSync, mkdirSync } from 'fs';
import { dirname } from 'path';
import { PcapWriter } from './pcap-writer';
import { tcpFrame, udpFrame } from './packet-builder';
import { SeededRandom } from './random';

const SYN = 0x02, ACK = 0x10, FIN = 0x01, RST = 0x04, PSH = 0x08;

/** When and what the demo capture holds; times are epoch ms. */
export const DEMO_GROUND_TRUTH = {
  startMs: Date.UTC(2026, 0, 15, 10, 0, 0),
  durationMs: 9 * 60_000,
  webServer: '192.168.10.5',
  dnsServer: '192.168.10.1',
  portScan: { scanner: '192.168.10.66', target: '192.168.10.40', firstPort: 1, lastPort: 1024, startOffsetMs: 5 * 60_000, durationMs: 8_000 },
  synFlood: { victim: '192.168.10.5', port: 80, startOffsetMs: 8 * 60_000, durationMs: 10_000, synPerSecond: 1000 },
} as const;

interface Frame {
  timeMs: number;
  frame: Buffer;
}

/**
 * Generates the demo capture.
 * @param seed PRNG seed; the shipped file uses the default.
 * @returns the pcap file bytes (classic pcap, µs, Ethernet, snap length 96).
 */
export function generateDemoCapture(seed = 20260115): Buffer {
  const rnd = new SeededRandom(seed);
  const t0 = DEMO_GROUND_TRUTH.startMs;
  const end = t0 + DEMO_GROUND_TRUTH.durationMs;
  const frames: Frame[] = [];
  const clients = Array.from({ length: 10 }, (_, i) => `192.168.10.${20 + i}`);
  const server = DEMO_GROUND_TRUTH.webServer;
  let ipId = 1;
  const add = (timeMs: number, frame: Buffer) => frames.push({ timeMs, frame });

  // Background: HTTP connections, about 1.5 per second in all.
  for (let t = t0 + rnd.exponential(650); t < end; t += rnd.exponential(650)) {
    const client = rnd.pick(clients);
    const sport = rnd.int(32768, 60999);
    const rtt = 0.4 + rnd.next() * 1.2; // ms on a LAN
    const c = { src: client, dst: server };
    const s = { src: server, dst: client };
    let cseq = rnd.int(0, 0xfffffff), sseq = rnd.int(0, 0xfffffff);
    const reqLen = rnd.int(200, 600), respLen = rnd.int(500, 1400);
    let at = t;
    add(at, tcpFrame({ ...c, id: ipId++ }, { srcPort: sport, dstPort: 80, seq: cseq, ack: 0, flags: SYN }));
    add((at += rtt), tcpFrame({ ...s, id: ipId++ }, { srcPort: 80, dstPort: sport, seq: sseq, ack: cseq + 1, flags: SYN | ACK }));
    cseq += 1; sseq += 1;
    add((at += 0.05), tcpFrame({ ...c, id: ipId++ }, { srcPort: sport, dstPort: 80, seq: cseq, ack: sseq, flags: ACK }));
    add((at += 0.1), tcpFrame({ ...c, id: ipId++ }, { srcPort: sport, dstPort: 80, seq: cseq, ack: sseq, flags: PSH | ACK, payloadLength: reqLen }));
    cseq += reqLen;
    add((at += rtt + 2 + rnd.next() * 20), tcpFrame({ ...s, id: ipId++ }, { srcPort: 80, dstPort: sport, seq: sseq, ack: cseq, flags: PSH | ACK, payloadLength: respLen }));
    sseq += respLen;
    add((at += 0.05), tcpFrame({ ...c, id: ipId++ }, { srcPort: sport, dstPort: 80, seq: cseq, ack: sseq, flags: FIN | ACK }));
    add((at += rtt), tcpFrame({ ...s, id: ipId++ }, { srcPort: 80, dstPort: sport, seq: sseq, ack: cseq + 1, flags: FIN | ACK }));
    add((at += 0.05), tcpFrame({ ...c, id: ipId++ }, { srcPort: sport, dstPort: 80, seq: cseq + 1, ack: sseq + 1, flags: ACK }));
  }

  // Background: DNS queries, about one every 2 s.
  for (let t = t0 + rnd.exponential(2000); t < end; t += rnd.exponential(2000)) {
    const client = rnd.pick(clients);
    const sport = rnd.int(32768, 60999);
    add(t, udpFrame({ src: client, dst: DEMO_GROUND_TRUTH.dnsServer, id: ipId++ }, sport, 53, rnd.int(28, 60)));
    add(t + 1 + rnd.next() * 30, udpFrame({ src: DEMO_GROUND_TRUTH.dnsServer, dst: client, id: ipId++ }, 53, sport, rnd.int(60, 300)));
  }

  // Port scan: SYN to each port, RST-ACK back (every port closed).
  const scan = DEMO_GROUND_TRUTH.portScan;
  const ports = scan.lastPort - scan.firstPort + 1;
  for (let i = 0; i < ports; i++) {
    const at = t0 + scan.startOffsetMs + (i * scan.durationMs) / ports;
    const port = scan.firstPort + i;
    const seq = rnd.int(0, 0xfffffff);
    add(at, tcpFrame({ src: scan.scanner, dst: scan.target, id: ipId++ }, { srcPort: 51515, dstPort: port, seq, ack: 0, flags: SYN, window: 1024 }));
    add(at + 0.3, tcpFrame({ src: scan.target, dst: scan.scanner, id: ipId++ }, { srcPort: port, dstPort: 51515, seq: 0, ack: seq + 1, flags: RST | ACK, window: 0 }));
  }

  // SYN flood from spoofed sources.
  const flood = DEMO_GROUND_TRUTH.synFlood;
  const floodPackets = (flood.durationMs / 1000) * flood.synPerSecond;
  for (let i = 0; i < floodPackets; i++) {
    const at = t0 + flood.startOffsetMs + (i * flood.durationMs) / floodPackets;
    const src = `${rnd.next() < 0.5 ? '203.0.113' : '198.51.100'}.${rnd.int(1, 254)}`;
    add(at, tcpFrame({ src, dst: flood.victim, id: rnd.int(0, 0xffff), ttl: rnd.int(40, 250) }, { srcPort: rnd.int(1024, 65535), dstPort: flood.port, seq: rnd.int(0, 0x7fffffff), ack: 0, flags: SYN }));
  }

  frames.sort((a, b) => a.timeMs - b.timeMs);
  const writer = new PcapWriter(96);
  for (const f of frames) writer.write(f.timeMs, f.frame);
  return writer.toBuffer();
}

/** Writes {@link generateDemoCapture}'s output to `path`, creating its folder. */
export function writeDemoCapture(path: string, seed?: number): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, generateDemoCapture(seed));
}
