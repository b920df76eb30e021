/**
 * Node-RED glue of the `cooldown-gate` node: cooldown, resolved events, incidents, maintenance and
 * persistence of the alert state under `<userDir>/netbaseline/cooldown-<node id>.json`. Behaviour
 * lives in {@link CooldownGate} (`src/core/cooldown.ts`).
 *
 * Inputs: anomaly events (rule-detector), window messages as ticks (`payload.kind`
 * `netbaseline/window`: only `windowEnd` and `final` are read), and control messages
 * (`msg.maintenance`, `msg.query`, `msg.reset`). Outputs: 1 anomalies (firing and resolved),
 * 2 maintenance summaries, 3 answers to `msg.query`.
 */
import { NodeStateFile } from './state-file';
import type { NodeAPI, Node, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { CooldownGate, parseSchedules } from '../core/cooldown';
import type { CooldownOptions, GateOutput, NotifyMode } from '../core/cooldown';
import { assertAnomalyEvent } from '../core/contracts';
import type { AnomalyEvent } from '../core/contracts';
import { catalogue, compactNumber, errorMessage, rejectInput, resolveSettings, settingNumber, statusError, statusIdle, statusOk, statusWarn, type SettingType } from './glue';

/** Editor configuration (fields arrive as strings). */
interface CooldownGateNodeDef extends NodeDef {
  /** Cooldown in minutes of packet time; default 5. */
  cooldown: string;
  /** Where {@link cooldown} comes from (TypedInput): typed in (`num`, the default), `env`, `flow` or `global`. */
  cooldownType?: SettingType;
  /** Seconds of packet time without an event before an anomaly is resolved; default 30; 0 never. */
  resolveAfterSeconds?: string;
  resolveAfterSecondsType?: SettingType;
  /** Seconds of packet time during which related events join an incident; default 60. */
  incidentWindowSeconds?: string;
  incidentWindowSecondsType?: SettingType;
  /** `event` or `incident`; default `event`. */
  notify?: string;
  /** Maintenance schedules, one per line (see parseSchedules). */
  schedules?: string;
  /** Keep the state in the user directory; default true. */
  persist?: boolean;
}

/** Default cooldown of the node, in minutes. */
const DEFAULT_COOLDOWN_MIN = 5;
/** Wall-clock wait (ms) to collect the events rule-detector sends for one window, in incident mode. */
const GROUP_WAIT_MS = 20;

type ControlMessage = NodeMessageInFlow & { reset?: unknown; maintenance?: unknown; query?: unknown };

export = function (RED: NodeAPI): void {
  /** Texts of `nodes/locales/<lang>/cooldown-gate.json`. */
  const t = catalogue(RED, 'cooldown-gate');

  function CooldownGateNode(this: Node, config: CooldownGateNodeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    let gate: CooldownGate | null = null;
    let options: CooldownOptions = {};
    let configError = '';
    try {
      const notify = (config.notify === undefined || config.notify === '' ? 'event' : config.notify) as NotifyMode;
      const c = resolveSettings(RED, node, config, ['cooldown', 'resolveAfterSeconds', 'incidentWindowSeconds']);
      options = {
        cooldownMs: settingNumber(c.cooldown, DEFAULT_COOLDOWN_MIN, 'cooldown') * 60_000,
        resolveAfterMs: settingNumber(c.resolveAfterSeconds, 30, 'resolveAfterSeconds') * 1000,
        incidentWindowMs: settingNumber(c.incidentWindowSeconds, 60, 'incidentWindowSeconds') * 1000,
        notify,
        schedules: parseSchedules(config.schedules ?? ''),
      };
      gate = new CooldownGate(options);
    } catch (err) {
      configError = t('errors.badConfig', { reason: errorMessage(err) });
      node.error(configError);
      node.status(statusError(configError));
    }

    // ---- persistence ----
    const stateFile = gate && config.persist !== false ? NodeStateFile.open(RED, node, 'cooldown', t, () => gate!.toSnapshot()) : null;
    let restoreProblem = '';
    if (stateFile) {
      const restored = stateFile.restore((parsed: unknown) => CooldownGate.fromSnapshot(parsed, options));
      restoreProblem = restored.problem ?? '';
      if (restored.value) {
        const st = restored.value.stats();
        gate = restored.value;
        node.log(t('log.restored', { keys: st.keys, incidents: st.incidents, file: stateFile.file }));
      }
    }

    const showStatus = (): void => {
      if (!gate) return;
      const s = gate.stats();
      const text = t('status.running', { open: compactNumber(s.keys), passed: compactNumber(s.passed), held: compactNumber(s.suppressed) });
      if (s.maintenance) node.status({ fill: 'blue', shape: 'ring', text: t('status.maintenance', { text }) });
      else node.status(statusOk(text));
    };
    if (restoreProblem) node.status(statusWarn(restoreProblem));
    else if (gate && gate.stats().keys > 0) showStatus();
    else if (gate) node.status(statusIdle(t('status.waiting')));

    /** Sends gate output: events on output 1 (each its own message), summaries on output 2. */
    const emit = (out: GateOutput, template?: NodeMessage): void => {
      for (const event of out.events) {
        const msg: NodeMessage = template ? { ...template } : {};
        msg.payload = event;
        msg.topic = event.key;
        node.send([msg, null, null]);
      }
      for (const summary of out.summaries) node.send([null, { topic: 'maintenance', payload: summary }, null]);
      if (out.events.length > 0 || out.summaries.length > 0) stateFile?.markDirty();
    };

    // ---- incident mode: collect the events of one window before deciding on the page ----
    let pending: Array<{ msg: NodeMessageInFlow; event: AnomalyEvent }> = [];
    let pendingTimer: NodeJS.Timeout | undefined;
    const flush = (): void => {
      if (pendingTimer !== undefined) { clearTimeout(pendingTimer); pendingTimer = undefined; }
      if (!gate || pending.length === 0) return;
      const batch = pending;
      pending = [];
      try {
        const out = gate.offerAll(batch.map((p) => p.event)); // validated on arrival
        for (const event of out.events) {
          const source = batch.find((p) => p.event.key === event.key && p.event.rule === event.rule && p.event.time === event.time)?.msg;
          const msg: NodeMessage = source ? { ...source } : {};
          msg.payload = event;
          msg.topic = event.key;
          node.send([msg, null, null]);
        }
        for (const summary of out.summaries) node.send([null, { topic: 'maintenance', payload: summary }, null]);
        stateFile?.markDirty();
        showStatus();
      } catch (err) {
        node.error(t('errors.flushFailed', { reason: errorMessage(err) }));
        node.status(statusError(errorMessage(err)));
      }
    };

    node.on('input', (msg: ControlMessage, send, done) => {
      try {
        if (!gate) throw new Error(configError);
        if (msg.reset === true) {
          flush();
          gate.reset();
          stateFile?.markDirty();
          node.status(statusIdle(t('status.reset')));
          done();
          return;
        }
        if (msg.maintenance !== undefined) {
          flush();
          const m = msg.maintenance;
          const on = m === true || m === 'on' || m === 'true' || m === 1;
          if (!on && !(m === false || m === 'off' || m === 'false' || m === 0)) {
            throw new TypeError(t('errors.badMaintenance'));
          }
          const summary = gate.setMaintenance(on);
          if (summary) send([null, { ...msg, topic: 'maintenance', payload: summary }, null]);
          stateFile?.markDirty();
          showStatus();
          done();
          return;
        }
        if (msg.query !== undefined) {
          flush();
          if (msg.query !== 'open' && msg.query !== 'stats') throw new TypeError(t('errors.badQuery'));
          const reply = { ...msg };
          reply.payload = msg.query === 'open' ? gate.openAnomalies() : gate.stats();
          send([null, null, reply]);
          done();
          return;
        }
        const payload = msg.payload as { kind?: unknown; windowEnd?: unknown; final?: unknown } | null;
        if (payload !== null && typeof payload === 'object' && payload.kind === 'netbaseline/window') {
          flush();
          const end = payload.windowEnd;
          if (typeof end !== 'number' || !Number.isFinite(end)) throw new TypeError(t('errors.badTick'));
          const out = payload.final === true ? gate.endOfRun(end) : gate.advance(end);
          emit(out);
          if (gate.stats().keys > 0 || gate.stats().passed > 0) showStatus();
          done();
          return;
        }
        if (gate.notify === 'incident') {
          assertAnomalyEvent(msg.payload); // a bad message is rejected on its own, before it is buffered
          const event = structuredClone(msg.payload);
          if (pending.length > 0 && pending[0]!.event.time !== event.time) flush();
          pending.push({ msg, event });
          if (pendingTimer === undefined) pendingTimer = setTimeout(flush, GROUP_WAIT_MS);
          done();
          return;
        }
        const decision = gate.offer(msg.payload as never); // validates, throws ContractError
        if (decision.pass) {
          msg.payload = decision.event;
          msg.topic = decision.event.key;
          send([msg, null, null]);
        }
        stateFile?.markDirty();
        showStatus();
        done();
      } catch (err) {
        rejectInput(node, err, done);
      }
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      flush();
      if (stateFile) stateFile.close().then(done, done);
      else done();
    });
  }
  RED.nodes.registerType('cooldown-gate', CooldownGateNode);
};
