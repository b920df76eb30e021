/**
 * Flow aggregator: folds {@link PacketBatch}es into tumbling windows of packet time and emits one
 * {@link WindowMessage} per window with `interface`, `dstHost`, `srcHost` and `flow` records
 * (see {@link TrafficRecord} and {@link METRICS} in the contracts).
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
  AggregatorCounters, Metrics, PacketBatch, ScanEvidence, Scope, TrafficRecord, WindowMessage,
} from './contracts';
import { FlowTable, HostTable, ROLE_DST, ROLE_SRC, hashAddress } from './flow-table';

/** Options of a {@link FlowAggregator}. Every count is an integer; every time is packet time in ms. */
export interface FlowAggregatorOptions {
  /** Tumbling window length in ms of packet time, aligned to multiples of it since the epoch. Default 10 000; 1 … 86 400 000. */
  windowMs?: number;
  /** Name in the key of the interface record (`iface <name>`). Default: base name of `batch.source` (`eth0`, `capture.pcap`). */
  interfaceName?: string;
  /** Cap on tracked 5-tuple flows (see {@link FlowTable} for the eviction policy). Default 100 000. */
  maxFlows?: number;
  /** Cap on `srcHost` records and, separately, on `dstHost` records per window. Default 50 000. */
  maxHostsPerWindow?: number;
  /** A flow with no packet for this long (packet time) is forgotten. Default 60 000; must be ≥ 0. */
  flowIdleTimeoutMs?: number;
  /** Empty windows emitted to bridge a gap in packet time before jumping. Default 30; ≥ 0. */
  maxEmptyWindows?: number;
  /** Cap of {@link ScanEvidence.synDstPorts}. Default 1024; 1 … 65 536. */
  maxScanPortsPerSource?: number;
  /** Scopes whose records are emitted (others are still counted but not built). Default: all of {@link SCOPES}. */
  scopes?: readonly Scope[];
}

/** The options with defaults applied and checked. */
export type ResolvedAggregatorOptions = Required<Omit<FlowAggregatorOptions, 'interfaceName'>> & { interfaceName: string | undefined };

/** Defaults of {@link FlowAggregatorOptions}. */
export const AGGREGATOR_DEFAULTS = {
  windowMs: 10_000,
  maxFlows: 100_000,
  maxHostsPerWindow: 50_000,
  flowIdleTimeoutMs: 60_000,
  maxEmptyWindows: 30,
  maxScanPortsPerSource: 1024,
} as const;

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
  const scopes = options.scopes ?? SCOPES;
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
    maxEmptyWindows: checkInteger('maxEmptyWindows', options.maxEmptyWindows ?? d.maxEmptyWindows, 0, 1_000_000),
    maxScanPortsPerSource: checkInteger('maxScanPortsPerSource', options.maxScanPortsPerSource ?? d.maxScanPortsPerSource, 1, 65_536),
    scopes: [...scopes],
    interfaceName: interfaceName === '' ? undefined : interfaceName,
  };
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

const SYN_ACK_MASK = TCP_FLAG.SYN | TCP_FLAG.ACK;
const NO_FLOW = PACKET_INFO.FRAGMENT | PACKET_INFO.TRANSPORT_TRUNCATED;
/** Distinct-port value offset of UDP ports (TCP port p → p, UDP port p → 65536 + p). */
const UDP_PORT_BASE = 65_536;

