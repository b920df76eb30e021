/**
 * Anomaly rules over annotated windows (the core of the `rule-detector` node).
 *
 * Every rule produces {@link Finding}s; all findings of one key in one window become ONE
 * {@link AnomalyEvent} whose top-level fields repeat the primary finding (high before medium, then
 * the largest deviationPercent, then rule order as in {@link RULE_IDS}). The event also carries
 * attack-pattern `hints` (never verdicts), a `score` 0–100 for ranking ({@link scoreEvent}) and, for
 * interface-scope events, the `contributors` of the same window.
 *
 * Baseline rules (records of the configured scopes, learning and mature keys, or mature only with
 * `minState: 'mature'` — the default of latency and protocol-shift; a bootstrap key whose baseline
 * is its peers' prior gets the dual-EWMA and spike rules at most `medium`):
 * - **dual-ewma**: value > fast×fastMultiplier AND value > slow×slowMultiplier (3 and 5 in the
 *   `default` sensitivity profile), high; reported threshold max of both; deviation against the
 *   slow EWMA.
 * - **spike**: value > μ + highSigma·σ (3) → high, > μ + mediumSigma·σ (2) → medium, μ = slow EWMA,
 *   σ = √(EW variance) floored at 10% of μ; the kσ test of a Shewhart-style control chart on the
 *   EWMA (NIST/SEMATECH e-Handbook §6.3.2).
 * - **recent-peak guard** of both (option `peakGuard`, on by default): a dual-EWMA or spike finding
 *   on a metric stands only when the value is above `factor` (2) × the key's recent peak of that
 *   metric, decayed with a half-life of `halfLifeMs` (30 min) of packet time; a key without a peak
 *   yet is judged as without the guard. A host whose bursts recur alerts on the first one only; an
 *   excursion the guard lets through lifts the peak by 5 % once (not per window), so a flood does not
 *   raise its own guard.
 * - **latency**: mean handshake RTT (`handshakeRttMs`) > 2× its slow EWMA → high, > 1.5× → medium,
 *   and above the key's usual variation μ + 3σ (σ ≥ 10 % of μ), with at least `minHandshakes`
 *   handshakes in the window and an increase of at least `minIncreaseMs`.
 * - **protocol-shift**: a protocol's share of packets or bytes (`tcpPacketsPercent` …
 *   `otherBytesPercent`) more than 30 points (medium) / 50 points (high) away from its baseline
 *   share and by more than 2σ of that share (a host whose mix swings has no share to shift from),
 *   with at least `minPackets` packets in the window and 20 windows behind the share's baseline.
 *   Baseline share = the metric's slow
 *   EWMA × 100 / the sum of the slow EWMAs of the four protocols of that kind: windows without
 *   packets carry 0 % in every share and would otherwise drag every baseline share down alike.
 *
 * Threshold rules that need no baseline (any maturity):
 * - **static** (bootstrap): records whose baseline state is `bootstrap`, or that carry no baseline.
 *   packetsPerSecond > 10,000, bitsPerSecond > 100 Mbit/s and SYN rate > 100/s, all high (bit/s
 *   and packet/s from the window's `bootstrapThresholds` when ewma-baseline derives them).
 * - **packet-loss**: `packetLossPercent` > 5% → high, > 2% → medium, only with at least
 *   `minSegments` TCP data segments in the window (segments = retransmissions × 100 / loss %).
 * - **port-scan** (vertical, srcHost records): more than `minSyns` SYNs to more than `minPorts`
 *   distinct destination ports within `windowMs` (60 s) of packet time.
 * - **horizontal-scan** (srcHost): one source sent SYNs (TCP) or opened UDP flows to more than
 *   `minHosts` distinct hosts on the same destination port in one window, at most
 *   `maxAnsweredPercent` of them answered (SYN-ACK, or any UDP reply). From the window's flow
 *   records; without them from the srcHost scan evidence (`scan.synDstHosts`, ≤ 3 ports).
 * - **admin-fanout** (srcHost, medium): one source sends SYNs to more than `minHosts` (20) distinct
 *   hosts on remote-administration ports ({@link ADMIN_PORTS}) within `windowMs` (5 min), answered
 *   or not (flow records); hint "lateral movement".
 * - **icmp-sweep** (srcHost): echo requests (ICMP type 8, ICMPv6 type 128) from one source to more
 *   than `minHosts` distinct hosts in one window (flow records).
 * - **icmp-flood** (dstHost): ICMP and ICMPv6 packets to one host (packets × icmpPacketsPercent)
 *   above `minPacketsPerSecond` (50/s averaged over the window; ordinary ping is 1/s).
 * - **syn-flood** (dstHost): SYN rate > `minSynPerSecond`, from at least `minSources` distinct
 *   sources, with completed handshakes at most `maxHandshakePercent` % of the SYNs. Needs no
 *   baseline: fires on the first windows of a capture that starts inside a flood.
 * - **unsolicited-syn-ack** (dstHost): SYN-ACKs a host received beyond the SYNs it sent (same and
 *   previous window, from its srcHost records), summed over `windowMs` (60 s): more than `minCount`
 *   → high. The TCP reflection pattern (reflectors answer SYNs spoofed with the victim's address).
 * - **amplification** (dstHost): UDP bytes from one reflector source port (`udpReflectorBytes<port>`)
 *   above fast×fastMultiplier and slow×slowMultiplier of that metric's baseline; without a baseline
 *   for it (bootstrap, or never seen) above `staticBytesPerSecond` from at least `minSources`
 *   distinct sources.
 * - **long-lived** (flow records): a TCP/UDP flow whose duration exceeds 2× (high) / 1.5× (medium)
 *   the mean duration of the ended flows of its service (protocol and the lower of the two ports),
 *   once that service has `minServiceFlows` ended flows and the duration is at least
 *   `minDurationMs` (10 min); `idle` when its report says it moved fewer than `idleBytes` bytes. Judged once
 *   when a flow crosses the threshold and again at its end / active-timeout report.
 *
 * Noise floors: a rule fires on a metric only if the value is also ≥ the metric's minimum
 * ({@link DEFAULT_MINIMUMS}). Deviation percentages are `(value − reference) / reference × 100`;
 * when the reference is 0 the metric's noise floor (or 1) stands in for it.
 *
 * @packageDocumentation
 */
import {
  CONTRACT_VERSION, ContractError, SCOPES,
  type AnomalyEvent, type Finding, type MaturityState, type MetricBaseline, type RuleId, type Scope,
  type Severity, type TrafficRecord, type WindowMessage,
} from './contracts';
import { formatCount, formatMetricValue, formatPercent, grouped } from './units';
import { baselinesBuiltHere } from './baseline';
import { SlotList } from './slot-list';
// overrides.ts imports this module too; only functions are used, at call time, so the cycle is safe
import { cidrContains, parseCidr, parseIpAddress, type CidrBlock } from './overrides';

// ---------------------------------------------------------------------------------------------
// Sensitivity profiles
// ---------------------------------------------------------------------------------------------

/** A named set of multipliers for the dual-EWMA and spike rules, or `custom` (the explicit numbers). */
export type SensitivityProfile = 'steady' | 'default' | 'spiky' | 'custom';

/** The multipliers a sensitivity profile sets. */
export interface ProfileValues { fastMultiplier: number; slowMultiplier: number; highSigma: number; mediumSigma: number }

/**
 * Sensitivity presets. `default` is the rule set of the issue (fast × 3, slow × 5, 3σ high, 2σ
 * medium); `steady` (fast × 2) and `spiky` (fast × 5) scale EVERY multiplier by the same ratio to
 * default (2/3 and 5/3): slow × 3.33 / 8.33, high σ 2 / 5, medium σ 1.33 / 3.33. One knob keeps the
 * rules in proportion: a profile is as much stricter or looser on the slow EWMA and on σ as on the
 * fast EWMA. `steady` suits keys with flat traffic (servers, links), `spiky` bursty ones (a backup
 * host, a video-call user).
 */
export const SENSITIVITY_PROFILES: Readonly<Record<Exclude<SensitivityProfile, 'custom'>, Readonly<ProfileValues>>> = Object.freeze({
  steady: Object.freeze(scaledProfile(2)),
  default: Object.freeze(scaledProfile(3)),
  spiky: Object.freeze(scaledProfile(5)),
});

function scaledProfile(fast: number): ProfileValues {
  const k = fast / 3;
  return { fastMultiplier: fast, slowMultiplier: 5 * k, highSigma: 3 * k, mediumSigma: 2 * k };
}

/** Names accepted for {@link DetectorOptions.profile}. */
export const PROFILE_NAMES: readonly SensitivityProfile[] = ['steady', 'default', 'spiky', 'custom'];

/**
 * The multipliers of a preset; `undefined` for `custom` or an absent profile.
 * @throws {RangeError} on an unknown profile name.
 */
export function profileValues(profile: unknown): ProfileValues | undefined {
  if (profile === undefined || profile === 'custom') return undefined;
  if (typeof profile !== 'string' || !Object.prototype.hasOwnProperty.call(SENSITIVITY_PROFILES, profile)) {
    throw new RangeError(`profile must be one of ${PROFILE_NAMES.join(', ')}, got ${JSON.stringify(profile)}`);
  }
  return { ...SENSITIVITY_PROFILES[profile as Exclude<SensitivityProfile, 'custom'>] };
}

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

type MinState = 'learning' | 'mature';

/** Options of a {@link RuleDetector}; every field has a default. */
export interface DetectorOptions {
  /**
   * Sensitivity profile of the dual-EWMA and spike rules (see {@link SENSITIVITY_PROFILES}). A preset
   * replaces `dualEwma.fastMultiplier`, `dualEwma.slowMultiplier`, `spike.highSigma` and
   * `spike.mediumSigma`; `custom` (or none) uses those numbers (defaults = the `default` preset).
   */
  profile?: SensitivityProfile;
  /** Dual-EWMA rule: value > fast EWMA × fastMultiplier AND value > slow EWMA × slowMultiplier; multipliers > 0. `minState`: least maturity judged (default `learning`). */
  dualEwma?: { enabled?: boolean; fastMultiplier?: number; slowMultiplier?: number; minState?: MinState };
  /** Spike rule: σ multiples over μ for high (3) and medium (2); 0 < mediumSigma ≤ highSigma. */
  spike?: { enabled?: boolean; highSigma?: number; mediumSigma?: number; minState?: MinState };
  /**
   * Recent-peak guard of the dual-EWMA and spike rules (see {@link RuleDetector}): a finding of
   * either rule on a metric stands only when the value is above `factor` (2) × the key's decayed
   * recent peak of that metric (half-life `halfLifeMs`, 1,800,000 ms = 30 min of packet time).
   * `enabled` false, or a factor of 0, turns it off. `maxKeys` (200,000) bounds the keys whose peaks
   * are held (least recently seen dropped first). `false` = `{ enabled: false }`.
   */
  peakGuard?: false | { enabled?: boolean; factor?: number; halfLifeMs?: number; maxKeys?: number };
  /** Port-scan (vertical): more than minSyns SYNs (100) to more than minPorts distinct ports (20) within windowMs (60,000 ms). */
  portScan?: { enabled?: boolean; minSyns?: number; minPorts?: number; windowMs?: number };
  /** Static thresholds for keys in bootstrap: packetsPerSecond (10,000), bitsPerSecond (100,000,000), synPerSecond (100); all > 0. */
  bootstrapStatic?: { enabled?: boolean; packetsPerSecond?: number; bitsPerSecond?: number; synPerSecond?: number };
  /**
   * Latency: handshakeRttMs > highRatio (2) / mediumRatio (1.5) × its slow EWMA, and above the key's
   * usual variation μ + sigma (3) · σ (σ ≥ 10 % of μ; 0 turns that test off); ≥ minHandshakes (5)
   * handshakes; increase ≥ minIncreaseMs (10 ms). minState default `mature`.
   */
  latency?: { enabled?: boolean; highRatio?: number; mediumRatio?: number; minHandshakes?: number; minIncreaseMs?: number; sigma?: number; minState?: MinState };
  /** Packet loss: packetLossPercent > highPercent (5) / mediumPercent (2), with ≥ minSegments (100) TCP data segments in the window. */
  packetLoss?: { enabled?: boolean; highPercent?: number; mediumPercent?: number; minSegments?: number };
  /**
   * Protocol shift: share of packets/bytes more than points (30, medium) / highPoints (50, high)
   * percentage points from its baseline share and more than sigma (2) × the share's σ; ≥ minPackets
   * (100) packets in the window; the share's baseline has ≥ minSamples (20) windows. minState default `mature`.
   */
  protocolShift?: { enabled?: boolean; points?: number; highPoints?: number; minPackets?: number; minSamples?: number; sigma?: number; minState?: MinState };
  /**
   * Long-lived flows: duration > highRatio (2) / mediumRatio (1.5) × the mean duration of ended
   * flows of the service, once the service has minServiceFlows (20) ended flows and the duration is
   * ≥ minDurationMs (600,000 = 10 min); `idle` below idleBytes (1000) bytes. maxServices (10,000) bounds memory.
   */
  longLived?: { enabled?: boolean; highRatio?: number; mediumRatio?: number; idleBytes?: number; minDurationMs?: number; minServiceFlows?: number; maxServices?: number };
  /**
   * Amplification: reflector-port UDP bytes to one host above fast×/slow× its baseline (the
   * dual-EWMA multipliers) and ≥ minBytesPerSecond (12,500 B/s); without a baseline above
   * staticBytesPerSecond (25,000 B/s) from ≥ minSources (10) distinct sources.
   */
  amplification?: { enabled?: boolean; staticBytesPerSecond?: number; minSources?: number; minBytesPerSecond?: number };
  /** Unsolicited SYN-ACKs: more than minCount (20) SYN-ACKs a host did not ask for within windowMs (60,000 ms). */
  unsolicitedSynAck?: { enabled?: boolean; minCount?: number; windowMs?: number };
  /** SYN flood without baseline: SYN rate > minSynPerSecond (50/s) from ≥ minSources (50) sources with handshakes ≤ maxHandshakePercent (5) % of SYNs. */
  synFlood?: { enabled?: boolean; minSynPerSecond?: number; minSources?: number; maxHandshakePercent?: number };
  /** Horizontal scan: one source to more than minHosts (20) hosts on one port in a window, ≤ maxAnsweredPercent (50) % answered. */
  horizontalScan?: { enabled?: boolean; minHosts?: number; maxAnsweredPercent?: number };
  /** ICMP sweep: echo requests from one source to more than minHosts (20) hosts in a window. */
  icmpSweep?: { enabled?: boolean; minHosts?: number };
  /** ICMP flood: ICMP/ICMPv6 packets to one host above minPacketsPerSecond (50/s, window average). */
  icmpFlood?: { enabled?: boolean; minPacketsPerSecond?: number };
  /**
   * Admin-port fan-out: one source sends SYNs to more than minHosts (20) distinct hosts on remote
   * administration ports (`ports`, default {@link ADMIN_PORTS}) within windowMs (300,000 ms), answered
   * or not. Medium. Reads flow records.
   */
  adminFanout?: { enabled?: boolean; minHosts?: number; windowMs?: number; ports?: number[] };
  /** Attack-pattern hints in events and their message (default true). */
  hints?: boolean;
  /** Noise floor per metric (merged over {@link DEFAULT_MINIMUMS}); no rule fires on a metric below it. */
  minimums?: Record<string, number>;
  /** Metrics the dual-EWMA and spike rules look at (default {@link DEFAULT_RULE_METRICS}). */
  metrics?: string[];
  /** Scopes whose records the static, dual-EWMA, spike, latency, packet-loss and protocol-shift rules evaluate. Default interface, dstHost, srcHost. The attack rules read their scope regardless. */
  scopes?: Scope[];
  /** Most sources (and hosts) whose sliding-window evidence is kept; at the cap the least recently seen tenth is dropped. Default 50,000. */
  maxScanSources?: number;
}

