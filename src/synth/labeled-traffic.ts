/**
 * Labeled traffic generator for measuring detection quality (issue #6, "Detection quality,
 * measured"): seeded hours of packet time of a small network, with malicious events and benign
 * look-alikes injected at known times, written as a pcap file plus a ground-truth document that says,
 * for each event, what it is, when it starts and ends, which hosts it involves and on which record
 * keys an alert is expected.
 *
 * The network (`10.1.0.0/24`, IPv6 `2001:db8:10::/64`; external hosts from the documentation ranges
 * of RFC 5737 and RFC 3849 and from ordinary public space for spoofed and reflector sources):
 * - servers: DNS and NTP resolver 10.1.0.2 (forwards a third of the queries to 9.9.9.9), monitoring
 *   10.1.0.3 (pings the servers every 30 s), web server 10.1.0.5 (intranet HTTP on 80, public HTTPS
 *   on 443 for external visitors), backup server 10.1.0.6, file server 10.1.0.7 (SMB 445);
 * - `clients` (default 30) workstations from 10.1.0.20 on; every fourth also has an IPv6 address and
 *   makes a fifth of its web sessions over IPv6 to external IPv6 servers;
 * - background per client: on/off activity (exponential on and off periods: bursts of browsing),
 *   while on a Poisson stream of sessions at a rate scaled by a diurnal curve (night 12 % of the day
 *   rate, rising from 05:30 to full at 08:30, falling after 17:00 to night at 20:00, UTC); a session is
 *   a DNS query and answer, then a TCP connection (three-way handshake, request, a lognormal response
 *   in 1,448-byte segments acknowledged every second segment, FIN exchange) to an external web server
 *   (a Zipf-like popularity over 40 servers), the intranet server or the file server; hourly NTP.
 *   At the default scale: 15–35 packets/s aggregate at night, 250–370 in daytime (measured over 04–18 h
 *   UTC, seed 1), about 5 % of the packets IPv6. The default capture, 05:00–08:00, spans the morning rise.
 *
 * Events ({@link EVENT_KINDS}), placed one after another after a warm-up (default 20 min) with seeded
 * gaps, each with seeded parameters (rates, victims) recorded in the ground truth:
 * malicious `syn-flood` (spoofed sources), `udp-amplification` (DNS or NTP reflector source port),
 * `icmp-flood`, `vertical-scan` (one source, 1,024 ports of one host), `horizontal-scan` (one external
 * source, port 22 of every address of the /24), `exfiltration` (large upload to an external host
 * never contacted before), `lateral-movement` (one workstation opening SMB/RPC/RDP to most internal
 * hosts), `slow-ramp` (UDP volume to a server growing linearly over 20+ minutes); benign
 * `nightly-backup` (clients upload to the backup server), `software-update` (every client downloads
 * from one update server within a few minutes), `video-call` (a long two-way UDP media flow).
 *
 * Deterministic: the same options give the same bytes (one {@link SeededRandom} drawn in a fixed
 * order).
 */
import { mkdirSync, writeFileSync } from 'fs';
import { dirname } from 'path';
import { SeededRandom } from './random';
import { PROTO, StreamingPcapWriter, TCP, frameAddress, type SynthPacket } from './frames';

/** Changes whenever the same options would give different bytes (captures cached by `bench/quality.js` are regenerated). */
export const GENERATOR_VERSION = 2;

/** Kinds of injected events, in the order they are placed in the capture. */
export const EVENT_KINDS = [
  'nightly-backup', 'vertical-scan', 'udp-amplification', 'horizontal-scan', 'software-update',
  'syn-flood', 'icmp-flood', 'video-call', 'lateral-movement', 'exfiltration', 'slow-ramp',
] as const;

/** One of {@link EVENT_KINDS}. */
export type EventKind = typeof EVENT_KINDS[number];

/** Kinds that are attacks (the rest are benign look-alikes). */
export const MALICIOUS_KINDS: readonly EventKind[] = ['syn-flood', 'udp-amplification', 'icmp-flood', 'vertical-scan', 'horizontal-scan', 'exfiltration', 'lateral-movement', 'slow-ramp'];

/** One injected event as the ground truth records it. Times are packet time, epoch ms. */
export interface TruthEvent {
  /** `<kind>-<n>`, unique in the document. */
  id: string;
  kind: EventKind;
  malicious: boolean;
  /** Time of the event's first packet. */
  startMs: number;
  /** Time of its last packet. */
  endMs: number;
  /** Addresses involved that an alert may name (victims, attackers, the exfiltration target, the backup server…); spoofed or reflector sources are counted in `params`, not listed. */
  hosts: string[];
  /** Record keys (`dst 10.1.0.5`, `src 10.1.0.31`) on which an alert is expected for an attack (any one of them counts as detection), or, for a benign event, on which a naive detector would alert. */
  alertKeys: string[];
  /** Packets the event added to the capture. */
  packets: number;
  /** Seeded parameters (rates in packet/s or bit/s, ports, counts). */
  params: Record<string, number | string>;
  /** One sentence. */
  description: string;
}

