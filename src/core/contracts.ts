/**
 * Message contracts between the six stages.
 *
 * Data flows one way: `pcap-source` emits {@link PacketBatch}es, `flow-aggregator` turns them into
 * {@link WindowMessage}s of {@link TrafficRecord}s, `ewma-baseline` annotates each record with its
 * {@link RecordBaseline}, `rule-detector` emits {@link AnomalyEvent}s, `cooldown-gate` passes or holds
 * them back and `anomaly-formatter` shapes them for a receiving node. Every stage imports its types
 * from this module and nothing else from another stage, and every stage validates what it receives
 * (records may come from another producer, e.g. over MQTT) with the guards at the end of this file.
 *
 * All times are packet time in epoch milliseconds (may carry a fractional part for µs resolution).
 *
 * @packageDocumentation
 */

/** Contract version carried by every message kind; bumped on an incompatible change. */
export const CONTRACT_VERSION = 1;

// ---------------------------------------------------------------------------------------------
// Packets (pcap-source → flow-aggregator)
// ---------------------------------------------------------------------------------------------

/** IP protocol numbers the decoder reports (IANA "Assigned Internet Protocol Numbers"). */
export const IPPROTO = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58 } as const;

/** TCP flag bits as they sit in byte 13 of the TCP header (RFC 9293 §3.1, RFC 3168 for ECE/CWR). */
export const TCP_FLAG = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 } as const;

/** Bits of {@link PacketBatch.info}. */
export const PACKET_INFO = {
  /** A non-first IPv4/IPv6 fragment: no transport header, ports are 0 and must not form a flow. */
  FRAGMENT: 0x01,
  /** The transport header was cut short by the snap length: ports/flags are unknown (0). */
  TRANSPORT_TRUNCATED: 0x02,
} as const;

/**
 * A batch of decoded IP packets, stored column-wise in typed arrays so that the per-packet path
 * allocates no objects. Packet `i` occupies index `i` of each per-packet column and bytes
 * `16*i … 16*i+15` of {@link srcAddr} / {@link dstAddr}.
 *
 * Only IP packets that could be decoded are in the columns; everything else is counted in
 * {@link counters}. Use {@link packetAt} to read one packet as an object (tests, debugging).
 *
 * Node-RED deep-clones a message for every wire after the first: wire a pcap-source to one node.
 */
export interface PacketBatch {
  kind: 'netbaseline/packets';
  version: number;
  /** Where the packets come from: the capture file path or the interface name. */
  source: string;
  /** Sequence number of this batch within the run (0, 1, 2…). */
  seq: number;
  /** Number of packets in the columns. */
  count: number;
  /** Packet time, epoch ms (fractional part carries µs; ns files are rounded to µs). */
  timeMs: Float64Array;
  /** Length of the packet on the wire in bytes (pcap `orig_len`), not the captured length. */
  wireLength: Uint32Array;
  /** IP version, 4 or 6. */
  ipVersion: Uint8Array;
  /** Source addresses, 16 bytes each; IPv4 as an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2). */
  srcAddr: Uint8Array;
  /** Destination addresses, 16 bytes each, same layout as {@link srcAddr}. */
  dstAddr: Uint8Array;
  /** IP protocol number of the transport (after IPv6 extension headers), see {@link IPPROTO}. */
  protocol: Uint8Array;
  /** TCP/UDP source port; 0 for ICMP and other protocols. */
  srcPort: Uint16Array;
  /**
   * TCP/UDP destination port. For ICMP and ICMPv6 it carries `type * 256 + code`, as NetFlow v5/v9
   * and IPFIX exporters do (RFC 7011 / IANA IPFIX IE 32 `icmpTypeCodeIPv4`).
   */
  dstPort: Uint16Array;
  /** TCP flags byte (see {@link TCP_FLAG}); 0 for other protocols. */
  tcpFlags: Uint8Array;
  /** TCP sequence number; 0 for other protocols. */
  tcpSeq: Uint32Array;
  /** TCP acknowledgement number; 0 for other protocols. */
  tcpAck: Uint32Array;
  /** Transport payload length in bytes as the IP header declares it (not limited by snap length). */
  payloadLength: Uint32Array;
  /**
   * Optional: TCP header length in bytes (data offset × 4, RFC 9293 §3.1; 20 … 60) per packet, 0 for
   * other protocols or when unknown. With it flow-aggregator knows each segment's data length
   * (`payloadLength` − header) exactly; without it the data length is bounded (see flow-aggregator).
   */
  tcpHeaderLength?: Uint8Array;
  /** Bit set of {@link PACKET_INFO}. */
  info: Uint8Array;
  /** Capture interface index (pcapng interface id; 0 for classic pcap and live capture). */
  ifIndex: Uint16Array;
  /**
   * The source's clock when the batch was flushed, epoch ms: the last packet time for a replay, the
   * wall clock for a live capture. Lets windows close while no packets arrive (a batch may have
   * `count` 0 and only advance the clock).
   */
  clockMs: number;
  /** Counters of the reader and decoder since the run started (cumulative, not per batch). */
  counters: DecodeCounters;
  /**
   * True on the last batch of a file replay (or of a stopped capture), and also on the last batch of
   * a time epoch: pcap-source ends an epoch when packet time steps back by more than a minute (see
   * `counters.timeEpochs`), and the batches after it start on a fresh window grid.
   */
  final: boolean;
}