/** {@link DetectorOptions} with every default filled in. */
export interface ResolvedDetectorOptions {
  profile: SensitivityProfile;
  dualEwma: { enabled: boolean; fastMultiplier: number; slowMultiplier: number; minState: MinState };
  spike: { enabled: boolean; highSigma: number; mediumSigma: number; minState: MinState };
  peakGuard: { enabled: boolean; factor: number; halfLifeMs: number; maxKeys: number };
  portScan: { enabled: boolean; minSyns: number; minPorts: number; windowMs: number };
  bootstrapStatic: { enabled: boolean; packetsPerSecond: number; bitsPerSecond: number; synPerSecond: number };
  latency: { enabled: boolean; highRatio: number; mediumRatio: number; minHandshakes: number; minIncreaseMs: number; sigma: number; minState: MinState };
  packetLoss: { enabled: boolean; highPercent: number; mediumPercent: number; minSegments: number };
  protocolShift: { enabled: boolean; points: number; highPoints: number; minPackets: number; minSamples: number; sigma: number; minState: MinState };
  longLived: { enabled: boolean; highRatio: number; mediumRatio: number; idleBytes: number; minDurationMs: number; minServiceFlows: number; maxServices: number };
  amplification: { enabled: boolean; staticBytesPerSecond: number; minSources: number; minBytesPerSecond: number };
  unsolicitedSynAck: { enabled: boolean; minCount: number; windowMs: number };
  synFlood: { enabled: boolean; minSynPerSecond: number; minSources: number; maxHandshakePercent: number };
  horizontalScan: { enabled: boolean; minHosts: number; maxAnsweredPercent: number };
  icmpSweep: { enabled: boolean; minHosts: number };
  icmpFlood: { enabled: boolean; minPacketsPerSecond: number };
  adminFanout: { enabled: boolean; minHosts: number; windowMs: number; ports: number[] };
  hints: boolean;
  minimums: Record<string, number>;
  metrics: string[];
  scopes: Scope[];
  maxScanSources: number;
}

/**
 * Default noise floors: packetsPerSecond 100 packet/s, bitsPerSecond 1,000,000 bit/s (1 Mbit/s),
 * synCount 20, newFlows 50, distinctDstPorts 50, distinctPeers 50 (per window). Measured on the
 * labeled generated days (bench/quality.js, seed 1, 2.5 h): the floors of the first releases (10
 * packet/s, 80 kbit/s, 20 flows/ports/peers) let a web page load on an idle host alert — 292 false
 * alerts per hour against 8.4 with these, at the same recall.
 */
export const DEFAULT_MINIMUMS: Readonly<Record<string, number>> = Object.freeze({
  packetsPerSecond: 100, bitsPerSecond: 1_000_000, synCount: 20, newFlows: 50, distinctDstPorts: 50, distinctPeers: 50,
});

/**
 * Defaults of the recent-peak guard ({@link DetectorOptions.peakGuard}): factor 2, half-life
 * 1,800,000 ms (30 min of packet time), at most 200,000 keys held. Measured on the labeled generated
 * days (bench/quality.js): it halves the false alerts of the dynamic mode at the same recall and
 * delay; a host whose bursts recur (a backup, a sync client, a chat client) stops alerting on each.
 */
export const DEFAULT_PEAK_GUARD: Readonly<{ factor: number; halfLifeMs: number; maxKeys: number }> = Object.freeze({
  factor: 2, halfLifeMs: 1_800_000, maxKeys: 200_000,
});

/** Metrics the dual-EWMA and spike rules look at by default. */
export const DEFAULT_RULE_METRICS: readonly string[] = Object.freeze(['bitsPerSecond', 'packetsPerSecond', 'synCount', 'newFlows', 'distinctDstPorts', 'distinctPeers']);

/** Every rule, in the order used to break ties between findings. */
export const RULE_IDS: readonly RuleId[] = Object.freeze([
  'static', 'dual-ewma', 'spike', 'port-scan', 'syn-flood', 'amplification', 'unsolicited-syn-ack', 'horizontal-scan',
  'icmp-sweep', 'icmp-flood', 'admin-fanout', 'latency', 'packet-loss', 'protocol-shift', 'long-lived',
] as RuleId[]);

/** The protocol-share metrics the protocol-shift rule watches. */
export const SHARE_METRICS: readonly string[] = Object.freeze([
  'tcpPacketsPercent', 'udpPacketsPercent', 'icmpPacketsPercent', 'otherPacketsPercent',
  'tcpBytesPercent', 'udpBytesPercent', 'icmpBytesPercent', 'otherBytesPercent',
]);

/**
 * UDP reflector source ports (as flow-aggregator's `udpReflectorBytes<port>`) and the protocol
 * named in amplification hints. Sources: US-CERT alert TA14-017A "UDP-Based Amplification Attacks";
 * Rossow, "Amplification Hell" (NDSS 2014); CVE-2018-1000115 (memcached).
 */
export const REFLECTOR_PROTOCOLS: Readonly<Record<number, string>> = Object.freeze({
  53: 'DNS', 123: 'NTP', 161: 'SNMP', 389: 'CLDAP', 1900: 'SSDP', 11211: 'memcached', 19: 'chargen',
  4500: 'IPsec IKE (NAT-T)', 3702: 'WS-Discovery', 37810: 'DVR DHCPDiscover',
});

const DEFAULT_SCOPES: readonly Scope[] = ['interface', 'dstHost', 'srcHost'];

/**
 * TCP ports of remote administration and file sharing that a workstation rarely opens to many
 * hosts: SSH 22, Telnet 23, MS-RPC 135, NetBIOS 139, SMB 445, RDP 3389, WinRM 5985/5986 (MITRE
 * ATT&CK T1021 "Remote Services").
 */
export const ADMIN_PORTS: readonly number[] = Object.freeze([22, 23, 135, 139, 445, 3389, 5985, 5986]);

const posNum = (v: number, name: string): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new RangeError(`${name} must be a finite number > 0, got ${String(v)}`);
  return v;
};
const nonNeg = (v: number, name: string): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`${name} must be a finite number ≥ 0, got ${String(v)}`);
  return v;
};
const countNum = (v: number, name: string): number => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new RangeError(`${name} must be an integer ≥ 0, got ${String(v)}`);
  return v;
};
const pct = (v: number, name: string): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 100) throw new RangeError(`${name} must be a number within 0–100, got ${String(v)}`);
  return v;
};

function portList(v: unknown, name: string): number[] {
  if (!Array.isArray(v) || v.length === 0 || v.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) throw new RangeError(`${name} must be a non-empty list of ports 1–65535`);
  return [...v] as number[];
}

function minState(value: unknown, name: string): MinState {
  if (value === undefined) return 'learning';
  if (value !== 'learning' && value !== 'mature') throw new RangeError(`${name} must be "learning" or "mature", got ${JSON.stringify(value)}`);
  return value;
}

/**
 * Fills in defaults and checks the options. A preset `profile` replaces the four multipliers.
 * @throws {RangeError} on an unknown profile, a multiplier, σ, ratio or threshold ≤ 0, a medium
 *   level above its high level, a negative or non-integer count, a percentage outside 0–100, an
 *   unknown scope, an empty metric list, a negative minimum, or a maxScanSources that is not a
 *   positive integer.
 */
export function resolveDetectorOptions(options: DetectorOptions = {}): ResolvedDetectorOptions {
  if (typeof options !== 'object' || options === null) throw new RangeError('detector options must be an object');
  const d = options.dualEwma ?? {}, s = options.spike ?? {}, p = options.portScan ?? {}, b = options.bootstrapStatic ?? {};
  const la = options.latency ?? {}, pl = options.packetLoss ?? {}, sh = options.protocolShift ?? {}, ll = options.longLived ?? {};
  const am = options.amplification ?? {}, us = options.unsolicitedSynAck ?? {}, sf = options.synFlood ?? {};
  const hs = options.horizontalScan ?? {}, ic = options.icmpSweep ?? {}, icf = options.icmpFlood ?? {}, af = options.adminFanout ?? {};
  const preset = profileValues(options.profile);
  const pg = options.peakGuard === false ? { enabled: false } : (options.peakGuard ?? {});
  if (typeof pg !== 'object' || pg === null) throw new RangeError('peakGuard must be an object or false');
  const pgFactor = nonNeg(pg.factor ?? DEFAULT_PEAK_GUARD.factor, 'peakGuard.factor');
  const o: ResolvedDetectorOptions = {
    profile: options.profile ?? 'custom',
    dualEwma: {
      enabled: d.enabled ?? true,
      fastMultiplier: posNum(preset?.fastMultiplier ?? d.fastMultiplier ?? 3, 'dualEwma.fastMultiplier'),
      slowMultiplier: posNum(preset?.slowMultiplier ?? d.slowMultiplier ?? 5, 'dualEwma.slowMultiplier'),
      minState: minState(d.minState, 'dualEwma.minState'),
    },
    spike: {
      enabled: s.enabled ?? true,
      highSigma: posNum(preset?.highSigma ?? s.highSigma ?? 3, 'spike.highSigma'),
      mediumSigma: posNum(preset?.mediumSigma ?? s.mediumSigma ?? 2, 'spike.mediumSigma'),
      minState: minState(s.minState, 'spike.minState'),
    },
    peakGuard: {
      enabled: (pg.enabled ?? true) && pgFactor > 0,
      factor: pgFactor,
      halfLifeMs: posNum(pg.halfLifeMs ?? DEFAULT_PEAK_GUARD.halfLifeMs, 'peakGuard.halfLifeMs'),
      maxKeys: pg.maxKeys ?? DEFAULT_PEAK_GUARD.maxKeys,
    },
    portScan: {
      enabled: p.enabled ?? true,
      minSyns: countNum(p.minSyns ?? 100, 'portScan.minSyns'),
      minPorts: countNum(p.minPorts ?? 20, 'portScan.minPorts'),
      windowMs: posNum(p.windowMs ?? 60_000, 'portScan.windowMs'),
    },
    bootstrapStatic: {
      enabled: b.enabled ?? true,
      packetsPerSecond: posNum(b.packetsPerSecond ?? 10_000, 'bootstrapStatic.packetsPerSecond'),
      bitsPerSecond: posNum(b.bitsPerSecond ?? 100_000_000, 'bootstrapStatic.bitsPerSecond'),
      synPerSecond: posNum(b.synPerSecond ?? 100, 'bootstrapStatic.synPerSecond'),
    },
    latency: {
      enabled: la.enabled ?? true,
      highRatio: posNum(la.highRatio ?? 2, 'latency.highRatio'),
      mediumRatio: posNum(la.mediumRatio ?? 1.5, 'latency.mediumRatio'),
      minHandshakes: countNum(la.minHandshakes ?? 5, 'latency.minHandshakes'),
      minIncreaseMs: nonNeg(la.minIncreaseMs ?? 10, 'latency.minIncreaseMs'),
      sigma: nonNeg(la.sigma ?? 3, 'latency.sigma'),
      minState: minState(la.minState ?? 'mature', 'latency.minState'),
    },
    packetLoss: {
      enabled: pl.enabled ?? true,
      highPercent: pct(pl.highPercent ?? 5, 'packetLoss.highPercent'),
      mediumPercent: pct(pl.mediumPercent ?? 2, 'packetLoss.mediumPercent'),
      minSegments: countNum(pl.minSegments ?? 100, 'packetLoss.minSegments'),
    },
    protocolShift: {
      enabled: sh.enabled ?? true,
      points: posNum(sh.points ?? 30, 'protocolShift.points'),
      highPoints: posNum(sh.highPoints ?? 50, 'protocolShift.highPoints'),
      minPackets: countNum(sh.minPackets ?? 100, 'protocolShift.minPackets'),
      minSamples: countNum(sh.minSamples ?? 20, 'protocolShift.minSamples'),
      sigma: nonNeg(sh.sigma ?? 2, 'protocolShift.sigma'),
      minState: minState(sh.minState ?? 'mature', 'protocolShift.minState'),
    },
    longLived: {
      enabled: ll.enabled ?? true,
      highRatio: posNum(ll.highRatio ?? 2, 'longLived.highRatio'),
      mediumRatio: posNum(ll.mediumRatio ?? 1.5, 'longLived.mediumRatio'),
      idleBytes: nonNeg(ll.idleBytes ?? 1000, 'longLived.idleBytes'),
      minDurationMs: nonNeg(ll.minDurationMs ?? 600_000, 'longLived.minDurationMs'),
      minServiceFlows: countNum(ll.minServiceFlows ?? 20, 'longLived.minServiceFlows'),
      maxServices: countNum(ll.maxServices ?? 10_000, 'longLived.maxServices'),
    },
    amplification: {
      enabled: am.enabled ?? true,
      staticBytesPerSecond: posNum(am.staticBytesPerSecond ?? 25_000, 'amplification.staticBytesPerSecond'),
      minSources: countNum(am.minSources ?? 10, 'amplification.minSources'),
      minBytesPerSecond: nonNeg(am.minBytesPerSecond ?? 12_500, 'amplification.minBytesPerSecond'),
    },
    unsolicitedSynAck: {
      enabled: us.enabled ?? true,
      minCount: countNum(us.minCount ?? 20, 'unsolicitedSynAck.minCount'),
      windowMs: posNum(us.windowMs ?? 60_000, 'unsolicitedSynAck.windowMs'),
    },
    synFlood: {
      enabled: sf.enabled ?? true,
      minSynPerSecond: posNum(sf.minSynPerSecond ?? 50, 'synFlood.minSynPerSecond'),
      minSources: countNum(sf.minSources ?? 50, 'synFlood.minSources'),
      maxHandshakePercent: pct(sf.maxHandshakePercent ?? 5, 'synFlood.maxHandshakePercent'),
    },
    horizontalScan: {
      enabled: hs.enabled ?? true,
      minHosts: countNum(hs.minHosts ?? 20, 'horizontalScan.minHosts'),
      maxAnsweredPercent: pct(hs.maxAnsweredPercent ?? 50, 'horizontalScan.maxAnsweredPercent'),
    },
    icmpSweep: {
      enabled: ic.enabled ?? true,
      minHosts: countNum(ic.minHosts ?? 20, 'icmpSweep.minHosts'),
    },
    icmpFlood: {
      enabled: icf.enabled ?? true,
      minPacketsPerSecond: posNum(icf.minPacketsPerSecond ?? 50, 'icmpFlood.minPacketsPerSecond'),
    },
    adminFanout: {
      enabled: af.enabled ?? true,
      minHosts: countNum(af.minHosts ?? 20, 'adminFanout.minHosts'),
      windowMs: posNum(af.windowMs ?? 300_000, 'adminFanout.windowMs'),
      ports: portList(af.ports ?? [...ADMIN_PORTS], 'adminFanout.ports'),
    },
    hints: options.hints ?? true,
    minimums: { ...DEFAULT_MINIMUMS },
    metrics: options.metrics ? [...options.metrics] : [...DEFAULT_RULE_METRICS],
    scopes: options.scopes ? [...options.scopes] : [...DEFAULT_SCOPES],
    maxScanSources: options.maxScanSources ?? 50_000,
  };
  if (o.spike.mediumSigma > o.spike.highSigma) throw new RangeError(`spike.mediumSigma (${o.spike.mediumSigma}) must not exceed spike.highSigma (${o.spike.highSigma})`);
  if (o.latency.mediumRatio > o.latency.highRatio) throw new RangeError(`latency.mediumRatio (${o.latency.mediumRatio}) must not exceed latency.highRatio (${o.latency.highRatio})`);
  if (o.packetLoss.mediumPercent > o.packetLoss.highPercent) throw new RangeError(`packetLoss.mediumPercent (${o.packetLoss.mediumPercent}) must not exceed packetLoss.highPercent (${o.packetLoss.highPercent})`);
  if (o.protocolShift.points > o.protocolShift.highPoints) throw new RangeError(`protocolShift.points (${o.protocolShift.points}) must not exceed protocolShift.highPoints (${o.protocolShift.highPoints})`);
  if (o.longLived.mediumRatio > o.longLived.highRatio) throw new RangeError(`longLived.mediumRatio (${o.longLived.mediumRatio}) must not exceed longLived.highRatio (${o.longLived.highRatio})`);
  if (options.minimums !== undefined) {
    if (typeof options.minimums !== 'object' || options.minimums === null) throw new RangeError('minimums must be an object of numbers');
    for (const [m, v] of Object.entries(options.minimums)) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`minimums.${m} must be a finite number ≥ 0, got ${String(v)}`);
      o.minimums[m] = v;
    }
  }
  if (!Array.isArray(o.metrics) || o.metrics.length === 0 || o.metrics.some((m) => typeof m !== 'string' || m === '')) throw new RangeError('metrics must be a non-empty array of metric names');
  if (!Array.isArray(o.scopes) || o.scopes.length === 0) throw new RangeError('scopes must be a non-empty array');
  for (const sc of o.scopes) if (!SCOPES.includes(sc)) throw new RangeError(`unknown scope ${JSON.stringify(sc)}; use ${SCOPES.join(', ')}`);
  if (!Number.isInteger(o.peakGuard.maxKeys) || o.peakGuard.maxKeys < 1) throw new RangeError(`peakGuard.maxKeys must be a positive integer, got ${String(o.peakGuard.maxKeys)}`);
  if (!Number.isInteger(o.maxScanSources) || o.maxScanSources < 1) throw new RangeError(`maxScanSources must be a positive integer, got ${String(o.maxScanSources)}`);
  return o;
}

