/**
 * Node-RED glue of the `flow-aggregator` node: packet batches in (from pcap-source), one message per
 * closed window out. The behaviour lives in {@link FlowAggregator} (`src/core/flow-aggregator.ts`).
 *
 * Input: `msg.payload` a PacketBatch; `msg.payload === "flush"` closes the open window;
 * `msg.reset === true` forgets all state (as Node-RED's smooth node does), then processes a batch in
 * `msg.payload` if there is one.
 * Output: per closed window `{ topic: <batch source>, payload: WindowMessage }`, oldest first.
 * Messages are handled in order, each in bounded steps with yields to the event loop in between
 * (`FlowAggregator.beginIngest`, `./slices`), so that a window close does not block Node-RED.
 */
import type { NodeAPI, Node, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { FlowAggregator } from '../core/flow-aggregator';
import type { FlowAggregatorOptions } from '../core/flow-aggregator';
import type { AggregatorCounters, PacketBatch } from '../core/contracts';
import { runStepsInSlices } from './slices';
import { catalogue, compactNumber, configNumber, errorMessage, rejectInput, resolveSettings, scopesFromConfig, settingNumber, statusError, statusIdle, statusOk, statusWarn, type SettingType } from './glue';

/** Editor fields of the node (numbers arrive as strings, checkboxes as booleans). */
interface FlowAggregatorNodeDef extends NodeDef {
  /** Window (s), default 10. */
  windowSeconds?: string | number;
  /** Where {@link windowSeconds} comes from (TypedInput): typed in (`num`), `env`, `flow` or `global`. */
  windowSecondsType?: SettingType;
  /** Max flows, default 100 000. */
  maxFlows?: string | number;
  /** Where {@link maxFlows} comes from: `num` or `env`. */
  maxFlowsType?: SettingType;
  /** Max hosts per window (each of srcHost / dstHost), default 50 000. */
  maxHostsPerWindow?: string | number;
  /** Flow idle timeout (s), default 60. */
  flowIdleTimeoutSeconds?: string | number;
  /** Flow active timeout (s), default 1800; 0 = no interim reports. */
  flowActiveTimeoutSeconds?: string | number;
  /** Idle timeout in emergency mode (s), default 10. */
  emergencyIdleTimeoutSeconds?: string | number;
  /** Emergency recovery (%), default 30. */
  emergencyRecoveryPercent?: string | number;
  /** Interface name in the interface record key; empty = base name of the batch source. */
  interfaceName?: string;
  /** Internal networks: CIDR prefixes separated by commas, spaces or new lines; empty = no direction tagging. */
  internalNetworks?: string;
  /** Where {@link internalNetworks} comes from: typed in (`str`), `env`, `flow` or `global` (a string, or an array of CIDRs). */
  internalNetworksType?: SettingType;
  scopeInterface?: boolean;
  scopeDstHost?: boolean;
  scopeSrcHost?: boolean;
  scopeFlow?: boolean;
  scopeService?: boolean;
  scopeHostPair?: boolean;
  scopeSubnet?: boolean;
  /** Prefix length of IPv4 subnet records, default 24. */
  subnetPrefixV4?: string | number;
  /** Prefix length of IPv6 subnet records, default 64. */
  subnetPrefixV6?: string | number;
}

/** Turns the editor config into core options (does not validate: the core does, with a RangeError). */
function optionsFromConfig(config: FlowAggregatorNodeDef): FlowAggregatorOptions {
  // a flow saved before the checkboxes existed has none of them: interface, hosts and flows (service, host pair, subnet are opt-in)
  const scopes = scopesFromConfig(config, true);
  const name = typeof config.interfaceName === 'string' ? config.interfaceName.trim() : '';
  const options: FlowAggregatorOptions = {
    windowMs: Math.round(settingNumber(config.windowSeconds, 10, 'windowSeconds') * 1000),
    maxFlows: settingNumber(config.maxFlows, 100_000, 'maxFlows'),
    maxHostsPerWindow: configNumber(config.maxHostsPerWindow, 50_000),
    flowIdleTimeoutMs: Math.round(configNumber(config.flowIdleTimeoutSeconds, 60) * 1000),
    flowActiveTimeoutMs: Math.round(configNumber(config.flowActiveTimeoutSeconds, 1800) * 1000),
    emergencyIdleTimeoutMs: Math.round(configNumber(config.emergencyIdleTimeoutSeconds, 10) * 1000),
    emergencyRecoveryPercent: configNumber(config.emergencyRecoveryPercent, 30),
    subnetPrefixV4: configNumber(config.subnetPrefixV4, 24),
    subnetPrefixV6: configNumber(config.subnetPrefixV6, 64),
    scopes,
  };
  if (name !== '') options.interfaceName = name;
  const nets: unknown = config.internalNetworks;
  if (Array.isArray(nets)) {
    options.internalNetworks = nets.map((c) => String(c).trim()).filter((c) => c !== '');
  } else if (typeof nets === 'string' && nets.trim() !== '') {
    options.internalNetworks = nets.split(/[\s,]+/).filter((c) => c !== '');
  }
  return options;
}

/** Packets refused by the service, host-pair and subnet tables (cumulative). */
function keyEvictions(c: AggregatorCounters): number {
  return (c.serviceEvictions ?? 0) + (c.hostPairEvictions ?? 0) + (c.subnetEvictions ?? 0);
}

/**
 * Turn budget of the aggregator, ms: longer than ./slices' default (12 ms), so that a batch and the
 * close of a small window finish within one turn as they did synchronously (the node keeps pace with
 * pcap-source's reader instead of queueing its batches), while a close of 100,000 records still runs
 * in turns of about this length plus one step (2,048 packets or 128 records: a few ms).
 */
const SLICE_BUDGET_MS_AGGREGATOR = 20;

export = function (RED: NodeAPI): void {
  /** Texts of `nodes/locales/<lang>/flow-aggregator.json`. */
  const t = catalogue(RED, 'flow-aggregator');

  function FlowAggregatorNode(this: Node, config: FlowAggregatorNodeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    let core: FlowAggregator | undefined;
    let configError = '';
    try {
      // window, flow cap and internal networks are TypedInputs: typed in, or read now from env / flow / global
      core = new FlowAggregator(optionsFromConfig(resolveSettings(RED, node, config, ['windowSeconds', 'maxFlows', 'internalNetworks'])));
      node.status(statusIdle(t('status.waiting')));
    } catch (err) {
      configError = errorMessage(err);
      node.error(t('errors.badConfig', { reason: configError }));
      node.status(statusError(configError));
    }
    let seenFlowEvictions = 0;
    let seenHostEvictions = 0;
    let seenKeyEvictions = 0;

    function showStatus(agg: FlowAggregator): void {
      const c = agg.counters;
      if (c.emergencyMode === 1) {
        node.status(statusWarn(t('status.emergency', { evicted: compactNumber(c.flowEvictions) })));
      } else if (c.flowEvictions > seenFlowEvictions) {
        node.status(statusWarn(t('status.flowTableFull', { evicted: compactNumber(c.flowEvictions) })));
      } else if (c.hostEvictions > seenHostEvictions) {
        node.status(statusWarn(t('status.hostCapHit', { refused: compactNumber(c.hostEvictions) })));
      } else if (keyEvictions(c) > seenKeyEvictions) {
        node.status(statusWarn(t('status.recordCapHit', { refused: compactNumber(keyEvictions(c)) })));
      } else {
        node.status(statusOk(t('status.running', { flows: compactNumber(c.trackedFlows), windows: compactNumber(c.windows) })));
      }
      seenFlowEvictions = c.flowEvictions;
      seenHostEvictions = c.hostEvictions;
      seenKeyEvictions = keyEvictions(c);
    }

    /**
     * Messages are handled strictly one after another: a batch is folded, and each window it closes
     * is built, in bounded steps ({@link AggregatorJob}) over several event-loop turns
     * (./slices, turns of about {@link SLICE_BUDGET_MS_AGGREGATOR} ms), so that a window close of 100,000 records never holds
     * Node-RED for long; whatever arrives meanwhile waits its turn. When nothing is waiting, a
     * message starts at once (a small batch is folded within the call). The windows of one input
     * message are sent together once its job is done, oldest first, as the synchronous core returns them.
     */
    let queue: Promise<void> = Promise.resolve();
    let waiting = 0;
    let closing = false;
    node.on('input', (msg: NodeMessageInFlow, send: (m: NodeMessage[][]) => void, done: (err?: Error) => void) => {
      const run = (): Promise<void> => (closing ? Promise.resolve(done()) : handle(msg, send, done))
        .catch((err: unknown) => { node.error(errorMessage(err)); }) // handle() reports its own errors: this never runs, but no rejection may escape
        .finally(() => { waiting--; });
      queue = waiting++ === 0 ? run() : queue.then(run);
    });

    const handle = async (msg: NodeMessageInFlow, send: (m: NodeMessage[][]) => void, done: (err?: Error) => void): Promise<void> => {
      try {
        if (core === undefined) throw new Error(t('errors.notConfigured', { reason: configError }));
        const agg = core;
        const m = msg as NodeMessage & { reset?: unknown };
        if (m.reset === true) {
          agg.reset();
          seenFlowEvictions = seenHostEvictions = seenKeyEvictions = 0;
          if (m.payload === undefined || m.payload === null || typeof m.payload !== 'object') {
            node.status(statusIdle(t('status.reset')));
            done();
            return;
          }
        }
        // beginIngest checks the batch now: a bad payload throws here (ContractError), state kept
        const job = m.payload === 'flush' ? agg.beginFlush(false) : agg.beginIngest(m.payload as PacketBatch);
        await runStepsInSlices(() => job.step(), SLICE_BUDGET_MS_AGGREGATOR);
        const windows = job.windows;
        if (windows.length > 0) {
          send([windows.map((w): NodeMessage => ({ topic: w.source, payload: w }))]);
        }
        showStatus(agg);
        done();
      } catch (err) {
        rejectInput(node, err, done);
      }
    };

    node.on('close', (_removed: boolean, done: () => void) => {
      // no timers or handles: windows close on packet time and batch clocks only. The message being
      // handled finishes (the aggregator stays consistent); messages still queued are dropped.
      closing = true;
      queue.then(() => done(), () => done());
    });
  }
  RED.nodes.registerType('flow-aggregator', FlowAggregatorNode);
};