/** What the reader and decoder saw, cumulative since the start of the run. */
export interface DecodeCounters {
  /** Packet records read from the file or the capture handle. */
  packetsRead: number;
  /** Packets decoded into the batch columns. */
  packetsDecoded: number;
  /** Frames that are not IP (ARP, LLDP, STP…): counted, not errors. */
  nonIp: number;
  /** Frames of a link type the decoder does not support. */
  unsupportedLinkType: number;
  /** Frames too short or inconsistent to decode (truncated headers, bad IHL…). */
  malformed: number;
  /** Non-first IP fragments (in the batch, flagged {@link PACKET_INFO.FRAGMENT}). */
  fragments: number;
  /** Timestamps that went backwards and were clamped to the previous packet time. */
  timeClamped: number;
  /**
   * Optional (absent from older producers: read as 0): backward steps of packet time too large to
   * clamp (more than a minute: a merged capture, a clock stepped back), each starting a new time
   * epoch; the batch before each has `final: true`.
   */
  timeEpochs?: number;
  /**
   * Optional (absent from older producers: read as 0): first IP fragments (IPv4 MF set and offset 0;
   * IPv6 fragment header with offset 0 and M set). They carry the ports and are decoded as usual; with
   * {@link fragments} (the later ones) they count every fragment.
   */
  firstFragments?: number;
}

/** One decoded packet as an object: the row `i` of a {@link PacketBatch}. */
export interface DecodedPacket {
  timeMs: number;
  wireLength: number;
  ipVersion: number;
  srcIp: string;
  dstIp: string;
  protocol: number;
  srcPort: number;
  dstPort: number;
  tcpFlags: number;
  tcpSeq: number;
  tcpAck: number;
  payloadLength: number;
  info: number;
  ifIndex: number;
}

// ---------------------------------------------------------------------------------------------
// Traffic records (flow-aggregator → ewma-baseline → rule-detector)
// ---------------------------------------------------------------------------------------------

/**
 * Aggregation scope of a record.
 * - `flow`: one 5-tuple (src IP, dst IP, src port, dst port, protocol), one direction.
 * - `srcHost`: everything one address sent.
 * - `dstHost`: everything one address received.
 * - `interface`: everything the capture saw.
 * - `service`: one destination host + port + protocol (`10.0.0.5:443/tcp`): the requests it received
 *   and the replies it sent (see flow-aggregator for how the server side of a packet is chosen).
 * - `hostPair`: one source host → one destination host, one direction (`10.0.0.1 > 10.0.0.2`).
 * - `subnet`: one CIDR prefix (`dst 10.0.0.0/24`, `src 2001:db8::/64`): what its addresses
 *   received (`dst`) or sent (`src`).
 */
export type Scope = 'flow' | 'srcHost' | 'dstHost' | 'interface' | 'service' | 'hostPair' | 'subnet';

/** All scopes, in the order records are emitted. */
export const SCOPES: readonly Scope[] = ['interface', 'dstHost', 'srcHost', 'flow', 'service', 'hostPair', 'subnet'];

/**
 * Metric values of one record for one window. Every value is a finite number ≥ 0. The names the
 * aggregator emits are listed in {@link METRICS}; other producers may add their own numeric metrics,
 * which are baselined like any other.
 */
export type Metrics = Record<string, number>;

