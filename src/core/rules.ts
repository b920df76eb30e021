/**
 * Anomaly rules over annotated windows (the core of the `rule-detector` node).
 *
 * Four rules, each producing {@link Finding}s; all findings of one key in one window become ONE
 * {@link AnomalyEvent} whose top-level fields repeat the primary finding (high before medium, then
 * the largest deviationPercent, then rule order static, dual-ewma, spike, port-scan).
 *
 * - **static** (bootstrap): records whose baseline state is `bootstrap`, or that carry no baseline
 *   (a producer without ewma-baseline). packetsPerSecond > 10,000, bitsPerSecond > 100,000,000
 *   (100 Mbit/s, a tenth of 1 Gbit/s) and SYN rate (synCount / window seconds) > 100/s, all high.
 *   The bit/s and packet/s thresholds come from the window's `bootstrapThresholds` instead when
 *   ewma-baseline derives them from a configured line rate. Deviation against the threshold. A
 *   bootstrap record whose baseline is a prior from its peers (`prior: true`) also gets the
 *   dual-EWMA and spike rules against that prior, at most `medium`.
 * - **dual-ewma** (learning and mature keys, or mature only with `minState: 'mature'`): value > fast×fastMultiplier AND value > slow×slowMultiplier
 *   (defaults 3 and 5), high; reported threshold max of both; deviation against the slow EWMA. A
 *   fast and a slow EWMA that must both be exceeded: a short burst must stand out against the
 *   recent level as well as against the long-term one.
 * - **spike** (learning and mature keys, or mature only with `minState: 'mature'`): value > μ + highSigma·σ (3) → high, > μ + mediumSigma·σ (2) →
 *   medium, μ = slow EWMA, σ = √(EW variance) floored at 10% of μ (a flat baseline with σ = 0 must
 *   not alert on a tiny change); deviation against μ. The kσ test of a Shewhart-style control
 *   chart on the EWMA (NIST/SEMATECH e-Handbook §6.3.2).
 * - **port-scan**: per source, over a sliding window of `windowMs` (60 s) packet time made of
 *   whole aggregation windows (those that start at or after `windowEnd − windowMs`): more than
 *   `minSyns` SYNs (sum of the source's srcHost `synCount`) to more than `minPorts` distinct
 *   destination ports (union of `scan.synDstPorts`) → high, independent of baseline state. A source
 *   is evaluated in the windows where it sent SYNs; it fires again in each such window while the
 *   condition holds (cooldown-gate deduplicates).
 *
 * Noise floors: a rule fires on a metric only if the value is also ≥ the metric's minimum
 * ({@link DEFAULT_MINIMUMS}): without them a host whose baseline is 0 SYNs alerts on its first SYN.
 * The static SYN-rate rule uses the `synCount` minimum.
 *
 * Deviation percentages are `(value − reference) / reference × 100`; when the reference (slow EWMA
 * or μ) is 0 the metric's noise floor (or 1 when it has none) stands in for it, so the number stays
 * finite and JSON-safe.
 *
 * @packageDocumentation
 */
import {
  CONTRACT_VERSION, ContractError, SCOPES,
  type AnomalyEvent, type Finding, type MaturityState, type MetricBaseline, type RuleId, type Scope,
  type Severity, type TrafficRecord, type WindowMessage,
} from './contracts';
import { formatCount, formatMetricValue, formatPercent } from './units';