// ---------------------------------------------------------------------------------------------
// Wording
// ---------------------------------------------------------------------------------------------

const LABELS: Record<string, string> = {
  bitsPerSecond: 'bit rate', packetsPerSecond: 'packet rate', synPerSecond: 'SYN rate', synCount: 'SYN count',
  synAckCount: 'SYN-ACK count', newFlows: 'new flows', distinctDstPorts: 'distinct destination ports',
  distinctPeers: 'distinct peers', bytes: 'bytes', packets: 'packets', flowDurationMs: 'flow duration',
  handshakeRttMs: 'handshake RTT', packetLossPercent: 'packet loss',
  tcpPacketsPercent: 'TCP share of packets', udpPacketsPercent: 'UDP share of packets', icmpPacketsPercent: 'ICMP share of packets',
  otherPacketsPercent: 'other-protocol share of packets', tcpBytesPercent: 'TCP share of bytes', udpBytesPercent: 'UDP share of bytes',
  icmpBytesPercent: 'ICMP share of bytes', otherBytesPercent: 'other-protocol share of bytes',
};
/** Preposition between a metric and a record's key, per scope (scopes added later fall back to "on"). */
const PREPOSITION: Partial<Record<Scope, string>> = { dstHost: 'to', srcHost: 'from', interface: 'on', flow: 'on', service: 'to', hostPair: 'on', subnet: 'on' };

function subject(metric: string, value: number, record: TrafficRecord): string {
  return `${LABELS[metric] ?? metric} ${formatMetricValue(metric, value)} ${PREPOSITION[record.scope] ?? 'on'} ${record.key}`;
}

const points = (v: number): string => `${formatCount(v)} points`;

// ---------------------------------------------------------------------------------------------
// Score
// ---------------------------------------------------------------------------------------------

/**
 * Rank of an event, 0–100 (higher = look first):
 * `score = base + deviation + breadth + hint`, rounded and capped at 100, where
 * - base = 60 for a high primary finding, 30 for medium;
 * - deviation = 25 × min(1, log10(1 + max(0, deviationPercent) / 100) / 2): 0 at the threshold's
 *   reference, 7.5 at +100 %, 25 from 100× the reference (+9,900 %) on;
 * - breadth = min(10, 2.5 × (distinct metrics among the findings − 1));
 * - hint = 5 when the evidence fits an attack pattern.
 * A medium event scores 30–70, a high one 60–100: severity dominates, deviation orders within it.
 */
export function scoreEvent(findings: readonly Finding[], hinted: boolean): number {
  const p = findings[0];
  if (p === undefined) return 0;
  const base = p.severity === 'high' ? 60 : 30;
  const dev = 25 * Math.min(1, Math.log10(1 + Math.max(0, Number.isFinite(p.deviationPercent) ? p.deviationPercent : 0) / 100) / 2);
  const metrics = new Set(findings.map((f) => f.metric)).size;
  const breadth = Math.min(10, 2.5 * (metrics - 1));
  return Math.min(100, Math.round(base + dev + breadth + (hinted ? 5 : 0)));
}

// ---------------------------------------------------------------------------------------------
// Detector
// ---------------------------------------------------------------------------------------------

const SEVERITY_RANK: Record<Severity, number> = { high: 2, medium: 1 };
const RULE_RANK: Record<string, number> = Object.fromEntries(RULE_IDS.map((r, i) => [r, i]));
const STATES: readonly MaturityState[] = ['bootstrap', 'learning', 'mature'];
/** ICMP echo request as flow-aggregator puts it in dstPort: type × 256 + code (ICMP type 8, ICMPv6 type 128). */
const ECHO_REQUEST: Record<string, number> = { icmp: 8 * 256, icmpv6: 128 * 256 };

/**
 * Recent peaks per key for the guard of the dual-EWMA and spike rules, in slots of typed arrays (no
 * object per key, and no Map delete + set per record to keep the order): per slot `t` the packet
 * time (ms, windowStart) of the last update, `peak[slot·M + k]` the peak of `options.metrics[k]`
 * at `t` (NaN: none yet), `excursion[slot·M + k]` 1 while that metric is in an excursion; slots are
 * chained in least-recently-seen order (exact LRU: the head is evicted at `maxKeys`).
 */
class PeakStore {
  /** Key → slot. */
  readonly index = new Map<string, number>();
  evictions = 0;
  private capacity = 0;
  private hwm = 0;
  private readonly freeSlots: number[] = [];
  private keys: string[] = [];
  /** Per slot: packet time (ms) of the last update. */
  t = new Float64Array(0);
  /** Per slot and metric (`slot·M + k`): the peak at `t`, NaN when none yet. */
  peak = new Float64Array(0);
  /** Per slot and metric: 1 while the metric is in an excursion. */
  excursion = new Uint8Array(0);
  /** The slots in least-recently-seen order (head: evicted first). */
  private readonly lru = new SlotList();

  /** @param width metrics per key (M); @param maxKeys most keys held. */
  constructor(private readonly width: number, private readonly maxKeys: number) {}

  get size(): number { return this.index.size; }

  /**
   * The slot of `key`, moved to the most-recently-seen end, or −1 when the key is not held (see
   * {@link insert}).
   */
  touch(key: string): number {
    const s = this.index.get(key);
    if (s === undefined) return -1;
    this.lru.moveToTail(s);
    return s;
  }

  /**
   * A new slot for `key` at the most-recently-seen end, its peaks NaN, no excursion, time `t`; the
   * least recently seen key is evicted (and counted) first when `maxKeys` are held.
   */
  insert(key: string, t: number): number {
    if (this.index.size >= this.maxKeys && this.lru.head !== -1) {
      const old = this.lru.head;
      this.lru.remove(old);
      this.index.delete(this.keys[old]!);
      this.keys[old] = '';
      this.freeSlots.push(old);
      this.evictions++;
    }
    let s: number;
    if (this.freeSlots.length > 0) s = this.freeSlots.pop()!;
    else {
      if (this.hwm === this.capacity) this.grow();
      s = this.hwm++;
      this.keys.push(key);
    }
    this.keys[s] = key;
    this.index.set(key, s);
    this.t[s] = t;
    const w = this.width, base = s * w;
    this.peak.fill(NaN, base, base + w);
    this.excursion.fill(0, base, base + w);
    this.lru.append(s);
    return s;
  }

  /** Forgets every key (evictions are reset too). */
  clear(): void {
    this.index.clear();
    this.evictions = 0;
    this.capacity = 0; this.hwm = 0; this.freeSlots.length = 0; this.keys = [];
    this.t = new Float64Array(0); this.peak = new Float64Array(0); this.excursion = new Uint8Array(0);
    this.lru.clear();
  }

  private grow(): void {
    const cap = this.capacity;
    let n = cap === 0 ? Math.min(1024, this.maxKeys) : cap * 2;
    if (n > this.maxKeys) n = Math.max(this.maxKeys, cap + 1);
    const w = this.width;
    const t = new Float64Array(n); t.set(this.t); this.t = t;
    const peak = new Float64Array(n * w); peak.set(this.peak); this.peak = peak;
    const exc = new Uint8Array(n * w); exc.set(this.excursion); this.excursion = exc;
    this.lru.grow(n);
    this.capacity = n;
  }
}

/** Evidence of one key in one aggregation window, for the sliding-window rules. */
interface ScanEntry { windowStart: number; syns: number; ports: number[]; truncated: boolean }
interface CountEntry { windowStart: number; count: number }
/** Running mean duration of the ended flows of one service. */
interface ServiceStats { flows: number; meanMs: number }

/** What the flow records of a window say about one source: per protocol/port the hosts it tried and the ones that answered. */
interface SourceFanout {
  /** Key: the destination port, + 65,536 for UDP (a number, no string per flow record); see {@link portKeyText}. */
  byPort: Map<number, { hosts: Set<string>; answered: Set<string> }>;
  echoHosts: Set<string>;
  /** Per destination host: the UDP destination ports of the source's new UDP flows to it (vertical UDP scan). */
  udpPorts: Map<string, Set<number>>;
}

/** Facts derived once per window from all its records. */
interface WindowIndex {
  /** SYNs each address sent (srcHost synCount). */
  synsSent: Map<string, number>;
  /** True when the window has srcHost records at all. */
  haveSrcHosts: boolean;
  /** Per source address, from the flow records (undefined: no flow records in the window). */
  fanout: Map<string, SourceFanout> | undefined;
  /** Per source address: the hosts it sent SYNs to on an admin port in this window (flow records). */
  adminTargets: Map<string, Set<string>>;
}

/** `tcp/445` / `udp/53` from a {@link SourceFanout.byPort} key. */
const portKeyText = (key: number): string => `${key >= 65536 ? 'udp' : 'tcp'}/${key & 0xffff}`;

/**
 * Builds the {@link WindowIndex} of a window in steps (three passes over its records): pass 1 the
 * SYNs per sender, the number of flow records per source and the admin-port targets; pass 2 the
 * answers (SYN-ACK, UDP reply) to sources with more flow records than the least host/port count a
 * fan-out rule needs; pass 3 what each such source tried, per protocol/port.
 */
class WindowIndexer {
  /** 1–3: the pass under way; 4: done. */
  private pass = 1;
  private i = 0;
  private readonly synsSent = new Map<string, number>();
  private haveSrcHosts = false;
  private flowsFrom: Map<string, number> | undefined;
  private readonly adminTargets = new Map<string, Set<string>>();
  private fanout: Map<string, SourceFanout> | undefined;
  /** Answering flows to candidate sources: `<proto> <src> <sport> <dst> <dport>`. */
  private readonly answers = new Set<string>();
  private least = Infinity;
  private readonly needFanout: boolean;

  constructor(private readonly records: readonly TrafficRecord[], private readonly options: ResolvedDetectorOptions, private readonly adminPorts: ReadonlySet<number>) {
    this.needFanout = options.horizontalScan.enabled || options.icmpSweep.enabled || options.portScan.enabled;
  }