/** Name, unit and meaning of each metric the flow-aggregator emits (README has the same table). */
export const METRICS = {
  bytes: { unit: 'bytes', doc: 'Sum of wire lengths (pcap orig_len) in the window.' },
  packets: { unit: 'packets', doc: 'Packets in the window.' },
  bitsPerSecond: { unit: 'bit/s', doc: 'bps: bytes × 8 / window length in seconds.' },
  packetsPerSecond: { unit: 'packet/s', doc: 'pps: packets / window length in seconds.' },
  synCount: { unit: 'packets', doc: 'TCP segments with SYN set and ACK clear (connection attempts).' },
  synAckCount: { unit: 'packets', doc: 'TCP segments with SYN and ACK set.' },
  newFlows: { unit: 'flows', doc: '5-tuple flows first seen in this window.' },
  distinctDstPorts: { unit: 'ports', doc: 'Distinct destination ports (flow-scope: 1).' },
  distinctPeers: { unit: 'hosts', doc: 'srcHost: distinct destinations; dstHost: distinct sources; interface: distinct hosts; service: distinct clients; subnet: distinct peer addresses; hostPair: 1.' },
  flowDurationMs: { unit: 'ms', doc: 'flow scope: last packet − first packet of the flow since it was first seen.' },
  rstCount: { unit: 'packets', doc: 'TCP segments with RST set (RFC 9293 §3.5.2).' },
  finCount: { unit: 'packets', doc: 'TCP segments with FIN set (RFC 9293 §3.6).' },
  newFlowsPerSecond: { unit: 'flow/s', doc: 'newFlows / window length in seconds.' },
  tcpPacketsPercent: { unit: '%', doc: 'Host and interface scopes: TCP packets as a percentage of all packets (0 when none).' },
  udpPacketsPercent: { unit: '%', doc: 'Host and interface scopes: UDP packets as a percentage of all packets.' },
  icmpPacketsPercent: { unit: '%', doc: 'Host and interface scopes: ICMP and ICMPv6 packets as a percentage of all packets.' },
  otherPacketsPercent: { unit: '%', doc: 'Host and interface scopes: packets of any other IP protocol as a percentage of all packets.' },
  tcpBytesPercent: { unit: '%', doc: 'Host and interface scopes: TCP bytes (wire length) as a percentage of all bytes.' },
  udpBytesPercent: { unit: '%', doc: 'Host and interface scopes: UDP bytes as a percentage of all bytes.' },
  icmpBytesPercent: { unit: '%', doc: 'Host and interface scopes: ICMP and ICMPv6 bytes as a percentage of all bytes.' },
  otherBytesPercent: { unit: '%', doc: 'Host and interface scopes: bytes of any other IP protocol as a percentage of all bytes.' },
  udpReflectorBytes: { unit: 'bytes', doc: 'Host and interface scopes: UDP bytes from any well-known reflector source port (the ten below).' },
  udpReflectorBytes53: { unit: 'bytes', doc: 'UDP bytes from source port 53 (DNS), host and interface scopes.' },
  udpReflectorBytes123: { unit: 'bytes', doc: 'UDP bytes from source port 123 (NTP).' },
  udpReflectorBytes161: { unit: 'bytes', doc: 'UDP bytes from source port 161 (SNMP).' },
  udpReflectorBytes389: { unit: 'bytes', doc: 'UDP bytes from source port 389 (CLDAP).' },
  udpReflectorBytes1900: { unit: 'bytes', doc: 'UDP bytes from source port 1900 (SSDP).' },
  udpReflectorBytes11211: { unit: 'bytes', doc: 'UDP bytes from source port 11211 (memcached).' },
  udpReflectorBytes19: { unit: 'bytes', doc: 'UDP bytes from source port 19 (chargen).' },
  udpReflectorBytes4500: { unit: 'bytes', doc: 'UDP bytes from source port 4500 (IPsec IKE NAT-T).' },
  udpReflectorBytes3702: { unit: 'bytes', doc: 'UDP bytes from source port 3702 (WS-Discovery).' },
  udpReflectorBytes37810: { unit: 'bytes', doc: 'UDP bytes from source port 37810 (DVR DHCPDiscover).' },
  tcpRetransmissions: { unit: 'segments', doc: 'TCP segments with payload whose sequence number lies below the highest sequence end already seen in that direction.' },
  tcpOutOfOrder: { unit: 'segments', doc: 'TCP segments with payload whose sequence number lies above the next expected one (a gap: reordered, or lost before the capture point).' },
  packetLossPercent: { unit: '%', doc: 'Estimate: tcpRetransmissions / TCP segments with payload × 100 (0 when there were none).' },
  handshakeRttMs: { unit: 'ms', doc: 'TCP handshake RTT at the capture point, (SYN → SYN-ACK) + (SYN-ACK → ACK); flow: the client flow once measured; hosts/interface: mean of handshakes completed in the window (absent when none).' },
  synToSynAckMs: { unit: 'ms', doc: 'flow scope (client flow): SYN → SYN-ACK at the capture point, the server side of the handshake RTT.' },
  synAckToAckMs: { unit: 'ms', doc: 'flow scope (client flow): SYN-ACK → ACK at the capture point, the client side of the handshake RTT.' },
  handshakes: { unit: 'handshakes', doc: 'Host and interface scopes: TCP handshakes whose RTT was measured in the window.' },
  flowIdleMs: { unit: 'ms', doc: 'flow scope: window end − the flow\'s last packet (how long it has been silent).' },
  distinctHosts: { unit: 'hosts', doc: 'subnet scope: distinct addresses of the subnet that sent (src) or received (dst) in the window.' },
} as const satisfies Record<string, { unit: string; doc: string }>;

/** Name of a metric the flow-aggregator emits. */
export type MetricName = keyof typeof METRICS;

