/**
 * Glue of the `rule-detector` node: config → {@link ProfiledDetector} (the rules of
 * {@link RuleDetector} with per-host CIDR overrides and an allow-list), one output message per
 * anomaly, status texts from the message catalogue `nodes/locales/en-US/rule-detector.json`.
 */
import type { NodeAPI, Node, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { assertWindowMessage } from '../core/contracts';
import type { DetectorOptions } from '../core/rules';
import { ProfiledDetector, type AllowEntry, type OverrideProfile } from '../core/overrides';
import { catalogue, errorMessage, rejectInput, scopesFromConfig, statusError, statusOk, statusWarn } from './glue';

/** A numeric setting of the panel: a TypedInput of type `num` (default) or `env`. */
type NumberType = 'num' | 'env';

/** One row of the panel's override list (values as typed; empty = the node's value). */
interface OverrideRow {
  cidr: string;
  fastMultiplier?: string;
  slowMultiplier?: string;
  highSigma?: string;
  mediumSigma?: string;
  scanSyns?: string;
  scanPorts?: string;
}

interface RuleDetectorNodeDef extends NodeDef {
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
  scopeInterface: boolean;
  scopeDstHost: boolean;
  scopeSrcHost: boolean;
  scopeFlow: boolean;
  overrides?: OverrideRow[];
  allowList?: AllowEntry[];
}

const NUM = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

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
      const options: DetectorOptions = {
        dualEwma: { enabled: config.dualEwma !== false, fastMultiplier: setting('fastMultiplier', 3), slowMultiplier: setting('slowMultiplier', 5), minState: config.dualEwmaMatureOnly === true ? 'mature' : 'learning' },
        spike: { enabled: config.spike !== false, highSigma: setting('highSigma', 3), mediumSigma: setting('mediumSigma', 2), minState: config.spikeMatureOnly === true ? 'mature' : 'learning' },
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
        for (const f of ['fastMultiplier', 'slowMultiplier', 'highSigma', 'mediumSigma', 'scanSyns', 'scanPorts'] as const) {
          const v = optional(row, f, i);
          if (v !== undefined) o[f] = v;
        }
        return o;
      });
      const allowList: AllowEntry[] = (Array.isArray(config.allowList) ? config.allowList : []).map((a) => ({ cidr: String(a.cidr ?? ''), note: a.note }));
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

    node.on('input', (msg: NodeMessageInFlow & { reset?: unknown }, send: (m: Array<NodeMessage | NodeMessage[] | null>) => void, done: (err?: Error) => void) => {
      try {
        if (msg.reset === true) {
          detector.reset();
          node.status(statusOk(t('status.cleared')));
          done();
          return;
        }
        assertWindowMessage(msg.payload);
        const events = detector.evaluate(msg.payload);
        windows++;
        anomalies += events.length;
        if (events.length > 0) {
          send([events.map((e) => ({ topic: e.key, payload: e }) as NodeMessage)]);
          const last = events[events.length - 1]!;
          node.status(statusWarn(t(events.length === 1 ? 'status.anomaly' : 'status.anomalies', { count: NUM.format(events.length), key: last.key }) + allowSuffix()));
        } else {
          node.status(statusOk(t(windows === 1 ? 'status.window' : 'status.windows', { windows: NUM.format(windows), anomalies: NUM.format(anomalies) }) + allowSuffix()));
        }
        done();
      } catch (err) {
        rejectInput(node, err, done);
      }
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      detector.reset();
      done();
    });
  }
  RED.nodes.registerType('rule-detector', RuleDetectorNode);
};