/**
 * Turns packet batches into windows of traffic records.
 *
 * Windows: tumbling, `windowMs` long, aligned to multiples of `windowMs` since the epoch. A packet
 * (or `batch.clockMs`) at or after the current window's end closes it; intervals with no packets
 * are emitted as empty windows (an `interface` record of zeros) up to `maxEmptyWindows`, and the
 * rest of a longer gap is skipped: the next window carries `gapBeforeMs`. A packet earlier than the
 * current window start (out of order) counts in the current window.
 *
 * Records per window, in the order interface, dstHost, srcHost, flow; within a scope in order of
 * first packet in the window:
 * - `interface`: one per window, also when empty; `distinctPeers` = distinct addresses.
 * - `dstHost` / `srcHost`: one per address that received / sent packets, at most
 *   `maxHostsPerWindow` each; a host beyond the cap gets no record (counted in `hostEvictions`,
 *   once per packet and side it was refused), but its packets still count on the interface and on
 *   the peer's record. Distinct counts are exact up to these caps and lower bounds beyond them.
 *   `srcHost` of a source that sent SYNs (SYN set, ACK clear) carries {@link ScanEvidence}.
 * - `flow`: one per directional 5-tuple with packets in the window. Flows persist across windows
 *   (for `newFlows` and `flowDurationMs`) up to `maxFlows`, least recently seen evicted first
 *   (`flowEvictions`), and are forgotten after `flowIdleTimeoutMs` without packets. Non-first
 *   fragments and packets whose transport header was cut short (ports unknown) form no flow; they
 *   count on hosts and the interface (and in `packetsSkipped`).
 *
 * Metrics: `bytes` = Σ wire length; `bitsPerSecond` = bytes × 8 / (windowMs / 1000);
 * `packetsPerSecond` = packets / (windowMs / 1000); `synCount` = TCP SYN without ACK,
 * `synAckCount` = SYN+ACK (RFC 9293 §3.1 flags); `distinctDstPorts` counts TCP and UDP destination
 * ports (a TCP and a UDP port of the same number are two ports).
 */
export class FlowAggregator {
  /** The checked options. */
  readonly options: ResolvedAggregatorOptions;
  private readonly flows: FlowTable;
  private readonly hosts: HostTable;
  private readonly emit: Record<Scope, boolean>;
  private readonly windowSeconds: number;

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

  /** @throws {RangeError} naming a bad option (see {@link resolveAggregatorOptions}). */
  constructor(options?: FlowAggregatorOptions) {
    this.options = resolveAggregatorOptions(options);
    this.flows = new FlowTable(this.options.maxFlows);
    this.hosts = new HostTable(this.options.maxHostsPerWindow, this.options.maxScanPortsPerSource);
    this.emit = { interface: false, dstHost: false, srcHost: false, flow: false };
    for (const s of this.options.scopes) this.emit[s] = true;
    this.windowSeconds = this.options.windowMs / 1000;
  }

  private static zeroCounters(): AggregatorCounters {
    return { packetsSeen: 0, packetsSkipped: 0, trackedFlows: 0, flowEvictions: 0, hostEvictions: 0, windows: 0 };
  }

  /** Cumulative counters (a copy). */
  get counters(): AggregatorCounters {
    return { ...this.stats, trackedFlows: this.flows.size, flowEvictions: this.flows.evictions };
  }

  /** Start of the open window (epoch ms), or `undefined` before the first packet or clock tick. */
  get currentWindowStart(): number | undefined {
    return Number.isNaN(this.windowStart) ? undefined : this.windowStart;
  }

  /**
   * Folds a batch in and returns the windows it closed (0, 1 or more), oldest first. `batch.clockMs`
   * (when a finite number > 0) advances time like a packet would; `batch.final` closes the open
   * window too (see {@link flush}).
   *
   * @throws {ContractError} when `batch` is not a well-formed {@link PacketBatch}; nothing is
   *   counted then except `packetsSkipped` (by `batch.count` when that is a valid number).
   */
  ingest(batch: PacketBatch): WindowMessage[] {
    try {
      assertPacketBatch(batch);
    } catch (err) {
      const count = (batch as { count?: unknown } | null)?.count;
      if (typeof count === 'number' && Number.isInteger(count) && count > 0) this.stats.packetsSkipped += count;
      throw err;
    }
    if (typeof batch.source === 'string' && batch.source !== '') this.source = batch.source;
    const out: WindowMessage[] = [];
    const n = batch.count;
    if (n > 0) this.fold(batch, n, out);
    const clock = batch.clockMs;
    if (typeof clock === 'number' && Number.isFinite(clock) && clock > 0 && clock >= this.windowEnd) this.advance(clock, out);
    if (batch.final === true) {
      const last = this.flush(true);
      if (last.length > 0) out.push(...last);
      else if (out.length > 0) out[out.length - 1]!.final = true;
    }
    return out;
  }