/** Options of a {@link RuleDetector}; every field has a default. */
export interface DetectorOptions {
  /** Dual-EWMA rule: fires when value > fast EWMA × fastMultiplier (default 3) AND value > slow EWMA × slowMultiplier (default 5); multipliers > 0. */
  /** `minState`: the least maturity a key needs for the rule to judge it (default `learning`). */
  dualEwma?: { enabled?: boolean; fastMultiplier?: number; slowMultiplier?: number; minState?: 'learning' | 'mature' };
  /** Spike rule: σ multiples over μ for high (default 3) and medium (default 2); 0 < mediumSigma ≤ highSigma. */
  /** `minState`: the least maturity a key needs for the rule to judge it (default `learning`). */
  spike?: { enabled?: boolean; highSigma?: number; mediumSigma?: number; minState?: 'learning' | 'mature' };
  /** Port-scan rule: more than minSyns SYNs (default 100) to more than minPorts distinct ports (default 20) within windowMs of packet time (default 60,000 ms). */
  portScan?: { enabled?: boolean; minSyns?: number; minPorts?: number; windowMs?: number };
  /** Static thresholds for keys in bootstrap: packetsPerSecond (packet/s, default 10,000), bitsPerSecond (bit/s, default 100,000,000), synPerSecond (SYN/s, default 100); all > 0. */
  bootstrapStatic?: { enabled?: boolean; packetsPerSecond?: number; bitsPerSecond?: number; synPerSecond?: number };
  /** Noise floor per metric (merged over {@link DEFAULT_MINIMUMS}); no rule fires on a metric below it. */
  minimums?: Record<string, number>;
  /** Metrics the dual-EWMA and spike rules look at (default {@link DEFAULT_RULE_METRICS}). */
  metrics?: string[];
  /** Scopes whose records the static, dual-EWMA and spike rules evaluate. Default interface, dstHost, srcHost. Port-scan reads srcHost records regardless. */
  scopes?: Scope[];
  /** Most sources whose port-scan evidence is kept; the least recently seen is dropped. Default 50,000. */
  maxScanSources?: number;
}

/** {@link DetectorOptions} with every default filled in. */
export interface ResolvedDetectorOptions {
  dualEwma: { enabled: boolean; fastMultiplier: number; slowMultiplier: number; minState: 'learning' | 'mature' };
  spike: { enabled: boolean; highSigma: number; mediumSigma: number; minState: 'learning' | 'mature' };
  portScan: { enabled: boolean; minSyns: number; minPorts: number; windowMs: number };
  bootstrapStatic: { enabled: boolean; packetsPerSecond: number; bitsPerSecond: number; synPerSecond: number };
  minimums: Record<string, number>;
  metrics: string[];
  scopes: Scope[];
  maxScanSources: number;
}

/**
 * Default noise floors: packetsPerSecond 10 packet/s, bitsPerSecond 80,000 bit/s (10 kB/s),
 * synCount 20, newFlows 20, distinctDstPorts 20, distinctPeers 20 (per window).
 */
export const DEFAULT_MINIMUMS: Readonly<Record<string, number>> = Object.freeze({
  packetsPerSecond: 10, bitsPerSecond: 80_000, synCount: 20, newFlows: 20, distinctDstPorts: 20, distinctPeers: 20,
});

/** Metrics the dual-EWMA and spike rules look at by default (rates and counts independent of packet sizes but bitsPerSecond). */
export const DEFAULT_RULE_METRICS: readonly string[] = Object.freeze(['bitsPerSecond', 'packetsPerSecond', 'synCount', 'newFlows', 'distinctDstPorts', 'distinctPeers']);

const DEFAULT_SCOPES: readonly Scope[] = ['interface', 'dstHost', 'srcHost'];

const posNum = (v: number, name: string): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new RangeError(`${name} must be a finite number > 0, got ${String(v)}`);
  return v;
};
const countNum = (v: number, name: string): number => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new RangeError(`${name} must be an integer ≥ 0, got ${String(v)}`);
  return v;
};

/**
 * Fills in defaults and checks the options.
 * @throws {RangeError} on a multiplier, σ or threshold ≤ 0, mediumSigma > highSigma, a negative or
 *   non-integer SYN/port count, an unknown scope, an empty metric list, a negative minimum, or a
 *   maxScanSources that is not a positive integer.
 */
function minState(value: unknown, name: string): 'learning' | 'mature' {
  if (value === undefined) return 'learning';
  if (value !== 'learning' && value !== 'mature') throw new RangeError(`${name} must be "learning" or "mature", got ${JSON.stringify(value)}`);
  return value;
}