/**
 * Per-window evidence a port-scan rule needs and that cannot be summed across windows: the distinct
 * destination ports a source sent TCP SYNs to. Only on `srcHost` records with at least one SYN.
 */
export interface ScanEvidence {
  /** Distinct destination ports that received a SYN (no ACK) from this source, ascending. At most {@link cap} entries. */
  synDstPorts: number[];
  /** True when there were more distinct ports than {@link synDstPorts} holds. */
  truncated: boolean;
  /** Distinct destination hosts that received a SYN from this source in the window. */
  synDstHosts: number;
  /**
   * The destination when every SYN of the window went to one host (`synDstHosts` = 1): the target
   * of a vertical scan. Absent otherwise.
   */
  synDstHost?: string;
}

/**
 * Totals of a flow, reported once when it ends, NetFlow/IPFIX style (RFC 7011; reasons after IPFIX
 * IE 136 `flowEndReason`, RFC 5102): `idle` (no packet for the idle timeout), `fin` / `rst` (end of
 * the TCP connection detected in this direction), `end-of-capture` (the replay or capture ended).
 * `active` is an interim report of a flow still running (active timeout): unlike NetFlow the
 * flow is not restarted, its totals and duration keep growing.
 */
export interface FlowEnd {
  reason: 'idle' | 'fin' | 'rst' | 'active' | 'end-of-capture';
  /** False only for `active` reports. */
  ended: boolean;
  /** Packet time of the flow's first and last packet, epoch ms. */
  firstSeen: number;
  lastSeen: number;
  /** lastSeen − firstSeen, ms. */
  durationMs: number;
  /** Wire bytes and packets since the flow was first tracked. */
  bytes: number;
  packets: number;
}

/**
 * One record: the traffic of one key in one window.
 *
 * Keys are stable strings a person can read:
 * - flow: `tcp 10.0.0.1:51234 > 10.0.0.2:80` (`icmp 10.0.0.1 > 10.0.0.2 type 8 code 0` for ICMP,
 *   IPv6 addresses in brackets: `tcp [2001:db8::1]:443 > …`)
 * - srcHost: `src 10.0.0.1`, dstHost: `dst 10.0.0.2`, interface: `iface eth0` (or the file name)
 * - service: `10.0.0.5:443/tcp` (`[2001:db8::5]:443/tcp`), hostPair: `10.0.0.1 > 10.0.0.2`,
 *   subnet: `dst 10.0.0.0/24` / `src 2001:db8::/64`
 */
export interface TrafficRecord {
  scope: Scope;
  key: string;
  /** Window start, epoch ms (inclusive). */
  windowStart: number;
  /** Window end, epoch ms (exclusive). */
  windowEnd: number;
  /** Source IP (flow, srcHost and hostPair scope), textual (RFC 5952 for IPv6). */
  srcIp?: string;
  /** Destination IP (flow, dstHost and hostPair scope; service scope: the server). */
  dstIp?: string;
  /** Source port (flow scope, TCP/UDP). */
  srcPort?: number;
  /** Destination port (flow scope, TCP/UDP; service scope: the server's port) or ICMP `type*256+code`. */
  dstPort?: number;
  /** Transport protocol name: `tcp`, `udp`, `icmp`, `icmpv6` or `ip-<number>` (flow scope; service scope: `tcp` or `udp`). */
  protocol?: string;
  metrics: Metrics;
  /** srcHost scope only, when the source sent SYNs in this window. */
  scan?: ScanEvidence;
  /** flow scope only: the flow's totals when it ended in this window, or at an active timeout (see {@link FlowEnd}). */
  flowEnd?: FlowEnd;
  /** subnet scope: the CIDR prefix, e.g. `10.0.0.0/24` (network address / prefix length). */
  subnet?: string;
  /** subnet scope: `dst` when the record counts what the subnet received, `src` what it sent. */
  side?: 'src' | 'dst';
  /**
   * How exact the distinct counts of this record are, per metric (`distinctDstPorts`,
   * `distinctPeers`, `distinctHosts`): `exact`, `lower-bound` (some members were not counted because
   * a table was at its cap) or `estimate` (a cardinality sketch). A metric not listed, or the field
   * absent, is exact. flow-aggregator's estimates are HyperLogLog (p = 12, m = 4096; relative standard
   * error 1.04 / √m = 1.625 %; Flajolet, Fusy, Gandouet, Meunier 2007), never below the exact count
   * of the members that were counted (see `hyperloglog.ts`).
   */
  distinctAccuracy?: Record<string, 'exact' | 'lower-bound' | 'estimate'>;
  /**
   * Set by flow-aggregator when it has an internal-networks list (CIDRs): hosts are `internal` or
   * `external`; flows are `inbound` (external → internal), `outbound` (internal → external),
   * `internal` (both inside) or `external` (both outside). Absent on interface records and when no
   * list is configured.
   */
  direction?: 'inbound' | 'outbound' | 'internal' | 'external';
  /** Added by ewma-baseline; absent on records it did not baseline. */
  baseline?: RecordBaseline;
}