  /**
   * Closes the open window and returns it, or `[]` when it holds no packet. With `final` (end of a
   * replay or capture) the returned window has `final: true` and the aggregator forgets its flows
   * and its window clock, so that a following capture starts on a fresh window grid (cumulative
   * counters are kept). Without `final`, the next window starts where the closed one ended.
   */
  flush(final = false): WindowMessage[] {
    const out: WindowMessage[] = [];
    if (!Number.isNaN(this.windowStart) && this.ifPackets > 0) out.push(this.closeWindow(final));
    else if (!Number.isNaN(this.windowStart)) {
      // nothing to emit: the interval is skipped, so the next window says so
      this.clearWindow();
      if (!final) this.gapBeforeMs += this.options.windowMs;
    }
    if (final) {
      this.flows.clear();
      this.windowStart = Number.NaN;
      this.windowEnd = -Infinity;
      this.gapBeforeMs = 0;
    } else if (!Number.isNaN(this.windowStart)) {
      this.windowStart = this.windowEnd;
      this.windowEnd += this.options.windowMs;
    }
    return out;
  }

  /** Forgets everything: flows, the open window, the window clock and the counters. */
  reset(): void {
    this.flows.clear();
    this.flows.evictions = 0;
    this.clearWindow();
    this.windowStart = Number.NaN;
    this.windowEnd = -Infinity;
    this.gapBeforeMs = 0;
    this.stats = FlowAggregator.zeroCounters();
  }

  // -------------------------------------------------------------------------------------------
  // per-packet path
  // -------------------------------------------------------------------------------------------