export function resolveDetectorOptions(options: DetectorOptions = {}): ResolvedDetectorOptions {
  if (typeof options !== 'object' || options === null) throw new RangeError('detector options must be an object');
  const d = options.dualEwma ?? {}, s = options.spike ?? {}, p = options.portScan ?? {}, b = options.bootstrapStatic ?? {};
  const o: ResolvedDetectorOptions = {
    dualEwma: {
      enabled: d.enabled ?? true,
      fastMultiplier: posNum(d.fastMultiplier ?? 3, 'dualEwma.fastMultiplier'),
      slowMultiplier: posNum(d.slowMultiplier ?? 5, 'dualEwma.slowMultiplier'),
      minState: minState(d.minState, 'dualEwma.minState'),
    },
    spike: {
      enabled: s.enabled ?? true,
      highSigma: posNum(s.highSigma ?? 3, 'spike.highSigma'),
      mediumSigma: posNum(s.mediumSigma ?? 2, 'spike.mediumSigma'),
      minState: minState(s.minState, 'spike.minState'),
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
    minimums: { ...DEFAULT_MINIMUMS },
    metrics: options.metrics ? [...options.metrics] : [...DEFAULT_RULE_METRICS],
    scopes: options.scopes ? [...options.scopes] : [...DEFAULT_SCOPES],
    maxScanSources: options.maxScanSources ?? 50_000,
  };
  if (o.spike.mediumSigma > o.spike.highSigma) throw new RangeError(`spike.mediumSigma (${o.spike.mediumSigma}) must not exceed spike.highSigma (${o.spike.highSigma})`);
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
};
const PREPOSITION: Record<Scope, string> = { dstHost: 'to', srcHost: 'from', interface: 'on', flow: 'on' };

function subject(metric: string, value: number, record: TrafficRecord): string {
  return `${LABELS[metric] ?? metric} ${formatMetricValue(metric, value)} ${PREPOSITION[record.scope]} ${record.key}`;
}

// ---------------------------------------------------------------------------------------------
// Detector
// ---------------------------------------------------------------------------------------------

const SEVERITY_RANK: Record<Severity, number> = { high: 2, medium: 1 };
const RULE_RANK: Record<RuleId, number> = { static: 0, 'dual-ewma': 1, spike: 2, 'port-scan': 3 };
const STATES: readonly MaturityState[] = ['bootstrap', 'learning', 'mature'];

/** Port-scan evidence of one source in one aggregation window. */
interface ScanEntry { windowStart: number; syns: number; ports: number[]; truncated: boolean }

/**
 * Orders findings primary first: high before medium, then larger deviationPercent, then rule order
 * (static, dual-ewma, spike, port-scan). Sorts in place and returns the array.
 */
export function sortFindings(findings: Finding[]): Finding[] {
  return findings.sort((a, b) => (SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity])
    || (b.deviationPercent - a.deviationPercent) || (RULE_RANK[a.rule] - RULE_RANK[b.rule]));
}

/**
 * Evaluates annotated windows against the rules and returns anomaly events. Holds only the
 * per-source port-scan evidence of the last `portScan.windowMs` (bounded by `maxScanSources`).
 */
export class RuleDetector {
  /** The options in force (defaults filled in). */
  readonly options: ResolvedDetectorOptions;
  private readonly scopeSet: Set<Scope>;
  private readonly scans = new Map<string, ScanEntry[]>();
  private scanEvictions = 0;

  /**
   * @param options see {@link DetectorOptions}
   * @throws {RangeError} on bad options (see {@link resolveDetectorOptions})
   */
  constructor(options?: DetectorOptions) {
    this.options = resolveDetectorOptions(options);
    this.scopeSet = new Set(this.options.scopes);
  }

  /** Sources with port-scan evidence held, and sources dropped at the cap so far. */
  scanStats(): { sources: number; evictions: number } {
    return { sources: this.scans.size, evictions: this.scanEvictions };
  }

  /**
   * Evaluates every record of an (annotated) window; returns at most ONE AnomalyEvent per key per
   * window, whose `findings` list every metric/rule of that key that crossed a threshold, and whose
   * top-level fields repeat the primary finding (see {@link sortFindings}). Events come in the order
   * of the window's records. `id` = `<rule>|<key>|<windowStart>`, `time` = windowEnd.
   *
   * The window must pass `assertWindowMessage` (contracts).
   * @throws {ContractError} when a record's `baseline` or `scan` is malformed; nothing is changed then.
   */
  evaluate(window: WindowMessage): AnomalyEvent[] {
    checkAnnotations(window);
    const byKey = new Map<string, { record: TrafficRecord; findings: Finding[] }>();
    const add = (record: TrafficRecord, f: Finding): void => {
      let e = byKey.get(record.key);
      if (e === undefined) { e = { record, findings: [] }; byKey.set(record.key, e); }
      e.findings.push(f);
    };
    this.pruneScans(window.windowEnd);
    for (const record of window.records) {
      if (this.scopeSet.has(record.scope)) {
        const state = record.baseline?.state ?? 'bootstrap';
        if (state === 'bootstrap') {
          this.staticRule(window, record, add);
          // a never-seen key that ewma-baseline started from its peers' median baseline
          if (record.baseline?.prior === true) this.baselineRules(record, add, true);
        } else {
          this.baselineRules(record, add, false);
        }
      }
      if (this.options.portScan.enabled && record.scope === 'srcHost' && record.scan !== undefined) this.portScanRule(window, record, add);
    }
    const events: AnomalyEvent[] = [];
    for (const { record, findings } of byKey.values()) events.push(this.toEvent(window, record, sortFindings(findings)));
    return events;
  }