/** Counters of the flow-aggregator, cumulative since the node started. */
export interface AggregatorCounters {
  packetsSeen: number;
  /** Packets that did not enter a flow (fragments) or were rejected (bad batch). */
  packetsSkipped: number;
  /** 5-tuple flows currently tracked. */
  trackedFlows: number;
  /** Flows dropped from the table because it was at its cap. */
  flowEvictions: number;
  /** Hosts dropped from the host tables because they were at their cap. */
  hostEvictions: number;
  /** Windows emitted. */
  windows: number;
  /** 1 while the flow table is in emergency mode (it hit its cap; shorter idle timeout), else 0. */
  emergencyMode?: number;
  /** Times the flow table entered emergency mode. */
  emergencyEntries?: number;
  /** Flow end reports (records with `flowEnd.ended`) emitted. */
  flowsEnded?: number;
  /** Service keys refused because the service table of the window was at its cap (once per packet). */
  serviceEvictions?: number;
  /** Host-pair keys refused because the host-pair table of the window was at its cap (once per packet). */
  hostPairEvictions?: number;
  /** Subnet keys refused because the subnet table of the window was at its cap (once per packet and side). */
  subnetEvictions?: number;
}

/**
 * One window of records: the payload of flow-aggregator's output and, annotated, of ewma-baseline's.
 */
export interface WindowMessage {
  kind: 'netbaseline/window';
  version: number;
  /** pcap-source's {@link PacketBatch.source}. */
  source: string;
  windowStart: number;
  windowEnd: number;
  windowMs: number;
  /**
   * Packet time skipped before this window because the capture jumped forward further than the
   * aggregator fills with empty windows (ms; 0 when contiguous). Baselines treat this as a gap.
   */
  gapBeforeMs: number;
  records: TrafficRecord[];
  counters: AggregatorCounters;
  /** True on the window closed by the final packet batch. */
  final: boolean;
  /**
   * Added by ewma-baseline when a line rate is configured: cold-start static thresholds derived
   * from it (bit/s = fraction × line rate; packet/s = that over 672 bits, the smallest Ethernet
   * frame with preamble and inter-frame gap), for rule-detector's bootstrap rule. Absent otherwise.
   */
  bootstrapThresholds?: { bitsPerSecond: number; packetsPerSecond: number; lineRateBitsPerSecond: number; fraction: number };
}

// ---------------------------------------------------------------------------------------------
// Baselines (ewma-baseline)
// ---------------------------------------------------------------------------------------------

/**
 * Maturity of a key's baseline.
 * - `bootstrap`: less than the bootstrap period of packet time since first seen; rules use the
 *   conservative static thresholds only.
 * - `learning`: past bootstrap, fewer samples than the slow EWMA needs to converge.
 * - `mature`: converged; every rule applies.
 */
export type MaturityState = 'bootstrap' | 'learning' | 'mature';

/** The baseline of one metric of one key, as it stood before the current window's sample. */
export interface MetricBaseline {
  /** Fast EWMA (default α 0.3). */
  fast: number;
  /** Slow EWMA (default α 0.05). */
  slow: number;
  /** μ used by the spike rule: the exponentially weighted mean with the slow α (equals {@link slow}). */
  mean: number;
  /** σ: square root of the exponentially weighted variance with the slow α. */
  std: number;
  /** Samples folded into this baseline so far. */
  samples: number;
}

