/**
 * Glue of the `rule-detector` node: config → {@link ProfiledDetector} (the rules of
 * {@link RuleDetector} with per-host CIDR overrides and an allow-list), one output message per
 * anomaly, status texts from the message catalogue `nodes/locales/en-US/rule-detector.json`.
 */
import type { NodeAPI, Node, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { assertWindowHeader, assertWindowRecords, type AnomalyEvent, type WindowMessage } from '../core/contracts';
import { runStepsInSlices, SLICE_ITEMS } from './slices';
import { PROFILE_NAMES, type DetectorOptions, type EvaluateJob, type SensitivityProfile } from '../core/rules';
import { ProfiledDetector, type AllowEntry, type OverrideProfile } from '../core/overrides';
import { catalogue, errorMessage, recordsChecked, rejectInput, scopesFromConfig, statusError, statusOk, statusWarn } from './glue';

/** A numeric setting of the panel: a TypedInput of type `num` (default) or `env`. */
type NumberType = 'num' | 'env';

/** One row of the panel's override list (values as typed; empty = the node's value). */
interface OverrideRow {
  cidr: string;
  /** Sensitivity profile (`steady`, `default`, `spiky`); empty = the node's multipliers. */
  profile?: string;
  fastMultiplier?: string;
  slowMultiplier?: string;
  highSigma?: string;
  mediumSigma?: string;
  scanSyns?: string;
  scanPorts?: string;
}

interface RuleDetectorNodeDef extends NodeDef {
  /** Sensitivity profile; absent in flows saved before profiles existed (= custom: the numbers below). */
  profile?: string;
  dualEwma: boolean;
  dualEwmaMatureOnly?: boolean;
  fastMultiplier: string;
  fastMultiplierType?: NumberType;
  slowMultiplier: string;
  slowMultiplierType?: NumberType;
  spike: boolean;
  spikeMatureOnly?: boolean;
  highSigma: string;
  highSigmaType?: NumberType;
  /** Recent-peak guard of the dual-EWMA and spike rules; absent in older flows (= on, factor 2, half-life 30 min). */
  peakGuard?: boolean;
  /** Factor over the recent peak (0 = off). */
  peakFactor?: string; peakFactorType?: NumberType;
  /** Half-life of the recent peak, minutes of packet time. */
  peakHalfLifeMinutes?: string; peakHalfLifeMinutesType?: NumberType;
  mediumSigma: string;
  mediumSigmaType?: NumberType;
  portScan: boolean;
  scanSyns: string;
  scanSynsType?: NumberType;
  scanPorts: string;
  scanPortsType?: NumberType;
  /** Port-scan window, seconds. */
  scanWindowSeconds: string;
  scanWindowSecondsType?: NumberType;
  bootstrapStatic: boolean;
  /** Static packet-rate threshold, packet/s. */
  staticPps: string;
  staticPpsType?: NumberType;
  /** Static bit-rate threshold, Mbit/s. */
  staticMbps: string;
  staticMbpsType?: NumberType;
  /** Static SYN-rate threshold, SYN/s. */
  staticSynPerSecond: string;
  staticSynPerSecondType?: NumberType;
  // rules added with issue #6; absent in older flows (= enabled, default thresholds)
  latency?: boolean;
  latencyHigh?: string; latencyHighType?: NumberType;
  latencyMedium?: string; latencyMediumType?: NumberType;
  latencyMinHandshakes?: string; latencyMinHandshakesType?: NumberType;
  packetLoss?: boolean;
  lossHigh?: string; lossHighType?: NumberType;
  lossMedium?: string; lossMediumType?: NumberType;
  lossMinSegments?: string; lossMinSegmentsType?: NumberType;
  protocolShift?: boolean;
  shiftPoints?: string; shiftPointsType?: NumberType;
  shiftHighPoints?: string; shiftHighPointsType?: NumberType;
  longLived?: boolean;
  longHigh?: string; longHighType?: NumberType;
  longMedium?: string; longMediumType?: NumberType;
  /** Shortest flow judged long-lived, minutes. */
  longMinMinutes?: string; longMinMinutesType?: NumberType;
  longIdleBytes?: string; longIdleBytesType?: NumberType;
  amplification?: boolean;
  /** Static (no baseline) threshold, kB/s (1 kB = 1000 bytes). */
  ampStaticKBps?: string; ampStaticKBpsType?: NumberType;
  ampMinSources?: string; ampMinSourcesType?: NumberType;
  unsolicitedSynAck?: boolean;
  synAckMinCount?: string; synAckMinCountType?: NumberType;
  synFlood?: boolean;
  floodSynPerSecond?: string; floodSynPerSecondType?: NumberType;
  floodMinSources?: string; floodMinSourcesType?: NumberType;
  floodMaxHandshakePercent?: string; floodMaxHandshakePercentType?: NumberType;
  horizontalScan?: boolean;
  hscanMinHosts?: string; hscanMinHostsType?: NumberType;
  icmpSweep?: boolean;
  sweepMinHosts?: string; sweepMinHostsType?: NumberType;
  adminFanout?: boolean;
  adminMinHosts?: string; adminMinHostsType?: NumberType;
  adminMinutes?: string; adminMinutesType?: NumberType;
  /** Comma-separated TCP ports. */
  adminPorts?: string;
  icmpFlood?: boolean;
  /** ICMP flood threshold, packet/s. */
  icmpFloodPps?: string; icmpFloodPpsType?: NumberType;
  hints?: boolean;
  /** Noise floors: packet rate (packet/s), bit rate (Mbit/s), SYNs per window, new flows / ports / peers per window. */
  floorPps?: string; floorPpsType?: NumberType;
  floorMbps?: string; floorMbpsType?: NumberType;
  floorSyns?: string; floorSynsType?: NumberType;
  floorCount?: string; floorCountType?: NumberType;
  scopeInterface: boolean;
  scopeDstHost: boolean;
  scopeSrcHost: boolean;
  scopeFlow: boolean;
  overrides?: OverrideRow[];
  /** Allow-list rows as the editor saves them: `port` is text such as `443/tcp` or `5201`. */
  allowList?: Array<{ cidr?: string; note?: string; peer?: string; port?: string | number }>;
}

const NUM = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/**
 * `"22, 445, 3389"` → `[22, 445, 3389]`.
 * @throws {RangeError} naming the first entry that is not a port 1–65535.
 */
function portsFromText(text: string): number[] {
  return text.split(/[\s,]+/).filter((p) => p !== '').map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new RangeError(`admin ports: "${p}" is not a port 1–65535`);
    return n;
  });
}