  /** Forgets all port-scan evidence. */
  reset(): void {
    this.scans.clear();
    this.scanEvictions = 0;
  }

  private floor(metric: string): number { return this.options.minimums[metric] ?? 0; }

  private deviation(metric: string, value: number, reference: number): number {
    const ref = reference > 0 ? reference : Math.max(this.floor(metric), 1);
    return (value - ref) / ref * 100;
  }

  private staticRule(window: WindowMessage, record: TrafficRecord, add: (r: TrafficRecord, f: Finding) => void): void {
    const configured = this.options.bootstrapStatic;
    if (!configured.enabled) return;
    // ewma-baseline derives bit/s and packet/s thresholds from the interface line rate when one is set
    const fromLineRate = window.bootstrapThresholds;
    const positive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;
    const st = {
      packetsPerSecond: positive(fromLineRate?.packetsPerSecond) ? fromLineRate!.packetsPerSecond : configured.packetsPerSecond,
      bitsPerSecond: positive(fromLineRate?.bitsPerSecond) ? fromLineRate!.bitsPerSecond : configured.bitsPerSecond,
      synPerSecond: configured.synPerSecond,
    };
    const m = record.metrics;
    const check = (metric: string, value: number | undefined, threshold: number, floorMetric: string, floorValue: number | undefined): void => {
      if (value === undefined || !(value > threshold) || floorValue === undefined || floorValue < this.floor(floorMetric)) return;
      const deviationPercent = (value - threshold) / threshold * 100;
      add(record, {
        rule: 'static', severity: 'high', metric, value, threshold, baseline: null, deviationPercent,
        explanation: `${subject(metric, value, record)} is above the bootstrap threshold ${formatMetricValue(metric, threshold)} (${formatPercent(deviationPercent)})`,
      });
    };
    check('packetsPerSecond', m.packetsPerSecond, st.packetsPerSecond, 'packetsPerSecond', m.packetsPerSecond);
    check('bitsPerSecond', m.bitsPerSecond, st.bitsPerSecond, 'bitsPerSecond', m.bitsPerSecond);
    if (m.synCount !== undefined && window.windowMs > 0) {
      check('synPerSecond', m.synCount / (window.windowMs / 1000), st.synPerSecond, 'synCount', m.synCount);
    }
  }

  /**
   * Dual-EWMA and spike rules against the record's baseline. `fromPrior`: the key is new and its
   * baseline is its peers' median (ewma-baseline `prior: true`); findings are then at most `medium`
   * and say so, since the key's own level is not known yet.
   */
  private baselineRules(record: TrafficRecord, add: (r: TrafficRecord, f: Finding) => void, fromPrior: boolean): void {
    const { dualEwma, spike } = this.options;
    const baseline = record.baseline!;
    const cap = (severity: Severity): Severity => (fromPrior ? 'medium' : severity);
    // a rule set to judge mature keys only leaves learning keys (and priors of new keys) alone
    const judges = (rule: { minState: 'learning' | 'mature' }) => rule.minState === 'learning' || baseline.state === 'mature';
    const dualOn = dualEwma.enabled && judges(dualEwma), spikeOn = spike.enabled && judges(spike);
    if (!dualOn && !spikeOn) return;
    const note = fromPrior ? ' (baseline: the median of its peers, the key is new)' : '';
    for (const metric of this.options.metrics) {
      const value = record.metrics[metric];
      const mb: MetricBaseline | undefined = baseline.metrics[metric];
      if (value === undefined || mb === undefined || (mb.samples < 1 && !fromPrior) || value < this.floor(metric)) continue;
      const withState = { ...mb, state: baseline.state };
      if (dualOn) {
        const fastT = mb.fast * dualEwma.fastMultiplier, slowT = mb.slow * dualEwma.slowMultiplier;
        if (value > fastT && value > slowT) {
          const deviationPercent = this.deviation(metric, value, mb.slow);
          add(record, {
            rule: 'dual-ewma', severity: cap('high'), metric, value, threshold: Math.max(fastT, slowT), baseline: withState, deviationPercent,
            explanation: `${subject(metric, value, record)} is above ${formatCount(dualEwma.fastMultiplier)}× its fast EWMA ${formatMetricValue(metric, mb.fast)} and ${formatCount(dualEwma.slowMultiplier)}× its slow EWMA ${formatMetricValue(metric, mb.slow)} (${formatPercent(deviationPercent)} vs slow EWMA)${note}`,
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
            explanation: `${subject(metric, value, record)} is above μ + ${formatCount(k)}σ = ${formatMetricValue(metric, threshold)} (μ ${formatMetricValue(metric, mu)}, σ ${formatMetricValue(metric, sigma)}) (${formatPercent(deviationPercent)})${note}`,
          });
        }
      }
    }
  }