  private fold(batch: PacketBatch, n: number, out: WindowMessage[]): void {
    const srcW = addressWords(batch.srcAddr, n);
    const dstW = addressWords(batch.dstAddr, n);
    const { timeMs, wireLength, protocol, srcPort, dstPort, tcpFlags, info } = batch;
    const flows = this.flows;
    const hosts = this.hosts;
    const hostSeed = hosts.seed;
    const stats = this.stats;
    const ifPorts = this.ifPorts;
    stats.packetsSeen += n;

    for (let i = 0; i < n; i++) {
      const t = timeMs[i]!;
      if (t >= this.windowEnd) this.advance(t, out);
      const len = wireLength[i]!;
      const proto = protocol[i]!;
      const flags = proto === IPPROTO.TCP ? tcpFlags[i]! & SYN_ACK_MASK : 0;
      const isSyn = flags === TCP_FLAG.SYN ? 1 : 0;
      const isSynAck = flags === SYN_ACK_MASK ? 1 : 0;
      const pinfo = info[i]!;
      const w = i * 4;
      const sp = srcPort[i]!;
      const dp = dstPort[i]!;
      const portValue = (pinfo & NO_FLOW) === 0 && (proto === IPPROTO.TCP || proto === IPPROTO.UDP)
        ? (proto === IPPROTO.UDP ? UDP_PORT_BASE + dp : dp) : -1;

      this.ifBytes += len;
      this.ifPackets++;
      this.ifSyn += isSyn;
      this.ifSynAck += isSynAck;
      if (portValue >= 0) {
        const word = portValue >>> 5, bit = 1 << (portValue & 31);
        if ((ifPorts[word]! & bit) === 0) { ifPorts[word] = ifPorts[word]! | bit; this.ifPortCount++; }
      }

      const hs = hashAddress(srcW, w, hostSeed);
      const hd = hashAddress(dstW, w, hostSeed);
      let newFlow = 0;
      if ((pinfo & NO_FLOW) === 0) {
        const slot = flows.findOrInsert(srcW, w, dstW, w, sp, dp, proto, flows.hashTuple(hs, hd, sp, dp, proto), t);
        flows.winBytes[slot] = flows.winBytes[slot]! + len;
        flows.winPackets[slot] = flows.winPackets[slot]! + 1;
        flows.winSyn[slot] = flows.winSyn[slot]! + isSyn;
        flows.winSynAck[slot] = flows.winSynAck[slot]! + isSynAck;
        if (flows.lastWasNew) { newFlow = 1; this.ifNewFlows++; }
      } else {
        stats.packetsSkipped++;
      }

      // hosts: find both first so that either can be the other's peer even when only one has room
      let sid = hosts.find(srcW, w, hs);
      let did = hosts.find(dstW, w, hd);
      const srcId = hosts.claim(srcW, w, hs, sid, ROLE_SRC);
      if (srcId >= 0) sid = srcId;
      if (did < 0 && srcId >= 0 && hs === hd) did = hosts.find(dstW, w, hd); // src and dst the same address (loopback)
      const dstId = hosts.claim(dstW, w, hd, did, ROLE_DST);
      if (dstId >= 0) did = dstId;
      if (srcId >= 0) {
        hosts.bytes[ROLE_SRC][srcId] = hosts.bytes[ROLE_SRC][srcId]! + len;
        hosts.packets[ROLE_SRC][srcId] = hosts.packets[ROLE_SRC][srcId]! + 1;
        hosts.syn[ROLE_SRC][srcId] = hosts.syn[ROLE_SRC][srcId]! + isSyn;
        hosts.synAck[ROLE_SRC][srcId] = hosts.synAck[ROLE_SRC][srcId]! + isSynAck;
        hosts.newFlows[ROLE_SRC][srcId] = hosts.newFlows[ROLE_SRC][srcId]! + newFlow;
        if (portValue >= 0) hosts.dstPorts[ROLE_SRC].add(srcId, portValue);
        if (did >= 0) hosts.peers[ROLE_SRC].add(srcId, did);
        if (isSyn === 1) {
          if (portValue >= 0) hosts.synDstPorts.add(srcId, dp);
          if (did >= 0) hosts.synDstHosts.add(srcId, did);
        }
      } else {
        stats.hostEvictions++;
      }
      if (dstId >= 0) {
        hosts.bytes[ROLE_DST][dstId] = hosts.bytes[ROLE_DST][dstId]! + len;
        hosts.packets[ROLE_DST][dstId] = hosts.packets[ROLE_DST][dstId]! + 1;
        hosts.syn[ROLE_DST][dstId] = hosts.syn[ROLE_DST][dstId]! + isSyn;
        hosts.synAck[ROLE_DST][dstId] = hosts.synAck[ROLE_DST][dstId]! + isSynAck;
        hosts.newFlows[ROLE_DST][dstId] = hosts.newFlows[ROLE_DST][dstId]! + newFlow;
        if (portValue >= 0) hosts.dstPorts[ROLE_DST].add(dstId, portValue);
        if (sid >= 0) hosts.peers[ROLE_DST].add(dstId, sid);
      } else {
        stats.hostEvictions++;
      }
    }
  }