  /** True when every pass is done. */
  get done(): boolean { return this.pass === 4; }

  /** Indexes up to `budget` records (of any pass); returns what is left of the budget. */
  step(budget: number): number {
    const records = this.records;
    const n = records.length;
    while (budget > 0 && this.pass < 4) {
      const end = Math.min(n, this.i + budget);
      budget -= end - this.i;
      if (this.pass === 1) this.pass1(this.i, end);
      else if (this.pass === 2) this.pass2(this.i, end);
      else this.pass3(this.i, end);
      this.i = end;
      if (end < n) break;
      this.i = 0;
      if (this.pass === 1) {
        if (this.flowsFrom === undefined) { this.pass = 4; break; }
        const o = this.options, hs = o.horizontalScan, ic = o.icmpSweep, ps = o.portScan;
        this.least = Math.min(hs.enabled ? hs.minHosts : Infinity, ic.enabled ? ic.minHosts : Infinity, ps.enabled ? ps.minPorts : Infinity);
        this.fanout = new Map();
      }
      this.pass++;
    }
    return budget;
  }

  /** The index (once {@link done}). */
  result(): WindowIndex {
    return { synsSent: this.synsSent, haveSrcHosts: this.haveSrcHosts, fanout: this.fanout, adminTargets: this.adminTargets };
  }

  private candidate(ip: string | undefined): boolean {
    return ip !== undefined && (this.flowsFrom!.get(ip) ?? 0) > this.least;
  }

  /** SYNs per sender; flow records per source (a cheap count first: a spoofed flood has a flow per source); admin-port targets. */
  private pass1(from: number, to: number): void {
    const records = this.records;
    const admin = this.options.adminFanout;
    for (let i = from; i < to; i++) {
      const r = records[i]!;
      if (r.scope === 'srcHost') {
        this.haveSrcHosts = true;
        if (r.srcIp !== undefined) this.synsSent.set(r.srcIp, r.metrics.synCount ?? 0);
      } else if (r.scope === 'flow' && r.srcIp !== undefined && r.dstIp !== undefined) {
        if (this.needFanout) {
          const flowsFrom = (this.flowsFrom ??= new Map());
          flowsFrom.set(r.srcIp, (flowsFrom.get(r.srcIp) ?? 0) + 1);
        }
        if (admin.enabled && r.protocol === 'tcp' && (r.metrics.synCount ?? 0) > 0 && r.dstPort !== undefined && this.adminPorts.has(r.dstPort)) {
          let t = this.adminTargets.get(r.srcIp);
          if (t === undefined) { t = new Set(); this.adminTargets.set(r.srcIp, t); }
          t.add(r.dstIp);
        }
      }
    }
  }

  /** Answers to candidate sources (a SYN-ACK, any UDP packet back). */
  private pass2(from: number, to: number): void {
    const records = this.records;
    for (let i = from; i < to; i++) {
      const r = records[i]!;
      if (r.scope !== 'flow' || !this.candidate(r.dstIp)) continue;
      if ((r.protocol === 'tcp' && (r.metrics.synAckCount ?? 0) > 0) || (r.protocol === 'udp' && (r.metrics.packets ?? 0) > 0)) {
        this.answers.add(`${r.protocol} ${r.srcIp} ${r.srcPort ?? 0} ${r.dstIp} ${r.dstPort ?? 0}`);
      }
    }
  }

  /** What each candidate source tried, per protocol/port, and which hosts answered; echo requests; UDP ports per host. */
  private pass3(from: number, to: number): void {
    const records = this.records;
    const fanout = this.fanout!;
    const src = (ip: string): SourceFanout => {
      let f = fanout.get(ip);
      if (f === undefined) { f = { byPort: new Map(), echoHosts: new Set(), udpPorts: new Map() }; fanout.set(ip, f); }
      return f;
    };
    for (let i = from; i < to; i++) {
      const r = records[i]!;
      if (r.scope !== 'flow' || r.dstIp === undefined || !this.candidate(r.srcIp)) continue;
      const proto = r.protocol ?? '';
      if (proto === 'tcp' || proto === 'udp') {
        // an attempt: a TCP flow that sent a SYN (no ACK) in the window, or a UDP flow new in the window
        const attempt = proto === 'tcp' ? (r.metrics.synCount ?? 0) > 0 : (r.metrics.newFlows ?? 0) > 0;
        if (!attempt || r.dstPort === undefined) continue;
        const portKey = (proto === 'udp' ? 65536 : 0) + r.dstPort;
        const f = src(r.srcIp!);
        let p = f.byPort.get(portKey);
        if (p === undefined) { p = { hosts: new Set(), answered: new Set() }; f.byPort.set(portKey, p); }
        p.hosts.add(r.dstIp);
        if (this.answers.has(`${proto} ${r.dstIp} ${r.dstPort} ${r.srcIp} ${r.srcPort ?? 0}`)) p.answered.add(r.dstIp);
        if (proto === 'udp') {
          let ports = f.udpPorts.get(r.dstIp);
          if (ports === undefined) { ports = new Set(); f.udpPorts.set(r.dstIp, ports); }
          ports.add(r.dstPort);
        }
      } else if (ECHO_REQUEST[proto] !== undefined && r.dstPort === ECHO_REQUEST[proto] && (r.metrics.packets ?? 0) > 0) {
        src(r.srcIp!).echoHosts.add(r.dstIp);
      }
    }
  }
}

/** Thresholds of the static (bootstrap) rule for one window. */
interface StaticThresholds { packetsPerSecond: number; bitsPerSecond: number; synPerSecond: number }

const PHASE_CHECK = 0, PHASE_INDEX = 1, PHASE_RULES = 2, PHASE_EVENTS = 3, PHASE_DONE = 4;

/**
 * A window being evaluated in steps (from {@link RuleDetector.beginEvaluate} or
 * `ProfiledDetector.beginEvaluate`). Call {@link step} until it returns true (or not at all), then
 * {@link finish} once. The events of `finish()` are the same as `evaluate()`'s on the same window,
 * whatever the step sizes.
 */
export interface EvaluateJob {
  /** Records in the window. */
  readonly total: number;
  /** Records the rules have judged so far (0 … {@link total}; the check and index passes come first). */
  readonly done: number;
  /**
   * Does up to `maxRecords` units of the remaining work (a record checked, indexed or judged, an
   * event built; at least one unit per call); true when nothing is left (then {@link finish} only
   * returns the events).
   * @throws {ContractError} from the check of a malformed record (the detector is unchanged then);
   *   a job that threw throws the same error again on every later call.
   */
  step(maxRecords: number): boolean;
  /**
   * Does whatever {@link step} left and returns the events, in the order of the window's records.
   * @throws {ContractError} as {@link step}; {Error} when called twice.
   */
  finish(): AnomalyEvent[];
}

/**
 * An {@link EvaluateJob} around `run(maxUnits)` (does up to that many units of work, true when
 * nothing is left): a failed job throws its error again on every later call, a finished one returns
 * true from `step`, and `finish` runs what is left and returns `events()` once.
 * @param total - records in the window.
 * @param done - records judged so far.
 */
export function evaluateJob(total: number, done: () => number, run: (maxUnits: number) => boolean, events: () => AnomalyEvent[]): EvaluateJob {
  let failure: { error: unknown } | undefined;
  let finished = false;
  return {
    get total(): number { return total; },
    get done(): number { return done(); },
    step(maxRecords: number): boolean {
      if (failure !== undefined) throw failure.error;
      if (finished) return true;
      try {
        return run(maxRecords >= 1 ? maxRecords : 1);
      } catch (error) {
        failure = { error };
        throw error;
      }
    },
    finish(): AnomalyEvent[] {
      if (finished) throw new Error('EvaluateJob.finish() called twice');
      while (!this.step(Number.MAX_SAFE_INTEGER));
      finished = true;
      return events();
    },
  };
}

/**
 * Orders findings primary first: high before medium, then larger deviationPercent, then rule order
 * ({@link RULE_IDS}). Sorts in place and returns the array.
 */
export function sortFindings(findings: Finding[]): Finding[] {
  return findings.sort((a, b) => (SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity])
    || (b.deviationPercent - a.deviationPercent) || ((RULE_RANK[a.rule] ?? 99) - (RULE_RANK[b.rule] ?? 99)));
}

type Add = (r: TrafficRecord, f: Finding) => void;

/**
 * Evaluates annotated windows against the rules and returns anomaly events. Holds per-source
 * port-scan and per-host unsolicited-SYN-ACK evidence of the last 60 s (bounded by
 * `maxScanSources`), the SYNs each host sent in the previous window, and per-service flow
 * duration means (bounded by `longLived.maxServices`), and the recent peaks of the dual-EWMA/spike
 * metrics per key (bounded by `peakGuard.maxKeys`, least recently seen dropped). A window is judged at once
 * ({@link RuleDetector.evaluate}) or in steps ({@link RuleDetector.beginEvaluate}), with the same events.
 */
export class RuleDetector {
  /** The options in force (defaults filled in). */
  readonly options: ResolvedDetectorOptions;
  private readonly scopeSet: Set<Scope>;
  private readonly scans = new Map<string, ScanEntry[]>();
  private scanEvictions = 0;
  private readonly synAcks = new Map<string, CountEntry[]>();
  private readonly adminSeen = new Map<string, Array<{ windowStart: number; hosts: string[] }>>();
  private readonly adminPorts: Set<number>;
  private prevSyns = new Map<string, number>();
  private prevWindowStart = Number.NEGATIVE_INFINITY;
  /** Key: the service's port, + 65,536 for UDP (see {@link portKeyText}): no string per flow record. */
  private readonly services = new Map<number, ServiceStats>();
  /** Flow keys already reported as long-lived while running (once each until they end). */
  private readonly longFlagged = new Set<string>();
  /** The metric baselines some rule reads (checked per record; see {@link checkRecordAnnotations}). */
  private readonly readMetrics: readonly string[];
  /** Recent peaks per key (insertion order = least recently seen first; at most `peakGuard.maxKeys`). */
  private readonly peaks: PeakStore;
  /** Per metric of `options.metrics`: the decayed recent peak of the record being judged (NaN: no guard). */
  private readonly guardPrev: Float64Array;

  /**
   * @param options see {@link DetectorOptions}
   * @throws {RangeError} on bad options (see {@link resolveDetectorOptions})
   */
  constructor(options?: DetectorOptions) {
    this.options = resolveDetectorOptions(options);
    this.scopeSet = new Set(this.options.scopes);
    this.adminPorts = new Set(this.options.adminFanout.ports);
    this.readMetrics = baselineMetricsRead(this.options);
    this.guardPrev = new Float64Array(this.options.metrics.length).fill(NaN);
    this.peaks = new PeakStore(this.options.metrics.length, this.options.peakGuard.maxKeys);
  }

  /** Keys whose recent peaks the peak guard holds, and keys dropped at `peakGuard.maxKeys` so far. */
  peakStats(): { keys: number; evictions: number } {
    return { keys: this.peaks.size, evictions: this.peaks.evictions };
  }

  /** Sources with port-scan evidence held, and sources dropped at the cap so far. */
  scanStats(): { sources: number; evictions: number } {
    return { sources: this.scans.size, evictions: this.scanEvictions };
  }

  /** The learned mean duration (ms) and count of ended flows of a service such as `tcp/443`, or undefined. */
  serviceDuration(service: string): { flows: number; meanMs: number } | undefined {
    const m = /^(tcp|udp)\/(\d{1,5})$/.exec(service);
    if (m === null || Number(m[2]) > 65535) return undefined;
    const s = this.services.get((m[1] === 'udp' ? 65536 : 0) + Number(m[2]));
    return s === undefined ? undefined : { ...s };
  }

  /**
   * Evaluates every record of an (annotated) window; returns at most ONE AnomalyEvent per key per
   * window, whose `findings` list every metric/rule of that key that crossed a threshold, and whose
   * top-level fields repeat the primary finding (see {@link sortFindings}). Events come in the order
   * of the window's records. `id` = `<rule>|<key>|<windowStart>`, `time` = windowEnd. The same as
   * {@link beginEvaluate} followed at once by `finish()`.
   *
   * @param window must pass `assertWindowMessage` (contracts).
   * @param context all records of the window when `window.records` is a subset (per-host
   *   overrides): the cross-record rules (SYNs a host sent, flow fan-out, interface contributors)
   *   read it; findings are only raised on `window.records`. Default `window.records`.
   * @throws {ContractError} when a record's `baseline`, `scan` or `flowEnd` is malformed (see
   *   {@link checkRecordAnnotations}); nothing is changed then.
   */
  evaluate(window: WindowMessage, context?: readonly TrafficRecord[]): AnomalyEvent[] {
    return this.beginEvaluate(window, context).finish();
  }

