/**
 * Flow aggregator: folds {@link PacketBatch}es into tumbling windows of packet time and emits one
 * {@link WindowMessage} per window with `interface`, `dstHost`, `srcHost` and `flow` records and,
 * when asked for, `service`, `hostPair` and `subnet` records (see {@link TrafficRecord} and
 * {@link METRICS} in the contracts).
 *
 * Pure: no Node-RED import. The per-packet path allocates nothing (see `flow-table.ts`); strings and
 * record objects are built only when a window closes.
 *
 * @packageDocumentation
 */
import {
  CONTRACT_VERSION, IPPROTO, PACKET_INFO, SCOPES, TCP_FLAG,
  assertPacketBatch, formatAddress, protocolName,
} from './contracts';
import type {
  AggregatorCounters, FlowEnd, Metrics, PacketBatch, ScanEvidence, Scope, TrafficRecord, WindowMessage,
} from './contracts';
import { HLL_DEFAULT_PRECISION, HyperLogLog, HyperLogLogPool } from './hyperloglog';
import {
  FLOW_KEY, FLOW_KEY_WIDTH, HOST_SUM, HOST_SUM_WIDTH, FLOW_NUM, FLOW_NUM_WIDTH, FLOW_STATE, FlowTable, HostTable, PROTO_CLASS, PROTO_CLASSES, REFLECTOR_INDEX, REFLECTOR_PORTS, ROLE_DST, ROLE_SRC, WIN, WIN_FLAG, WIN_WIDTH,
  hashAddress, hashWords, murmurFinal, murmurMix,
} from './flow-table';

/** Options of a {@link FlowAggregator}. Every count is an integer; every time is packet time in ms. */
export interface FlowAggregatorOptions {
  /** Tumbling window length in ms of packet time, aligned to multiples of it since the epoch. Default 10 000; 1 … 86 400 000. */
  windowMs?: number;
  /** Name in the key of the interface record (`iface <name>`). Default: base name of `batch.source` (`eth0`, `capture.pcap`). */
  interfaceName?: string;
  /** Cap on tracked 5-tuple flows (see {@link FlowTable} for the eviction policy). Default 100 000. */
  maxFlows?: number;
  /**
   * Cap on `srcHost` records and, separately, on `dstHost` records per window; the same cap applies,
   * each separately, to `service` records, `hostPair` records and `subnet` records of each side.
   * Default 50 000.
   */
  maxHostsPerWindow?: number;
  /** Idle timeout: a flow with no packet for this long (packet time) ends (reported once with its totals) and is forgotten. Default 60 000; must be ≥ 0. */
  flowIdleTimeoutMs?: number;
  /**
   * Active timeout: a flow that keeps sending gets an interim report of its totals (`flowEnd.reason`
   * `active`) every this many ms of packet time. Default 1 800 000 (30 min, the Cisco NetFlow default);
   * 0 turns active reports off.
   */
  flowActiveTimeoutMs?: number;
  /**
   * Idle timeout while the flow table is in emergency mode (it hit `maxFlows`), as Suricata's
   * `flow.emergency-recovery` mode shortens its timeouts. Default 10 000; ≥ 0.
   */
  emergencyIdleTimeoutMs?: number;
  /**
   * Emergency mode ends at a window close when the tracked flows are at most (100 − this) % of
   * `maxFlows` (Suricata's `emergency-recovery`, default 30). Default 30; 1 … 100.
   */
  emergencyRecoveryPercent?: number;
  /**
   * HyperLogLog sketches per window and per table (host, service, subnet) for keys whose exact
   * distinct-peer set overflowed (a peer was not counted because the host table was full); the
   * interface record has one more of its own. Each sketch is 4 KiB (p = {@link AGGREGATOR_HLL_PRECISION},
   * m = 4096, standard error 1.625 %); the registers of a table's pool are allocated at its first
   * overflow and kept. A key that overflows when its table's pool is used up stays a `lower-bound`.
   * Default 64 (256 KiB per table once used); 0 … 255, 0 turns estimates off (`lower-bound` as before).
   */
  maxDistinctSketches?: number;
  /** Empty windows emitted to bridge a gap in packet time before jumping. Default 30; ≥ 0. */
  maxEmptyWindows?: number;
  /** Cap of {@link ScanEvidence.synDstPorts}. Default 1024; 1 … 65 536. */
  maxScanPortsPerSource?: number;
  /**
   * Scopes whose records are emitted. Default {@link AGGREGATOR_DEFAULT_SCOPES} (interface, dstHost,
   * srcHost, flow); `service`, `hostPair` and `subnet` are opt-in. The interface and host tables are
   * counted whatever is emitted (the other scopes read them); the service, host-pair and subnet
   * tables only when their scope is emitted.
   */
  scopes?: readonly Scope[];
  /** Prefix length of IPv4 `subnet` records, 0 … 32. Default 24. */
  subnetPrefixV4?: number;
  /** Prefix length of IPv6 `subnet` records, 0 … 128. Default 64 (the IPv6 subnet size of RFC 4291 §2.5.4). */
  subnetPrefixV6?: number;
  /**
   * Internal networks as CIDR prefixes (`10.0.0.0/8`, `192.168.1.0/24`, `fd00::/8`, a bare address is
   * a /32 or /128). When given, records carry {@link TrafficRecord.direction}. Default: none (no
   * direction). The private ranges of RFC 1918 and RFC 4193 are the usual start:
   * `10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7`.
   */
  internalNetworks?: readonly string[];
}

/** A parsed CIDR prefix: 16 address bytes (IPv4 as `::ffff:a.b.c.d`) and a prefix length 0…128 over them. */
export interface CidrPrefix { bytes: Uint8Array; length: number; text: string }

/**
 * Parses `a.b.c.d/n` (n 0…32) or an IPv6 prefix `x:…/n` (n 0…128, RFC 4291 §2.3; `::` allowed);
 * without `/n` the whole address. IPv4 prefixes are mapped into `::ffff:0:0/96` (RFC 4291 §2.5.5.2).
 * @throws {RangeError} naming the text that is not a CIDR prefix.
 */
export function parseCidr(text: string): CidrPrefix {
  const bad = (): RangeError => new RangeError(`flow-aggregator: "${text}" is not a CIDR prefix such as 10.0.0.0/8 or fd00::/8`);
  const t = text.trim();
  const slash = t.indexOf('/');
  const addr = slash < 0 ? t : t.slice(0, slash);
  const bytes = new Uint8Array(16);
  let max: number;
  let offset: number;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(addr)) {
    const parts = addr.split('.').map(Number);
    if (parts.some((p) => p > 255)) throw bad();
    bytes[10] = 0xff; bytes[11] = 0xff;
    parts.forEach((p, i) => { bytes[12 + i] = p; });
    max = 32; offset = 96;
  } else if (/^[0-9a-fA-F:]+$/.test(addr) && addr.includes(':')) {
    const halves = addr.split('::');
    if (halves.length > 2) throw bad();
    const head = halves[0] ? halves[0].split(':') : [];
    const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
    const fillCount = 8 - head.length - tail.length;
    if ((halves.length === 1 && fillCount !== 0) || (halves.length === 2 && fillCount < 1)) throw bad();
    const words = [...head, ...new Array<string>(halves.length === 2 ? fillCount : 0).fill('0'), ...tail];
    if (words.some((w) => !/^[0-9a-fA-F]{1,4}$/.test(w))) throw bad();
    words.forEach((w, i) => { const v = parseInt(w, 16); bytes[2 * i] = v >> 8; bytes[2 * i + 1] = v & 0xff; });
    max = 128; offset = 0;
  } else {
    throw bad();
  }
  let length = max;
  if (slash >= 0) {
    const ls = t.slice(slash + 1);
    if (!/^\d{1,3}$/.test(ls) || Number(ls) > max) throw bad();
    length = Number(ls);
  }
  return { bytes, length: length + offset, text: t };
}

/** True when the 16 bytes at `offset` of `addr` fall inside `prefix`. */
export function inPrefix(addr: Uint8Array, offset: number, prefix: CidrPrefix): boolean {
  const full = prefix.length >>> 3, rest = prefix.length & 7;
  for (let i = 0; i < full; i++) if (addr[offset + i] !== prefix.bytes[i]) return false;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((addr[offset + full]! ^ prefix.bytes[full]!) & mask) === 0;
}

/** The options with defaults applied and checked. */
export type ResolvedAggregatorOptions = Required<Omit<FlowAggregatorOptions, 'interfaceName'>> & { interfaceName: string | undefined };

/** Defaults of {@link FlowAggregatorOptions}. */
export const AGGREGATOR_DEFAULTS = {
  windowMs: 10_000,
  maxFlows: 100_000,
  maxHostsPerWindow: 50_000,
  flowIdleTimeoutMs: 60_000,
  flowActiveTimeoutMs: 1_800_000,
  emergencyIdleTimeoutMs: 10_000,
  emergencyRecoveryPercent: 30,
  maxEmptyWindows: 30,
  maxScanPortsPerSource: 1024,
  maxDistinctSketches: 64,
  subnetPrefixV4: 24,
  subnetPrefixV6: 64,
} as const;

/**
 * Precision p of the HyperLogLog sketches behind `distinctAccuracy: { distinctPeers: 'estimate' }`:
 * m = 2^12 = 4096 registers, relative standard error 1.04 / √m = 1.625 % (Flajolet et al. 2007; see
 * `hyperloglog.ts`).
 */
export const AGGREGATOR_HLL_PRECISION = HLL_DEFAULT_PRECISION;

/** Scopes emitted when {@link FlowAggregatorOptions.scopes} is not given. */
export const AGGREGATOR_DEFAULT_SCOPES: readonly Scope[] = Object.freeze(['interface', 'dstHost', 'srcHost', 'flow'] as Scope[]);