  /** Closes windows until `timeMs` falls in the open one (opening the first window if none is). */
  private advance(timeMs: number, out: WindowMessage[]): void {
    const w = this.options.windowMs;
    const aligned = Math.floor(timeMs / w) * w;
    if (Number.isNaN(this.windowStart)) {
      this.windowStart = aligned;
      this.windowEnd = aligned + w;
      return;
    }
    out.push(this.closeWindow(false));
    // whole windows between the closed one and the one holding timeMs
    const empty = Math.round((aligned - this.windowEnd) / w);
    const fill = Math.min(empty, this.options.maxEmptyWindows);
    for (let k = 0; k < fill; k++) {
      this.windowStart = this.windowEnd;
      this.windowEnd += w;
      out.push(this.closeWindow(false));
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
    this.ifBytes = this.ifPackets = this.ifSyn = this.ifSynAck = this.ifNewFlows = this.ifPortCount = 0;
    this.ifPorts.fill(0);
  }

  private metrics(bytes: number, packets: number, syn: number, synAck: number, newFlows: number, ports: number, peers: number): Metrics {
    return {
      bytes,
      packets,
      bitsPerSecond: (bytes * 8) / this.windowSeconds,
      packetsPerSecond: packets / this.windowSeconds,
      synCount: syn,
      synAckCount: synAck,
      newFlows,
      distinctDstPorts: ports,
      distinctPeers: peers,
    };
  }

  private closeWindow(final: boolean): WindowMessage {
    const start = this.windowStart, end = this.windowEnd;
    const records: TrafficRecord[] = [];
    const hosts = this.hosts;
    const addrBytes = new Uint8Array(hosts.words.buffer, hosts.words.byteOffset, hosts.size * 16);
    const ifName = this.options.interfaceName ?? baseName(this.source);

    if (this.emit.interface) {
      records.push({
        scope: 'interface', key: `iface ${ifName}`, windowStart: start, windowEnd: end,
        metrics: this.metrics(this.ifBytes, this.ifPackets, this.ifSyn, this.ifSynAck, this.ifNewFlows, this.ifPortCount, hosts.size),
      });
    }
    const addressCache: string[] = [];
    const address = (id: number): string => (addressCache[id] ??= formatAddress(addrBytes, id * 16));
    for (const role of [ROLE_DST, ROLE_SRC]) {
      const scope: Scope = role === ROLE_SRC ? 'srcHost' : 'dstHost';
      if (!this.emit[scope]) continue;
      const order = hosts.order[role]!;
      for (let k = 0; k < hosts.roleCount[role]!; k++) {
        const id = order[k]!;
        const ip = address(id);
        const rec: TrafficRecord = {
          scope, key: `${role === ROLE_SRC ? 'src' : 'dst'} ${ip}`, windowStart: start, windowEnd: end,
          metrics: this.metrics(hosts.bytes[role]![id]!, hosts.packets[role]![id]!, hosts.syn[role]![id]!, hosts.synAck[role]![id]!,
            hosts.newFlows[role]![id]!, hosts.dstPorts[role]!.count(id), hosts.peers[role]!.count(id)),
        };
        if (role === ROLE_SRC) {
          rec.srcIp = ip;
          if (hosts.syn[ROLE_SRC][id]! > 0) {
            const scan: ScanEvidence = {
              synDstPorts: hosts.synDstPorts.sorted(id),
              truncated: hosts.synDstPorts.truncated[id] === 1,
              synDstHosts: hosts.synDstHosts.count(id),
            };
            rec.scan = scan;
          }
        } else {
          rec.dstIp = ip;
        }
        records.push(rec);
      }
    }
    if (this.emit.flow) {
      const flows = this.flows;
      const flowBytes = new Uint8Array(flows.addrWords.buffer, flows.addrWords.byteOffset, flows.addrWords.byteLength);
      for (let k = 0; k < flows.activeCount; k++) {
        const slot = flows.active[k]!;
        records.push(this.flowRecord(slot, flowBytes, start, end));
      }
    }

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
    this.clearWindow();
    if (this.options.flowIdleTimeoutMs >= 0) this.flows.expireIdle(end - this.options.flowIdleTimeoutMs);
    return msg;
  }

  private flowRecord(slot: number, bytes: Uint8Array, start: number, end: number): TrafficRecord {
    const f = this.flows;
    const proto = f.protocol[slot]!;
    const ports = f.ports[slot]!;
    const sp = ports >>> 16, dp = ports & 0xffff;
    const srcIp = formatAddress(bytes, slot * 32);
    const dstIp = formatAddress(bytes, slot * 32 + 16);
    const name = protocolName(proto);
    let key: string;
    const m = this.metrics(f.winBytes[slot]!, f.winPackets[slot]!, f.winSyn[slot]!, f.winSynAck[slot]!, f.winNew[slot]!, 1, 1);
    m.flowDurationMs = f.lastSeenMs[slot]! - f.firstSeenMs[slot]!;
    const rec: TrafficRecord = { scope: 'flow', key: '', windowStart: start, windowEnd: end, srcIp, dstIp, metrics: m };
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