  /**
   * Starts evaluating `window` in steps (see {@link EvaluateJob}), so that a caller that must not
   * hold its thread for long (a Node-RED node) can spread a window of 100,000 records over several
   * event-loop turns. The work, in order: the annotation check of `window.records`
   * ({@link checkRecordAnnotations}; a malformed record throws before anything changes; the
   * baselines that a `BaselineStore` of this process built for this very records array are not
   * checked again, see `baselinesBuiltHere`), the
   * window index over `context` (SYNs per sender, flow fan-out per source, admin-port targets: three
   * passes), the rules per record, then one event per key (contributors of aggregate records read
   * the whole `context`). The result of `finish()` is the same as {@link evaluate}'s.
   *
   * Until `finish()` has returned (or a step has thrown), do not use this detector for anything
   * else (another window, `reset`), and do not change the window's records. A job that is dropped
   * unfinished after its check has passed may have recorded part of the window's evidence: call
   * {@link reset} then.
   *
   * @param window, context as for {@link evaluate}.
   */
  beginEvaluate(window: WindowMessage, context?: readonly TrafficRecord[]): EvaluateJob {
    const detector = this;
    const records = window.records;
    const all = context ?? records;
    const readMetrics = this.readMetrics;
    const byKey = new Map<string, { record: TrafficRecord; findings: Finding[] }>();
    const add: Add = (record, f) => {
      let e = byKey.get(record.key);
      if (e === undefined) { e = { record, findings: [] }; byKey.set(record.key, e); }
      e.findings.push(f);
    };
    const thresholds = this.staticThresholds(window);
    let phase = PHASE_CHECK;
    /** Next record (check, rules) or key (events) of the current phase. */
    let i = 0;
    let judged = 0;
    let indexer: WindowIndexer | undefined;
    let index: WindowIndex | undefined;
    let entries: Array<{ record: TrafficRecord; findings: Finding[] }> = [];
    /** The contributors of the aggregate record whose event is being built, and how far they got. */
    let tally: ContributorTally | undefined;
    let tallied = 0;
    const events: AnomalyEvent[] = [];

    /** Runs up to `budget` units of work (a record checked, indexed or judged, an event built); true when all is done. */
    const run = (budget: number): boolean => {
      while (budget > 0 && phase !== PHASE_DONE) {
        if (phase === PHASE_CHECK) {
          const end = Math.min(records.length, i + budget);
          budget -= end - i;
          // baselines an ewma-baseline store of this process built for this very array are well formed
          const builtHere = baselinesBuiltHere(records);
          if (builtHere === undefined) for (; i < end; i++) checkRecordAnnotations(records[i]!, i, readMetrics);
          else for (; i < end; i++) checkRecordAnnotations(records[i]!, i, readMetrics, builtHere.has(records[i]!.scope));
          if (i < records.length) return false;
          indexer = new WindowIndexer(all, detector.options, detector.adminPorts);
          phase = PHASE_INDEX;
        } else if (phase === PHASE_INDEX) {
          budget = indexer!.step(budget);
          if (!indexer!.done) return false;
          index = indexer!.result();
          indexer = undefined;
          // the window is valid: from here on the detector's evidence changes
          detector.pruneScans(window.windowEnd);
          i = 0;
          phase = PHASE_RULES;
        } else if (phase === PHASE_RULES) {
          const end = Math.min(records.length, i + budget);
          budget -= end - i;
          for (; i < end; i++) detector.judge(window, records[i]!, index!, thresholds, add);
          judged = i;
          if (i < records.length) return false;
          detector.rememberSyns(window, index!);
          entries = [...byKey.values()];
          byKey.clear();
          i = 0;
          phase = PHASE_EVENTS;
        } else {
          while (budget > 0 && i < entries.length) {
            const { record, findings } = entries[i]!;
            if (tally === undefined) {
              sortFindings(findings);
              if (!isAggregate(record.scope)) {
                events.push(detector.toEvent(window, record, findings, []));
                i++;
                budget--;
                continue;
              }
              // an aggregate record's contributors: a walk over the whole window, in steps too
              tally = new ContributorTally(record, findings[0]!.metric);
              tallied = 0;
            }
            const end = Math.min(all.length, tallied + budget);
            budget -= Math.max(1, end - tallied);
            tally.add(all, tallied, end);
            tallied = end;
            if (tallied < all.length) return false;
            events.push(detector.toEvent(window, record, findings, tally.result()));
            tally = undefined;
            i++;
          }
          if (i < entries.length) return false;
          entries = [];
          phase = PHASE_DONE;
        }
      }
      return phase === PHASE_DONE;
    };

    return evaluateJob(records.length, () => judged, run, () => events);
  }

  /** Every rule on one record of the window being evaluated (the body of the rules phase). */
  private judge(window: WindowMessage, record: TrafficRecord, index: WindowIndex, thresholds: StaticThresholds | undefined, add: Add): void {
    const o = this.options;
    if (this.scopeSet.has(record.scope)) {
      const state = record.baseline?.state ?? 'bootstrap';
      this.peakGuardStep(window, record);
      if (state === 'bootstrap') {
        if (thresholds !== undefined) this.staticRule(window, record, thresholds, add);
        // a never-seen key that ewma-baseline started from its peers' median baseline
        if (record.baseline?.prior === true) this.baselineRules(record, add, true);
      } else {
        this.baselineRules(record, add, false);
        this.latencyRule(record, add);
        this.protocolShiftRule(record, add);
      }
      if (o.packetLoss.enabled) this.packetLossRule(record, add);
    }
    if (record.scope === 'srcHost') {
      if (o.portScan.enabled && record.scan !== undefined) this.portScanRule(window, record, add);
      if (o.portScan.enabled) this.udpScanRule(record, index, add);
      if (o.horizontalScan.enabled) this.horizontalScanRule(record, index, add);
      if (o.icmpSweep.enabled) this.icmpSweepRule(record, index, add);
      if (o.adminFanout.enabled) this.adminFanoutRule(window, record, index, add);
    } else if (record.scope === 'dstHost') {
      if (o.synFlood.enabled) this.synFloodRule(window, record, add);
      if (o.icmpFlood.enabled) this.icmpFloodRule(window, record, add);
      if (o.amplification.enabled) this.amplificationRule(window, record, add);
      if (o.unsolicitedSynAck.enabled) this.unsolicitedSynAckRule(window, record, index, add);
    } else if (record.scope === 'flow') {
      if (o.longLived.enabled) this.longLivedRule(record, add);
    }
  }

  /** Forgets all evidence: port-scan and SYN-ACK windows, SYNs of the previous window, service durations, recent peaks. */
  reset(): void {
    this.scans.clear();
    this.scanEvictions = 0;
    this.synAcks.clear();
    this.adminSeen.clear();
    this.prevSyns = new Map();
    this.prevWindowStart = Number.NEGATIVE_INFINITY;
    this.services.clear();
    this.longFlagged.clear();
    this.peaks.clear();
  }

  /**
   * The recent-peak guard for one record of the rules' scopes: puts the key's decayed recent peak of
   * each rule metric into {@link guardPrev} (NaN when the guard is off or the key has none yet), then
   * updates the peaks. prev = peak × 0.5^(Δt / halfLifeMs), Δt in packet time (windowStart). The
   * new peak is max(value, prev) when the key is new, in bootstrap, or the value is ≤ factor × prev;
   * otherwise (an excursion the guard lets through) prev × 1.05 in the excursion's first window and
   * prev in the windows that continue it, so that an attack does not lift its own guard much and a
   * sustained flood (consecutive excursions) is not silenced by its own growth.
   */
  private peakGuardStep(window: WindowMessage, record: TrafficRecord): void {
    const prevs = this.guardPrev;
    const o = this.options, pg = o.peakGuard;
    prevs.fill(NaN);
    if (!pg.enabled || (!o.dualEwma.enabled && !o.spike.enabled)) return;
    const metrics = o.metrics;
    const t = window.windowStart;
    const key = record.key;
    const store = this.peaks;
    let slot = store.touch(key);
    if (slot === -1) slot = store.insert(key, t);
    const lastT = store.t[slot]!;
    const decay = t > lastT ? Math.pow(0.5, (t - lastT) / pg.halfLifeMs) : 1;
    const bootstrap = record.baseline === undefined || record.baseline.state === 'bootstrap';
    const peaks = store.peak, excursion = store.excursion;
    const base = slot * metrics.length;
    for (let k = 0; k < metrics.length; k++) {
      const at = base + k;
      const prev = peaks[at]! * decay; // NaN (no peak yet) stays NaN
      prevs[k] = prev;
      const value = record.metrics[metrics[k]!];
      if (value === undefined || !Number.isFinite(value)) peaks[at] = prev;
      else if (Number.isNaN(prev)) peaks[at] = value;
      else if (bootstrap || value <= pg.factor * prev) { peaks[at] = Math.max(value, prev); excursion[at] = 0; }
      else {
        // an excursion: +5 % on its first window only, so that a sustained flood does not compound its way under its own guard
        peaks[at] = excursion[at] === 1 ? prev : prev * 1.05;
        excursion[at] = 1;
      }
    }
    if (t > lastT) store.t[slot] = t;
  }

  private floor(metric: string): number { return this.options.minimums[metric] ?? 0; }

  private deviation(metric: string, value: number, reference: number): number {
    const ref = reference > 0 ? reference : Math.max(this.floor(metric), 1);
    return (value - ref) / ref * 100;
  }

  /** The static rule's thresholds for this window (line-rate ones from ewma-baseline win), or undefined when the rule is off. */
  private staticThresholds(window: WindowMessage): StaticThresholds | undefined {
    const configured = this.options.bootstrapStatic;
    if (!configured.enabled) return undefined;
    // ewma-baseline derives bit/s and packet/s thresholds from the interface line rate when one is set
    const fromLineRate = window.bootstrapThresholds;
    const positive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;
    return {
      packetsPerSecond: positive(fromLineRate?.packetsPerSecond) ? fromLineRate!.packetsPerSecond : configured.packetsPerSecond,
      bitsPerSecond: positive(fromLineRate?.bitsPerSecond) ? fromLineRate!.bitsPerSecond : configured.bitsPerSecond,
      synPerSecond: configured.synPerSecond,
    };
  }

  private staticRule(window: WindowMessage, record: TrafficRecord, st: StaticThresholds, add: Add): void {
    const m = record.metrics;
    this.staticCheck(record, 'packetsPerSecond', m.packetsPerSecond, st.packetsPerSecond, 'packetsPerSecond', m.packetsPerSecond, add);
    this.staticCheck(record, 'bitsPerSecond', m.bitsPerSecond, st.bitsPerSecond, 'bitsPerSecond', m.bitsPerSecond, add);
    if (m.synCount !== undefined && window.windowMs > 0) {
      this.staticCheck(record, 'synPerSecond', m.synCount / (window.windowMs / 1000), st.synPerSecond, 'synCount', m.synCount, add);
    }
  }

  private staticCheck(record: TrafficRecord, metric: string, value: number | undefined, threshold: number, floorMetric: string, floorValue: number | undefined, add: Add): void {
    if (value === undefined || !(value > threshold) || floorValue === undefined || floorValue < this.floor(floorMetric)) return;
    const deviationPercent = (value - threshold) / threshold * 100;
    add(record, {
      rule: 'static', severity: 'high', metric, value, threshold, baseline: null, deviationPercent,
      explanation: `${subject(metric, value, record)} is above the bootstrap threshold ${formatMetricValue(metric, threshold)} (${formatPercent(deviationPercent)})`,
    });
  }

  /** Whether a rule with `minState` judges a record of this baseline state. */
  private static judges(rule: { minState: MinState }, state: MaturityState): boolean {
    return rule.minState === 'learning' || state === 'mature';
  }

  /**
   * Dual-EWMA and spike rules against the record's baseline. `fromPrior`: the key is new and its
   * baseline is its peers' median (ewma-baseline `prior: true`); findings are then at most `medium`
   * and say so, since the key's own level is not known yet.
   */
  private baselineRules(record: TrafficRecord, add: Add, fromPrior: boolean): void {
    const { dualEwma, spike } = this.options;
    const baseline = record.baseline!;
    const cap = (severity: Severity): Severity => (fromPrior ? 'medium' : severity);
    // a rule set to judge mature keys only leaves learning keys (and priors of new keys) alone
    const dualOn = dualEwma.enabled && RuleDetector.judges(dualEwma, baseline.state);
    const spikeOn = spike.enabled && RuleDetector.judges(spike, baseline.state);
    if (!dualOn && !spikeOn) return;
    const note = fromPrior ? ' (baseline: the median of its peers, the key is new)' : '';
    const metrics = this.options.metrics;
    const factor = this.options.peakGuard.factor;
    for (let k = 0; k < metrics.length; k++) {
      const metric = metrics[k]!;
      const value = record.metrics[metric];
      const mb: MetricBaseline | undefined = baseline.metrics[metric];
      if (value === undefined || mb === undefined || (mb.samples < 1 && !fromPrior) || value < this.floor(metric)) continue;
      // the recent-peak guard: not above factor × the key's recent peak = a level it reached lately, no finding
      const recent = this.guardPrev[k]!;
      if (!Number.isNaN(recent) && !(value > factor * recent)) continue;
      const peakNote = Number.isNaN(recent) ? '' : `, recent peak ${formatMetricValue(metric, recent)}`;
      const withState = { ...mb, state: baseline.state };
      if (dualOn) {
        const fastT = mb.fast * dualEwma.fastMultiplier, slowT = mb.slow * dualEwma.slowMultiplier;
        if (value > fastT && value > slowT) {
          const deviationPercent = this.deviation(metric, value, mb.slow);
          add(record, {
            rule: 'dual-ewma', severity: cap('high'), metric, value, threshold: Math.max(fastT, slowT), baseline: withState, deviationPercent,
            explanation: `${subject(metric, value, record)} is above ${formatCount(dualEwma.fastMultiplier)}× its fast EWMA ${formatMetricValue(metric, mb.fast)} and ${formatCount(dualEwma.slowMultiplier)}× its slow EWMA ${formatMetricValue(metric, mb.slow)} (${formatPercent(deviationPercent)} vs slow EWMA${peakNote})${note}`,
          });
        }
      }
      if (spikeOn) {
        const mu = mb.mean, sigma = Math.max(mb.std, 0.1 * mu);
        const highT = mu + spike.highSigma * sigma, mediumT = mu + spike.mediumSigma * sigma;
        const severity: Severity | undefined = value > highT ? 'high' : value > mediumT ? 'medium' : undefined;
        if (severity !== undefined) {
          const k = severity === 'high' ? spike.highSigma : spike.mediumSigma;
          const threshold = severity === 'high' ? highT : mediumT;
          const deviationPercent = this.deviation(metric, value, mu);
          add(record, {
            rule: 'spike', severity: cap(severity), metric, value, threshold, baseline: withState, deviationPercent,
            explanation: `${subject(metric, value, record)} is above μ + ${formatCount(k)}σ = ${formatMetricValue(metric, threshold)} (μ ${formatMetricValue(metric, mu)}, σ ${formatMetricValue(metric, sigma)}) (${formatPercent(deviationPercent)}${peakNote})${note}`,
          });
        }
      }
    }
  }