/** What ewma-baseline attaches to a record. */
export interface RecordBaseline {
  state: MaturityState;
  /** Packet time the key was first seen, epoch ms. */
  firstSeen: number;
  /** Samples of this key so far (before this window). */
  samples: number;
  /** Baseline per metric, before this window's values were folded in. Metrics seen for the first time are absent. */
  metrics: Record<string, MetricBaseline>;
  /**
   * True while the key's baseline still rests on a prior taken from its peers (the median baseline
   * of the mature keys of the same scope, per metric) because the key was first seen recently:
   * until it has as many samples of its own as a key needs to be `mature`. On the key's first record
   * the metrics are the prior itself (`samples: 0`). Absent otherwise.
   */
  prior?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Anomalies (rule-detector → cooldown-gate → anomaly-formatter)
// ---------------------------------------------------------------------------------------------

/** Rule identifiers. */
export type RuleId = 'static' | 'dual-ewma' | 'spike' | 'port-scan'
  | 'latency' | 'packet-loss' | 'protocol-shift' | 'long-lived' | 'amplification' | 'unsolicited-syn-ack'
  | 'syn-flood' | 'horizontal-scan' | 'icmp-sweep' | 'icmp-flood' | 'admin-fanout';

export type Severity = 'medium' | 'high';

/** One metric of a key that crossed a rule's threshold in a window. */
export interface Finding {
  rule: RuleId;
  severity: Severity;
  metric: string;
  value: number;
  threshold: number;
  /** The metric's baseline (null for rules that do not use one, e.g. static or port-scan). */
  baseline: (MetricBaseline & { state: MaturityState }) | null;
  /** (value − reference) / reference × 100, where reference is the baseline the rule compares with (slow EWMA, μ) or the threshold for static rules. */
  deviationPercent: number;
  /** One sentence saying what crossed what. */
  explanation: string;
}

/**
 * An anomaly: a signal for a person to investigate, never a verdict.
 *
 * The top-level rule/metric/value/threshold/baseline fields repeat the primary finding (the most
 * severe, then the largest deviation); {@link findings} lists every metric of the key that deviated
 * in the window.
 */
export interface AnomalyEvent {
  kind: 'netbaseline/anomaly';
  version: number;
  /** Stable id: `<rule>|<key>|<windowStart>`. */
  id: string;
  /**
   * `firing` for a new or repeated anomaly; `resolved` (set by cooldown-gate) when the anomaly of
   * this key and rule (or, in incident mode, the whole incident) raised no event for the gate's
   * resolve period of packet time. A resolved event repeats the fields of the last firing one,
   * with {@link time} = when it was judged resolved and {@link firstSeen}, {@link lastSeen},
   * {@link durationMs}, {@link peakValue} set.
   */
  status: 'firing' | 'resolved';
  /** Packet time of the alert, epoch ms (the window end). */
  time: number;
  window: { start: number; end: number; ms: number };
  rule: RuleId;
  severity: Severity;
  scope: Scope;
  key: string;
  /** Addresses involved, as on the record. */
  srcIp?: string;
  dstIp?: string;
  srcPort?: number;
  dstPort?: number;
  protocol?: string;
  metric: string;
  value: number;
  threshold: number;
  baseline: (MetricBaseline & { state: MaturityState }) | null;
  deviationPercent: number;
  /** One line a person can read. */
  message: string;
  findings: Finding[];
  /** The capture file or interface. */
  source: string;
  /** Set by cooldown-gate: repeats held back for this key and rule since the last event that passed. */
  suppressedCount?: number;
  /** Set by cooldown-gate: packet time (epoch ms) the anomaly began: window start of its first event. */
  firstSeen?: number;
  /** Set by cooldown-gate on resolved events: packet time (epoch ms) of its last firing event (window end). */
  lastSeen?: number;
  /** Set by cooldown-gate on resolved events: {@link lastSeen} − {@link firstSeen}, ms of packet time. */
  durationMs?: number;
  /** Set by cooldown-gate on resolved events: the largest {@link value} of the primary metric while it fired. */
  peakValue?: number;
  /** Set by cooldown-gate on resolved events: why it was resolved (`quiet` for the resolve period, `capture ended`). */
  resolvedReason?: string;
  /** Set by cooldown-gate: the incident this event belongs to (see {@link IncidentRef}). */
  incident?: IncidentRef;
  /**
   * Set by rule-detector: attack patterns the evidence fits (e.g. `SYN flood`, `NTP amplification`,
   * `port scan`), hints for the person reading it, never verdicts. Absent when none fits.
   */
  hints?: string[];
  /** Set by rule-detector: rank of the event, 0–100 (README "Rules", score); higher = look first. */
  score?: number;
  /**
   * Set by rule-detector on interface-scope (and other aggregate-scope) events: the host records
   * (and destination ports) of the same window that carried most of the primary metric, largest first.
   */
  contributors?: Array<{ key: string; value: number; sharePercent?: number }>;
}

/**
 * An incident: anomalies on the same victim (destination address) or from the same source address
 * within the gate's incident window, grouped so that a flood that trips several metrics and keys is
 * one page. Interface-scope anomalies join the incident open in the same period. Set by cooldown-gate.
 */
export interface IncidentRef {
  /** Stable id: `incident|<key of its first event>|<window start of its first event>`. */
  id: string;
  /** Packet time its first event's window began, epoch ms. */
  opened: number;
  /** Packet time of its latest event, epoch ms. */
  lastSeen: number;
  /** Firing events that joined it (passed or held back). */
  events: number;
  /** Distinct keys, at most 20 listed (see {@link keyCount}). */
  keys: string[];
  keyCount: number;
  /** Distinct rules that fired. */
  rules: string[];
  /** Addresses that tie its events together. */
  addresses: string[];
  /** Highest severity seen. */
  severity: Severity;
}

// ---------------------------------------------------------------------------------------------
// Helpers and guards
// ---------------------------------------------------------------------------------------------

/**
 * Formats 16 bytes at `offset` of `bytes` as an IP address: dotted quad for IPv4-mapped addresses,
 * RFC 5952 text (lower case, longest zero run compressed) otherwise.
 */
export function formatAddress(bytes: Uint8Array, offset: number): string {
  let mapped = true;
  for (let i = 0; i < 10; i++) if (bytes[offset + i] !== 0) { mapped = false; break; }
  if (mapped && bytes[offset + 10] === 0xff && bytes[offset + 11] === 0xff) {
    return `${bytes[offset + 12]}.${bytes[offset + 13]}.${bytes[offset + 14]}.${bytes[offset + 15]}`;
  }
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[offset + i]! << 8) | bytes[offset + i + 1]!);
  // longest run of ≥2 zero words (RFC 5952 §4.2.2, first one on a tie)
  let bestStart = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