function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`flow-aggregator: ${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Applies defaults to `options` and checks them.
 * @throws {RangeError} naming the first bad option and its allowed range.
 */
export function resolveAggregatorOptions(options: FlowAggregatorOptions = {}): ResolvedAggregatorOptions {
  const d = AGGREGATOR_DEFAULTS;
  const scopes = options.scopes ?? AGGREGATOR_DEFAULT_SCOPES;
  if (!Array.isArray(scopes) || scopes.some((s) => !SCOPES.includes(s))) {
    throw new RangeError(`flow-aggregator: scopes must be a list of ${SCOPES.join(', ')}`);
  }
  const interfaceName = options.interfaceName;
  if (interfaceName !== undefined && typeof interfaceName !== 'string') throw new RangeError('flow-aggregator: interfaceName must be a string');
  return {
    windowMs: checkInteger('windowMs', options.windowMs ?? d.windowMs, 1, 86_400_000),
    maxFlows: checkInteger('maxFlows', options.maxFlows ?? d.maxFlows, 1, 10_000_000),
    maxHostsPerWindow: checkInteger('maxHostsPerWindow', options.maxHostsPerWindow ?? d.maxHostsPerWindow, 1, 10_000_000),
    flowIdleTimeoutMs: checkInteger('flowIdleTimeoutMs', options.flowIdleTimeoutMs ?? d.flowIdleTimeoutMs, 0, 365 * 86_400_000),
    flowActiveTimeoutMs: checkInteger('flowActiveTimeoutMs', options.flowActiveTimeoutMs ?? d.flowActiveTimeoutMs, 0, 365 * 86_400_000),
    emergencyIdleTimeoutMs: checkInteger('emergencyIdleTimeoutMs', options.emergencyIdleTimeoutMs ?? d.emergencyIdleTimeoutMs, 0, 365 * 86_400_000),
    emergencyRecoveryPercent: checkInteger('emergencyRecoveryPercent', options.emergencyRecoveryPercent ?? d.emergencyRecoveryPercent, 1, 100),
    maxEmptyWindows: checkInteger('maxEmptyWindows', options.maxEmptyWindows ?? d.maxEmptyWindows, 0, 1_000_000),
    maxScanPortsPerSource: checkInteger('maxScanPortsPerSource', options.maxScanPortsPerSource ?? d.maxScanPortsPerSource, 1, 65_536),
    maxDistinctSketches: checkInteger('maxDistinctSketches', options.maxDistinctSketches ?? d.maxDistinctSketches, 0, 255),
    subnetPrefixV4: checkInteger('subnetPrefixV4', options.subnetPrefixV4 ?? d.subnetPrefixV4, 0, 32),
    subnetPrefixV6: checkInteger('subnetPrefixV6', options.subnetPrefixV6 ?? d.subnetPrefixV6, 0, 128),
    scopes: [...scopes],
    interfaceName: interfaceName === '' ? undefined : interfaceName,
    internalNetworks: checkNetworks(options.internalNetworks),
  };
}

function checkNetworks(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new RangeError('flow-aggregator: internalNetworks must be a list of CIDR strings');
  const list = value.map((v: string) => v.trim()).filter((v) => v !== '');
  for (const v of list) parseCidr(v); // throws on a bad one
  return list;
}

/** Last path component of a file path or interface name (`/a/b/x.pcap` → `x.pcap`, `C:\x.pcap` → `x.pcap`). */
export function baseName(source: string): string {
  const parts = source.split(/[\\/]/).filter((p) => p !== '');
  return parts.length > 0 ? parts[parts.length - 1]! : source || 'capture';
}

/** Returns 4-byte-aligned 32-bit words over a 16-byte-per-packet address column (copies only when unaligned). */
function addressWords(bytes: Uint8Array, count: number): Int32Array {
  const n = count * 4;
  if (bytes.byteOffset % 4 === 0) return new Int32Array(bytes.buffer, bytes.byteOffset, n);
  const copy = new Uint8Array(n * 4);
  copy.set(bytes.subarray(0, n * 4));
  return new Int32Array(copy.buffer, 0, n);
}

/**
 * The 4 words of a 16-byte address mask keeping the first `bits` bits (platform byte order, like the
 * address words of a batch).
 */
function prefixMaskWords(bits: number): Int32Array {
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - 8 * i));
    bytes[i] = (0xff << (8 - keep)) & 0xff;
  }
  return new Int32Array(bytes.buffer);
}
/** Word 2 of an IPv4-mapped address (bytes 00 00 ff ff) in platform byte order. */
const V4_MAPPED_WORD = new Int32Array(new Uint8Array([0, 0, 0xff, 0xff]).buffer)[0]!;
/** Key words of a service: 4 address words + protocol·65536 + port. */
const SERVICE_WORDS = 5;
/** Key words of a host pair: source address, destination address. */
const PAIR_WORDS = 8;

const SYN_ACK_MASK = TCP_FLAG.SYN | TCP_FLAG.ACK;
const NO_FLOW = PACKET_INFO.FRAGMENT | PACKET_INFO.TRANSPORT_TRUNCATED;
/** Distinct-port value offset of UDP ports (TCP port p → p, UDP port p → 65536 + p). */
const UDP_PORT_BASE = 65_536;

/**
 * Packets folded per step of an {@link AggregatorJob} (about 7 ms at 300,000 packets per second). Half
 * of pcap-source's default batch: a batch that closes no window is done within one event-loop turn
 * (as the synchronous path), so that the node keeps pace with the reader instead of queueing batches.
 */
export const FOLD_STEP_PACKETS = 2048;
/** Records built per step of an {@link AggregatorJob} at a window close (a power of two). */
export const CLOSE_STEP_RECORDS = 128;

/** `udpReflectorBytes<port>` metric names in {@link REFLECTOR_PORTS} order (built once, not per record). */
const REFLECTOR_METRIC_NAMES: readonly string[] = Object.freeze(REFLECTOR_PORTS.map((p) => `udpReflectorBytes${p}`));
/** True while {@link REFLECTOR_PORTS} is the list the host-metrics literal spells out (else the general path builds those records). */
const REFLECTOR_LITERAL = REFLECTOR_PORTS.join(',') === '53,123,161,389,1900,11211,19,4500,3702,37810';

/**
 * The work of one {@link FlowAggregator.ingest} or {@link FlowAggregator.flush} cut into bounded
 * steps: folding at most {@link FOLD_STEP_PACKETS} packets, or building at most
 * {@link CLOSE_STEP_RECORDS} records of a closing window (plus, at the end of a close, the window's
 * clearing and idle-flow expiry). A caller on an event loop calls {@link step} until it returns true,
 * yielding in between (see `src/nodes/slices.ts`); {@link windows} then holds the same windows, in
 * the same order, as the synchronous call would have returned. Nothing else may use the aggregator
 * until the job is done.
 */
export class AggregatorJob {
  /** Windows closed so far, oldest first; complete once {@link done}. Do not change them before then. */
  readonly windows: WindowMessage[];
  /** True once the last step has run. */
  done = false;
  private readonly steps: Generator<void, void, void>;

  /** @internal created by {@link FlowAggregator.beginIngest} / {@link FlowAggregator.beginFlush}. */
  constructor(steps: Generator<void, void, void>, windows: WindowMessage[]) {
    this.steps = steps;
    this.windows = windows;
  }

  /**
   * Does the next step; returns true when the job is done (and on every call after that). An
   * exception (a bug: input is checked when the job is made) ends the job and is rethrown.
   */
  step(): boolean {
    if (this.done) return true;
    try {
      if (this.steps.next().done === true) this.done = true;
    } catch (err) {
      this.done = true;
      throw err;
    }
    return this.done;
  }

  /** Runs every remaining step and returns {@link windows}. */
  run(): WindowMessage[] {
    while (!this.step()) { /* next step */ }
    return this.windows;
  }
}

/**
 * Turns packet batches into windows of traffic records.
 *
 * Windows: tumbling, `windowMs` long, aligned to multiples of `windowMs` since the epoch. A packet
 * (or `batch.clockMs`) at or after the current window's end closes it; intervals with no packets
 * are emitted as empty windows (an `interface` record of zeros) up to `maxEmptyWindows`, and the
 * rest of a longer gap is skipped: the next window carries `gapBeforeMs`. A packet earlier than the
 * current window start (out of order) counts in the current window.
 *
 * Records per window, in the order interface, dstHost, srcHost, flow, service, hostPair, subnet
 * (the order of {@link SCOPES}); within a scope in order of first packet in the window:
 * - `interface`: one per window, also when empty; `distinctPeers` = distinct addresses.
 * - `dstHost` / `srcHost`: one per address that received / sent packets, at most
 *   `maxHostsPerWindow` each; a host beyond the cap gets no record (counted in `hostEvictions`,
 *   once per packet and side it was refused), but its packets still count on the interface and on
 *   the peer's record. Distinct counts are exact up to these caps (a host's peers are counted by
 *   their ids in the host table). When a record's `distinctPeers` misses an address because the
 *   table is full, the record switches to a HyperLogLog sketch (p = 12, m = 4096, standard error
 *   1.04 / √m = 1.625 %; Flajolet, Fusy, Gandouet, Meunier 2007, see `hyperloglog.ts`): the sketch is
 *   seeded with the peers counted so far and then takes every peer of the window, and the record
 *   reports max(exact count, rounded estimate) with `distinctAccuracy: { distinctPeers: 'estimate' }`.
 *   The interface record does the same for its distinct addresses (a sketch of its own). Sketches
 *   come from a fixed pool of `maxDistinctSketches` per table and window (first come, first served);
 *   a record that overflows when the pool is used up carries `distinctPeers: 'lower-bound'` (the
 *   exact count of the peers that had ids). Records below the bound are exact and carry no flag;
 *   they cost nothing more per packet than a one-byte check.
 *   `srcHost` of a source that sent SYNs (SYN set, ACK clear) carries {@link ScanEvidence}.
 * - `flow`: one per directional 5-tuple with packets in the window. Flows persist across windows
 *   (for `newFlows` and `flowDurationMs`) up to `maxFlows`, least recently seen evicted first
 *   (`flowEvictions`), and are forgotten after `flowIdleTimeoutMs` without packets. Non-first
 *   fragments and packets whose transport header was cut short (ports unknown) form no flow; they
 *   count on hosts and the interface (and in `packetsSkipped`).
 * - `service` (opt-in): one per server address + protocol + port (TCP and UDP), key
 *   `10.0.0.5:443/tcp` (`[2001:db8::5]:443/tcp`), counting both directions. The server side of a
 *   packet is its destination for a SYN (no ACK), its source for a SYN-ACK, otherwise the side with
 *   the lower port (the destination on a tie): ephemeral client ports (IANA 49152–65535, Linux
 *   32768–60999, RFC 6335 §6) are above the service ports they talk to. `newFlows` counts only new
 *   flows towards the server (connections), `distinctPeers` the clients, `distinctDstPorts` is 1;
 *   `handshakes` / `handshakeRttMs` as on hosts.
 * - `hostPair` (opt-in): one per source address → destination address, directional (as flows:
 *   the reply traffic is the reverse pair), key `10.0.0.1 > 10.0.0.2`; `distinctDstPorts` = ports
 *   the source tried on that destination, `distinctPeers` = 1; protocol mix as on hosts.
 * - `subnet` (opt-in): one per CIDR prefix (`subnetPrefixV4`, default /24; `subnetPrefixV6`,
 *   default /64) and side, key `dst 10.0.0.0/24` (what its addresses received) or
 *   `src 10.0.0.0/24` (what they sent); metrics as on hosts plus `distinctHosts` (the subnet's own
 *   addresses active on that side).
 *   The service, host-pair and subnet tables are capped per window at `maxHostsPerWindow` keys
 *   each (subnets: per side); a packet of a key beyond the cap counts in `serviceEvictions`,
 *   `hostPairEvictions` or `subnetEvictions` (once per packet and side) and on every other record.
 *
 * Metrics (names, units and meaning in {@link METRICS}): `bytes` = Σ wire length; `bitsPerSecond` =
 * bytes × 8 / (windowMs / 1000); `packetsPerSecond` = packets / (windowMs / 1000); `synCount` = TCP
 * SYN without ACK, `synAckCount` = SYN+ACK, `rstCount`, `finCount` (RFC 9293 §3.1 flags);
 * `newFlowsPerSecond`; `distinctDstPorts` counts TCP and UDP destination ports (a TCP and a UDP port
 * of the same number are two ports). Host and interface records add the protocol mix (percent of
 * packets and of bytes: TCP, UDP, ICMP + ICMPv6, other), `udpReflectorBytes` (UDP bytes from a
 * source port in {@link REFLECTOR_PORTS}) and, when it is not 0, `udpReflectorBytes<port>` per port
 * (absent = 0), and `handshakes` with their mean `handshakeRttMs` (absent when 0 handshakes).
 *
 * TCP sequence analysis, per flow direction, allocation-free in the flow table: a segment with data
 * whose sequence number is below the highest sequence end seen is a retransmission
 * (`tcpRetransmissions`), one beyond it a gap (`tcpOutOfOrder`: reordered, or lost before the
 * capture point); `packetLossPercent` = retransmissions / segments with data × 100 (a retransmission
 * stands for one segment lost on either side of the capture point; a reordered segment counts as a
 * gap and then as a retransmission). Sequence numbers compare modulo 2^32 (RFC 9293 §3.4). The
 * batch's `payloadLength` is the IP payload and the TCP header length is not in the batch, so a
 * segment's data length is bounded: at least IP payload − the smallest non-SYN IP payload of the
 * direction (a pure ACK carries only the header; 60 until one is seen; pure ACKs with SACK blocks,
 * RFC 2018, are recognised by their 12/20/28/36 extra bytes), at most IP payload − 20.
 * Retransmissions are counted from the lower bound and gaps beyond the upper one, so both are
 * certain and may be undercounted (small segments of a direction whose pure ACKs were not seen).
 * When the batch has the optional `tcpHeaderLength` column, the data length is exact (IP payload −
 * header length) and nothing is undercounted. A keep-alive (one octet at the highest sequence end
 * − 1, RFC 1122 §4.2.3.6) is neither data nor a retransmission, as Wireshark's
 * `tcp.analysis.keep_alive`.
 * Handshake RTT at the capture point (as Wireshark's `tcp.analysis.initial_rtt`): the client flow's
 * first SYN → the reverse flow's SYN-ACK (`synToSynAckMs`) → the client's first ACK after it
 * (`synAckToAckMs`); `handshakeRttMs` is their sum. Only when both directions are seen.
 *
 * Flow ends (NetFlow/IPFIX style, see {@link FlowEnd}): at a window close, a flow that sent FIN or
 * RST, or has been idle for `flowIdleTimeoutMs` (`emergencyIdleTimeoutMs` in emergency mode), or is
 * still tracked at the end of the capture, is reported once: its flow record of that window carries
 * `flowEnd` (an idle flow gets a record with zero window metrics). A flow still sending gets an
 * interim `active` report every `flowActiveTimeoutMs` and stays one flow. A flow first seen without
 * a SYN (already open when the capture started) is a flow like any other. Evicted flows are counted,
 * not reported.
 *
 * Emergency mode (after Suricata's flow engine): the first eviction puts the flow table in emergency
 * mode (`counters.emergencyMode` 1, `emergencyEntries` counted); while in it, flows idle for
 * `emergencyIdleTimeoutMs` end at each window close; it ends when at most
 * (100 − `emergencyRecoveryPercent`) % of `maxFlows` remain.
 *
 * Direction: with `internalNetworks`, host records carry `direction` `internal`/`external` and flow
 * records `inbound`/`outbound`/`internal`/`external` (computed when records are built, not per packet).
 */
export class FlowAggregator {
  /** The checked options. */
  readonly options: ResolvedAggregatorOptions;
  private readonly flows: FlowTable;
  private readonly hosts: HostTable;
  /** Service table of the window (key: address + protocol·65536 + port), or null when `service` is not emitted. */
  private readonly services: HostTable | null;
  /** Host-pair table of the window (key: source address, destination address), or null when `hostPair` is not emitted. */
  private readonly pairs: HostTable | null;
  /** Subnet table of the window (key: masked address; roles src / dst), or null when `subnet` is not emitted. */
  private readonly subnets: HostTable | null;
  private readonly maskV4: Int32Array;
  private readonly maskV6: Int32Array;
  /** Handshake RTT (ms) of the packet being folded, when `hasRtt` is 1 in {@link countHost} (a column: no boxed double per call). */
  private readonly packetRtt = new Float64Array(1);
  /** Scratch key of the per-packet path (no allocation). */
  private readonly keyScratch = new Int32Array(8);
  /** An address of this window got no host id (the host table was full): interface `distinctPeers` is a lower bound (or an estimate). */
  private winHostMissed = false;
  /** Seed of the second hash of an address fed to the sketches (the first is the host table's hash, seeded with `hosts.seed`). */
  private readonly sketchSeed: number;
  /** HyperLogLog sketches of the distinct peers of host records that overflowed (see {@link FlowAggregatorOptions.maxDistinctSketches}). */
  private readonly hostSketches: HyperLogLogPool;
  /** The same for service records (distinct clients), or null when `service` is not emitted. */
  private readonly serviceSketches: HyperLogLogPool | null;
  /** The same for subnet records (distinct peer addresses), or null when `subnet` is not emitted. */
  private readonly subnetSketches: HyperLogLogPool | null;
  /** Sketch of the interface's distinct addresses, allocated at the first window whose host table overflows. */
  private ifSketch: HyperLogLog | null = null;
  /** True while {@link ifSketch} counts the current window (from the first refused address on). */
  private ifSketchOn = false;
  private readonly emit: Record<Scope, boolean>;
  private readonly windowSeconds: number;
  private readonly internal: CidrPrefix[];

  private windowStart = Number.NaN;
  /** End of the current window; -Infinity before the first packet so that the first time opens one. */
  private windowEnd = -Infinity;
  private gapBeforeMs = 0;
  private source = '';
  private stats: AggregatorCounters = FlowAggregator.zeroCounters();

  // interface accumulators of the current window
  private ifBytes = 0;
  private ifPackets = 0;
  private ifSyn = 0;
  private ifSynAck = 0;
  private ifNewFlows = 0;
  private ifPortCount = 0;
  private readonly ifPorts = new Uint32Array((2 * 65_536) / 32);
  private ifRst = 0;
  private ifFin = 0;
  private ifDataSegments = 0;
  private ifRetransmissions = 0;
  private ifOutOfOrder = 0;
  private ifRttSum = 0;
  private ifRttCount = 0;
  private readonly ifProtoPackets = new Float64Array(PROTO_CLASSES);
  private readonly ifProtoBytes = new Float64Array(PROTO_CLASSES);
  private readonly ifReflectorBytes = new Float64Array(REFLECTOR_PORTS.length);

  /** @throws {RangeError} naming a bad option (see {@link resolveAggregatorOptions}). */
  constructor(options?: FlowAggregatorOptions) {
    this.options = resolveAggregatorOptions(options);
    this.flows = new FlowTable(this.options.maxFlows);
    this.hosts = new HostTable(this.options.maxHostsPerWindow, this.options.maxScanPortsPerSource);
    this.emit = { interface: false, dstHost: false, srcHost: false, flow: false, service: false, hostPair: false, subnet: false };
    for (const s of this.options.scopes) this.emit[s] = true;
    const cap = this.options.maxHostsPerWindow;
    this.services = this.emit.service ? new HostTable(cap, 1, SERVICE_WORDS) : null;
    this.pairs = this.emit.hostPair ? new HostTable(cap, 1, PAIR_WORDS) : null;
    this.subnets = this.emit.subnet ? new HostTable(cap, 1, 4) : null;
    const sketches = this.options.maxDistinctSketches;
    this.sketchSeed = ((Math.random() * 0x100000000) | 0) ^ 0x2545f491;
    if (this.sketchSeed === this.hosts.seed) this.sketchSeed = ~this.sketchSeed;
    this.hostSketches = new HyperLogLogPool(sketches, AGGREGATOR_HLL_PRECISION);
    this.serviceSketches = this.services !== null ? new HyperLogLogPool(sketches, AGGREGATOR_HLL_PRECISION) : null;
    this.subnetSketches = this.subnets !== null ? new HyperLogLogPool(sketches, AGGREGATOR_HLL_PRECISION) : null;
    this.maskV4 = prefixMaskWords(96 + this.options.subnetPrefixV4);
    this.maskV6 = prefixMaskWords(this.options.subnetPrefixV6);
    this.windowSeconds = this.options.windowMs / 1000;
    this.internal = this.options.internalNetworks.map(parseCidr);
  }

  /** True when the address at `offset` of `bytes` is in an internal network. */
  private isInternal(bytes: Uint8Array, offset: number): boolean {
    for (const p of this.internal) if (inPrefix(bytes, offset, p)) return true;
    return false;
  }

  private static zeroCounters(): AggregatorCounters {
    return {
      packetsSeen: 0, packetsSkipped: 0, trackedFlows: 0, flowEvictions: 0, hostEvictions: 0, windows: 0, emergencyMode: 0, emergencyEntries: 0, flowsEnded: 0,
      serviceEvictions: 0, hostPairEvictions: 0, subnetEvictions: 0,
    };
  }

  /** Cumulative counters (a copy). */
  get counters(): AggregatorCounters {
    return {
      ...this.stats, trackedFlows: this.flows.size, flowEvictions: this.flows.evictions,
      emergencyMode: this.flows.emergency ? 1 : 0, emergencyEntries: this.flows.emergencyEntries,
    };
  }

  /** Start of the open window (epoch ms), or `undefined` before the first packet or clock tick. */
  get currentWindowStart(): number | undefined {
    return Number.isNaN(this.windowStart) ? undefined : this.windowStart;
  }

  /**
   * Folds a batch in and returns the windows it closed (0, 1 or more), oldest first. `batch.clockMs`
   * (when a finite number > 0) advances time like a packet would; `batch.final` closes the open
   * window too (see {@link flush}). Runs {@link beginIngest}'s job to its end within the call.
   *
   * @throws {ContractError} when `batch` is not a well-formed {@link PacketBatch}; nothing is
   *   counted then except `packetsSkipped` (by `batch.count` when that is a valid number).
   * @throws {Error} while a job of {@link beginIngest} / {@link beginFlush} is unfinished.
   */
  ingest(batch: PacketBatch): WindowMessage[] {
    return this.beginIngest(batch).run();
  }

  /**
   * The work of {@link ingest} as a job done in bounded steps (see {@link AggregatorJob}), so that a
   * caller on an event loop (the Node-RED node) can yield between steps while a window of 100,000
   * records is built. The batch is checked now; the windows are the same as {@link ingest}'s.
   * Until the job is done the aggregator takes no other batch, flush or reset (they throw).
   *
   * @throws {ContractError} when `batch` is not a well-formed {@link PacketBatch} (as {@link ingest}).
   * @throws {Error} while another job is unfinished.
   */
  beginIngest(batch: PacketBatch): AggregatorJob {
    this.assertIdle();
    try {
      assertPacketBatch(batch);
    } catch (err) {
      const count = (batch as { count?: unknown } | null)?.count;
      if (typeof count === 'number' && Number.isInteger(count) && count > 0) this.stats.packetsSkipped += count;
      throw err;
    }
    const out: WindowMessage[] = [];
    return this.startJob(this.ingestSteps(batch, out), out);
  }

  private *ingestSteps(batch: PacketBatch, out: WindowMessage[]): Generator<void, void, void> {
    if (typeof batch.source === 'string' && batch.source !== '') this.source = batch.source;
    const n = batch.count;
    if (n > 0) {
      const srcW = addressWords(batch.srcAddr, n);
      const dstW = addressWords(batch.dstAddr, n);
      this.stats.packetsSeen += n;
      for (let i = 0; i < n;) {
        const to = Math.min(n, i + FOLD_STEP_PACKETS);
        i = this.foldRange(batch, srcW, dstW, i, to);
        if (i < to) yield* this.advanceSteps(batch.timeMs[i]!, out); // packet i is folded on the next turn
        if (i < n) yield; // between ranges only: a batch of at most FOLD_STEP_PACKETS without a window close is one step
      }
    }
    const clock = batch.clockMs;
    if (typeof clock === 'number' && Number.isFinite(clock) && clock > 0 && clock >= this.windowEnd) yield* this.advanceSteps(clock, out);
    if (batch.final === true) {
      const last: WindowMessage[] = [];
      yield* this.flushSteps(true, last);
      if (last.length > 0) out.push(...last);
      else if (out.length > 0) out[out.length - 1]!.final = true;
    }
  }

  /**
   * Closes the open window and returns it, or `[]` when it holds no packet. With `final` (end of a
   * replay or capture) the returned window has `final: true` and the aggregator forgets its flows
   * and its window clock, so that a following capture starts on a fresh window grid (cumulative
   * counters are kept). Without `final`, the next window starts where the closed one ended.
   * @throws {Error} while a job of {@link beginIngest} / {@link beginFlush} is unfinished.
   */
  flush(final = false): WindowMessage[] {
    return this.beginFlush(final).run();
  }

  /**
   * {@link flush} as a job done in bounded steps (see {@link AggregatorJob} and {@link beginIngest}).
   * @throws {Error} while another job is unfinished.
   */
  beginFlush(final = false): AggregatorJob {
    this.assertIdle();
    const out: WindowMessage[] = [];
    return this.startJob(this.flushSteps(final, out), out);
  }

  private *flushSteps(final: boolean, out: WindowMessage[]): Generator<void, void, void> {
    if (!Number.isNaN(this.windowStart) && this.ifPackets > 0) out.push(yield* this.closeWindowSteps(final));
    else if (!Number.isNaN(this.windowStart)) {
      // nothing to emit: the interval is skipped, so the next window says so
      this.clearWindow();
      if (!final) this.gapBeforeMs += this.options.windowMs;
    }
    if (final) {
      this.flows.clear();
      this.flows.emergency = false;
      this.windowStart = Number.NaN;
      this.windowEnd = -Infinity;
      this.gapBeforeMs = 0;
    } else if (!Number.isNaN(this.windowStart)) {
      this.windowStart = this.windowEnd;
      this.windowEnd += this.options.windowMs;
    }
  }

  /** The unfinished job, if any. */
  private job: AggregatorJob | null = null;

  /** @throws {Error} while a job is unfinished. */
  private assertIdle(): void {
    if (this.job !== null && !this.job.done) {
      throw new Error('flow-aggregator: a stepwise ingest or flush is still running; finish it (step() until true) first');
    }
  }

  private startJob(steps: Generator<void, void, void>, out: WindowMessage[]): AggregatorJob {
    const job = new AggregatorJob(steps, out);
    this.job = job;
    return job;
  }

  /**
   * Forgets everything: flows, the open window, the window clock and the counters.
   * @throws {Error} while a job of {@link beginIngest} / {@link beginFlush} is unfinished.
   */
  reset(): void {
    this.assertIdle();
    this.flows.clear();
    this.flows.evictions = 0;
    this.flows.emergency = false;
    this.flows.emergencyEntries = 0;
    this.clearWindow();
    this.windowStart = Number.NaN;
    this.windowEnd = -Infinity;
    this.gapBeforeMs = 0;
    this.stats = FlowAggregator.zeroCounters();
  }

  // -------------------------------------------------------------------------------------------
  // per-packet path
  // -------------------------------------------------------------------------------------------

  /**
   * Folds packets `from … to − 1` of `batch` into the open window and returns `to`, or, earlier, the
   * index of the first packet at or after the open window's end (or of the first packet when no
   * window is open yet): the caller closes the window(s) or opens the first ({@link advanceSteps})
   * and folds on from there (the rare path stays out of this loop, so that it never deoptimizes it). `srcW` / `dstW`
   * are the batch's address columns as words ({@link addressWords}). Allocation-free.
   */
  private foldRange(batch: PacketBatch, srcW: Int32Array, dstW: Int32Array, from: number, to: number): number {
    const n = batch.count;
    const { timeMs, wireLength, protocol, srcPort, dstPort, tcpFlags, tcpSeq, payloadLength, info } = batch;
    // optional column: the TCP header length of each segment (data offset × 4), when the producer gives it
    const hdrCol = batch.tcpHeaderLength instanceof Uint8Array && batch.tcpHeaderLength.length >= n ? batch.tcpHeaderLength : undefined;
    const flows = this.flows;
    const hosts = this.hosts;
    const hostSeed = hosts.seed;
    const sketchSeed = this.sketchSeed;
    const hostSketches = this.hostSketches;
    const stats = this.stats;
    const ifPorts = this.ifPorts;
    const ifProtoPackets = this.ifProtoPackets, ifProtoBytes = this.ifProtoBytes, ifReflectorBytes = this.ifReflectorBytes;

    for (let i = from; i < to; i++) {
      const t = timeMs[i]!;
      if (t >= this.windowEnd) return i; // a window closes (or the first one opens) here: advanceSteps, then on from i
      const len = wireLength[i]!;
      const proto = protocol[i]!;
      const isTcp = proto === IPPROTO.TCP;
      const rawFlags = isTcp ? tcpFlags[i]! : 0;
      const flags = rawFlags & SYN_ACK_MASK;
      const isSyn = flags === TCP_FLAG.SYN ? 1 : 0;
      const isSynAck = flags === SYN_ACK_MASK ? 1 : 0;
      const isRst = (rawFlags & TCP_FLAG.RST) !== 0 ? 1 : 0;
      const isFin = (rawFlags & TCP_FLAG.FIN) !== 0 ? 1 : 0;
      const pinfo = info[i]!;
      const w = i * 4;
      const sp = srcPort[i]!;
      const dp = dstPort[i]!;
      const hasPorts = (pinfo & NO_FLOW) === 0;
      const portValue = hasPorts && (isTcp || proto === IPPROTO.UDP)
        ? (proto === IPPROTO.UDP ? UDP_PORT_BASE + dp : dp) : -1;
      const pclass = isTcp ? PROTO_CLASS.TCP : proto === IPPROTO.UDP ? PROTO_CLASS.UDP
        : (proto === IPPROTO.ICMP || proto === IPPROTO.ICMPV6) ? PROTO_CLASS.ICMP : PROTO_CLASS.OTHER;
      const refl = proto === IPPROTO.UDP && hasPorts ? REFLECTOR_INDEX[sp]! : -1;

      this.ifBytes += len;
      this.ifPackets++;
      this.ifSyn += isSyn;
      this.ifSynAck += isSynAck;
      this.ifRst += isRst;
      this.ifFin += isFin;
      if (pclass < PROTO_CLASSES) {
        ifProtoPackets[pclass] = ifProtoPackets[pclass]! + 1;
        ifProtoBytes[pclass] = ifProtoBytes[pclass]! + len;
      }
      if (refl >= 0) ifReflectorBytes[refl] = ifReflectorBytes[refl]! + len;
      if (portValue >= 0) {
        const word = portValue >>> 5, bit = 1 << (portValue & 31);
        if ((ifPorts[word]! & bit) === 0) { ifPorts[word] = ifPorts[word]! | bit; this.ifPortCount++; }
      }

      // host-table hashes of the two addresses (also the sketches' first hash): computed only when needed
      // (hk bit 1: hs known, bit 2: hd known); a packet of a flow already seen in the window needs neither
      let hs = 0, hd = 0, hk = 0;
      let newFlow = 0;
      let data = 0, retrans = 0, gap = 0, rtt = -1;
      // the packet's flow slot when it has one, and the host ids cached on it for this window (-1: none)
      let flowSlot = -1, cachedSrc = -1;
      if (hasPorts) {
        const slot = flows.findOrInsert(srcW, w, dstW, w, sp, dp, proto, flows.hashKey(srcW, w, dstW, w, sp, dp, proto), timeMs, i);
        flowSlot = slot;
        cachedSrc = flows.keys[slot * FLOW_KEY_WIDTH + FLOW_KEY.HOST_SRC]!;
        const nums = flows.nums, no = slot * FLOW_NUM_WIDTH;
        nums[no + FLOW_NUM.WIN_BYTES] = nums[no + FLOW_NUM.WIN_BYTES]! + len;
        const wc = flows.winCounts, wo = slot * WIN_WIDTH;
        wc[wo + WIN.PACKETS] = wc[wo + WIN.PACKETS]! + 1;
        if (flows.lastWasNew) { nums[no + FLOW_NUM.TOTAL_BYTES] = len; nums[no + FLOW_NUM.TOTAL_PACKETS] = 1; } else {
          nums[no + FLOW_NUM.TOTAL_BYTES] = nums[no + FLOW_NUM.TOTAL_BYTES]! + len;
          nums[no + FLOW_NUM.TOTAL_PACKETS] = nums[no + FLOW_NUM.TOTAL_PACKETS]! + 1;
        }
        if (isSyn !== 0) wc[wo + WIN.SYN] = wc[wo + WIN.SYN]! + 1;
        if (isSynAck !== 0) wc[wo + WIN.SYNACK] = wc[wo + WIN.SYNACK]! + 1;
        if (flows.lastWasNew) { newFlow = 1; this.ifNewFlows++; }
        if (isTcp) {
          let st = wc[wo + WIN.STATE]!;
          // handshake RTT at the capture point: SYN (client flow) → SYN-ACK (reverse flow) → ACK (client flow)
          if (isSyn === 1) {
            if ((st & FLOW_STATE.SYN_SEEN) === 0) { flows.synTimeMs[slot] = t; st |= FLOW_STATE.SYN_SEEN; }
          } else if (isSynAck === 1) {
            const c = flows.find(dstW, w, srcW, w, dp, sp, proto, flows.hashKey(dstW, w, srcW, w, dp, sp, proto));
            const co = c * WIN_WIDTH + WIN.STATE;
            if (c >= 0 && (wc[co]! & (FLOW_STATE.SYN_SEEN | FLOW_STATE.SYNACK_SEEN)) === FLOW_STATE.SYN_SEEN && t >= flows.synTimeMs[c]!) {
              flows.synAckTimeMs[c] = t;
              flows.synToSynAckMs[c] = t - flows.synTimeMs[c]!;
              wc[co] = wc[co]! | FLOW_STATE.SYNACK_SEEN;
            }
          } else if ((rawFlags & TCP_FLAG.ACK) !== 0 && (st & (FLOW_STATE.HANDSHAKE_DONE | FLOW_STATE.SYNACK_SEEN)) === FLOW_STATE.SYNACK_SEEN
            && t >= flows.synAckTimeMs[slot]!) {
            flows.synAckToAckMs[slot] = t - flows.synAckTimeMs[slot]!;
            st |= FLOW_STATE.HANDSHAKE_DONE;
            flows.winFlags[slot] = flows.winFlags[slot]! | WIN_FLAG.HANDSHAKE;
            rtt = flows.synToSynAckMs[slot]! + flows.synAckToAckMs[slot]!;
          }
          // sequence space of this direction (RFC 9293 §3.4: SYN and FIN each take one sequence number).
          // payloadLength is the IP payload (TCP header + data). With the tcpHeaderLength column (the decoder
          // fills it) the data length is exact; without it (another producer) the data length is bounded: low = IP payload − the smallest non-SYN IP payload of
          // this direction (a pure ACK: the header with the options the flow uses; 60 until one is seen),
          // high = IP payload − 20 (the minimal header). Retransmissions are counted from the low bound
          // (certain given one header length per direction), gaps beyond the high bound (certain).
          const ipPayload = payloadLength[i]!;
          const seq = tcpSeq[i]!;
          const isSynFlag = (rawFlags & TCP_FLAG.SYN) !== 0;
          let hMin = (st & FLOW_STATE.HEADER_KNOWN) !== 0 ? wc[wo + WIN.HEADER_MIN]! : 0;
          if (!isSynFlag && ipPayload >= 20 && (hMin === 0 || ipPayload < hMin)) {
            hMin = ipPayload > 60 ? 60 : ipPayload;
            wc[wo + WIN.HEADER_MIN] = hMin;
            st |= FLOW_STATE.HEADER_KNOWN;
          }
          // a pure ACK carrying SACK blocks (RFC 2018: 2 + 8n bytes, NOP-padded to 12, 20, 28 or 36) is no data
          const extra = ipPayload - (hMin === 0 ? 60 : hMin);
          const sackOnly = ipPayload <= 60 && (extra === 12 || extra === 20 || extra === 28 || extra === 36);
          // with the header length in the batch the data length is exact: both bounds are the same
          const hdr = hdrCol !== undefined ? hdrCol[i]! : 0;
          const exact = hdr >= 20 && hdr <= 60;
          const dataLow = isSynFlag ? 0 : exact ? Math.max(0, ipPayload - hdr) : sackOnly ? 0 : Math.max(0, extra);
          const dataHigh = isSynFlag ? 0 : exact ? dataLow : Math.max(0, ipPayload - 20);
          const seqUsed = (isSynFlag ? 1 : 0) + isFin;
          const endLow = (seq + dataLow + seqUsed) >>> 0;
          const endHigh = (seq + dataHigh + seqUsed) >>> 0;
          if (dataLow > 0) data = 1;
          if ((st & FLOW_STATE.SEQ_VALID) === 0) {
            if (isRst === 0) { wc[wo + WIN.SEQ_END] = endLow; wc[wo + WIN.SEQ_END_HIGH] = endHigh; st |= FLOW_STATE.SEQ_VALID; }
          } else {
            const low = wc[wo + WIN.SEQ_END]!, high = wc[wo + WIN.SEQ_END_HIGH]!;
            if (data === 1 && dataLow === 1 && isFin === 0 && isRst === 0 && ((low - seq) | 0) === 1) {
              // a keep-alive (RFC 9293 §3.8.4 / RFC 1122 §4.2.3.6: SEG.SEQ = SND.NXT − 1 with one garbage octet): no data
              data = 0;
            } else if (data === 1) {
              // signed distances modulo 2^32: below data surely seen → retransmission; beyond all data possibly seen → gap
              if (((seq - low) | 0) < 0) retrans = 1;
              else if (((seq - high) | 0) > 0) gap = 1;
            }
            if (isRst === 0) {
              if (((endLow - low) | 0) > 0) wc[wo + WIN.SEQ_END] = endLow;
              if (((endHigh - high) | 0) > 0) wc[wo + WIN.SEQ_END_HIGH] = endHigh;
            }
          }
          if (isFin === 1) st |= FLOW_STATE.FIN;
          if (isRst === 1) st |= FLOW_STATE.RST;
          wc[wo + WIN.STATE] = st;
          if (isRst !== 0) wc[wo + WIN.RST] = wc[wo + WIN.RST]! + 1;
          if (isFin !== 0) wc[wo + WIN.FIN] = wc[wo + WIN.FIN]! + 1;
          if (data !== 0) {
            wc[wo + WIN.DATA] = wc[wo + WIN.DATA]! + 1;
            wc[wo + WIN.RETRANS] = wc[wo + WIN.RETRANS]! + retrans;
            wc[wo + WIN.GAP] = wc[wo + WIN.GAP]! + gap;
          }
          this.ifDataSegments += data;
          this.ifRetransmissions += retrans;
          this.ifOutOfOrder += gap;
          if (rtt >= 0) { this.ifRttSum += rtt; this.ifRttCount++; this.packetRtt[0] = rtt; }
        }
      } else {
        stats.packetsSkipped++;
      }

      // the RTT (a double) reaches countHost through packetRtt: a double argument would be boxed per call
      const hasRtt = rtt >= 0 ? 1 : 0;
      // hosts: a packet of a flow whose earlier packet in this window gave both addresses records reuses
      // the host ids cached on the flow; its destination port and peer are already in the hosts' sets
      // (same flow: same ports, same peer), so only the counters change
      let sid: number, did: number, srcId: number, dstId: number;
      const known = cachedSrc >= 0;
      if (known) {
        sid = srcId = cachedSrc;
        did = dstId = flows.keys[flowSlot * FLOW_KEY_WIDTH + FLOW_KEY.HOST_DST]!;
      } else {
        hs = hashAddress(srcW, w, hostSeed);
        hd = hashAddress(dstW, w, hostSeed);
        hk = 3;
        // find both first so that either can be the other's peer even when only one has room
        sid = hosts.find(srcW, w, hs);
        did = hosts.find(dstW, w, hd);
        srcId = hosts.claim(srcW, w, hs, sid, ROLE_SRC);
        if (srcId >= 0) sid = srcId;
        if (did < 0 && srcId >= 0 && hs === hd) did = hosts.find(dstW, w, hd); // src and dst the same address (loopback)
        dstId = hosts.claim(dstW, w, hd, did, ROLE_DST);
        if (dstId >= 0) did = dstId;
        if (flowSlot >= 0 && srcId >= 0 && dstId >= 0) {
          const ko = flowSlot * FLOW_KEY_WIDTH;
          flows.keys[ko + FLOW_KEY.HOST_SRC] = srcId; flows.keys[ko + FLOW_KEY.HOST_DST] = dstId;
        }
      }
      // second hashes of the two addresses for the sketches, computed only when a sketch needs them
      let h2s = 0, h2d = 0, h2known = 0;
      if (srcId >= 0) {
        this.countHost(hosts, ROLE_SRC, srcId, len, isSyn, isSynAck, isRst, isFin, newFlow, pclass, refl, data, retrans, gap, hasRtt);
        if (!known) {
          if (portValue >= 0) hosts.dstPorts[ROLE_SRC].add(srcId, portValue);
          if (did >= 0) hosts.peers[ROLE_SRC].add(srcId, did);
          else if (hosts.peerMissed[ROLE_SRC][srcId] === 0) { hosts.peerMissed[ROLE_SRC][srcId] = 1; this.startPeerSketch(hosts, hostSketches, ROLE_SRC, srcId); }
        }
        const sk = hosts.peerSketch[ROLE_SRC][srcId]!;
        if (sk !== 0) {
          if ((hk & 2) === 0) { hd = hashAddress(dstW, w, hostSeed); hk |= 2; }
          if ((h2known & 2) === 0) { h2d = hashAddress(dstW, w, sketchSeed); h2known |= 2; }
          hostSketches.add(sk - 1, hd, h2d);
        }
        if (isSyn === 1) {
          if (portValue >= 0) hosts.synDstPorts.add(srcId, dp);
          if (did >= 0) hosts.synDstHosts.add(srcId, did);
        }
      } else {
        stats.hostEvictions++;
      }
      if (dstId >= 0) {
        this.countHost(hosts, ROLE_DST, dstId, len, isSyn, isSynAck, isRst, isFin, newFlow, pclass, refl, data, retrans, gap, hasRtt);
        if (!known) {
          if (portValue >= 0) hosts.dstPorts[ROLE_DST].add(dstId, portValue);
          if (sid >= 0) hosts.peers[ROLE_DST].add(dstId, sid);
          else if (hosts.peerMissed[ROLE_DST][dstId] === 0) { hosts.peerMissed[ROLE_DST][dstId] = 1; this.startPeerSketch(hosts, hostSketches, ROLE_DST, dstId); }
        }
        const sk = hosts.peerSketch[ROLE_DST][dstId]!;
        if (sk !== 0) {
          if ((hk & 1) === 0) { hs = hashAddress(srcW, w, hostSeed); hk |= 1; }
          if ((h2known & 1) === 0) { h2s = hashAddress(srcW, w, sketchSeed); h2known |= 1; }
          hostSketches.add(sk - 1, hs, h2s);
        }
      } else {
        stats.hostEvictions++;
      }
      if ((sid < 0 || did < 0) && !this.winHostMissed) { this.winHostMissed = true; this.startInterfaceSketch(); }
      if (this.ifSketchOn) {
        const ifSketch = this.ifSketch!;
        if ((hk & 1) === 0) { hs = hashAddress(srcW, w, hostSeed); hk |= 1; }
        if ((hk & 2) === 0) { hd = hashAddress(dstW, w, hostSeed); hk |= 2; }
        if ((h2known & 1) === 0) { h2s = hashAddress(srcW, w, sketchSeed); h2known |= 1; }
        if ((h2known & 2) === 0) { h2d = hashAddress(dstW, w, sketchSeed); h2known |= 2; }
        ifSketch.addHashes(hs, h2s);
        ifSketch.addHashes(hd, h2d);
      }

      // service: the server side of the packet (see the class TSDoc), TCP and UDP with ports only
      const services = this.services;
      if (services !== null && portValue >= 0) {
        const toServer = isSynAck === 1 ? false : isSyn === 1 ? true : dp <= sp;
        const aw = toServer ? dstW : srcW;
        const ks = this.keyScratch;
        ks[0] = aw[w]!; ks[1] = aw[w + 1]!; ks[2] = aw[w + 2]!; ks[3] = aw[w + 3]!;
        ks[4] = (proto << 16) | (toServer ? dp : sp);
        const h = hashWords(ks, 0, SERVICE_WORDS, services.seed);
        const id = services.claim(ks, 0, h, services.find(ks, 0, h), ROLE_SRC);
        if (id >= 0) {
          this.countHost(services, ROLE_SRC, id, len, isSyn, isSynAck, isRst, isFin, toServer ? newFlow : 0, pclass, -1, data, retrans, gap, hasRtt);
          const client = toServer ? sid : did;
          if (client >= 0) services.peers[ROLE_SRC].add(id, client);
          else if (services.peerMissed[ROLE_SRC][id] === 0) { services.peerMissed[ROLE_SRC][id] = 1; this.startPeerSketch(services, this.serviceSketches!, ROLE_SRC, id); }
          const sk = services.peerSketch[ROLE_SRC][id]!;
          if (sk !== 0) {
            // the client is the source when the packet goes to the server
            if (toServer) {
              if ((hk & 1) === 0) { hs = hashAddress(srcW, w, hostSeed); hk |= 1; }
              if ((h2known & 1) === 0) { h2s = hashAddress(srcW, w, sketchSeed); h2known |= 1; }
              this.serviceSketches!.add(sk - 1, hs, h2s);
            } else {
              if ((hk & 2) === 0) { hd = hashAddress(dstW, w, hostSeed); hk |= 2; }
              if ((h2known & 2) === 0) { h2d = hashAddress(dstW, w, sketchSeed); h2known |= 2; }
              this.serviceSketches!.add(sk - 1, hd, h2d);
            }
          }
        } else {
          stats.serviceEvictions!++;
        }
      }
      // host pair: source → destination, one direction
      const pairs = this.pairs;
      if (pairs !== null) {
        const ks = this.keyScratch;
        ks[0] = srcW[w]!; ks[1] = srcW[w + 1]!; ks[2] = srcW[w + 2]!; ks[3] = srcW[w + 3]!;
        ks[4] = dstW[w]!; ks[5] = dstW[w + 1]!; ks[6] = dstW[w + 2]!; ks[7] = dstW[w + 3]!;
        if ((hk & 1) === 0) { hs = hashAddress(srcW, w, hostSeed); hk |= 1; }
        if ((hk & 2) === 0) { hd = hashAddress(dstW, w, hostSeed); hk |= 2; }
        const h = murmurFinal(murmurMix(murmurMix(pairs.seed, hs), hd) ^ 32);
        const id = pairs.claim(ks, 0, h, pairs.find(ks, 0, h), ROLE_SRC);
        if (id >= 0) {
          this.countHost(pairs, ROLE_SRC, id, len, isSyn, isSynAck, isRst, isFin, newFlow, pclass, refl, data, retrans, gap, hasRtt);
          if (portValue >= 0) pairs.dstPorts[ROLE_SRC].add(id, portValue);
        } else {
          stats.hostPairEvictions!++;
        }
      }
      // subnets: the source's prefix (what it sent) and the destination's (what it received)
      const subnets = this.subnets;
      if (subnets !== null) {
        for (let role = ROLE_SRC; role <= ROLE_DST; role++) {
          const aw = role === ROLE_SRC ? srcW : dstW;
          const mask = aw[w] === 0 && aw[w + 1] === 0 && aw[w + 2] === V4_MAPPED_WORD ? this.maskV4 : this.maskV6;
          const ks = this.keyScratch;
          ks[0] = aw[w]! & mask[0]!; ks[1] = aw[w + 1]! & mask[1]!; ks[2] = aw[w + 2]! & mask[2]!; ks[3] = aw[w + 3]! & mask[3]!;
          const h = hashAddress(ks, 0, subnets.seed);
          const id = subnets.claim(ks, 0, h, subnets.find(ks, 0, h), role);
          if (id < 0) { stats.subnetEvictions!++; continue; }
          this.countHost(subnets, role, id, len, isSyn, isSynAck, isRst, isFin, newFlow, pclass, refl, data, retrans, gap, hasRtt);
          if (portValue >= 0) subnets.dstPorts[role]!.add(id, portValue);
          const peer = role === ROLE_SRC ? did : sid, self = role === ROLE_SRC ? sid : did;
          if (peer >= 0) subnets.peers[role]!.add(id, peer);
          else if (subnets.peerMissed[role]![id] === 0) { subnets.peerMissed[role]![id] = 1; this.startPeerSketch(subnets, this.subnetSketches!, role, id); }
          const sk = subnets.peerSketch[role]![id]!;
          if (sk !== 0) {
            // the peer of what a subnet sent is the destination, of what it received the source
            if (role === ROLE_SRC) {
              if ((hk & 2) === 0) { hd = hashAddress(dstW, w, hostSeed); hk |= 2; }
              if ((h2known & 2) === 0) { h2d = hashAddress(dstW, w, sketchSeed); h2known |= 2; }
              this.subnetSketches!.add(sk - 1, hd, h2d);
            } else {
              if ((hk & 1) === 0) { hs = hashAddress(srcW, w, hostSeed); hk |= 1; }
              if ((h2known & 1) === 0) { h2s = hashAddress(srcW, w, sketchSeed); h2known |= 1; }
              this.subnetSketches!.add(sk - 1, hs, h2s);
            }
          }
          if (self >= 0) subnets.members[role]!.add(id, self); else subnets.memberMissed[role]![id] = 1;
        }
      }
    }
    return to;
  }

  /**
   * Key `id` of table `t` just missed a peer in `role` (the host table had no id for it): hands it a
   * sketch from `pool` when one is left and seeds it with the peers counted exactly so far (their
   * ids are host ids of {@link hosts}; hashes: the host table's hash and {@link sketchSeed}). Runs
   * once per key and window; the caller adds the missed peer and every later one.
   */
  private startPeerSketch(t: HostTable, pool: HyperLogLogPool, role: number, id: number): void {
    const k = pool.acquire();
    if (k < 0) return;
    t.peerSketch[role]![id] = k + 1;
    const hosts = this.hosts, words = hosts.words, seed = this.sketchSeed;
    t.peers[role]!.forEach(id, (peer) => { pool.add(k, hosts.keyHash(peer), hashAddress(words, peer * 4, seed)); });
  }

  /**
   * The first address of the window was refused by the host table: starts the interface sketch
   * (unless sketches are off) seeded with every address interned so far; from here on every packet
   * adds both of its addresses.
   */
  private startInterfaceSketch(): void {
    if (this.options.maxDistinctSketches === 0) return;
    const hosts = this.hosts, words = hosts.words, seed = this.sketchSeed;
    this.ifSketch ??= new HyperLogLog({ precision: AGGREGATOR_HLL_PRECISION, seeds: [hosts.seed, seed] });
    const sketch = this.ifSketch;
    for (let id = 0; id < hosts.size; id++) sketch.addHashes(hosts.keyHash(id), hashAddress(words, id * 4, seed));
    this.ifSketchOn = true;
  }

  /**
   * `distinctPeers` of key `id` of table `t` in `role`: the exact count, or when the key has a
   * sketch max(exact count, rounded estimate) (the exact count is a lower bound of the truth).
   */
  private peerCount(t: HostTable, pool: HyperLogLogPool | null, role: number, id: number): number {
    const exact = t.peers[role]!.count(id);
    const sk = t.peerSketch[role]![id]!;
    if (sk === 0 || pool === null) return exact;
    return Math.max(exact, Math.round(pool.estimate(sk - 1)));
  }

  /** `distinctAccuracy.distinctPeers` of key `id` of table `t` in `role`: estimate, lower bound, or exact (undefined). */
  private static peerAccuracy(t: HostTable, role: number, id: number): 'estimate' | 'lower-bound' | undefined {
    if (t.peerSketch[role]![id] !== 0) return 'estimate';
    return t.peerMissed[role]![id] === 1 ? 'lower-bound' : undefined;
  }

  /** Adds one packet to the accumulators of key `id` of table `h` in `role` (numbers only: no allocation); with `hasRtt` 1 also the handshake RTT in {@link packetRtt}. */
  private countHost(
    h: HostTable, role: number, id: number, len: number, isSyn: number, isSynAck: number, isRst: number, isFin: number, newFlow: number,
    pclass: number, refl: number, data: number, retrans: number, gap: number, hasRtt: number,
  ): void {
    const sums = h.sums[role]!, so = id * HOST_SUM_WIDTH;
    sums[so + HOST_SUM.BYTES] = sums[so + HOST_SUM.BYTES]! + len;
    sums[so + HOST_SUM.PACKETS] = sums[so + HOST_SUM.PACKETS]! + 1;
    // the flag counters are 0 for most packets: each is its own column (its own cache line), so only
    // the non-zero ones are touched
    if ((isSyn | isSynAck | isRst | isFin | newFlow) !== 0) {
      if (isSyn !== 0) h.syn[role]![id] = h.syn[role]![id]! + isSyn;
      if (isSynAck !== 0) h.synAck[role]![id] = h.synAck[role]![id]! + isSynAck;
      if (isRst !== 0) h.rst[role]![id] = h.rst[role]![id]! + isRst;
      if (isFin !== 0) h.fin[role]![id] = h.fin[role]![id]! + isFin;
      if (newFlow !== 0) h.newFlows[role]![id] = h.newFlows[role]![id]! + newFlow;
    }
    if (pclass < PROTO_CLASSES) {
      const pb = so + HOST_SUM.PROTO_BYTES + pclass, pp = so + HOST_SUM.PROTO_PACKETS + pclass;
      sums[pb] = sums[pb]! + len;
      sums[pp] = sums[pp]! + 1;
    }
    if (refl >= 0) h.reflectorBytes[role]!.add(id, refl, len);
    // each its own column: only the non-zero ones are touched (most data segments are neither retransmissions nor gaps)
    if (data !== 0) h.dataSegments[role]![id] = h.dataSegments[role]![id]! + data;
    if (retrans !== 0) h.retransmissions[role]![id] = h.retransmissions[role]![id]! + retrans;
    if (gap !== 0) h.outOfOrder[role]![id] = h.outOfOrder[role]![id]! + gap;
    if (hasRtt !== 0) { h.rttSum[role]![id] = h.rttSum[role]![id]! + this.packetRtt[0]!; h.rttCount[role]![id] = h.rttCount[role]![id]! + 1; }
  }

  /** Opens the first window: the one of `windowMs` aligned to multiples of it since the epoch that holds `timeMs`. */
  private openWindow(timeMs: number): void {
    const w = this.options.windowMs;
    const aligned = Math.floor(timeMs / w) * w;
    this.windowStart = aligned;
    this.windowEnd = aligned + w;
  }

  /** Closes windows until `timeMs` falls in the open one (opening the first window if none is); stepwise (see {@link AggregatorJob}). */
  private *advanceSteps(timeMs: number, out: WindowMessage[]): Generator<void, void, void> {
    const w = this.options.windowMs;
    const aligned = Math.floor(timeMs / w) * w;
    if (Number.isNaN(this.windowStart)) {
      this.openWindow(timeMs);
      return;
    }
    out.push(yield* this.closeWindowSteps(false));
    // whole windows between the closed one and the one holding timeMs
    const empty = Math.round((aligned - this.windowEnd) / w);
    const fill = Math.min(empty, this.options.maxEmptyWindows);
    for (let k = 0; k < fill; k++) {
      this.windowStart = this.windowEnd;
      this.windowEnd += w;
      out.push(yield* this.closeWindowSteps(false));
    }
    this.gapBeforeMs = empty > fill ? (empty - fill) * w : 0;
    this.windowStart = aligned;
    this.windowEnd = aligned + w;
  }

  // -------------------------------------------------------------------------------------------
  // window close: records are built here
  // -------------------------------------------------------------------------------------------

  private clearWindow(): void {
    this.flows.clearWindow();
    this.hosts.clear();
    this.services?.clear();
    this.pairs?.clear();
    this.subnets?.clear();
    this.winHostMissed = false;
    this.hostSketches.clear();
    this.serviceSketches?.clear();
    this.subnetSketches?.clear();
    if (this.ifSketchOn) { this.ifSketch!.clear(); this.ifSketchOn = false; }
    this.ifBytes = this.ifPackets = this.ifSyn = this.ifSynAck = this.ifNewFlows = this.ifPortCount = 0;
    this.ifRst = this.ifFin = this.ifDataSegments = this.ifRetransmissions = this.ifOutOfOrder = this.ifRttSum = this.ifRttCount = 0;
    this.ifPorts.fill(0);
    this.ifProtoPackets.fill(0);
    this.ifProtoBytes.fill(0);
    this.ifReflectorBytes.fill(0);
  }

  /** The metrics every scope carries. */
  private metrics(
    bytes: number, packets: number, syn: number, synAck: number, newFlows: number, ports: number, peers: number,
    rst: number, fin: number, dataSegments: number, retransmissions: number, outOfOrder: number,
  ): Metrics {
    const sec = this.windowSeconds;
    return {
      bytes,
      packets,
      bitsPerSecond: (bytes * 8) / sec,
      packetsPerSecond: packets / sec,
      synCount: syn,
      synAckCount: synAck,
      rstCount: rst,
      finCount: fin,
      newFlows,
      newFlowsPerSecond: newFlows / sec,
      distinctDstPorts: ports,
      distinctPeers: peers,
      tcpRetransmissions: retransmissions,
      tcpOutOfOrder: outOfOrder,
      packetLossPercent: dataSegments > 0 ? (retransmissions / dataSegments) * 100 : 0,
    };
  }

  /**
   * The metrics of a host record: {@link metrics} followed by {@link mixMetrics}'s, the same names in
   * the same order, built as one object literal when no reflector bytes were seen (the common case:
   * no property added one by one, so no property store grown per record); otherwise by those two.
   * `sums` / `so`: the key's {@link HostTable.sums} row.
   */
  private hostMetrics(
    bytes: number, packets: number, syn: number, synAck: number, newFlows: number, ports: number, peers: number,
    rst: number, fin: number, dataSegments: number, retransmissions: number, outOfOrder: number,
    sums: Float64Array, so: number, reflector: Float64Array, rOff: number, rttSum: number, rttCount: number,
  ): Metrics {
    let total = 0;
    if (rOff >= 0) for (let k = 0; k < REFLECTOR_PORTS.length; k++) total += reflector[rOff + k]!;
    if (total > 0 && !REFLECTOR_LITERAL) {
      const m = this.metrics(bytes, packets, syn, synAck, newFlows, ports, peers, rst, fin, dataSegments, retransmissions, outOfOrder);
      this.mixMetrics(m, packets, bytes, sums, so + HOST_SUM.PROTO_PACKETS, sums, so + HOST_SUM.PROTO_BYTES, reflector, rOff, rttSum, rttCount);
      return m;
    }
    if (total > 0) {
      return this.hostMetricsReflector(bytes, packets, syn, synAck, newFlows, ports, peers, rst, fin, dataSegments, retransmissions, outOfOrder,
        sums, so, reflector, rOff, total, rttSum, rttCount);
    }
    const sec = this.windowSeconds;
    const pp = so + HOST_SUM.PROTO_PACKETS, pb = so + HOST_SUM.PROTO_BYTES;
    const tp = sums[pp + PROTO_CLASS.TCP]!, up = sums[pp + PROTO_CLASS.UDP]!, ip = sums[pp + PROTO_CLASS.ICMP]!;
    const tb = sums[pb + PROTO_CLASS.TCP]!, ub = sums[pb + PROTO_CLASS.UDP]!, ib = sums[pb + PROTO_CLASS.ICMP]!;
    const m: Metrics = {
      bytes,
      packets,
      bitsPerSecond: (bytes * 8) / sec,
      packetsPerSecond: packets / sec,
      synCount: syn,
      synAckCount: synAck,
      rstCount: rst,
      finCount: fin,
      newFlows,
      newFlowsPerSecond: newFlows / sec,
      distinctDstPorts: ports,
      distinctPeers: peers,
      tcpRetransmissions: retransmissions,
      tcpOutOfOrder: outOfOrder,
      packetLossPercent: dataSegments > 0 ? (retransmissions / dataSegments) * 100 : 0,
      tcpPacketsPercent: packets > 0 ? (tp / packets) * 100 : 0,
      udpPacketsPercent: packets > 0 ? (up / packets) * 100 : 0,
      icmpPacketsPercent: packets > 0 ? (ip / packets) * 100 : 0,
      otherPacketsPercent: packets > 0 ? ((packets - tp - up - ip) / packets) * 100 : 0,
      tcpBytesPercent: bytes > 0 ? (tb / bytes) * 100 : 0,
      udpBytesPercent: bytes > 0 ? (ub / bytes) * 100 : 0,
      icmpBytesPercent: bytes > 0 ? (ib / bytes) * 100 : 0,
      otherBytesPercent: bytes > 0 ? ((bytes - tb - ub - ib) / bytes) * 100 : 0,
      udpReflectorBytes: total,
      handshakes: rttCount,
    };
    if (rttCount > 0) m.handshakeRttMs = rttSum / rttCount;
    return m;
  }

  /**
   * {@link hostMetrics} of a key with reflector bytes: the same names in the same order as
   * {@link metrics} + {@link mixMetrics} (the per-port names between `udpReflectorBytes` and
   * `handshakes`), as one literal; only while {@link REFLECTOR_PORTS} is the list it spells out
   * (`REFLECTOR_LITERAL`).
   */
  private hostMetricsReflector(
    bytes: number, packets: number, syn: number, synAck: number, newFlows: number, ports: number, peers: number,
    rst: number, fin: number, dataSegments: number, retransmissions: number, outOfOrder: number,
    sums: Float64Array, so: number, reflector: Float64Array, rOff: number, total: number, rttSum: number, rttCount: number,
  ): Metrics {
    const sec = this.windowSeconds;
    const pp = so + HOST_SUM.PROTO_PACKETS, pb = so + HOST_SUM.PROTO_BYTES;
    const tp = sums[pp + PROTO_CLASS.TCP]!, up = sums[pp + PROTO_CLASS.UDP]!, ip = sums[pp + PROTO_CLASS.ICMP]!;
    const tb = sums[pb + PROTO_CLASS.TCP]!, ub = sums[pb + PROTO_CLASS.UDP]!, ib = sums[pb + PROTO_CLASS.ICMP]!;
    const m: Metrics = {
      bytes,
      packets,
      bitsPerSecond: (bytes * 8) / sec,
      packetsPerSecond: packets / sec,
      synCount: syn,
      synAckCount: synAck,
      rstCount: rst,
      finCount: fin,
      newFlows,
      newFlowsPerSecond: newFlows / sec,
      distinctDstPorts: ports,
      distinctPeers: peers,
      tcpRetransmissions: retransmissions,
      tcpOutOfOrder: outOfOrder,
      packetLossPercent: dataSegments > 0 ? (retransmissions / dataSegments) * 100 : 0,
      tcpPacketsPercent: packets > 0 ? (tp / packets) * 100 : 0,
      udpPacketsPercent: packets > 0 ? (up / packets) * 100 : 0,
      icmpPacketsPercent: packets > 0 ? (ip / packets) * 100 : 0,
      otherPacketsPercent: packets > 0 ? ((packets - tp - up - ip) / packets) * 100 : 0,
      tcpBytesPercent: bytes > 0 ? (tb / bytes) * 100 : 0,
      udpBytesPercent: bytes > 0 ? (ub / bytes) * 100 : 0,
      icmpBytesPercent: bytes > 0 ? (ib / bytes) * 100 : 0,
      otherBytesPercent: bytes > 0 ? ((bytes - tb - ub - ib) / bytes) * 100 : 0,
      udpReflectorBytes: total,
      udpReflectorBytes53: reflector[rOff]!,
      udpReflectorBytes123: reflector[rOff + 1]!,
      udpReflectorBytes161: reflector[rOff + 2]!,
      udpReflectorBytes389: reflector[rOff + 3]!,
      udpReflectorBytes1900: reflector[rOff + 4]!,
      udpReflectorBytes11211: reflector[rOff + 5]!,
      udpReflectorBytes19: reflector[rOff + 6]!,
      udpReflectorBytes4500: reflector[rOff + 7]!,
      udpReflectorBytes3702: reflector[rOff + 8]!,
      udpReflectorBytes37810: reflector[rOff + 9]!,
      handshakes: rttCount,
    };
    if (rttCount > 0) m.handshakeRttMs = rttSum / rttCount;
    return m;
  }

  /** Adds the host/interface-only metrics: protocol mix, reflector bytes, mean handshake RTT. */
  private mixMetrics(
    m: Metrics, packets: number, bytes: number, protoPackets: Float64Array, pOff: number, protoBytes: Float64Array, bOff: number,
    reflector: Float64Array, rOff: number, rttSum: number, rttCount: number,
  ): void {
    const tp = protoPackets[pOff + PROTO_CLASS.TCP]!, up = protoPackets[pOff + PROTO_CLASS.UDP]!, ip = protoPackets[pOff + PROTO_CLASS.ICMP]!;
    const tb = protoBytes[bOff + PROTO_CLASS.TCP]!, ub = protoBytes[bOff + PROTO_CLASS.UDP]!, ib = protoBytes[bOff + PROTO_CLASS.ICMP]!;
    const pp = (n: number): number => (packets > 0 ? (n / packets) * 100 : 0);
    const bp = (n: number): number => (bytes > 0 ? (n / bytes) * 100 : 0);
    m.tcpPacketsPercent = pp(tp);
    m.udpPacketsPercent = pp(up);
    m.icmpPacketsPercent = pp(ip);
    m.otherPacketsPercent = pp(packets - tp - up - ip);
    m.tcpBytesPercent = bp(tb);
    m.udpBytesPercent = bp(ub);
    m.icmpBytesPercent = bp(ib);
    m.otherBytesPercent = bp(bytes - tb - ub - ib);
    let total = 0;
    if (rOff >= 0) for (let k = 0; k < REFLECTOR_PORTS.length; k++) total += reflector[rOff + k]!;
    m.udpReflectorBytes = total;
    // per port only when there is any (absent = 0): a flood's many host records stay small
    if (total > 0) for (let k = 0; k < REFLECTOR_PORTS.length; k++) m[REFLECTOR_METRIC_NAMES[k]!] = reflector[rOff + k]!;
    m.handshakes = rttCount;
    if (rttCount > 0) m.handshakeRttMs = rttSum / rttCount;
  }

  /** Idle timeout in force: the emergency one while the flow table is in emergency mode. */
  private idleTimeoutMs(): number {
    return this.flows.emergency ? Math.min(this.options.emergencyIdleTimeoutMs, this.options.flowIdleTimeoutMs) : this.options.flowIdleTimeoutMs;
  }

  /** Address texts of the hosts of the window being closed, by host id (each formatted once per close; emptied at the start of each). */
  private readonly addressCache: Array<string | undefined> = [];
  /** Bytes of the host table's addresses during a close (a view set at its start). */
  private closeAddrBytes: Uint8Array = new Uint8Array(0);

  /** Address text of host id `id` of the window being closed (formatted once per close). */
  private hostAddress(id: number): string {
    let ip = this.addressCache[id];
    if (ip === undefined) {
      ip = formatAddress(this.closeAddrBytes, id * 16);
      this.addressCache[id] = ip;
    }
    return ip;
  }

  /**
   * Address text of the 4 words at `words[w …]` (the address also at byte `offset` of `bytes`): the
   * host table's cached text when the address is a host of the window, formatted otherwise.
   */
  private cachedAddress(words: Int32Array, w: number, bytes: Uint8Array, offset: number): string {
    const hosts = this.hosts;
    const id = hosts.find(words, w, hashAddress(words, w, hosts.seed));
    return id >= 0 ? this.hostAddress(id) : formatAddress(bytes, offset);
  }

  /**
   * Builds the records of the open window and clears it (stepwise: yields after every
   * {@link CLOSE_STEP_RECORDS} records; see {@link AggregatorJob}). Nothing else touches the
   * aggregator between two steps.
   */
  private *closeWindowSteps(final: boolean): Generator<void, WindowMessage, void> {
    const start = this.windowStart, end = this.windowEnd;
    const records: TrafficRecord[] = [];
    const hosts = this.hosts;
    const addrBytes = new Uint8Array(hosts.words.buffer, hosts.words.byteOffset, hosts.size * 16);
    this.closeAddrBytes = addrBytes;
    this.addressCache.length = 0;
    const STEP = CLOSE_STEP_RECORDS - 1;
    const ifName = this.options.interfaceName ?? baseName(this.source);

    if (this.emit.interface) {
      const ifPeers = this.ifSketchOn ? Math.max(hosts.size, Math.round(this.ifSketch!.estimate())) : hosts.size;
      const m = this.metrics(this.ifBytes, this.ifPackets, this.ifSyn, this.ifSynAck, this.ifNewFlows, this.ifPortCount, ifPeers,
        this.ifRst, this.ifFin, this.ifDataSegments, this.ifRetransmissions, this.ifOutOfOrder);
      this.mixMetrics(m, this.ifPackets, this.ifBytes, this.ifProtoPackets, 0, this.ifProtoBytes, 0, this.ifReflectorBytes, 0, this.ifRttSum, this.ifRttCount);
      const rec: TrafficRecord = { scope: 'interface', key: `iface ${ifName}`, windowStart: start, windowEnd: end, metrics: m };
      if (this.winHostMissed) rec.distinctAccuracy = { distinctPeers: this.ifSketchOn ? 'estimate' : 'lower-bound' };
      records.push(rec);
    }
    for (const role of [ROLE_DST, ROLE_SRC]) {
      const scope: Scope = role === ROLE_SRC ? 'srcHost' : 'dstHost';
      if (!this.emit[scope]) continue;
      const order = hosts.order[role]!;
      for (let k = 0; k < hosts.roleCount[role]!; k++) {
        const id = order[k]!;
        const ip = this.hostAddress(id);
        const sums = hosts.sums[role]!, so = id * HOST_SUM_WIDTH;
        const bytes = sums[so + HOST_SUM.BYTES]!, packets = sums[so + HOST_SUM.PACKETS]!;
        const refl = hosts.reflectorBytes[role]!;
        const row = refl.rowOf[id]!;
        const m = this.hostMetrics(bytes, packets, hosts.syn[role]![id]!, hosts.synAck[role]![id]!,
          hosts.newFlows[role]![id]!, hosts.dstPorts[role]!.count(id), this.peerCount(hosts, this.hostSketches, role, id),
          hosts.rst[role]![id]!, hosts.fin[role]![id]!, hosts.dataSegments[role]![id]!, hosts.retransmissions[role]![id]!, hosts.outOfOrder[role]![id]!,
          sums, so, refl.pool, row < 0 ? -1 : row * REFLECTOR_PORTS.length, hosts.rttSum[role]![id]!, hosts.rttCount[role]![id]!);
        // srcIp / dstIp in the literal (the same name order as adding it after): one shape per role
        const rec: TrafficRecord = role === ROLE_SRC
          ? { scope, key: `src ${ip}`, windowStart: start, windowEnd: end, metrics: m, srcIp: ip }
          : { scope, key: `dst ${ip}`, windowStart: start, windowEnd: end, metrics: m, dstIp: ip };
        if (role === ROLE_SRC) {
          if (hosts.syn[ROLE_SRC][id]! > 0) {
            const scan: ScanEvidence = {
              synDstPorts: hosts.synDstPorts.sorted(id),
              truncated: hosts.synDstPorts.truncated[id] === 1,
              synDstHosts: hosts.synDstHosts.count(id),
            };
            if (scan.synDstHosts === 1) scan.synDstHost = this.hostAddress(hosts.synDstHosts.first[id]!);
            rec.scan = scan;
          }
        }
        const accuracy = FlowAggregator.peerAccuracy(hosts, role, id);
        if (accuracy !== undefined) rec.distinctAccuracy = { distinctPeers: accuracy };
        if (this.internal.length > 0) rec.direction = this.isInternal(addrBytes, id * 16) ? 'internal' : 'external';
        records.push(rec);
        if ((records.length & STEP) === 0) yield;
      }
    }

    // flows: records of the active ones, end reports (FIN/RST, idle, end of capture) and active-timeout reports
    const flows = this.flows;
    const idleCutoff = final ? Infinity : end - this.idleTimeoutMs();
    const activeTimeout = this.options.flowActiveTimeoutMs;
    let ended = 0;
    const flowBytes = new Uint8Array(flows.keys.buffer, flows.keys.byteOffset, flows.keys.byteLength);
    for (let k = 0; k < flows.activeCount; k++) {
      const slot = flows.active[k]!;
      const reason = this.flowEndReason(slot, end, idleCutoff, final, activeTimeout);
      if (reason !== undefined && reason !== 'active') ended++;
      if (this.emit.flow) {
        const rec = this.flowRecord(slot, flowBytes, start, end);
        if (reason !== undefined) rec.flowEnd = this.flowEndReport(slot, reason);
        records.push(rec);
      }
      if ((k & STEP) === STEP) yield;
    }
    // flows without packets in this window that end now (idle, or end of capture): one report each
    let seen = 0;
    for (let slot = flows.oldest; slot !== -1; slot = flows.newerThan(slot)) {
      if ((++seen & STEP) === 0) yield;
      if (flows.lastSeenMs(slot) >= idleCutoff) break; // recency order: every later flow is newer
      if (flows.isActive(slot)) continue;
      const reason = this.flowEndReason(slot, end, idleCutoff, final, activeTimeout);
      if (reason === undefined || reason === 'active') continue;
      ended++;
      if (!this.emit.flow) continue; // a flood can end 100k flows at once: no report objects unless emitted
      const rec = this.flowRecord(slot, flowBytes, start, end);
      rec.flowEnd = this.flowEndReport(slot, reason);
      records.push(rec);
    }
    this.stats.flowsEnded = (this.stats.flowsEnded ?? 0) + ended;
    if (this.services !== null) yield* this.serviceRecords(this.services, records, start, end);
    if (this.pairs !== null) yield* this.pairRecords(this.pairs, records, start, end);
    if (this.subnets !== null) yield* this.subnetRecords(this.subnets, records, start, end);

    this.stats.windows++;
    const msg: WindowMessage = {
      kind: 'netbaseline/window',
      version: CONTRACT_VERSION,
      source: this.source,
      windowStart: start,
      windowEnd: end,
      windowMs: this.options.windowMs,
      gapBeforeMs: this.gapBeforeMs,
      records,
      counters: this.counters,
      final,
    };
    this.gapBeforeMs = 0;
    this.addressCache.length = 0;
    this.closeAddrBytes = new Uint8Array(0);
    this.clearWindow();
    if (!final) {
      flows.expireIdle(idleCutoff);
      if (flows.emergency && flows.size * 100 <= flows.maxFlows * (100 - this.options.emergencyRecoveryPercent)) flows.emergency = false;
    }
    return msg;
  }

  /** The metrics of key `id` of table `t` in `role` (every scope's metrics; `ports` / `peers` as given). */
  private tableMetrics(t: HostTable, role: number, id: number, ports: number, peers: number): Metrics {
    return this.metrics(t.bytesOf(role, id), t.packetsOf(role, id), t.syn[role]![id]!, t.synAck[role]![id]!, t.newFlows[role]![id]!, ports, peers,
      t.rst[role]![id]!, t.fin[role]![id]!, t.dataSegments[role]![id]!, t.retransmissions[role]![id]!, t.outOfOrder[role]![id]!);
  }

  /** Adds the protocol mix, reflector bytes and handshake RTT of key `id` of table `t` in `role` to `m`. */
  private tableMix(m: Metrics, t: HostTable, role: number, id: number): void {
    const refl = t.reflectorBytes[role]!;
    const row = refl.rowOf[id]!;
    const sums = t.sums[role]!, so = id * HOST_SUM_WIDTH;
    this.mixMetrics(m, sums[so + HOST_SUM.PACKETS]!, sums[so + HOST_SUM.BYTES]!, sums, so + HOST_SUM.PROTO_PACKETS, sums, so + HOST_SUM.PROTO_BYTES,
      refl.pool, row < 0 ? -1 : row * REFLECTOR_PORTS.length, t.rttSum[role]![id]!, t.rttCount[role]![id]!);
  }

  /** Address text of the 4 words at `words[w …]` (platform byte order). */
  private static wordsAddress(words: Int32Array, w: number): string {
    return formatAddress(new Uint8Array(words.buffer, words.byteOffset + w * 4, 16), 0);
  }

  /** `service` records: `10.0.0.5:443/tcp`, `[2001:db8::5]:443/tcp`. */
  private *serviceRecords(t: HostTable, records: TrafficRecord[], start: number, end: number): Generator<void, void, void> {
    const order = t.order[ROLE_SRC];
    for (let k = 0; k < t.roleCount[ROLE_SRC]!; k++) {
      const id = order[k]!;
      const o = id * SERVICE_WORDS;
      const ip = FlowAggregator.wordsAddress(t.words, o);
      const pp = t.words[o + 4]!;
      const port = pp & 0xffff, name = protocolName(pp >>> 16);
      const m = this.tableMetrics(t, ROLE_SRC, id, 1, this.peerCount(t, this.serviceSketches, ROLE_SRC, id));
      const handshakes = t.rttCount[ROLE_SRC][id]!;
      m.handshakes = handshakes;
      if (handshakes > 0) m.handshakeRttMs = t.rttSum[ROLE_SRC][id]! / handshakes;
      const rec: TrafficRecord = {
        scope: 'service', key: `${ip.includes(':') ? `[${ip}]` : ip}:${port}/${name}`, windowStart: start, windowEnd: end,
        dstIp: ip, dstPort: port, protocol: name, metrics: m,
      };
      const accuracy = FlowAggregator.peerAccuracy(t, ROLE_SRC, id);
      if (accuracy !== undefined) rec.distinctAccuracy = { distinctPeers: accuracy };
      if (this.internal.length > 0) {
        rec.direction = this.isInternal(new Uint8Array(t.words.buffer, t.words.byteOffset + o * 4, 16), 0) ? 'internal' : 'external';
      }
      records.push(rec);
      if ((records.length & (CLOSE_STEP_RECORDS - 1)) === 0) yield;
    }
  }

  /** `hostPair` records: `10.0.0.1 > 10.0.0.2`. */
  private *pairRecords(t: HostTable, records: TrafficRecord[], start: number, end: number): Generator<void, void, void> {
    const order = t.order[ROLE_SRC];
    for (let k = 0; k < t.roleCount[ROLE_SRC]!; k++) {
      const id = order[k]!;
      const o = id * PAIR_WORDS;
      const srcIp = FlowAggregator.wordsAddress(t.words, o), dstIp = FlowAggregator.wordsAddress(t.words, o + 4);
      const m = this.tableMetrics(t, ROLE_SRC, id, t.dstPorts[ROLE_SRC].count(id), 1);
      this.tableMix(m, t, ROLE_SRC, id);
      const rec: TrafficRecord = { scope: 'hostPair', key: `${srcIp} > ${dstIp}`, windowStart: start, windowEnd: end, srcIp, dstIp, metrics: m };
      if (this.internal.length > 0) {
        const bytes = new Uint8Array(t.words.buffer, t.words.byteOffset + o * 4, 32);
        const si = this.isInternal(bytes, 0), di = this.isInternal(bytes, 16);
        rec.direction = si ? (di ? 'internal' : 'outbound') : (di ? 'inbound' : 'external');
      }
      records.push(rec);
      if ((records.length & (CLOSE_STEP_RECORDS - 1)) === 0) yield;
    }
  }

  /** `subnet` records: `dst 10.0.0.0/24` (received), `src 10.0.0.0/24` (sent); dst first, as for hosts. */
  private *subnetRecords(t: HostTable, records: TrafficRecord[], start: number, end: number): Generator<void, void, void> {
    for (const role of [ROLE_DST, ROLE_SRC]) {
      const order = t.order[role]!;
      const side = role === ROLE_SRC ? 'src' : 'dst';
      for (let k = 0; k < t.roleCount[role]!; k++) {
        const id = order[k]!;
        const o = id * 4;
        const w = t.words;
        const v4 = w[o] === 0 && w[o + 1] === 0 && w[o + 2] === V4_MAPPED_WORD;
        const subnet = `${FlowAggregator.wordsAddress(w, o)}/${v4 ? this.options.subnetPrefixV4 : this.options.subnetPrefixV6}`;
        const m = this.tableMetrics(t, role, id, t.dstPorts[role]!.count(id), this.peerCount(t, this.subnetSketches, role, id));
        this.tableMix(m, t, role, id);
        m.distinctHosts = t.members[role]!.count(id);
        const rec: TrafficRecord = { scope: 'subnet', key: `${side} ${subnet}`, windowStart: start, windowEnd: end, subnet, side, metrics: m };
        const accuracy = FlowAggregator.peerAccuracy(t, role, id);
        if (accuracy !== undefined || t.memberMissed[role]![id] === 1) {
          rec.distinctAccuracy = {};
          if (accuracy !== undefined) rec.distinctAccuracy.distinctPeers = accuracy;
          if (t.memberMissed[role]![id] === 1) rec.distinctAccuracy.distinctHosts = 'lower-bound';
        }
        if (this.internal.length > 0) {
          rec.direction = this.isInternal(new Uint8Array(w.buffer, w.byteOffset + o * 4, 16), 0) ? 'internal' : 'external';
        }
        records.push(rec);
        if ((records.length & (CLOSE_STEP_RECORDS - 1)) === 0) yield;
      }
    }
  }

  /**
   * Why a flow is reported at the close of the window ending at `end`, if it is: FIN/RST seen (once),
   * idle past `idleCutoff`, end of capture, or (not an end) an active-timeout report. Marks the flow
   * so that an end is not reported twice. Allocation-free.
   */
  private flowEndReason(slot: number, end: number, idleCutoff: number, final: boolean, activeTimeout: number): FlowEnd['reason'] | undefined {
    const f = this.flows;
    const st = f.stateOf(slot);
    let reason: FlowEnd['reason'] | undefined;
    if ((st & FLOW_STATE.END_REPORTED) === 0) {
      if ((st & FLOW_STATE.RST) !== 0) reason = 'rst';
      else if ((st & FLOW_STATE.FIN) !== 0) reason = 'fin';
      else if (final) reason = 'end-of-capture';
      else if (f.lastSeenMs(slot) < idleCutoff) reason = 'idle';
    }
    if (reason !== undefined) f.winCounts[slot * WIN_WIDTH + WIN.STATE] = st | FLOW_STATE.END_REPORTED;
    else if (activeTimeout > 0 && (st & FLOW_STATE.END_REPORTED) === 0 && end - f.reportedUntilMs[slot]! >= activeTimeout) {
      reason = 'active';
      f.reportedUntilMs[slot] = end;
    }
    return reason;
  }

  /** The {@link FlowEnd} report of a flow for `reason`. */
  private flowEndReport(slot: number, reason: FlowEnd['reason']): FlowEnd {
    const f = this.flows;
    const first = f.firstSeenMs(slot), last = f.lastSeenMs(slot);
    return {
      reason, ended: reason !== 'active', firstSeen: first, lastSeen: last, durationMs: last - first,
      bytes: f.nums[slot * FLOW_NUM_WIDTH + FLOW_NUM.TOTAL_BYTES]!, packets: f.nums[slot * FLOW_NUM_WIDTH + FLOW_NUM.TOTAL_PACKETS]!,
    };
  }

  private flowRecord(slot: number, bytes: Uint8Array, start: number, end: number): TrafficRecord {
    const f = this.flows;
    const proto = f.protocolOf(slot);
    const ports = f.portsOf(slot);
    const sp = ports >>> 16, dp = ports & 0xffff;
    // the host ids cached on an active flow name its addresses' host records (their texts are cached)
    const ko = slot * FLOW_KEY_WIDTH, k = f.keys;
    const active = k[ko + FLOW_KEY.ACTIVE_POS]! >= 0 && k[ko + FLOW_KEY.HOST_SRC]! >= 0;
    const srcIp = active ? this.hostAddress(k[ko + FLOW_KEY.HOST_SRC]!) : this.cachedAddress(k, ko + FLOW_KEY.SRC, bytes, (ko + FLOW_KEY.SRC) * 4);
    const dstIp = active ? this.hostAddress(k[ko + FLOW_KEY.HOST_DST]!) : this.cachedAddress(k, ko + FLOW_KEY.DST, bytes, (ko + FLOW_KEY.DST) * 4);
    const name = protocolName(proto);
    let key: string;
    const c = f.winCounts, o = slot * WIN_WIDTH;
    // the names and order of metrics() and then the flow's own, in one literal
    const sec = this.windowSeconds;
    const winBytes = f.nums[slot * FLOW_NUM_WIDTH + FLOW_NUM.WIN_BYTES]!, packets = c[o + WIN.PACKETS]!, newFlows = (f.winFlags[slot]! & WIN_FLAG.NEW) !== 0 ? 1 : 0;
    const dataSegments = c[o + WIN.DATA]!, retransmissions = c[o + WIN.RETRANS]!;
    const m: Metrics = {
      bytes: winBytes,
      packets,
      bitsPerSecond: (winBytes * 8) / sec,
      packetsPerSecond: packets / sec,
      synCount: c[o + WIN.SYN]!,
      synAckCount: c[o + WIN.SYNACK]!,
      rstCount: c[o + WIN.RST]!,
      finCount: c[o + WIN.FIN]!,
      newFlows,
      newFlowsPerSecond: newFlows / sec,
      distinctDstPorts: 1,
      distinctPeers: 1,
      tcpRetransmissions: retransmissions,
      tcpOutOfOrder: c[o + WIN.GAP]!,
      packetLossPercent: dataSegments > 0 ? (retransmissions / dataSegments) * 100 : 0,
      flowDurationMs: f.lastSeenMs(slot) - f.firstSeenMs(slot),
      flowIdleMs: Math.max(0, end - f.lastSeenMs(slot)),
    };
    if ((f.stateOf(slot) & FLOW_STATE.HANDSHAKE_DONE) !== 0) {
      m.synToSynAckMs = f.synToSynAckMs[slot]!;
      m.synAckToAckMs = f.synAckToAckMs[slot]!;
      m.handshakeRttMs = f.synToSynAckMs[slot]! + f.synAckToAckMs[slot]!;
    }
    if (this.internal.length === 0) {
      // one literal per shape (the names in the order of the general path below)
      if (proto === IPPROTO.TCP || proto === IPPROTO.UDP) {
        const s = srcIp.includes(':') ? `[${srcIp}]` : srcIp;
        const d = dstIp.includes(':') ? `[${dstIp}]` : dstIp;
        return {
          scope: 'flow', key: `${name} ${s}:${sp} > ${d}:${dp}`, windowStart: start, windowEnd: end, srcIp, dstIp, metrics: m,
          srcPort: sp, dstPort: dp, protocol: name,
        };
      }
      if (proto === IPPROTO.ICMP || proto === IPPROTO.ICMPV6) {
        return {
          scope: 'flow', key: `${name} ${srcIp} > ${dstIp} type ${dp >>> 8} code ${dp & 0xff}`, windowStart: start, windowEnd: end, srcIp, dstIp, metrics: m,
          dstPort: dp, protocol: name,
        };
      }
      return { scope: 'flow', key: `${name} ${srcIp} > ${dstIp}`, windowStart: start, windowEnd: end, srcIp, dstIp, metrics: m, protocol: name };
    }
    // with internal networks: the record with its direction
    const rec: TrafficRecord = { scope: 'flow', key: '', windowStart: start, windowEnd: end, srcIp, dstIp, metrics: m };
    const si = this.isInternal(bytes, (ko + FLOW_KEY.SRC) * 4), di = this.isInternal(bytes, (ko + FLOW_KEY.DST) * 4);
    rec.direction = si ? (di ? 'internal' : 'outbound') : (di ? 'inbound' : 'external');
    if (proto === IPPROTO.TCP || proto === IPPROTO.UDP) {
      const s = srcIp.includes(':') ? `[${srcIp}]` : srcIp;
      const d = dstIp.includes(':') ? `[${dstIp}]` : dstIp;
      key = `${name} ${s}:${sp} > ${d}:${dp}`;
      rec.srcPort = sp;
      rec.dstPort = dp;
    } else if (proto === IPPROTO.ICMP || proto === IPPROTO.ICMPV6) {
      key = `${name} ${srcIp} > ${dstIp} type ${dp >>> 8} code ${dp & 0xff}`;
      rec.dstPort = dp;
    } else {
      key = `${name} ${srcIp} > ${dstIp}`;
    }
    rec.key = key;
    rec.protocol = name;
    return rec;
  }
}