  /** Handshake RTT above highRatio / mediumRatio × its slow EWMA (learning/mature keys). */
  private latencyRule(record: TrafficRecord, add: Add): void {
    const la = this.options.latency;
    const baseline = record.baseline!;
    if (!la.enabled || !RuleDetector.judges(la, baseline.state)) return;
    const value = record.metrics.handshakeRttMs, mb = baseline.metrics.handshakeRttMs;
    const handshakes = record.metrics.handshakes ?? (record.scope === 'flow' ? 1 : 0);
    if (value === undefined || mb === undefined || mb.samples < 1 || !(mb.slow > 0) || handshakes < la.minHandshakes) return;
    if (value - mb.slow < la.minIncreaseMs) return;
    // the key's own variation: a mean over a few handshakes to different peers wanders; σ ≥ 10 % of μ as in the spike rule
    const sigma = Math.max(mb.std, 0.1 * mb.mean);
    const noise = mb.mean + la.sigma * sigma;
    if (!(value > noise)) return;
    const severity: Severity | undefined = value > la.highRatio * mb.slow ? 'high' : value > la.mediumRatio * mb.slow ? 'medium' : undefined;
    if (severity === undefined) return;
    const ratio = severity === 'high' ? la.highRatio : la.mediumRatio;
    const deviationPercent = (value - mb.slow) / mb.slow * 100;
    add(record, {
      rule: 'latency', severity, metric: 'handshakeRttMs', value, threshold: Math.max(ratio * mb.slow, noise), baseline: { ...mb, state: baseline.state }, deviationPercent,
      explanation: `${subject('handshakeRttMs', value, record)} (mean of ${formatCount(handshakes)} handshakes) is above ${formatCount(ratio)}× its baseline ${formatMetricValue('handshakeRttMs', mb.slow)} and above its usual variation μ + ${formatCount(la.sigma)}σ = ${formatMetricValue('handshakeRttMs', noise)} (${formatPercent(deviationPercent)})`,
    });
  }

  /** A protocol's share of packets or bytes more than `points` percentage points from its slow EWMA. */
  private protocolShiftRule(record: TrafficRecord, add: Add): void {
    const sh = this.options.protocolShift;
    const baseline = record.baseline!;
    if (!sh.enabled || !RuleDetector.judges(sh, baseline.state)) return;
    if ((record.metrics.packets ?? 0) < sh.minPackets) return;
    // windows without packets carry 0 % in every share, which drags every baseline share down alike:
    // the baseline share is the slow EWMA over the sum of the four protocols' slow EWMAs (packets, bytes)
    const coverage = (group: number): number => {
      let sum = 0;
      for (let i = group; i < group + 4; i++) sum += baseline.metrics[SHARE_METRICS[i]!]?.slow ?? 0;
      return sum;
    };
    const cover = [coverage(0), coverage(4)];
    for (let i = 0; i < SHARE_METRICS.length; i++) {
      const metric = SHARE_METRICS[i]!;
      const value = record.metrics[metric], mb = baseline.metrics[metric];
      const c = cover[i < 4 ? 0 : 1]!;
      if (value === undefined || mb === undefined || mb.samples < sh.minSamples || c < 20) continue; // under 20: mostly empty windows, no share known
      const share = mb.slow * 100 / c;
      const moved = value - share;
      const abs = Math.abs(moved);
      // a host whose mix swings from window to window (σ of the share) has no stable share to shift from
      if (!(abs > sh.sigma * mb.std * 100 / c)) continue;
      const severity: Severity | undefined = abs > sh.highPoints ? 'high' : abs > sh.points ? 'medium' : undefined;
      if (severity === undefined) continue;
      const limit = severity === 'high' ? sh.highPoints : sh.points;
      add(record, {
        rule: 'protocol-shift', severity, metric, value, threshold: moved > 0 ? share + limit : Math.max(0, share - limit),
        baseline: { ...mb, state: baseline.state }, deviationPercent: this.deviation(metric, value, share),
        explanation: `${LABELS[metric] ?? metric} ${PREPOSITION[record.scope] ?? 'on'} ${record.key} is ${formatCount(value)}%, ${moved > 0 ? 'up' : 'down'} ${points(abs)} from its baseline ${formatCount(share)}% (limit ${points(limit)})`,
      });
    }
  }

  /** packetLossPercent above high/medium with enough TCP data segments behind it. */
  private packetLossRule(record: TrafficRecord, add: Add): void {
    const pl = this.options.packetLoss;
    const loss = record.metrics.packetLossPercent, retrans = record.metrics.tcpRetransmissions;
    if (loss === undefined || retrans === undefined || !(loss > 0) || !(retrans > 0)) return;
    const segments = Math.round(retrans * 100 / loss);
    if (segments < pl.minSegments) return;
    const severity: Severity | undefined = loss > pl.highPercent ? 'high' : loss > pl.mediumPercent ? 'medium' : undefined;
    if (severity === undefined) return;
    const threshold = severity === 'high' ? pl.highPercent : pl.mediumPercent;
    const deviationPercent = threshold > 0 ? (loss - threshold) / threshold * 100 : loss * 100;
    add(record, {
      rule: 'packet-loss', severity, metric: 'packetLossPercent', value: loss, threshold, baseline: null, deviationPercent,
      explanation: `packet loss ${formatCount(loss)}% ${PREPOSITION[record.scope] ?? 'on'} ${record.key} (${formatCount(retrans)} retransmitted of ${formatCount(segments)} TCP data segments) is above ${formatCount(threshold)}%`,
    });
  }

  private portScanRule(window: WindowMessage, record: TrafficRecord, add: Add): void {
    const ps = this.options.portScan;
    const scan = record.scan!;
    const entries = this.touch(this.scans, record.key);
    const syns = record.metrics.synCount ?? scan.synDstPorts.length;
    const same = entries.findIndex((e) => e.windowStart === window.windowStart);
    const entry: ScanEntry = { windowStart: window.windowStart, syns, ports: scan.synDstPorts, truncated: scan.truncated === true };
    if (same >= 0) entries[same] = entry;
    else { entries.push(entry); entries.sort((a, b) => a.windowStart - b.windowStart); }
    const from = window.windowEnd - ps.windowMs;
    while (entries.length > 0 && entries[0]!.windowStart < from) entries.shift();
    let total = 0;
    for (const e of entries) if (e.windowStart < window.windowEnd) total += e.syns;
    if (!(total > ps.minSyns)) return;
    const ports = new Set<number>();
    let truncated = false;
    for (const e of entries) {
      if (e.windowStart >= window.windowEnd) continue;
      for (const p of e.ports) ports.add(p);
      truncated ||= e.truncated;
    }
    const distinct = ports.size;
    if (!(distinct > ps.minPorts)) return;
    const deviationPercent = ps.minPorts > 0 ? (distinct - ps.minPorts) / ps.minPorts * 100 : distinct * 100;
    add(record, {
      rule: 'port-scan', severity: 'high', metric: 'distinctDstPorts', value: distinct, threshold: ps.minPorts, baseline: null, deviationPercent,
      explanation: `${record.key} sent ${formatCount(total)} SYNs to ${truncated ? 'at least ' : ''}${formatCount(distinct)} ports in ${formatCount(ps.windowMs / 1000)} s (port scan threshold: >${formatCount(ps.minSyns)} SYNs to >${formatCount(ps.minPorts)} ports)`,
    });
  }

  /**
   * Vertical UDP scan, from the window's flow records: one source opened new UDP flows to more than
   * `portScan.minPorts` distinct ports of one host, and more than `portScan.minSyns` new UDP flows
   * to it, within one window (each probe of a new port is a new flow).
   */
  private udpScanRule(record: TrafficRecord, index: WindowIndex, add: Add): void {
    const ps = this.options.portScan;
    const fan = record.srcIp === undefined ? undefined : index.fanout?.get(record.srcIp);
    if (fan === undefined) return;
    let best: { host: string; ports: number } | undefined;
    for (const [host, ports] of fan.udpPorts) if (best === undefined || ports.size > best.ports) best = { host, ports: ports.size };
    // each distinct port is at least one new flow: more than minSyns probes needs more than minSyns ports or repeats
    if (best === undefined || !(best.ports > ps.minPorts) || !(best.ports > ps.minSyns)) return;
    const deviationPercent = ps.minPorts > 0 ? (best.ports - ps.minPorts) / ps.minPorts * 100 : best.ports * 100;
    add(record, {
      rule: 'port-scan', severity: 'high', metric: 'distinctDstPorts', value: best.ports, threshold: ps.minPorts, baseline: null, deviationPercent,
      explanation: `${record.key} sent UDP to ${formatCount(best.ports)} ports of ${best.host} in one window (UDP port scan threshold: >${formatCount(ps.minSyns)} probes to >${formatCount(ps.minPorts)} ports of one host)`,
    });
  }

  /** A map entry moved to the most recent position (Map order = least recently seen first), created (evicting at the cap) when new. */
  private touch<T>(map: Map<string, T[]>, key: string): T[] {
    let entries = map.get(key);
    if (entries === undefined) {
      if (map.size >= this.options.maxScanSources) {
        // the least recently seen tenth at once, in one pass: evicting one at a time from the front of
        // a Map with many deleted entries walks over them again for each eviction (quadratic in a flood)
        let n = Math.max(1, Math.floor(this.options.maxScanSources / 10));
        for (const k of map.keys()) {
          map.delete(k);
          this.scanEvictions++;
          if (--n === 0) break;
        }
      }
      entries = [];
    } else {
      map.delete(key);
    }
    map.set(key, entries);
    return entries;
  }

  /** One source to many hosts on one port (flow records), or, without flow records, on few ports (scan evidence). */
  private horizontalScanRule(record: TrafficRecord, index: WindowIndex, add: Add): void {
    const hs = this.options.horizontalScan;
    const ip = record.srcIp;
    if (ip === undefined) return;
    const fan = index.fanout?.get(ip);
    if (fan !== undefined) {
      let best: { port: number; hosts: number; answered: number } | undefined;
      for (const [port, p] of fan.byPort) {
        const hosts = p.hosts.size;
        if (!(hosts > hs.minHosts) || p.answered.size * 100 > hs.maxAnsweredPercent * hosts) continue;
        if (best === undefined || hosts > best.hosts) best = { port, hosts, answered: p.answered.size };
      }
      if (best === undefined) return;
      const deviationPercent = hs.minHosts > 0 ? (best.hosts - hs.minHosts) / hs.minHosts * 100 : best.hosts * 100;
      add(record, {
        rule: 'horizontal-scan', severity: 'high', metric: 'distinctPeers', value: best.hosts, threshold: hs.minHosts, baseline: null, deviationPercent,
        explanation: `${record.key} tried ${formatCount(best.hosts)} hosts on ${portKeyText(best.port)} in one window, ${formatCount(best.answered)} answered (horizontal scan threshold: >${formatCount(hs.minHosts)} hosts on one port, ≤${formatCount(hs.maxAnsweredPercent)}% answered)`,
      });
      return;
    }
    if (index.fanout !== undefined || record.scan === undefined) return; // flow records present but none of this source's qualify
    const { synDstHosts, synDstPorts } = record.scan;
    if (typeof synDstHosts !== 'number' || !(synDstHosts > hs.minHosts) || synDstPorts.length > 3) return;
    const deviationPercent = hs.minHosts > 0 ? (synDstHosts - hs.minHosts) / hs.minHosts * 100 : synDstHosts * 100;
    add(record, {
      rule: 'horizontal-scan', severity: 'high', metric: 'distinctPeers', value: synDstHosts, threshold: hs.minHosts, baseline: null, deviationPercent,
      explanation: `${record.key} sent SYNs to ${formatCount(synDstHosts)} hosts on port${synDstPorts.length > 1 ? 's' : ''} ${synDstPorts.join(', ')} in one window (horizontal scan threshold: >${formatCount(hs.minHosts)} hosts)`,
    });
  }

  /**
   * SYNs from one source to many distinct hosts on admin ports over a sliding window (answered or
   * not: lateral movement succeeds where a scan is refused). Keeps, per source, the hosts of each
   * window (at most 1,000 per window) for `adminFanout.windowMs`.
   */
  private adminFanoutRule(window: WindowMessage, record: TrafficRecord, index: WindowIndex, add: Add): void {
    const af = this.options.adminFanout;
    const ip = record.srcIp;
    if (ip === undefined) return;
    const now = index.adminTargets.get(ip);
    let entries = this.adminSeen.get(ip);
    if (now === undefined && entries === undefined) return;
    entries = this.touch(this.adminSeen, ip);
    if (now !== undefined) {
      const hosts = [...now].slice(0, 1000);
      const same = entries.findIndex((e) => e.windowStart === window.windowStart);
      if (same >= 0) entries[same] = { windowStart: window.windowStart, hosts };
      else { entries.push({ windowStart: window.windowStart, hosts }); entries.sort((a, b) => a.windowStart - b.windowStart); }
    }
    const from = window.windowEnd - af.windowMs;
    while (entries.length > 0 && entries[0]!.windowStart < from) entries.shift();
    if (entries.length === 0) { this.adminSeen.delete(ip); return; }
    if (now === undefined) return; // judged in the windows where it tries admin ports
    const all = new Set<string>();
    for (const e of entries) if (e.windowStart < window.windowEnd) for (const h of e.hosts) all.add(h);
    if (!(all.size > af.minHosts)) return;
    const deviationPercent = af.minHosts > 0 ? (all.size - af.minHosts) / af.minHosts * 100 : all.size * 100;
    add(record, {
      rule: 'admin-fanout', severity: 'medium', metric: 'distinctPeers', value: all.size, threshold: af.minHosts, baseline: null, deviationPercent,
      explanation: `${record.key} opened remote-administration ports (${af.ports.join(', ')}) on ${formatCount(all.size)} hosts in ${formatCount(af.windowMs / 60_000)} min (threshold: >${formatCount(af.minHosts)} hosts)`,
    });
  }

  /** Echo requests from one source to many hosts (flow records). */
  private icmpSweepRule(record: TrafficRecord, index: WindowIndex, add: Add): void {
    const ic = this.options.icmpSweep;
    const fan = record.srcIp === undefined ? undefined : index.fanout?.get(record.srcIp);
    if (fan === undefined) return;
    const hosts = fan.echoHosts.size;
    if (!(hosts > ic.minHosts)) return;
    const deviationPercent = ic.minHosts > 0 ? (hosts - ic.minHosts) / ic.minHosts * 100 : hosts * 100;
    add(record, {
      rule: 'icmp-sweep', severity: 'high', metric: 'distinctPeers', value: hosts, threshold: ic.minHosts, baseline: null, deviationPercent,
      explanation: `${record.key} sent echo requests to ${formatCount(hosts)} hosts in one window (ICMP sweep threshold: >${formatCount(ic.minHosts)} hosts)`,
    });
  }