/** A control property as a list of objects: a CIDR string, an object, or an array of them. */
function controlEntries(value: unknown, name: string): Array<Record<string, unknown>> {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new RangeError(`msg.${name} is an empty list`);
  return list.map((v, i) => {
    if (typeof v === 'string') return { cidr: v };
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as Record<string, unknown>).cidr === 'string') return v as Record<string, unknown>;
    throw new RangeError(`msg.${name}${list.length > 1 ? `[${i}]` : ''} must be a CIDR string or an object with a "cidr" string`);
  });
}

/**
 * A service port as typed: `443`, `443/tcp`, `53/udp` (or a number, with `protocol` beside it).
 * @throws {RangeError} when it is not a port 1–65535 with an optional /tcp or /udp.
 */
function servicePort(port: unknown, protocol: unknown): { port: number; protocol?: 'tcp' | 'udp' } {
  const m = /^\s*(\d{1,5})\s*(?:\/\s*(tcp|udp)\s*)?$/i.exec(String(port));
  const n = m === null ? NaN : Number(m[1]);
  if (m === null || n < 1 || n > 65535) throw new RangeError(`port must be 1–65535, optionally with /tcp or /udp (e.g. 443/tcp), got ${JSON.stringify(port)}`);
  const proto = (m[2] ?? (typeof protocol === 'string' && protocol !== '' ? protocol : undefined))?.toLowerCase();
  if (proto !== undefined && proto !== 'tcp' && proto !== 'udp') throw new RangeError(`protocol must be tcp or udp, got ${JSON.stringify(protocol)}`);
  return proto === undefined ? { port: n } : { port: n, protocol: proto };
}

/** An allow-list entry from a panel row or a control message: cidr, note, and for a pair `peer`, for a service `port`. */
function allowEntry(v: Record<string, unknown>): AllowEntry & { remove?: boolean } {
  const a: AllowEntry & { remove?: boolean } = { cidr: String(v.cidr ?? '') };
  if (typeof v.note === 'string' && v.note !== '') a.note = v.note;
  if (typeof v.peer === 'string' && v.peer.trim() !== '') a.peer = v.peer.trim();
  if (v.port !== undefined && v.port !== null && String(v.port).trim() !== '') Object.assign(a, servicePort(v.port, v.protocol));
  if (v.remove === true) a.remove = true;
  return a;
}