/** Protocol number → the name used in keys and records (`tcp`, `udp`, `icmp`, `icmpv6`, `ip-<n>`). */
export function protocolName(protocol: number): string {
  switch (protocol) {
    case IPPROTO.TCP: return 'tcp';
    case IPPROTO.UDP: return 'udp';
    case IPPROTO.ICMP: return 'icmp';
    case IPPROTO.ICMPV6: return 'icmpv6';
    default: return `ip-${protocol}`;
  }
}

/** Row `i` of a batch as an object. Allocates: for tests, debugging and display, not the hot path. */
export function packetAt(batch: PacketBatch, i: number): DecodedPacket {
  if (!Number.isInteger(i) || i < 0 || i >= batch.count) throw new RangeError(`packet index ${i} outside 0…${batch.count - 1}`);
  return {
    timeMs: batch.timeMs[i]!,
    wireLength: batch.wireLength[i]!,
    ipVersion: batch.ipVersion[i]!,
    srcIp: formatAddress(batch.srcAddr, i * 16),
    dstIp: formatAddress(batch.dstAddr, i * 16),
    protocol: batch.protocol[i]!,
    srcPort: batch.srcPort[i]!,
    dstPort: batch.dstPort[i]!,
    tcpFlags: batch.tcpFlags[i]!,
    tcpSeq: batch.tcpSeq[i]!,
    tcpAck: batch.tcpAck[i]!,
    payloadLength: batch.payloadLength[i]!,
    info: batch.info[i]!,
    ifIndex: batch.ifIndex[i]!,
  };
}

/** Thrown by the guards below; `message` says what is wrong with the payload in words a user can act on. */
export class ContractError extends Error {
  override name = 'ContractError';
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks that `value` is a {@link PacketBatch} whose columns hold `count` packets.
 * @throws {ContractError} naming the first field that is missing or of the wrong type/length.
 */
export function assertPacketBatch(value: unknown): asserts value is PacketBatch {
  if (!isObject(value)) throw new ContractError('expected a packet batch object in msg.payload (from pcap-source)');
  if (value.kind !== 'netbaseline/packets') throw new ContractError(`expected msg.payload.kind "netbaseline/packets", got ${JSON.stringify(value.kind)}`);
  const count = value.count;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) throw new ContractError('packet batch: count must be a non-negative integer');
  const columns: Array<[string, Function, number]> = [
    ['timeMs', Float64Array, 1], ['wireLength', Uint32Array, 1], ['ipVersion', Uint8Array, 1],
    ['srcAddr', Uint8Array, 16], ['dstAddr', Uint8Array, 16], ['protocol', Uint8Array, 1],
    ['srcPort', Uint16Array, 1], ['dstPort', Uint16Array, 1], ['tcpFlags', Uint8Array, 1],
    ['tcpSeq', Uint32Array, 1], ['tcpAck', Uint32Array, 1], ['payloadLength', Uint32Array, 1],
    ['info', Uint8Array, 1], ['ifIndex', Uint16Array, 1],
  ];
  for (const [name, type, width] of columns) {
    const col = value[name];
    if (!(col instanceof type)) throw new ContractError(`packet batch: ${name} must be a ${type.name}`);
    if ((col as unknown as ArrayLike<number>).length < count * width) throw new ContractError(`packet batch: ${name} holds fewer than count=${count} packets`);
  }
}

/**
 * Checks that `value` is a {@link WindowMessage} with well-formed records (scope, key, finite
 * non-negative metrics). Records may come from any producer that follows the shape.
 * @throws {ContractError} naming the first record field at fault.
 */