  private portScanRule(window: WindowMessage, record: TrafficRecord, add: (r: TrafficRecord, f: Finding) => void): void {
    const ps = this.options.portScan;
    const scan = record.scan!;
    let entries = this.scans.get(record.key);
    if (entries === undefined) {
      if (this.scans.size >= this.options.maxScanSources) {
        const oldest = this.scans.keys().next();
        if (!oldest.done) { this.scans.delete(oldest.value); this.scanEvictions++; }
      }
      entries = [];
    } else {
      this.scans.delete(record.key); // re-inserted: Map order is least recently seen first
    }
    this.scans.set(record.key, entries);
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

  /** Drops sources whose newest evidence is older than the port-scan window (least recently seen first). */
  private pruneScans(windowEnd: number): void {
    const from = windowEnd - this.options.portScan.windowMs;
    for (const [key, entries] of this.scans) {
      const newest = entries.length > 0 ? entries[entries.length - 1]!.windowStart : -Infinity;
      if (newest >= from) break;
      this.scans.delete(key);
    }
  }

  private toEvent(window: WindowMessage, record: TrafficRecord, findings: Finding[]): AnomalyEvent {
    const p = findings[0]!;
    const more = findings.length - 1;
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
      message: more > 0 ? `${p.explanation} (and ${more} more finding${more > 1 ? 's' : ''})` : p.explanation,
      findings,
      source: window.source,
    };
    if (record.srcIp !== undefined) event.srcIp = record.srcIp;
    if (record.dstIp !== undefined) event.dstIp = record.dstIp;
    if (record.srcPort !== undefined) event.srcPort = record.srcPort;
    if (record.dstPort !== undefined) event.dstPort = record.dstPort;
    if (record.protocol !== undefined) event.protocol = record.protocol;
    return event;
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isFin = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);

/** Checks the parts assertWindowMessage leaves alone: `baseline` and `scan` of each record. */
function checkAnnotations(window: WindowMessage): void {
  window.records.forEach((r, i) => {
    const b: unknown = r.baseline;
    if (b !== undefined) {
      if (!isObj(b) || !STATES.includes(b.state as MaturityState)) throw new ContractError(`window: records[${i}].baseline.state must be one of ${STATES.join(', ')}`);
      if (!isObj(b.metrics)) throw new ContractError(`window: records[${i}].baseline.metrics must be an object`);
      for (const [m, mb] of Object.entries(b.metrics)) {
        if (!isObj(mb) || !isFin(mb.fast) || !isFin(mb.slow) || !isFin(mb.mean) || !isFin(mb.std) || !isFin(mb.samples)) {
          throw new ContractError(`window: records[${i}].baseline.metrics.${m} must have finite fast, slow, mean, std, samples`);
        }
      }
    }
    const s: unknown = r.scan;
    if (s !== undefined) {
      if (!isObj(s) || !Array.isArray(s.synDstPorts) || s.synDstPorts.some((p) => !Number.isInteger(p) || p < 0 || p > 65535)) {
        throw new ContractError(`window: records[${i}].scan.synDstPorts must be an array of port numbers`);
      }
    }
  });
}