const OVERRIDE_NUMBERS = ['fastMultiplier', 'slowMultiplier', 'highSigma', 'mediumSigma', 'scanSyns', 'scanPorts'] as const;

function overrideEntry(v: Record<string, unknown>): OverrideProfile & { remove?: boolean } {
  const o: OverrideProfile & { remove?: boolean } = { cidr: String(v.cidr) };
  if (v.remove === true) { o.remove = true; return o; }
  if (v.profile !== undefined) {
    if (!PROFILE_NAMES.includes(v.profile as SensitivityProfile)) throw new RangeError(`msg.override.profile must be one of ${PROFILE_NAMES.join(', ')}, got ${JSON.stringify(v.profile)}`);
    o.profile = v.profile as SensitivityProfile;
  }
  for (const f of OVERRIDE_NUMBERS) {
    const raw = v[f];
    if (raw === undefined || raw === null || raw === '') continue;
    const n = typeof raw === 'number' ? raw : Number(raw);
    if (!Number.isFinite(n)) throw new RangeError(`msg.override.${f} must be a number, got ${JSON.stringify(raw)}`);
    o[f] = n;
  }
  return o;
}

export = function (RED: NodeAPI): void {
  /** `RED._` with the English catalogue as fallback; `__name__` placeholders filled from `vars`. */
  const t = catalogue(RED, 'rule-detector');

  function RuleDetectorNode(this: Node, config: RuleDetectorNodeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;

    /** A numeric setting (TypedInput num/env); `fallbackValue` when empty. */
    const setting = (field: keyof RuleDetectorNodeDef & string, fallbackValue: number): number => {
      const raw = config[field] as unknown;
      const type = (config as unknown as Record<string, unknown>)[`${field}Type`];
      if (type === 'env') {
        const value = RED.util.evaluateNodeProperty(String(raw), 'env', node, {} as NodeMessage) as unknown;
        const n = typeof value === 'number' ? value : Number(String(value ?? '').trim() || NaN);
        if (!Number.isFinite(n)) throw new RangeError(t('errors.envNotNumber', { field, name: String(raw), value: String(value ?? '') }));
        return n;
      }
      if (raw === undefined || raw === null || raw === '') return fallbackValue;
      const n = typeof raw === 'number' ? raw : Number(raw);
      if (!Number.isFinite(n)) throw new RangeError(t('errors.notNumber', { field, value: String(raw) }));
      return n;
    };
    /** An override value: `undefined` when empty (keep the node's). */
    const optional = (row: OverrideRow, field: keyof OverrideRow, index: number): number | undefined => {
      const raw = row[field];
      if (raw === undefined || raw === null || String(raw).trim() === '') return undefined;
      const n = Number(raw);
      if (!Number.isFinite(n)) throw new RangeError(`override ${index + 1} (${row.cidr}): ${t('errors.notNumber', { field, value: String(raw) })}`);
      return n;
    };

    let detector: ProfiledDetector;
    try {
      const scopes = scopesFromConfig(config, false);
      const profile = config.profile === undefined || config.profile === '' ? 'custom' : config.profile;
      if (!PROFILE_NAMES.includes(profile as SensitivityProfile)) throw new RangeError(t('errors.badProfile', { value: String(profile) }));
      const on = (v: boolean | undefined): boolean => v !== false;
      const options: DetectorOptions = {
        profile: profile as SensitivityProfile,
        latency: { enabled: on(config.latency), highRatio: setting('latencyHigh', 2), mediumRatio: setting('latencyMedium', 1.5), minHandshakes: setting('latencyMinHandshakes', 5) },
        packetLoss: { enabled: on(config.packetLoss), highPercent: setting('lossHigh', 5), mediumPercent: setting('lossMedium', 2), minSegments: setting('lossMinSegments', 100) },
        protocolShift: { enabled: on(config.protocolShift), points: setting('shiftPoints', 30), highPoints: setting('shiftHighPoints', 50) },
        longLived: {
          enabled: on(config.longLived), highRatio: setting('longHigh', 2), mediumRatio: setting('longMedium', 1.5),
          minDurationMs: setting('longMinMinutes', 10) * 60_000, idleBytes: setting('longIdleBytes', 1000),
        },
        amplification: { enabled: on(config.amplification), staticBytesPerSecond: setting('ampStaticKBps', 25) * 1000, minSources: setting('ampMinSources', 10) },
        unsolicitedSynAck: { enabled: on(config.unsolicitedSynAck), minCount: setting('synAckMinCount', 20) },
        synFlood: {
          enabled: on(config.synFlood), minSynPerSecond: setting('floodSynPerSecond', 50), minSources: setting('floodMinSources', 50),
          maxHandshakePercent: setting('floodMaxHandshakePercent', 5),
        },
        horizontalScan: { enabled: on(config.horizontalScan), minHosts: setting('hscanMinHosts', 20) },
        icmpSweep: { enabled: on(config.icmpSweep), minHosts: setting('sweepMinHosts', 20) },
        icmpFlood: { enabled: on(config.icmpFlood), minPacketsPerSecond: setting('icmpFloodPps', 50) },
        adminFanout: {
          enabled: on(config.adminFanout), minHosts: setting('adminMinHosts', 20), windowMs: setting('adminMinutes', 5) * 60_000,
          ...(typeof config.adminPorts === 'string' && config.adminPorts.trim() !== '' && { ports: portsFromText(config.adminPorts) }),
        },
        hints: on(config.hints),
        minimums: (() => {
          const count = setting('floorCount', 50);
          return {
            packetsPerSecond: setting('floorPps', 100), bitsPerSecond: setting('floorMbps', 1) * 1e6, synCount: setting('floorSyns', 20),
            newFlows: count, distinctDstPorts: count, distinctPeers: count,
          };
        })(),
        dualEwma: { enabled: config.dualEwma !== false, fastMultiplier: setting('fastMultiplier', 3), slowMultiplier: setting('slowMultiplier', 5), minState: config.dualEwmaMatureOnly === true ? 'mature' : 'learning' },
        spike: { enabled: config.spike !== false, highSigma: setting('highSigma', 3), mediumSigma: setting('mediumSigma', 2), minState: config.spikeMatureOnly === true ? 'mature' : 'learning' },
        peakGuard: { enabled: on(config.peakGuard), factor: setting('peakFactor', 2), halfLifeMs: setting('peakHalfLifeMinutes', 30) * 60_000 },
        portScan: {
          enabled: config.portScan !== false,
          minSyns: setting('scanSyns', 100),
          minPorts: setting('scanPorts', 20),
          windowMs: setting('scanWindowSeconds', 60) * 1000,
        },
        bootstrapStatic: {
          enabled: config.bootstrapStatic !== false,
          packetsPerSecond: setting('staticPps', 10_000),
          bitsPerSecond: setting('staticMbps', 100) * 1e6,
          synPerSecond: setting('staticSynPerSecond', 100),
        },
        scopes,
      };
      const overrides: OverrideProfile[] = (Array.isArray(config.overrides) ? config.overrides : []).map((row, i) => {
        const o: OverrideProfile = { cidr: String(row.cidr ?? '') };
        if (row.profile !== undefined && row.profile !== null && String(row.profile).trim() !== '') o.profile = String(row.profile).trim() as SensitivityProfile;
        for (const f of ['fastMultiplier', 'slowMultiplier', 'highSigma', 'mediumSigma', 'scanSyns', 'scanPorts'] as const) {
          const v = optional(row, f, i);
          if (v !== undefined) o[f] = v;
        }
        return o;
      });
      const allowList: AllowEntry[] = (Array.isArray(config.allowList) ? config.allowList : []).map((a, i) => {
        try { return allowEntry(a as Record<string, unknown>); } catch (err) { throw new RangeError(`allow-list entry ${i + 1}: ${errorMessage(err)}`); }
      });
      detector = new ProfiledDetector(options, overrides, allowList);
    } catch (err) {
      const reason = errorMessage(err);
      node.error(t('errors.badConfig', { reason }));
      node.status(statusError(t('status.config', { reason })));
      node.on('input', (_msg: NodeMessageInFlow, _send: unknown, done: (err?: Error) => void) => {
        done(new Error(t('errors.notConfigured', { reason })));
      });
      return;
    }

    let windows = 0;
    let anomalies = 0;
    const allowSuffix = (): string => (detector.sizes.allowList > 0 ? t('status.allowListed', { count: NUM.format(detector.allowListed) }) : '');

    type ControlMessage = NodeMessageInFlow & { reset?: unknown; allow?: unknown; override?: unknown };
    type Send = (m: Array<NodeMessage | NodeMessage[] | null>) => void;

    /**
     * Messages are handled strictly one after another: a window is checked and evaluated in slices
     * over several event-loop turns (./slices: about 12 ms per turn, so Node-RED stays responsive
     * while 100,000 records are judged), and whatever arrives meanwhile — windows and control
     * messages (msg.allow, msg.override, msg.reset) — waits its turn. When nothing is waiting, a
     * message is handled at once (a control message takes effect within the call).
     */
    let queue: Promise<void> = Promise.resolve();
    let waiting = 0;
    let closing = false;
    node.on('input', (msg: ControlMessage, send: Send, done: (err?: Error) => void) => {
      // async: never throws synchronously, so the queue never rejects; handle() reports its own errors
      const run = async (): Promise<void> => {
        try {
          if (closing) done();
          else await handle(msg, send, done);
        } catch (err) {
          node.error(errorMessage(err));
        } finally {
          waiting--;
        }
      };
      queue = waiting++ === 0 ? run() : queue.then(run);
    });

    /**
     * Checks a window's records (contracts) and evaluates it, in slices of one time budget; resolves
     * with its events, or undefined when the node closed meanwhile (the window is dropped).
     */
    const evaluateInSlices = async (win: WindowMessage): Promise<AnomalyEvent[] | undefined> => {
      const records = win.records;
      // records ewma-baseline checked in full in this process: their shape only (see recordsChecked)
      const metricValues = !recordsChecked(records);
      let checked = 0;
      let job: EvaluateJob | undefined;
      let dropped = false;
      await runStepsInSlices(() => {
        if (closing) { dropped = true; return true; } // the close handler resets the detector
        if (checked < records.length) {
          // every record first: a bad one is rejected before the detector changes anything
          const to = Math.min(records.length, checked + SLICE_ITEMS);
          assertWindowRecords(records, checked, to, metricValues);
          checked = to;
          return false;
        }
        job ??= detector.beginEvaluate(win);
        return job.step(SLICE_ITEMS);
      });
      if (dropped) return undefined;
      return (job ?? detector.beginEvaluate(win)).finish();
    };

    const handle = async (msg: ControlMessage, send: Send, done: (err?: Error) => void): Promise<void> => {
      try {
        if (msg.allow !== undefined || msg.override !== undefined) {
          // runtime feedback (e.g. a dashboard's "false positive" button): lists change, evidence is kept
          const allow = msg.allow === undefined ? [] : controlEntries(msg.allow, 'allow').map(allowEntry);
          const override = msg.override === undefined ? [] : controlEntries(msg.override, 'override').map(overrideEntry);
          detector = detector.withChanges({ allow, override });
          const what = [...allow.map((a) => `allow-list ${a.remove === true ? '−' : '+'}${a.cidr}`), ...override.map((o) => `override ${o.remove === true ? '−' : '+'}${o.cidr}`)].join(', ');
          node.status(statusOk(t('status.changed', { what }) + allowSuffix()));
          done();
          return;
        }
        if (msg.reset === true) {
          detector.reset();
          node.status(statusOk(t('status.cleared')));
          done();
          return;
        }
        assertWindowHeader(msg.payload); // = assertWindowMessage, without an array per record and metric
        const events = await evaluateInSlices(msg.payload);
        if (events === undefined) { done(); return; } // closed meanwhile: dropped
        windows++;
        anomalies += events.length;
        // output 2: the window, judged, as a tick for cooldown-gate (its records left out: cheap to
        // copy). Sent after the window's anomalies in the same send, so a gate wired to both outputs
        // always sees a window's anomalies before the window's end, however long the judging took.
        const tick: NodeMessage = { topic: msg.topic, payload: { ...msg.payload, records: [] } };
        if (events.length > 0) {
          send([events.map((e) => ({ topic: e.key, payload: e }) as NodeMessage), tick]);
          const last = events[events.length - 1]!;
          node.status(statusWarn(t(events.length === 1 ? 'status.anomaly' : 'status.anomalies', { count: NUM.format(events.length), key: last.key }) + allowSuffix()));
        } else {
          send([null, tick]);
          node.status(statusOk(t(windows === 1 ? 'status.window' : 'status.windows', { windows: NUM.format(windows), anomalies: NUM.format(anomalies) }) + allowSuffix()));
        }
        done();
      } catch (err) {
        rejectInput(node, err, done);
      }
    };

    node.on('close', (_removed: boolean, done: () => void) => {
      // a window being evaluated stops at its next slice and is dropped (nothing sent); queued
      // messages are dropped; then the evidence is cleared
      closing = true;
      const closed = (): void => { detector.reset(); done(); };
      queue.then(closed, closed);
    });
  }
  RED.nodes.registerType('rule-detector', RuleDetectorNode);
};