export function assertWindowMessage(value: unknown): asserts value is WindowMessage {
  if (!isObject(value)) throw new ContractError('expected a window object in msg.payload (from flow-aggregator)');
  if (value.kind !== 'netbaseline/window') throw new ContractError(`expected msg.payload.kind "netbaseline/window", got ${JSON.stringify(value.kind)}`);
  for (const f of ['windowStart', 'windowEnd', 'windowMs'] as const) {
    if (typeof value[f] !== 'number' || !Number.isFinite(value[f])) throw new ContractError(`window: ${f} must be a finite number (epoch ms)`);
  }
  if (!Array.isArray(value.records)) throw new ContractError('window: records must be an array');
  value.records.forEach((r: unknown, i: number) => {
    if (!isObject(r)) throw new ContractError(`window: records[${i}] is not an object`);
    if (!SCOPES.includes(r.scope as Scope)) throw new ContractError(`window: records[${i}].scope must be one of ${SCOPES.join(', ')}`);
    if (typeof r.key !== 'string' || r.key === '') throw new ContractError(`window: records[${i}].key must be a non-empty string`);
    if (!isObject(r.metrics)) throw new ContractError(`window: records[${i}].metrics must be an object of numbers`);
    for (const [m, v] of Object.entries(r.metrics)) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ContractError(`window: records[${i}].metrics.${m} must be a finite number ≥ 0`);
    }
  });
}

/**
 * {@link assertWindowMessage} in parts, for a node that checks a window of 100,000 records over
 * several event-loop turns: this checks everything but the records themselves (kind, times, that
 * `records` is an array); {@link assertWindowRecords} checks a range of records. Both together
 * accept and reject exactly what {@link assertWindowMessage} does, with the same messages.
 * @throws {ContractError} naming the first field at fault.
 */
export function assertWindowHeader(value: unknown): asserts value is WindowMessage {
  if (!isObject(value)) throw new ContractError('expected a window object in msg.payload (from flow-aggregator)');
  if (value.kind !== 'netbaseline/window') throw new ContractError(`expected msg.payload.kind "netbaseline/window", got ${JSON.stringify(value.kind)}`);
  for (const f of ['windowStart', 'windowEnd', 'windowMs'] as const) {
    if (typeof value[f] !== 'number' || !Number.isFinite(value[f])) throw new ContractError(`window: ${f} must be a finite number (epoch ms)`);
  }
  if (!Array.isArray(value.records)) throw new ContractError('window: records must be an array');
}

/**
 * Checks `records[from]` … `records[to − 1]` of a window that passed {@link assertWindowHeader}
 * (see there). Allocates nothing per record or metric.
 *
 * `metricValues` false checks each record's shape only (an object with a known scope, a key and a
 * metrics object) and not every metric value: for records a node of this process has checked in full
 * already (rule-detector after ewma-baseline), where the value loop is most of the cost.
 * @throws {ContractError} naming the first field at fault.
 */
export function assertWindowRecords(records: readonly unknown[], from: number, to: number, metricValues = true): void {
  const end = Math.min(to, records.length);
  for (let i = Math.max(0, from); i < end; i++) {
    const r = records[i];
    if (!isObject(r)) throw new ContractError(`window: records[${i}] is not an object`);
    if (!SCOPES.includes(r.scope as Scope)) throw new ContractError(`window: records[${i}].scope must be one of ${SCOPES.join(', ')}`);
    if (typeof r.key !== 'string' || r.key === '') throw new ContractError(`window: records[${i}].key must be a non-empty string`);
    const metrics = r.metrics;
    if (!isObject(metrics)) throw new ContractError(`window: records[${i}].metrics must be an object of numbers`);
    if (!metricValues) continue;
    for (const m in metrics) {
      const v = metrics[m];
      // a finite number ≥ 0 (NaN fails v >= 0); whether the property is the object's own is asked
      // only of a bad value (an inherited enumerable one is skipped, as Object.entries would)
      if (typeof v !== 'number' || !(v >= 0) || v === Infinity) {
        if (!Object.prototype.hasOwnProperty.call(metrics, m)) continue;
        throw new ContractError(`window: records[${i}].metrics.${m} must be a finite number ≥ 0`);
      }
    }
  }
}

/**
 * Checks that `value` is an {@link AnomalyEvent} (the fields cooldown-gate and anomaly-formatter read).
 * @throws {ContractError} naming the first field at fault.
 */
export function assertAnomalyEvent(value: unknown): asserts value is AnomalyEvent {
  if (!isObject(value)) throw new ContractError('expected an anomaly object in msg.payload (from rule-detector)');
  if (value.kind !== 'netbaseline/anomaly') throw new ContractError(`expected msg.payload.kind "netbaseline/anomaly", got ${JSON.stringify(value.kind)}`);
  for (const f of ['key', 'rule', 'metric', 'message'] as const) {
    if (typeof value[f] !== 'string') throw new ContractError(`anomaly: ${f} must be a string`);
  }
  if (value.severity !== 'medium' && value.severity !== 'high') throw new ContractError('anomaly: severity must be "medium" or "high"');
  for (const f of ['time', 'value', 'threshold'] as const) {
    if (typeof value[f] !== 'number' || !Number.isFinite(value[f])) throw new ContractError(`anomaly: ${f} must be a finite number`);
  }
}
