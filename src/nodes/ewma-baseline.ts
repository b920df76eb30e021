/**
 * Glue of the `ewma-baseline` node: config → {@link BaselineStore}, persistence of the learned
 * baselines under `<userDir>/netbaseline/baseline-<node id>.json`, input/close handling, status,
 * control messages (`msg.reset`, `msg.maintenance`, `msg.freeze`, `msg.topic` `baseline-export` /
 * `baseline-import`; see the node's help).
 */
import { NodeStateFile } from './state-file';
import type { NodeAPI, Node, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { assertWindowHeader, assertWindowRecords, type WindowMessage } from '../core/contracts';
import { runInSlices, runStepsInSlices, SLICE_ITEMS } from './slices';
import { BaselineStore, type BaselineOptions } from '../core/baseline';
import { parseSchedules } from '../core/cooldown';
import { catalogue, configNumber, errorMessage, markRecordsChecked, rejectInput, resolveSettings, scopesFromConfig, settingNumber, statusError, statusOk, statusWarn, type SettingType, type Translate } from './glue';

interface EwmaBaselineNodeDef extends NodeDef {
  fastAlpha: string;
  /** Where {@link fastAlpha} comes from (TypedInput): typed in (`num`), `env`, `flow` or `global`; same for the two below. */
  fastAlphaType?: SettingType;
  slowAlpha: string;
  slowAlphaType?: SettingType;
  /** Bootstrap period per key, minutes. */
  bootstrapMinutes: string;
  bootstrapMinutesType?: SettingType;
  scopeInterface: boolean;
  scopeDstHost: boolean;
  scopeSrcHost: boolean;
  scopeFlow: boolean;
  maxKeys: string;
  persist: boolean;
  /** Zero-fill horizon, minutes (0: off). */
  zeroFillMinutes?: string;
  /** Clip anomalous samples at μ + k·σ (0: off). */
  clipSigma?: string;
  priors?: boolean;
  /** Interface line rate, Mbit/s (empty or 0: none). */
  lineRateMbps?: string;
  /** Fraction of the line rate for the bootstrap thresholds, percent. */
  lineRatePercent?: string;
  lineRatePps?: string;
  /** `off` or `hour-of-day`. */
  seasonal?: string;
  seasonalDays?: string;
  /** `local` or `utc`. */
  seasonalTimeZone?: string;
  /** Maintenance schedules, one per line (cooldown-gate's syntax, see parseSchedules). */
  maintenanceSchedules?: string;
}

/** Topic of the message the node sends on its second output with the exported state. */
const EXPORT_TOPIC = 'baseline-export';
/** Topic of a message whose payload is a snapshot to import. */
const IMPORT_TOPIC = 'baseline-import';


const NUM = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/**
 * Reads an on/off control property the way cooldown-gate reads `msg.maintenance`, so that one
 * message can drive both: true, "on", "true", 1 → true; false, "off", "false", 0 → false; absent →
 * undefined; `t` gives the error text. @throws {TypeError} on anything else.
 */
function onOff(value: unknown, name: string, t: Translate): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === true || value === 'on' || value === 'true' || value === 1) return true;
  if (value === false || value === 'off' || value === 'false' || value === 0) return false;
  throw new TypeError(t('errors.onOff', { name }));
}