  /** Many SYNs to one host from many sources and (almost) no completed handshakes: no baseline needed. */
  private synFloodRule(window: WindowMessage, record: TrafficRecord, add: Add): void {
    const sf = this.options.synFlood;
    const syns = record.metrics.synCount, peers = record.metrics.distinctPeers;
    if (syns === undefined || peers === undefined || !(window.windowMs > 0)) return;
    const rate = syns / (window.windowMs / 1000);
    if (!(rate > sf.minSynPerSecond) || peers < sf.minSources || syns < this.floor('synCount')) return;
    const handshakes = record.metrics.handshakes ?? 0;
    if (handshakes * 100 > sf.maxHandshakePercent * syns) return;
    const deviationPercent = (rate - sf.minSynPerSecond) / sf.minSynPerSecond * 100;
    add(record, {
      rule: 'syn-flood', severity: 'high', metric: 'synPerSecond', value: rate, threshold: sf.minSynPerSecond, baseline: null, deviationPercent,
      explanation: `${formatCount(syns)} SYNs to ${record.key} (${formatMetricValue('synPerSecond', rate)}) from ${formatCount(peers)} sources with ${formatCount(handshakes)} completed handshakes (SYN flood threshold: >${formatMetricValue('synPerSecond', sf.minSynPerSecond)} from ≥${formatCount(sf.minSources)} sources, ≤${formatCount(sf.maxHandshakePercent)}% completed)`,
    });
  }

  /** ICMP packets to one host above a fixed rate: no baseline needed (a smurf's replies, a ping flood). */
  private icmpFloodRule(window: WindowMessage, record: TrafficRecord, add: Add): void {
    const icf = this.options.icmpFlood;
    const packets = record.metrics.packets, share = record.metrics.icmpPacketsPercent;
    if (packets === undefined || share === undefined || !(share > 0) || !(window.windowMs > 0)) return;
    const icmp = Math.round(packets * share / 100);
    const rate = icmp / (window.windowMs / 1000);
    if (!(rate > icf.minPacketsPerSecond)) return;
    const deviationPercent = (rate - icf.minPacketsPerSecond) / icf.minPacketsPerSecond * 100;
    add(record, {
      rule: 'icmp-flood', severity: 'high', metric: 'icmpPacketsPerSecond', value: rate, threshold: icf.minPacketsPerSecond, baseline: null, deviationPercent,
      explanation: `${formatCount(icmp)} ICMP packets to ${record.key} in ${formatCount(window.windowMs / 1000)} s (${grouped(rate, rate < 100 ? 1 : 0)} packet/s, ${formatCount(share)}% of its packets; ICMP flood threshold: >${formatCount(icf.minPacketsPerSecond)} packet/s)`,
    });
  }

  /** Reflector-port UDP bytes to one host above its baseline, or above the static floor without one. */
  private amplificationRule(window: WindowMessage, record: TrafficRecord, add: Add): void {
    const am = this.options.amplification, de = this.options.dualEwma;
    if (!((record.metrics.udpReflectorBytes ?? 0) > 0) || !(window.windowMs > 0)) return;
    const seconds = window.windowMs / 1000;
    const baseline = record.baseline;
    const usable = baseline !== undefined && (baseline.state !== 'bootstrap' || baseline.prior === true);
    const peers = record.metrics.distinctPeers ?? 0;
    for (const portText of Object.keys(REFLECTOR_PROTOCOLS)) {
      const port = Number(portText);
      const metric = `udpReflectorBytes${port}`;
      const value = record.metrics[metric];
      if (value === undefined || !(value > 0)) continue;
      const rate = value / seconds;
      const mb = usable ? baseline!.metrics[metric] : undefined;
      const name = REFLECTOR_PROTOCOLS[port]!;
      if (mb !== undefined && (mb.samples >= 1 || baseline!.prior === true)) {
        const fastT = mb.fast * de.fastMultiplier, slowT = mb.slow * de.slowMultiplier;
        if (!(value > fastT && value > slowT) || rate < am.minBytesPerSecond) continue;
        const deviationPercent = this.deviation(metric, value, mb.slow);
        add(record, {
          rule: 'amplification', severity: baseline!.state === 'bootstrap' ? 'medium' : 'high', metric, value, threshold: Math.max(fastT, slowT),
          baseline: { ...mb, state: baseline!.state }, deviationPercent,
          explanation: `UDP from source port ${port} (${name}) to ${record.key}: ${formatMetricValue('bytes', value)} in the window, above ${formatCount(de.fastMultiplier)}× its fast EWMA ${formatMetricValue('bytes', mb.fast)} and ${formatCount(de.slowMultiplier)}× its slow EWMA ${formatMetricValue('bytes', mb.slow)} (${formatPercent(deviationPercent)})`,
        });
      } else {
        if (!(rate > am.staticBytesPerSecond) || peers < am.minSources) continue;
        const threshold = am.staticBytesPerSecond * seconds;
        const deviationPercent = (value - threshold) / threshold * 100;
        add(record, {
          rule: 'amplification', severity: 'high', metric, value, threshold, baseline: null, deviationPercent,
          explanation: `UDP from source port ${port} (${name}) to ${record.key}: ${formatMetricValue('bytes', value)} in the window (${formatMetricValue('bytes', rate)}/s) from ${formatCount(peers)} sources, no baseline yet (static threshold ${formatMetricValue('bytes', am.staticBytesPerSecond)}/s from ≥${formatCount(am.minSources)} sources)`,
        });
      }
    }
  }

  /** SYN-ACKs a host received beyond the SYNs it sent (this and the previous window), summed over the sliding window. */
  private unsolicitedSynAckRule(window: WindowMessage, record: TrafficRecord, index: WindowIndex, add: Add): void {
    const us = this.options.unsolicitedSynAck;
    const ip = record.dstIp;
    const received = record.metrics.synAckCount ?? 0;
    // without srcHost records the SYNs a host sent are unknown: no judgement
    if (ip === undefined || !index.haveSrcHosts) return;
    const prev = this.prevWindowStart === window.windowStart - window.windowMs ? (this.prevSyns.get(ip) ?? 0) : 0;
    const unsolicited = Math.max(0, received - (index.synsSent.get(ip) ?? 0) - prev);
    let entries = this.synAcks.get(ip);
    if (unsolicited > 0 || entries !== undefined) {
      entries = this.touch(this.synAcks, ip);
      const same = entries.findIndex((e) => e.windowStart === window.windowStart);
      if (same >= 0) entries[same] = { windowStart: window.windowStart, count: unsolicited };
      else if (unsolicited > 0) entries.push({ windowStart: window.windowStart, count: unsolicited });
      const from = window.windowEnd - us.windowMs;
      while (entries.length > 0 && entries[0]!.windowStart < from) entries.shift();
      if (entries.length === 0) { this.synAcks.delete(ip); return; }
    }
    if (entries === undefined || unsolicited === 0) return;
    let total = 0;
    for (const e of entries) if (e.windowStart < window.windowEnd) total += e.count;
    if (!(total > us.minCount)) return;
    const deviationPercent = us.minCount > 0 ? (total - us.minCount) / us.minCount * 100 : total * 100;
    add(record, {
      rule: 'unsolicited-syn-ack', severity: 'high', metric: 'synAckCount', value: total, threshold: us.minCount, baseline: null, deviationPercent,
      explanation: `${record.key} received ${formatCount(total)} SYN-ACKs it sent no SYN for in ${formatCount(us.windowMs / 1000)} s (threshold: >${formatCount(us.minCount)})`,
    });
  }

  /** Keeps the SYNs each host sent in this window for the next window's unsolicited-SYN-ACK check. */
  private rememberSyns(window: WindowMessage, index: WindowIndex): void {
    if (!this.options.unsolicitedSynAck.enabled) return;
    this.prevSyns = index.synsSent;
    this.prevWindowStart = window.windowStart;
  }

  /** Flow duration against the mean duration of ended flows of its service; learns from ended flows. */
  private longLivedRule(record: TrafficRecord, add: Add): void {
    const ll = this.options.longLived;
    const proto = record.protocol;
    if ((proto !== 'tcp' && proto !== 'udp') || record.srcPort === undefined || record.dstPort === undefined) return;
    const service = (proto === 'udp' ? 65536 : 0) + Math.min(record.srcPort, record.dstPort);
    const stats = this.services.get(service);
    const end = record.flowEnd;
    const duration = end !== undefined ? end.durationMs : record.metrics.flowDurationMs;
    if (duration !== undefined && stats !== undefined && stats.flows >= ll.minServiceFlows && stats.meanMs > 0 && duration >= ll.minDurationMs) {
      const severity: Severity | undefined = duration > ll.highRatio * stats.meanMs ? 'high' : duration > ll.mediumRatio * stats.meanMs ? 'medium' : undefined;
      // a running flow is reported once when it crosses; its end (or active-timeout) report again, with its totals
      if (severity !== undefined && (end !== undefined || !this.longFlagged.has(record.key))) {
        if (end === undefined) {
          if (this.longFlagged.size >= this.options.maxScanSources) this.longFlagged.delete(this.longFlagged.values().next().value as string);
          this.longFlagged.add(record.key);
        }
        const idle = end !== undefined && end.bytes < ll.idleBytes;
        const ratio = severity === 'high' ? ll.highRatio : ll.mediumRatio;
        const deviationPercent = (duration - stats.meanMs) / stats.meanMs * 100;
        const totals = end !== undefined ? `, ${formatMetricValue('bytes', end.bytes)} in ${formatCount(end.packets)} packets${end.ended ? ` (ended: ${end.reason})` : ' (still open)'}` : ' (still open)';
        add(record, {
          rule: 'long-lived', severity, metric: 'flowDurationMs', value: duration, threshold: ratio * stats.meanMs,
          baseline: { fast: stats.meanMs, slow: stats.meanMs, mean: stats.meanMs, std: 0, samples: stats.flows, state: 'mature' }, deviationPercent,
          explanation: `${idle ? 'idle ' : ''}long-lived ${record.direction !== undefined ? `${record.direction} ` : ''}flow ${record.key}: ${formatMetricValue('flowDurationMs', duration)}${totals}, above ${formatCount(ratio)}× the mean ${portKeyText(service)} flow duration ${formatMetricValue('flowDurationMs', stats.meanMs)} (${formatCount(stats.flows)} flows)${idle ? `; idle: under ${formatCount(ll.idleBytes)} bytes moved` : ''}`,
        });
      }
    }
    if (end !== undefined && end.ended) {
      this.longFlagged.delete(record.key);
      // the end of a capture cuts flows short: not a duration of the service
      if (end.reason === 'end-of-capture') return;
      let s = stats;
      if (s === undefined) {
        if (this.services.size >= ll.maxServices) return;
        s = { flows: 0, meanMs: 0 };
        this.services.set(service, s);
      }
      // running mean for the first 20 flows, then EWMA α 0.05; a flow already long counts at most as highRatio × mean (clipped)
      const x = s.flows >= ll.minServiceFlows && s.meanMs > 0 ? Math.min(end.durationMs, ll.highRatio * s.meanMs) : end.durationMs;
      s.flows++;
      const alpha = Math.max(1 / s.flows, 0.05);
      s.meanMs += alpha * (x - s.meanMs);
    }
  }

  /** Drops sources whose newest evidence is older than the sliding windows (least recently seen first). */
  private pruneScans(windowEnd: number): void {
    const prune = (map: Map<string, Array<{ windowStart: number }>>, windowMs: number): void => {
      const from = windowEnd - windowMs;
      for (const [key, entries] of map) {
        const newest = entries.length > 0 ? entries[entries.length - 1]!.windowStart : -Infinity;
        if (newest >= from) break;
        map.delete(key);
      }
    };
    prune(this.scans, this.options.portScan.windowMs);
    prune(this.synAcks, this.options.unsolicitedSynAck.windowMs);
    prune(this.adminSeen, this.options.adminFanout.windowMs);
  }

  /** The event of one key; `contributors`: those of an aggregate record (see {@link topContributors}), else empty. */
  private toEvent(window: WindowMessage, record: TrafficRecord, findings: Finding[], contributors: Contributor[]): AnomalyEvent {
    const p = findings[0]!;
    const more = findings.length - 1;
    const hints = this.options.hints ? hintsFor(record, findings) : [];
    let message = more > 0 ? `${p.explanation} (and ${more} more finding${more > 1 ? 's' : ''})` : p.explanation;
    if (contributors.length > 0) {
      message += `; top: ${contributors.map((c) => `${c.key}${c.sharePercent !== undefined ? ` ${formatCount(c.sharePercent)}%` : ''}`).join(', ')}`;
    }
    // in the message only what the primary rule's own words do not already say
    const told = IMPLIED_HINT[p.rule];
    const shown = hints.filter((h) => h !== told);
    if (shown.length > 0) message += ` — hint: ${shown.join('; ')} (a pattern to check, not a verdict)`;
    const event: AnomalyEvent = {
      kind: 'netbaseline/anomaly',
      version: CONTRACT_VERSION,
      id: `${p.rule}|${record.key}|${window.windowStart}`,
      status: 'firing',
      time: window.windowEnd,
      window: { start: window.windowStart, end: window.windowEnd, ms: window.windowMs },
      rule: p.rule,
      severity: p.severity,
      scope: record.scope,
      key: record.key,
      metric: p.metric,
      value: p.value,
      threshold: p.threshold,
      baseline: p.baseline,
      deviationPercent: p.deviationPercent,
      message,
      findings,
      source: window.source,
      score: scoreEvent(findings, hints.length > 0),
    };
    if (hints.length > 0) event.hints = hints;
    if (contributors.length > 0) event.contributors = contributors;
    if (record.srcIp !== undefined) event.srcIp = record.srcIp;
    if (record.dstIp !== undefined) event.dstIp = record.dstIp;
    // a vertical scan of one host: name its target, so cooldown-gate puts the scan and what it did to
    // the target (a SYN burst on its dst record) into one incident
    else if (record.scan?.synDstHost !== undefined && findings.some((f) => f.rule === 'port-scan')) event.dstIp = record.scan.synDstHost;
    if (record.srcPort !== undefined) event.srcPort = record.srcPort;
    if (record.dstPort !== undefined) event.dstPort = record.dstPort;
    if (record.protocol !== undefined) event.protocol = record.protocol;
    return event;
  }
}

// ---------------------------------------------------------------------------------------------
// Hints and contributors
// ---------------------------------------------------------------------------------------------

const VOLUME_METRICS = new Set(['bitsPerSecond', 'packetsPerSecond', 'bytes', 'packets']);
/** The hint a rule's own explanation already states (not repeated in the message). */
const IMPLIED_HINT: Partial<Record<RuleId, string>> = { 'port-scan': 'port scan', 'horizontal-scan': 'horizontal scan', 'icmp-sweep': 'ping sweep', 'syn-flood': 'SYN flood', 'icmp-flood': 'ICMP flood' };