/** The ground-truth document written beside the capture. */
export interface GroundTruth {
  kind: 'netbaseline/ground-truth';
  version: 1;
  generator: 'labeled-traffic';
  /** {@link GENERATOR_VERSION} of the code that wrote it. */
  generatorVersion: number;
  seed: number;
  /** First and last packet time bound, epoch ms; `durationMs` = end − start. */
  startMs: number;
  endMs: number;
  durationMs: number;
  /** Packets in the capture (background and events). */
  packets: number;
  /** {@link LabeledTrafficOptions.attackScale} used. */
  attackScale: number;
  network: { internalIpv4: string; internalIpv6: string; servers: Record<string, string>; clients: string[]; externalServers: string[] };
  events: TruthEvent[];
}

/** Options of {@link generateLabeledTraffic}. */
export interface LabeledTrafficOptions {
  /** PRNG seed (default 1). */
  seed?: number;
  /** First packet time, epoch ms (default 2026-03-02 05:00 UTC, a Monday before dawn). */
  startMs?: number;
  /** Packet time covered, ms (default 3 h); 10 min … 24 h, and long enough for the chosen events. */
  durationMs?: number;
  /** Workstations, 4 … 200 (default 30). */
  clients?: number;
  /** Multiplier on the background session rate, > 0 (default 1). */
  backgroundScale?: number;
  /**
   * Multiplier on the intensity of the volume attacks, > 0 (default 1): the SYN, reflection and ICMP
   * flood rates, the exfiltration bit rate and the slow ramp's peak (scans and lateral movement keep
   * their counts). Each parameter is drawn as at ×1 and then scaled, so ×0.6 gives the same schedule
   * and victims with attacks 40 % smaller (the packet-level randomness after the first event differs).
   */
  attackScale?: number;
  /** Events to inject, placed in {@link EVENT_KINDS} order (default all). */
  kinds?: readonly EventKind[];
  /** Quiet time before the first event, ms (default 20 min, at most 30 % of the duration). */
  warmupMs?: number;
  /** Snap length of the pcap (default 96). */
  snapLength?: number;
}

/** What {@link generateLabeledTraffic} wrote. */
export interface LabeledTrafficResult {
  pcapPath: string;
  truthPath: string;
  truth: GroundTruth;
}

const MIN = 60_000;
const CHUNK_MS = 10_000;
const MSS = 1448;

/** Nominal duration of each kind, ms (seeded ±20 % where it applies). */
const NOMINAL_MS: Record<EventKind, number> = {
  'nightly-backup': 6 * MIN, 'vertical-scan': 40_000, 'udp-amplification': 90_000, 'horizontal-scan': 90_000,
  'software-update': 5 * MIN, 'syn-flood': 60_000, 'icmp-flood': 60_000, 'video-call': 15 * MIN,
  'lateral-movement': 3 * MIN, exfiltration: 8 * MIN, 'slow-ramp': 20 * MIN,
};
const GAP_MS = 4 * MIN;

/** Packets of a time-bounded stream, produced chunk by chunk. */
interface Stream {
  startMs: number;
  endMs: number;
  /** Pushes the stream's packets with from ≤ t < to (short exchanges may spill past `to`). */
  emit(from: number, to: number): void;
  /** Event the packets belong to (counted in its `packets`), or null for background. */
  event: TruthEvent | null;
}

/** Diurnal activity factor in [0.12, 1] at a UTC hour of day (night 0.12, day 1). */
export function diurnalFactor(hourOfDay: number): number {
  const h = ((hourOfDay % 24) + 24) % 24;
  const smooth = (x: number) => (1 - Math.cos(Math.PI * Math.min(1, Math.max(0, x)))) / 2;
  let f: number;
  if (h < 12) f = smooth((h - 5.5) / 3);
  else f = 1 - smooth((h - 17) / 3);
  return 0.12 + 0.88 * f;
}

/**
 * Generates a labeled capture into `pcapPath` and its ground truth into `truthPath` (JSON).
 * @throws {RangeError} on options out of range or events that do not fit the duration.
 */