export = function (RED: NodeAPI): void {
  /** Texts of `nodes/locales/<lang>/ewma-baseline.json`. */
  const t = catalogue(RED, 'ewma-baseline');

  function EwmaBaselineNode(this: Node, config: EwmaBaselineNodeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;

    const scopes = scopesFromConfig(config, false);
    let options: BaselineOptions;
    let store: BaselineStore;
    try {
      // fastAlpha, slowAlpha, bootstrapMinutes: TypedInputs (a number, or env / flow / global read now)
      const c = resolveSettings(RED, node, config, ['fastAlpha', 'slowAlpha', 'bootstrapMinutes']);
      options = {
        fastAlpha: settingNumber(c.fastAlpha, 0.3, 'fastAlpha'),
        slowAlpha: settingNumber(c.slowAlpha, 0.05, 'slowAlpha'),
        bootstrapMs: settingNumber(c.bootstrapMinutes, 5, 'bootstrapMinutes') * 60_000,
        scopes,
        maxKeys: configNumber(config.maxKeys, 100_000),
        zeroFillHorizonMs: configNumber(config.zeroFillMinutes, 10) * 60_000,
        clipSigma: configNumber(config.clipSigma, 3),
        priors: config.priors !== false,
        lineRateBitsPerSecond: configNumber(config.lineRateMbps, 0) * 1e6,
        lineRatePacketsPerSecond: configNumber(config.lineRatePps, 0),
        lineRateFraction: configNumber(config.lineRatePercent, 10) / 100,
        seasonal: (config.seasonal === undefined || config.seasonal === '' ? 'off' : config.seasonal) as BaselineOptions['seasonal'],
        seasonalDays: configNumber(config.seasonalDays, 3),
        seasonalTimeZone: (config.seasonalTimeZone === undefined || config.seasonalTimeZone === '' ? 'local' : config.seasonalTimeZone) as BaselineOptions['seasonalTimeZone'],
        maintenanceSchedules: parseSchedules(config.maintenanceSchedules ?? ''),
      };
      store = new BaselineStore(options);
    } catch (err) {
      node.error(t('errors.badConfig', { reason: errorMessage(err) }));
      node.status(statusError(t('status.config', { reason: errorMessage(err) })));
      node.on('input', (_msg: NodeMessageInFlow, _send: unknown, done: (err?: Error) => void) => {
        done(new Error(t('errors.notConfigured', { reason: errorMessage(err) })));
      });
      return;
    }

    // ---- persistence ----
    /** True while a window is being annotated in slices: no snapshot of a half-annotated window is saved. */
    let annotating = false;
    const stateFile = config.persist !== false ? NodeStateFile.open(RED, node, 'baseline', t, () => (annotating ? undefined : store.toSnapshot())) : null;
    let restoreProblem: string | undefined;
    if (stateFile) {
      const restored = stateFile.restore((parsed: unknown) => BaselineStore.fromSnapshot(parsed, options));
      restoreProblem = restored.problem;
      if (restored.value) {
        store = restored.value;
        node.log(t('log.restored', { keys: store.stats().keys, file: stateFile.file }));
        for (const note of store.restoreNotes) node.log(t('log.restoreNote', { note }));
      }
    }

    const showStatus = (): void => {
      const st = store.stats();
      const modes = store.modes();
      const scheduled = store.scheduledMaintenance() !== undefined;
      const suffix = `${modes.frozen ? t('status.frozen') : ''}${modes.maintenance || scheduled ? t('status.maintenance') : ''}`;
      if (st.keys === 0) { node.status(statusOk(t('status.noKeys') + suffix)); return; }
      const parts = [t(st.keys === 1 ? 'status.key' : 'status.keys', { count: NUM.format(st.keys) }), t('status.mature', { percent: Math.floor((st.mature / st.keys) * 100) })];
      if (st.learning > 0) parts.push(t('status.learning', { count: NUM.format(st.learning) }));
      if (st.bootstrap > 0) parts.push(t('status.bootstrap', { count: NUM.format(st.bootstrap) }));
      const text = parts.join(t('status.separator')) + suffix;
      if (modes.frozen || modes.maintenance || scheduled) node.status({ fill: 'yellow', shape: 'dot', text });
      else if (st.bootstrap * 2 > st.keys) node.status({ fill: 'blue', shape: 'dot', text });
      else node.status(statusOk(text));
    };
    if (restoreProblem !== undefined) node.status(statusWarn(restoreProblem));
    else if (store.stats().keys > 0) showStatus();

    type ControlMessage = NodeMessageInFlow & { reset?: unknown; maintenance?: unknown; freeze?: unknown };
    const isWindow = (p: unknown): boolean => typeof p === 'object' && p !== null && (p as { kind?: unknown }).kind === 'netbaseline/window';

    /**
     * Messages are handled strictly one after another: a window is checked and annotated in slices
     * over several event-loop turns (./slices: about 12 ms per turn, so Node-RED stays responsive
     * while 100,000 records are baselined), and whatever arrives meanwhile waits its turn. When
     * nothing is waiting, a message is handled at once (a control message takes effect within the call).
     */
    let queue: Promise<void> = Promise.resolve();
    let waiting = 0;
    let closing = false;
    node.on('input', (msg: ControlMessage, send: (m: Array<NodeMessage | null>) => void, done: (err?: Error) => void) => {
      const run = (): Promise<void> => (closing ? Promise.resolve(done()) : handle(msg, send, done))
        .catch((err: unknown) => { node.error(errorMessage(err)); }) // handle() reports its own errors: this never runs, but no rejection may escape
        .finally(() => { waiting--; });
      queue = waiting++ === 0 ? run() : queue.then(run);
    });

    /** Annotates a checked window in slices; resolves with the annotated window. */
    const annotateInSlices = async (win: WindowMessage): Promise<WindowMessage> => {
      await runInSlices(win.records.length, (from, to) => assertWindowRecords(win.records, from, to)); // bad input: nothing learned yet
      annotating = true;
      try {
        const job = store.beginAnnotate(win);
        await runInSlices(win.records.length, (from, to) => { job.step(to - from); });
        // zero samples of the keys absent from the window (100,000 keys: in slices too)
        await runStepsInSlices(() => job.step(SLICE_ITEMS));
        const out = job.finish();
        markRecordsChecked(out.records); // every record was checked above: rule-detector need not check the values again
        return out;
      } finally {
        annotating = false;
      }
    };

    const handle = async (msg: ControlMessage, send: (m: Array<NodeMessage | null>) => void, done: (err?: Error) => void): Promise<void> => {
      try {
        // validate every control property before acting on any, so a bad one changes nothing
        const hasReset = msg.reset !== undefined && msg.reset !== false;
        if (hasReset && msg.reset !== true && !(typeof msg.reset === 'string' && msg.reset !== '')) {
          throw new TypeError(t('errors.badReset'));
        }
        const maintenance = onOff(msg.maintenance, 'maintenance', t);
        const freeze = onOff(msg.freeze, 'freeze', t);
        let control = false;
        if (msg.topic === IMPORT_TOPIC) {
          let snapshot: unknown = msg.payload;
          if (typeof snapshot === 'string') {
            try { snapshot = JSON.parse(snapshot); } catch (err) { throw new TypeError(t('errors.importNotJson', { reason: errorMessage(err) })); }
          }
          const imported = BaselineStore.fromSnapshot(snapshot, options); // throws on a bad snapshot: nothing changed
          store = imported;
          node.log(t('log.imported', { keys: store.stats().keys, notes: store.restoreNotes.length > 0 ? ` (${store.restoreNotes.join('; ')})` : '' }));
          stateFile?.markDirty();
          control = true;
        }
        if (hasReset) {
          if (msg.reset === true) store.reset();
          else store.reset(msg.reset as string);
          stateFile?.markDirty();
          control = true;
        }
        if (maintenance !== undefined) { store.setMaintenance(maintenance); stateFile?.markDirty(); control = true; }
        if (freeze !== undefined) { store.setFrozen(freeze); stateFile?.markDirty(); control = true; }
        if (msg.topic === EXPORT_TOPIC) {
          send([null, { topic: EXPORT_TOPIC, payload: store.toSnapshot() }]);
          control = true;
        }
        if (control && !isWindow(msg.payload)) {
          showStatus();
          done();
          return;
        }
        assertWindowHeader(msg.payload);
        msg.payload = await annotateInSlices(msg.payload);
        stateFile?.markDirty();
        send([msg, null]);
        showStatus();
        done();
      } catch (err) {
        rejectInput(node, err, done);
      }
    };

    node.on('close', (_removed: boolean, done: () => void) => {
      // the window being annotated finishes (the store stays consistent); queued messages are dropped
      closing = true;
      const closed = (): void => { if (stateFile) stateFile.close().then(done, done); else done(); };
      queue.then(closed, closed);
    });
  }
  RED.nodes.registerType('ewma-baseline', EwmaBaselineNode);
};