/**
 * Attack patterns the findings of one key fit, as short phrases (never verdicts):
 * - `SYN flood`: a syn-flood finding, or a SYN-count/rate finding on a host receiving SYNs from
 *   ≥ 20 sources with handshakes ≤ 5 % of its SYNs;
 * - `<protocol> amplification (UDP source port <p>)`: an amplification finding;
 * - `TCP reflection (SYN-ACKs without SYNs)`: an unsolicited-syn-ack finding;
 * - `UDP flood` / `ICMP flood`: a volume finding (bit/s, packet/s) on a host or interface record
 *   whose packets are ≥ 80 % UDP (without amplification) / ICMP;
 * - `ICMP flood` also from an icmp-flood finding; `lateral movement`: an admin-fanout finding;
 * - `port scan`, `horizontal scan`, `ping sweep`: port-scan, horizontal-scan, icmp-sweep findings;
 * - `exfiltration`: a volume finding on an `external` destination host (flow-aggregator's internal
 *   networks) that is rarely contacted: no baseline, still in bootstrap, a peers' prior, or a slow
 *   EWMA under a tenth of the value.
 */
export function hintsFor(record: TrafficRecord, findings: readonly Finding[]): string[] {
  const hints: string[] = [];
  const rules = new Set(findings.map((f) => f.rule));
  const m = record.metrics;
  const volume = findings.find((f) => VOLUME_METRICS.has(f.metric));
  if (rules.has('syn-flood')) hints.push('SYN flood');
  else if (record.scope === 'dstHost' && findings.some((f) => f.metric === 'synCount' || f.metric === 'synPerSecond')
    && (m.distinctPeers ?? 0) >= 20 && (m.handshakes ?? 0) * 20 <= (m.synCount ?? 0)) hints.push('SYN flood');
  for (const f of findings) {
    if (f.rule !== 'amplification') continue;
    const port = Number(f.metric.slice('udpReflectorBytes'.length));
    const h = `${REFLECTOR_PROTOCOLS[port] ?? 'UDP'} amplification (UDP source port ${port})`;
    if (!hints.includes(h)) hints.push(h);
  }
  if (rules.has('unsolicited-syn-ack')) hints.push('TCP reflection (SYN-ACKs without SYNs)');
  if (volume !== undefined && record.scope !== 'flow' && record.scope !== 'srcHost') {
    if ((m.udpPacketsPercent ?? 0) >= 80 && !rules.has('amplification')) hints.push('UDP flood');
    if ((m.icmpPacketsPercent ?? 0) >= 80 && !rules.has('icmp-flood')) hints.push('ICMP flood');
  }
  if (rules.has('icmp-flood')) hints.push('ICMP flood');
  if (rules.has('port-scan')) hints.push('port scan');
  if (rules.has('horizontal-scan')) hints.push('horizontal scan');
  if (rules.has('icmp-sweep')) hints.push('ping sweep');
  if (rules.has('admin-fanout')) hints.push('lateral movement');
  if (volume !== undefined && record.scope === 'dstHost' && record.direction === 'external') {
    const b = record.baseline;
    const mb = b?.metrics[volume.metric];
    const rare = b === undefined || b.state === 'bootstrap' || b.prior === true || mb === undefined || mb.slow * 10 <= volume.value;
    if (rare) hints.push('exfiltration (outbound volume to a rarely contacted external host)');
  }
  return hints;
}

/** Scopes that sum other records and get contributors: interface, subnet, service, host pair. */
function isAggregate(scope: Scope): boolean {
  return scope !== 'flow' && scope !== 'srcHost' && scope !== 'dstHost';
}

const ADDITIVE = new Set(['bytes', 'packets', 'bitsPerSecond', 'packetsPerSecond', 'synCount', 'synAckCount', 'newFlows', 'rstCount', 'finCount',
  'tcpRetransmissions', 'udpReflectorBytes', 'synPerSecond']);

/** Which host and flow records of a window belong to an aggregate record, and which side of a flow to rank. */
interface Membership {
  /** Host records (dstHost/srcHost) that are members; undefined: none listed. */
  host?: (r: TrafficRecord) => boolean;
  /** Flow records that belong to the aggregate. */
  flow: (r: TrafficRecord) => boolean;
  /** From member flows, also rank the peers: their sources (`src`) or destinations (`dst`). */
  peers?: 'src' | 'dst';
}

function membership(record: TrafficRecord): Membership | undefined {
  switch (record.scope) {
    case 'interface':
      return { host: (r) => r.scope === 'dstHost' || r.scope === 'srcHost', flow: () => true };
    case 'subnet': {
      if (record.subnet === undefined) return undefined;
      let block: CidrBlock;
      try { block = parseCidr(record.subnet); } catch { return undefined; }
      const inside = (ip: string | undefined): boolean => {
        const a = ip === undefined ? null : parseIpAddress(ip);
        return a !== null && cidrContains(block, a);
      };
      return record.side === 'src'
        ? { host: (r) => r.scope === 'srcHost' && inside(r.srcIp), flow: (r) => inside(r.srcIp), peers: 'dst' }
        : { host: (r) => r.scope === 'dstHost' && inside(r.dstIp), flow: (r) => inside(r.dstIp), peers: 'src' };
    }
    case 'service':
      return { flow: (r) => r.dstIp === record.dstIp && r.dstPort === record.dstPort && r.protocol === record.protocol, peers: 'src' };
    case 'hostPair':
      return { flow: (r) => r.srcIp === record.srcIp && r.dstIp === record.dstIp };
    default:
      return undefined;
  }
}

/**
 * The records of the same window that carried most of `metric` of an aggregate record, at most 3
 * of each kind, largest first, each with its share of the aggregate's value (contributors under
 * 1 % are left out):
 * - interface: destination hosts, source hosts, destination ports (`tcp/80`, from flow records);
 * - subnet (`side` dst / src): its member hosts (addresses in the prefix), their peers and ports
 *   (from the flow records to / from the prefix);
 * - service: its clients (flow records to that host, port and protocol);
 * - hostPair: the destination ports of its flows.
 * `synPerSecond` ranks by `synCount`; a metric that does not add up (shares, RTT, distinct counts)
 * by `packets`. Empty when the window has no such records.
 */
export function topContributors(record: TrafficRecord, metric: string, records: readonly TrafficRecord[]): Array<{ key: string; value: number; sharePercent?: number }> {
  const tally = new ContributorTally(record, metric);
  tally.add(records, 0, records.length);
  return tally.result();
}

/** One contributor: a record's key (or `tcp/80`, `src <ip>`) and its part of the aggregate's metric. */
type Contributor = { key: string; value: number; sharePercent?: number };

/**
 * {@link topContributors} over the records of a window given in consecutive ranges ({@link add}),
 * so that a job can spread the walk over several steps; {@link result} gives the same list.
 */
class ContributorTally {
  private readonly member: Membership | undefined;
  private readonly name: string;
  private readonly total: number | undefined;
  /** The 3 largest destination / source hosts so far, largest first (ties: the first seen first). */
  private readonly dst: Array<[string, number]> = [];
  private readonly src: Array<[string, number]> = [];
  /** Key: `tcp/80`, `udp/53` (the texts of {@link portText}, made once per port). */
  private readonly ports = new Map<string, number>();
  /** Key: the peer address (`<member.peers> ` is put before it in {@link result}). */
  private readonly peers = new Map<string, number>();

  constructor(private readonly record: TrafficRecord, metric: string) {
    this.member = membership(record);
    // a metric that does not add up (a share, an RTT, a count of distinct peers) ranks by packets
    this.name = metric === 'synPerSecond' ? 'synCount' : ADDITIVE.has(metric) ? metric : 'packets';
    this.total = record.metrics[this.name];
  }

  /** Folds in `records[from … to − 1]`. */
  add(records: readonly TrafficRecord[], from: number, to: number): void {
    const member = this.member;
    if (member === undefined) return;
    const name = this.name;
    for (let i = from; i < to; i++) {
      const r = records[i]!;
      if (r === this.record) continue;
      const v = r.metrics[name];
      if (v === undefined || !(v > 0)) continue;
      if (r.scope === 'dstHost' || r.scope === 'srcHost') {
        if (member.host?.(r) === true) keepTop3(r.scope === 'dstHost' ? this.dst : this.src, r.key, v);
      } else if (r.scope === 'flow' && member.flow(r)) {
        if (r.dstPort !== undefined && (r.protocol === 'tcp' || r.protocol === 'udp')) {
          const k = portText(r.protocol, r.dstPort);
          this.ports.set(k, (this.ports.get(k) ?? 0) + v);
        }
        const peer = member.peers === 'src' ? r.srcIp : member.peers === 'dst' ? r.dstIp : undefined;
        if (peer !== undefined) this.peers.set(peer, (this.peers.get(peer) ?? 0) + v);
      }
    }
  }

  /** The top contributors of what was folded in (see {@link topContributors}). */
  result(): Contributor[] {
    if (this.member === undefined) return [];
    const total = this.total;
    const additive = total !== undefined && total > 0;
    // a stable sort, largest first: ties keep the order the records came in
    const top = (list: Array<[string, number]>): Array<[string, number]> => list.sort((a, b) => b[1] - a[1]).slice(0, 3);
    const peers = [...this.peers].map(([peer, v]): [string, number] => [`${this.member!.peers} ${peer}`, v]);
    const out: Contributor[] = [];
    for (const [key, value] of [...this.dst, ...this.src, ...top(peers), ...top([...this.ports])]) {
      const c: Contributor = { key, value };
      if (additive) {
        c.sharePercent = Math.min(100, value / total! * 100);
        if (c.sharePercent < 1) continue; // under 1 %: not where to look
      }
      out.push(c);
    }
    return out;
  }
}

/** `tcp/<port>` / `udp/<port>` texts of valid ports, made once each (index: port, + 65,536 for UDP). */
const PORT_TEXTS = new Map<number, string>();

/** `${protocol}/${port}` (the same text), from {@link PORT_TEXTS} for a port number 0–65535. */
function portText(protocol: 'tcp' | 'udp', port: number): string {
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) return `${protocol}/${port}`;
  const i = (protocol === 'udp' ? 65536 : 0) + port;
  let text = PORT_TEXTS.get(i);
  if (text === undefined) { text = `${protocol}/${port}`; PORT_TEXTS.set(i, text); }
  return text;
}

/**
 * Adds `[key, v]` (v > 0) to `top`, the at most 3 largest entries so far, largest first: what a
 * stable sort by value, largest first, of all the entries would put first (an entry equal to one
 * already held comes after it).
 */
function keepTop3(top: Array<[string, number]>, key: string, v: number): void {
  if (top.length === 3 && !(v > top[2]![1])) return;
  let at = top.length;
  while (at > 0 && v > top[at - 1]![1]) at--;
  top.splice(at, 0, [key, v]);
  if (top.length > 3) top.pop();
}

// ---------------------------------------------------------------------------------------------
// Input checks
// ---------------------------------------------------------------------------------------------

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isFin = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);

/** The `udpReflectorBytes<port>` metric names of {@link REFLECTOR_PROTOCOLS}. */
const REFLECTOR_METRICS: readonly string[] = Object.keys(REFLECTOR_PROTOCOLS).map((port) => `udpReflectorBytes${port}`);

/**
 * The metrics whose baselines the rules of `options` can read: the dual-EWMA/spike metrics, the
 * volume metrics of the hints, handshakeRttMs (latency), the protocol shares (protocol-shift) and
 * the reflector-port bytes (amplification).
 */
export function baselineMetricsRead(options: ResolvedDetectorOptions): string[] {
  return [...new Set([...options.metrics, ...VOLUME_METRICS, 'handshakeRttMs', ...SHARE_METRICS, ...REFLECTOR_METRICS])];
}

/**
 * Checks what `assertWindowMessage` leaves alone in record `i` and the rules read:
 * - `baseline`: an object with a `state` of bootstrap / learning / mature and a `metrics` object;
 *   unless the key is in bootstrap without a prior (no rule reads its metric baselines then), each
 *   of `readMetrics` present in it must have finite fast, slow, mean, std and samples (metric
 *   baselines no rule reads are not looked at: a host record carries about 30);
 * - `scan`: `synDstPorts` an array of port numbers 0–65535;
 * - `flowEnd`: finite durationMs, bytes, packets and a boolean `ended`.
 *
 * `baselineBuiltHere`: the record's baseline was built by a `BaselineStore` of this process for
 * this window (see `baselinesBuiltHere` in baseline.ts); it is not checked again then.
 * @throws {ContractError} naming the record and the field.
 */
export function checkRecordAnnotations(r: TrafficRecord, i: number, readMetrics: readonly string[], baselineBuiltHere = false): void {
  const b: unknown = r.baseline;
  if (b !== undefined && !baselineBuiltHere) {
    if (!isObj(b) || !STATES.includes(b.state as MaturityState)) throw new ContractError(`window: records[${i}].baseline.state must be one of ${STATES.join(', ')}`);
    const bm = b.metrics;
    if (!isObj(bm)) throw new ContractError(`window: records[${i}].baseline.metrics must be an object`);
    if (b.state !== 'bootstrap' || b.prior === true) {
      for (let k = 0; k < readMetrics.length; k++) {
        const m = readMetrics[k]!;
        const mb: unknown = bm[m];
        if (mb === undefined) continue;
        if (!isObj(mb) || !isFin(mb.fast) || !isFin(mb.slow) || !isFin(mb.mean) || !isFin(mb.std) || !isFin(mb.samples)) {
          throw new ContractError(`window: records[${i}].baseline.metrics.${m} must have finite fast, slow, mean, std, samples`);
        }
      }
    }
  }
  const s: unknown = r.scan;
  if (s !== undefined) {
    const ports = isObj(s) ? s.synDstPorts : undefined;
    let ok = Array.isArray(ports);
    if (ok) {
      for (let k = 0; k < (ports as unknown[]).length; k++) {
        const p = (ports as unknown[])[k];
        if (!Number.isInteger(p) || (p as number) < 0 || (p as number) > 65535) { ok = false; break; }
      }
    }
    if (!ok) throw new ContractError(`window: records[${i}].scan.synDstPorts must be an array of port numbers`);
  }
  const fe: unknown = r.flowEnd;
  if (fe !== undefined) {
    if (!isObj(fe) || !isFin(fe.durationMs) || !isFin(fe.bytes) || !isFin(fe.packets) || typeof fe.ended !== 'boolean') {
      throw new ContractError(`window: records[${i}].flowEnd must have finite durationMs, bytes, packets and a boolean ended`);
    }
  }
}