export function generateLabeledTraffic(pcapPath: string, truthPath: string, options: LabeledTrafficOptions = {}): LabeledTrafficResult {
  const seed = options.seed ?? 1;
  const startMs = options.startMs ?? Date.UTC(2026, 2, 2, 5, 0, 0);
  const durationMs = options.durationMs ?? 3 * 3_600_000;
  const clientCount = options.clients ?? 30;
  const scale = options.backgroundScale ?? 1;
  const attackScale = options.attackScale ?? 1;
  if (!(attackScale > 0) || !Number.isFinite(attackScale)) throw new RangeError(`attackScale must be > 0, got ${attackScale}`);
  const big = (n: number): number => Math.max(1, Math.round(n * attackScale));
  const kinds = EVENT_KINDS.filter((k) => (options.kinds ?? EVENT_KINDS).includes(k));
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  if (!Number.isFinite(startMs) || startMs < 0) throw new RangeError(`startMs must be an epoch ms ≥ 0, got ${startMs}`);
  if (!(durationMs >= 10 * MIN && durationMs <= 24 * 3_600_000)) throw new RangeError(`durationMs must be 10 min … 24 h, got ${durationMs}`);
  if (!Number.isInteger(clientCount) || clientCount < 4 || clientCount > 200) throw new RangeError(`clients must be an integer 4 … 200, got ${clientCount}`);
  if (!(scale > 0) || !Number.isFinite(scale)) throw new RangeError(`backgroundScale must be > 0, got ${scale}`);
  for (const k of options.kinds ?? []) if (!(EVENT_KINDS as readonly string[]).includes(k)) throw new RangeError(`unknown event kind ${JSON.stringify(k)}`);
  const warmupMs = Math.min(options.warmupMs ?? 20 * MIN, 0.3 * durationMs);

  const rnd = new SeededRandom(seed);
  const endMs = startMs + durationMs;

  // ---- network -------------------------------------------------------------------------------
  const servers = { dns: '10.1.0.2', monitor: '10.1.0.3', web: '10.1.0.5', backup: '10.1.0.6', file: '10.1.0.7', dns6: '2001:db8:10::2' };
  const clients = Array.from({ length: clientCount }, (_, i) => `10.1.0.${20 + i}`);
  const clients6 = new Map<string, string>();
  clients.forEach((c, i) => { if (i % 4 === 0) clients6.set(c, `2001:db8:10::${(20 + i).toString(16)}`); });
  const external = Array.from({ length: 40 }, (_, i) => (i < 20 ? `198.51.100.${10 + i}` : `203.0.113.${10 + i}`));
  const external6 = Array.from({ length: 6 }, (_, i) => `2001:db8:ffff::${(i + 1).toString(16)}`);
  const visitors = Array.from({ length: 25 }, (_, i) => `192.0.2.${20 + i}`);
  const upstreamDns = '9.9.9.9';
  // Zipf-like popularity: weight 1/(rank+1)
  const zipf = external.map((_, i) => 1 / (i + 1));
  const zipfTotal = zipf.reduce((a, b) => a + b, 0);
  const pickExternal = (): string => {
    let u = rnd.next() * zipfTotal;
    for (let i = 0; i < external.length; i++) { u -= zipf[i]!; if (u <= 0) return external[i]!; }
    return external[external.length - 1]!;
  };
  const liveInternal = [servers.dns, servers.monitor, servers.web, servers.backup, servers.file, ...clients];

  // ---- packet plumbing ------------------------------------------------------------------------
  let pending: SynthPacket[] = [];
  const pkt = (t: number, src: string, dst: string, proto: number, srcPort: number, dstPort: number, flags: number, seq: number, ack: number, payload: number, ttl = 64): SynthPacket => ({
    t, src: frameAddress(src), dst: frameAddress(dst), proto, srcPort, dstPort, flags, seq: seq >>> 0, ack: ack >>> 0, payload, ttl,
  });
  let currentEvent: TruthEvent | null = null;
  const span = new Map<TruthEvent, { first: number; last: number }>();
  const push = (p: SynthPacket): void => {
    if (p.t >= endMs) return;
    pending.push(p);
    if (currentEvent !== null) {
      currentEvent.packets++;
      const s = span.get(currentEvent);
      if (s === undefined) span.set(currentEvent, { first: p.t, last: p.t });
      else { if (p.t < s.first) s.first = p.t; if (p.t > s.last) s.last = p.t; }
    }
  };
  const eph = () => rnd.int(32768, 60999);
  // round-trip time: a property of the path (per remote host, drawn once), ±10 % per connection
  const pathRtt = new Map<string, number>();
  const rttFor = (a: string, b: string): number => {
    const remote = isInternal(a) ? b : a;
    let base = pathRtt.get(remote);
    if (base === undefined) { base = isInternal(remote) ? 0.3 + rnd.next() * 1.2 : 12 + rnd.next() * 70; pathRtt.set(remote, base); }
    return base * (0.9 + 0.2 * rnd.next());
  };

  /** A whole TCP exchange: handshake, request, response of `respBytes`, close. Returns its end time. */
  const tcpSession = (t: number, client: string, server: string, dport: number, reqBytes: number, respBytes: number): number => {
    const sport = eph();
    const rtt = rttFor(client, server);
    let cs = rnd.int(0, 0x7fffffff), ss = rnd.int(0, 0x7fffffff);
    let at = t;
    push(pkt(at, client, server, PROTO.TCP, sport, dport, TCP.SYN, cs, 0, 0));
    push(pkt((at += rtt / 2), server, client, PROTO.TCP, dport, sport, TCP.SYN | TCP.ACK, ss, cs + 1, 0));
    cs++; ss++;
    push(pkt((at += rtt / 2), client, server, PROTO.TCP, sport, dport, TCP.ACK, cs, ss, 0));
    push(pkt((at += 0.05), client, server, PROTO.TCP, sport, dport, TCP.PSH | TCP.ACK, cs, ss, reqBytes));
    cs += reqBytes;
    at += rtt / 2 + 1 + rnd.next() * 30;
    const gap = 0.15 + rnd.next() * 0.6;
    let sent = 0, n = 0;
    while (sent < respBytes) {
      const len = Math.min(MSS, respBytes - sent);
      push(pkt(at, server, client, PROTO.TCP, dport, sport, TCP.ACK | (sent + len >= respBytes ? TCP.PSH : 0), ss, cs, len));
      ss += len; sent += len; n++;
      if (n % 2 === 0 || sent >= respBytes) push(pkt(at + rtt / 2, client, server, PROTO.TCP, sport, dport, TCP.ACK, cs, ss, 0));
      at += gap;
    }
    at += rtt;
    push(pkt(at, client, server, PROTO.TCP, sport, dport, TCP.FIN | TCP.ACK, cs, ss, 0));
    push(pkt((at += rtt / 2), server, client, PROTO.TCP, dport, sport, TCP.FIN | TCP.ACK, ss, cs + 1, 0));
    push(pkt((at += rtt / 2), client, server, PROTO.TCP, sport, dport, TCP.ACK, cs + 1, ss + 1, 0));
    return at;
  };

  const dnsLookup = (t: number, client: string): number => {
    const v6 = client.includes(':');
    const resolver = v6 ? servers.dns6 : servers.dns;
    const sport = eph();
    push(pkt(t, client, resolver, PROTO.UDP, sport, 53, 0, rnd.int(0, 0xffff), 0, rnd.int(28, 60)));
    let answerAt = t + 0.3 + rnd.next() * 2;
    if (!v6 && rnd.next() < 0.33) {
      const up = eph();
      push(pkt(t + 0.2, servers.dns, upstreamDns, PROTO.UDP, up, 53, 0, rnd.int(0, 0xffff), 0, rnd.int(28, 60)));
      answerAt = t + 15 + rnd.next() * 40;
      push(pkt(answerAt - 0.2, upstreamDns, servers.dns, PROTO.UDP, 53, up, 0, rnd.int(0, 0xffff), 0, rnd.int(60, 260)));
    }
    push(pkt(answerAt, resolver, client, PROTO.UDP, 53, sport, 0, rnd.int(0, 0xffff), 0, rnd.int(60, 260)));
    return answerAt + 0.1;
  };

  const lognormal = (median: number, sigma: number) => median * Math.exp(sigma * normal());
  const normal = (): number => {
    const u = Math.max(1e-12, rnd.next()), v = rnd.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const poisson = (mean: number): number => {
    if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal()));
    const l = Math.exp(-mean);
    let k = 0, p = 1;
    do { k++; p *= rnd.next(); } while (p > l);
    return k - 1;
  };

  // ---- background -----------------------------------------------------------------------------
  interface ClientState { ip: string; ip6: string | undefined; on: boolean; switchAt: number; nextNtp: number }
  const states: ClientState[] = clients.map((ip) => ({
    ip, ip6: clients6.get(ip), on: rnd.next() < 0.5, switchAt: startMs + rnd.exponential(6 * MIN), nextNtp: startMs + rnd.next() * 3_600_000,
  }));
  const SESSIONS_PER_SECOND_ON = 0.6 * scale;
  const VISITORS_PER_SECOND = 0.25 * scale;

  const background = (from: number, to: number): void => {
    const hour = ((from / 3_600_000) % 24);
    const f = diurnalFactor(hour);
    const seconds = (to - from) / 1000;
    for (const s of states) {
      while (s.switchAt <= from) {
        s.on = !s.on;
        s.switchAt += rnd.exponential(s.on ? 8 * MIN : 12 * MIN / Math.max(f, 0.2));
      }
      if (s.nextNtp < to) {
        const sp = 123;
        push(pkt(s.nextNtp, s.ip, servers.dns, PROTO.UDP, sp, 123, 0, 0, 0, 48));
        push(pkt(s.nextNtp + 0.4, servers.dns, s.ip, PROTO.UDP, 123, sp, 0, 0, 0, 48));
        s.nextNtp += 3_600_000;
      }
      if (!s.on) continue;
      const n = poisson(SESSIONS_PER_SECOND_ON * f * seconds);
      for (let i = 0; i < n; i++) {
        const t = from + rnd.next() * (to - from);
        const u = rnd.next();
        const over6 = s.ip6 !== undefined && rnd.next() < 0.2;
        const me = over6 ? s.ip6! : s.ip;
        if (u < 0.62 || over6) {
          const server = over6 ? rnd.pick(external6) : pickExternal();
          const at = dnsLookup(t, me);
          tcpSession(at, me, server, rnd.next() < 0.85 ? 443 : 80, rnd.int(200, 700), Math.min(2_000_000, Math.round(lognormal(12_000, 1.3))));
        } else if (u < 0.88) {
          tcpSession(t, me, servers.web, 80, rnd.int(200, 600), Math.round(lognormal(6_000, 1.0)));
        } else {
          tcpSession(t, me, servers.file, 445, rnd.int(200, 1200), Math.min(5_000_000, Math.round(lognormal(40_000, 1.4))));
        }
      }
    }
    // external visitors of the public web server
    const v = poisson(VISITORS_PER_SECOND * f * seconds);
    for (let i = 0; i < v; i++) tcpSession(from + rnd.next() * (to - from), rnd.pick(visitors), servers.web, 443, rnd.int(200, 600), Math.round(lognormal(8_000, 1.0)));
    // monitoring pings every 30 s
    for (let t = Math.ceil(from / 30_000) * 30_000; t < to; t += 30_000) {
      [servers.dns, servers.web, servers.backup, servers.file].forEach((srv, i) => {
        const seq = Math.floor(t / 30_000) & 0xffff;
        push(pkt(t + i * 3, servers.monitor, srv, PROTO.ICMP, 0, 8 << 8, 0, (0x4d00 + i) * 0x10000 + seq, 0, 56));
        push(pkt(t + i * 3 + 0.3, srv, servers.monitor, PROTO.ICMP, 0, 0, 0, (0x4d00 + i) * 0x10000 + seq, 0, 56));
      });
    }
  };

  // ---- events ---------------------------------------------------------------------------------
  const events: TruthEvent[] = [];
  const streams: Stream[] = [];
  const durations = kinds.map((k) => (k === 'vertical-scan' || k === 'syn-flood' || k === 'icmp-flood' ? NOMINAL_MS[k] : Math.round(NOMINAL_MS[k] * (0.8 + 0.4 * rnd.next()))));
  const needed = durations.reduce((a, b) => a + b, 0) + GAP_MS * kinds.length;
  const room = durationMs - warmupMs - 2 * MIN;
  if (needed > room) throw new RangeError(`events need ${Math.ceil(needed / MIN)} min after the ${Math.round(warmupMs / MIN)} min warm-up; durationMs allows ${Math.floor(room / MIN)} min`);
  const slack = (room - needed) / Math.max(1, kinds.length);
  let cursor = startMs + warmupMs;
  const usedExternals = new Set<string>();
  const rareHost = (): string => {
    for (;;) {
      const ip = `${rnd.int(81, 95)}.${rnd.int(0, 255)}.${rnd.int(0, 255)}.${rnd.int(1, 254)}`;
      if (!usedExternals.has(ip)) { usedExternals.add(ip); return ip; }
    }
  };
  /** A random public-looking source (first octet 11…223 but 127: never the internal 10/8). */
  const spoofed = (): string => { let a = rnd.int(11, 223); if (a === 127) a = 128; return `${a}.${rnd.int(0, 255)}.${rnd.int(0, 255)}.${rnd.int(1, 254)}`; };
  const otherClient = (taken: string[]): string => {
    for (;;) { const c = rnd.pick(clients); if (!taken.includes(c)) return c; }
  };
  const takenVictims: string[] = [];

  /** A constant-rate stream of packets made by `make(t, i)` at `rate(t)` packets/s. */
  const rateStream = (event: TruthEvent, rate: (t: number) => number, make: (t: number, i: number) => SynthPacket[]): Stream => {
    let next = event.startMs, i = 0;
    return {
      startMs: event.startMs, endMs: event.endMs, event,
      emit(from, to) {
        while (next < to && next <= event.endMs) {
          if (next >= from) for (const p of make(next, i)) push(p);
          i++;
          const r = Math.max(rate(next), 0.05);
          next += (1000 / r) * (0.5 + rnd.next());
        }
      },
    };
  };

  /** A bulk TCP transfer from `sender` to `receiver` at `bitsPerSecond`, ACKs every second segment. */
  const bulkStream = (event: TruthEvent, client: string, server: string, dport: number, clientSends: boolean, startAt: number, endAt: number, bitsPerSecond: number): Stream => {
    const sport = eph();
    const rtt = rttFor(client, server);
    let cs = rnd.int(0, 0x7fffffff), ss = rnd.int(0, 0x7fffffff);
    const gap = (MSS * 8 / bitsPerSecond) * 1000;
    let next = startAt + rtt * 1.5, n = 0, started = false, closed = false;
    return {
      startMs: startAt, endMs: endAt, event,
      emit(from, to) {
        if (!started && startAt < to) {
          started = true;
          push(pkt(startAt, client, server, PROTO.TCP, sport, dport, TCP.SYN, cs, 0, 0));
          push(pkt(startAt + rtt / 2, server, client, PROTO.TCP, dport, sport, TCP.SYN | TCP.ACK, ss, cs + 1, 0));
          cs++; ss++;
          push(pkt(startAt + rtt, client, server, PROTO.TCP, sport, dport, TCP.ACK, cs, ss, 0));
        }
        while (next < to && next < endAt) {
          if (next >= from) {
            if (clientSends) {
              push(pkt(next, client, server, PROTO.TCP, sport, dport, TCP.ACK, cs, ss, MSS));
              cs += MSS;
              if (++n % 2 === 0) push(pkt(next + rtt / 2, server, client, PROTO.TCP, dport, sport, TCP.ACK, ss, cs, 0));
            } else {
              push(pkt(next, server, client, PROTO.TCP, dport, sport, TCP.ACK, ss, cs, MSS));
              ss += MSS;
              if (++n % 2 === 0) push(pkt(next + rtt / 2, client, server, PROTO.TCP, sport, dport, TCP.ACK, cs, ss, 0));
            }
          }
          next += gap * (0.7 + 0.6 * rnd.next());
        }
        if (!closed && endAt < to) {
          closed = true;
          push(pkt(endAt, client, server, PROTO.TCP, sport, dport, TCP.FIN | TCP.ACK, cs, ss, 0));
          push(pkt(endAt + rtt / 2, server, client, PROTO.TCP, dport, sport, TCP.FIN | TCP.ACK, ss, cs + 1, 0));
          push(pkt(endAt + rtt, client, server, PROTO.TCP, sport, dport, TCP.ACK, cs + 1, ss + 1, 0));
        }
      },
    };
  };

  kinds.forEach((kind, idx) => {
    const startAt = Math.round(cursor + GAP_MS / 2 + rnd.next() * slack);
    const dur = durations[idx]!;
    const e: TruthEvent = {
      id: `${kind}-${idx + 1}`, kind, malicious: MALICIOUS_KINDS.includes(kind), startMs: startAt, endMs: startAt + dur,
      hosts: [], alertKeys: [], packets: 0, params: {}, description: '',
    };
    cursor = startAt + dur + GAP_MS / 2;
    events.push(e);
    switch (kind) {
      case 'syn-flood': {
        const victim = servers.web, rate = big(rnd.int(600, 1000));
        Object.assign(e, { hosts: [victim], alertKeys: [`dst ${victim}`], params: { synPerSecond: rate, dstPort: 443 }, description: `spoofed SYN flood of ~${rate}/s to ${victim}:443, each SYN from a random source` });
        streams.push(rateStream(e, () => rate, (t) => [pkt(t, spoofed(), victim, PROTO.TCP, rnd.int(1024, 65535), 443, TCP.SYN, rnd.int(0, 0x7fffffff), 0, 0, rnd.int(40, 250))]));
        break;
      }
      case 'udp-amplification': {
        const victim = otherClient(takenVictims); takenVictims.push(victim);
        const port = rnd.next() < 0.5 ? 53 : 123, rate = big(rnd.int(250, 450));
        const reflectors = Array.from({ length: rnd.int(120, 220) }, () => spoofed());
        const size = port === 53 ? 1400 : 440;
        Object.assign(e, { hosts: [victim, ...reflectors], alertKeys: [`dst ${victim}`], params: { reflectorPort: port, packetsPerSecond: rate, reflectors: reflectors.length, payloadBytes: size }, description: `${port === 53 ? 'DNS' : 'NTP'} reflection: ~${rate} responses/s of ${size} bytes from ${reflectors.length} reflectors (source port ${port}) to ${victim}` });
        streams.push(rateStream(e, () => rate, (t) => [pkt(t, rnd.pick(reflectors), victim, PROTO.UDP, port, rnd.int(1024, 65535), 0, rnd.int(0, 0xffff), 0, size - rnd.int(0, 20), rnd.int(40, 250))]));
        break;
      }
      case 'icmp-flood': {
        const victim = otherClient(takenVictims); takenVictims.push(victim);
        const sources = Array.from({ length: 5 }, () => rareHost());
        const rate = big(rnd.int(1000, 2000));
        Object.assign(e, { hosts: [victim, ...sources], alertKeys: [`dst ${victim}`], params: { echoRequestsPerSecond: rate, sources: sources.length }, description: `ICMP echo flood of ~${rate}/s from ${sources.length} external hosts to ${victim}, answered one time in ten` });
        streams.push(rateStream(e, () => rate, (t, i) => {
          const src = sources[i % sources.length]!;
          const seq = (0x1000 + (i % sources.length)) * 0x10000 + (i & 0xffff);
          const req = pkt(t, src, victim, PROTO.ICMP, 0, 8 << 8, 0, seq, 0, 1000);
          return i % 10 === 0 ? [req, pkt(t + 0.2, victim, src, PROTO.ICMP, 0, 0, 0, seq, 0, 1000)] : [req];
        }));
        break;
      }
      case 'vertical-scan': {
        const scanner = otherClient(takenVictims), target = servers.file;
        const ports = Array.from({ length: 1024 }, (_, i) => i + 1);
        for (let i = ports.length - 1; i > 0; i--) { const j = rnd.int(0, i); [ports[i], ports[j]] = [ports[j]!, ports[i]!]; }
        const open = new Set([135, 139, 445]);
        Object.assign(e, { hosts: [scanner, target], alertKeys: [`src ${scanner}`], params: { ports: 1024, target }, description: `SYN scan of ports 1–1024 of ${target} by ${scanner} (open: 135, 139, 445)` });
        streams.push(rateStream(e, () => 1024 / (dur / 1000), (t, i) => {
          if (i >= ports.length) return [];
          const port = ports[i]!, seq = rnd.int(0, 0x7fffffff);
          const syn = pkt(t, scanner, target, PROTO.TCP, 51515, port, TCP.SYN, seq, 0, 0);
          if (!open.has(port)) return [syn, pkt(t + 0.4, target, scanner, PROTO.TCP, port, 51515, TCP.RST | TCP.ACK, 0, seq + 1, 0)];
          return [syn, pkt(t + 0.4, target, scanner, PROTO.TCP, port, 51515, TCP.SYN | TCP.ACK, 7, seq + 1, 0), pkt(t + 0.8, scanner, target, PROTO.TCP, 51515, port, TCP.RST, seq + 1, 0, 0)];
        }));
        break;
      }
      case 'horizontal-scan': {
        const scanner = `198.51.100.${rnd.int(150, 230)}`;
        const live = new Set(liveInternal);
        const port = rnd.next() < 0.5 ? 22 : 3389;
        Object.assign(e, { hosts: [scanner], alertKeys: [`src ${scanner}`], params: { dstPort: port, targets: 254 }, description: `SYN sweep of port ${port} over 10.1.0.1–254 by ${scanner}; live hosts answer RST-ACK` });
        streams.push(rateStream(e, () => 254 / (dur / 1000), (t, i) => {
          if (i >= 254) return [];
          const target = `10.1.0.${i + 1}`, seq = rnd.int(0, 0x7fffffff);
          const syn = pkt(t, scanner, target, PROTO.TCP, 40000 + (i % 1000), port, TCP.SYN, seq, 0, 0);
          return live.has(target) ? [syn, pkt(t + 0.5, target, scanner, PROTO.TCP, port, 40000 + (i % 1000), TCP.RST | TCP.ACK, 0, seq + 1, 0)] : [syn];
        }));
        break;
      }
      case 'exfiltration': {
        const host = otherClient(takenVictims); takenVictims.push(host);
        const dest = rareHost(), bps = big(rnd.int(3, 6) * 1_000_000);
        Object.assign(e, { hosts: [host, dest], alertKeys: [`src ${host}`, `dst ${dest}`], params: { bitsPerSecond: bps, dstPort: 443, bytes: Math.round(bps / 8 * dur / 1000) }, description: `${host} uploads ~${Math.round(bps / 8 * dur / 1000 / 1e6)} MB at ${bps / 1e6} Mbit/s to ${dest}:443, never contacted before` });
        streams.push(bulkStream(e, host, dest, 443, true, startAt, e.endMs, bps));
        break;
      }
      case 'lateral-movement': {
        const host = otherClient(takenVictims); takenVictims.push(host);
        const targets = liveInternal.filter((h) => h !== host && h !== servers.monitor);
        const ports = [445, 135, 3389];
        const tries = targets.flatMap((tgt) => ports.map((p) => ({ tgt, p })));
        for (let i = tries.length - 1; i > 0; i--) { const j = rnd.int(0, i); [tries[i], tries[j]] = [tries[j]!, tries[i]!]; }
        Object.assign(e, { hosts: [host, ...targets], alertKeys: [`src ${host}`], params: { targets: targets.length, connections: tries.length, ports: ports.join(',') }, description: `${host} opens SMB/RPC/RDP (445, 135, 3389) to ${targets.length} internal hosts; SMB and RPC answer and exchange a few kB` });
        streams.push(rateStream(e, () => tries.length / (dur / 1000), (t, i) => {
          if (i >= tries.length) return [];
          const { tgt, p } = tries[i]!;
          const before = pending.length;
          if (p === 3389) {
            const seq = rnd.int(0, 0x7fffffff);
            return [pkt(t, host, tgt, PROTO.TCP, eph(), p, TCP.SYN, seq, 0, 0)];
          }
          const counting = currentEvent;
          currentEvent = null; // the rate stream pushes (and counts) them again when returned
          tcpSession(t, host, tgt, p, rnd.int(200, 2000), rnd.int(500, 6000));
          currentEvent = counting;
          return pending.splice(before);
        }));
        break;
      }
      case 'slow-ramp': {
        const victim = rnd.next() < 0.5 ? servers.web : servers.file;
        const peak = big(rnd.int(300, 500));
        const sources = Array.from({ length: 20 }, () => rareHost());
        Object.assign(e, { hosts: [victim, ...sources], alertKeys: [`dst ${victim}`], params: { peakPacketsPerSecond: peak, sources: sources.length, dstPort: 80 }, description: `UDP to ${victim}:80 from ${sources.length} external hosts, rising linearly from 0 to ~${peak} packet/s over ${Math.round(dur / MIN)} min` });
        streams.push(rateStream(e, (t) => peak * (t - startAt) / dur, (t) => [pkt(t, rnd.pick(sources), victim, PROTO.UDP, rnd.int(1024, 65535), 80, 0, rnd.int(0, 0xffff), 0, rnd.int(200, 600), rnd.int(40, 250))]));
        break;
      }
      case 'nightly-backup': {
        const senders: string[] = [];
        while (senders.length < 4) { const c = rnd.pick(clients); if (!senders.includes(c)) senders.push(c); }
        const per = rnd.int(800_000, 1_400_000);
        Object.assign(e, { hosts: [servers.backup, ...senders], alertKeys: [`dst ${servers.backup}`, ...senders.map((s) => `src ${s}`)], params: { clients: senders.length, bitsPerSecondPerClient: per, dstPort: 22 }, description: `${senders.length} workstations upload to the backup server ${servers.backup}:22 at ${per / 1e6} Mbit/s each` });
        senders.forEach((s, i) => streams.push(bulkStream(e, s, servers.backup, 22, true, startAt + i * 2000, e.endMs - (senders.length - 1 - i) * 2000, per)));
        break;
      }
      case 'software-update': {
        const server = '203.0.113.200';
        const bps = rnd.int(2, 4) * 1_000_000, each = rnd.int(3, 6) * 1_000_000;
        const per = (each * 8 / bps) * 1000;
        const spread = Math.max(0, dur - per);
        Object.assign(e, { hosts: [server, ...clients], alertKeys: [`src ${server}`, ...clients.map((c) => `dst ${c}`)], params: { clients: clients.length, bytesPerClient: each, bitsPerSecondPerClient: bps }, description: `every workstation downloads ${each / 1e6} MB from the update server ${server}:443 at ${bps / 1e6} Mbit/s within ${Math.round(dur / MIN)} min` });
        clients.forEach((c) => { const s0 = startAt + rnd.next() * spread; streams.push(bulkStream(e, c, server, 443, false, s0, Math.min(e.endMs, s0 + per), bps)); });
        break;
      }
      case 'video-call': {
        const host = otherClient(takenVictims), peer = '198.51.100.240';
        const pps = rnd.int(40, 60), hostPort = eph();
        Object.assign(e, { hosts: [host, peer], alertKeys: [`src ${host}`, `dst ${host}`, `dst ${peer}`, `src ${peer}`], params: { packetsPerSecondEachWay: pps, bytes: 1100 }, description: `video call: UDP media ${host}:${hostPort} ↔ ${peer}:3478 at ~${pps} packet/s each way` });
        streams.push(rateStream(e, () => pps, (t) => [
          pkt(t, host, peer, PROTO.UDP, hostPort, 3478, 0, rnd.int(0, 0xffff), 0, rnd.int(800, 1200)),
          pkt(t + 3 + rnd.next() * 10, peer, host, PROTO.UDP, 3478, hostPort, 0, rnd.int(0, 0xffff), 0, rnd.int(800, 1200)),
        ]));
        break;
      }
    }
  });

  // ---- write ------------------------------------------------------------------------------------
  mkdirSync(dirname(pcapPath), { recursive: true });
  const writer = new StreamingPcapWriter(pcapPath, options.snapLength ?? 96);
  try {
    for (let from = startMs; from < endMs; from += CHUNK_MS) {
      const to = Math.min(endMs, from + CHUNK_MS);
      currentEvent = null;
      background(from, to);
      for (const s of streams) {
        if (s.startMs >= to || s.endMs + CHUNK_MS < from) continue;
        currentEvent = s.event;
        s.emit(from, to);
        currentEvent = null;
      }
      const ready: SynthPacket[] = [], later: SynthPacket[] = [];
      for (const p of pending) (p.t < to ? ready : later).push(p);
      pending = later;
      ready.sort((a, b) => a.t - b.t);
      for (const p of ready) writer.write(p);
    }
    pending.sort((a, b) => a.t - b.t);
    for (const p of pending) if (p.t < endMs) writer.write(p);
  } finally {
    writer.close();
  }

  // the ground truth gives each event the times of its first and last packet actually written
  const us = (t: number) => Math.round(t * 1000) / 1000;
  for (const e of events) {
    const s = span.get(e);
    if (s !== undefined) { e.startMs = us(s.first); e.endMs = us(s.last); }
  }
  const truth: GroundTruth = {
    kind: 'netbaseline/ground-truth', version: 1, generator: 'labeled-traffic', generatorVersion: GENERATOR_VERSION, seed, startMs, endMs, durationMs,
    packets: writer.packets,
    attackScale,
    network: { internalIpv4: '10.1.0.0/24', internalIpv6: '2001:db8:10::/64', servers: { ...servers }, clients, externalServers: [...external, ...external6, ...visitors, upstreamDns] },
    events,
  };
  mkdirSync(dirname(truthPath), { recursive: true });
  writeFileSync(truthPath, `${JSON.stringify(truth, null, 2)}\n`);
  return { pcapPath, truthPath, truth };
}

function isInternal(ip: string): boolean {
  return ip.startsWith('10.1.') || ip.startsWith('2001:db8:10:');
}
