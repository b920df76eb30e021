/**
 * Node-RED glue of the `flow-aggregator` node: packet batches in (from pcap-source), one message per
 * closed window out. The behaviour lives in {@link FlowAggregator} (`src/core/flow-aggregator.ts`).
 *
 * Input: `msg.payload` a PacketBatch; `msg.payload === "flush"` closes the open window;
 * `msg.reset === true` forgets all state (as Node-RED's smooth node does), then processes a batch in
 * `msg.payload` if there is one.
 * Output: per closed window `{ topic: <batch source>, payload: WindowMessage }`, oldest first.
 */
import type { NodeAPI, Node, NodeDef, NodeMessage } from 'node-red';
import { FlowAggregator } from '../core/flow-aggregator';
import type { FlowAggregatorOptions } from '../core/flow-aggregator';
import type { PacketBatch, WindowMessage } from '../core/contracts';
import { catalogue, compactNumber, configNumber, errorMessage, rejectInput, scopesFromConfig, statusError, statusIdle, statusOk, statusWarn } from './glue';

/** Editor fields of the node (numbers arrive as strings, checkboxes as booleans). */
interface FlowAggregatorNodeDef extends NodeDef {
  /** Window (s), default 10. */
  windowSeconds?: string | number;
  /** Max flows, default 100 000. */
  maxFlows?: string | number;
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
  scopeInterface?: boolean;
  scopeDstHost?: boolean;
  scopeSrcHost?: boolean;
  scopeFlow?: boolean;
}

/** Turns the editor config into core options (does not validate: the core does, with a RangeError). */
function optionsFromConfig(config: FlowAggregatorNodeDef): FlowAggregatorOptions {
  // a flow saved before the checkboxes existed has none of them: emit every scope
  const scopes = scopesFromConfig(config, true);
  const name = typeof config.interfaceName === 'string' ? config.interfaceName.trim() : '';
  const options: FlowAggregatorOptions = {
    windowMs: Math.round(configNumber(config.windowSeconds, 10) * 1000),
    maxFlows: configNumber(config.maxFlows, 100_000),
    maxHostsPerWindow: configNumber(config.maxHostsPerWindow, 50_000),
    flowIdleTimeoutMs: Math.round(configNumber(config.flowIdleTimeoutSeconds, 60) * 1000),
    flowActiveTimeoutMs: Math.round(configNumber(config.flowActiveTimeoutSeconds, 1800) * 1000),
    emergencyIdleTimeoutMs: Math.round(configNumber(config.emergencyIdleTimeoutSeconds, 10) * 1000),
    emergencyRecoveryPercent: configNumber(config.emergencyRecoveryPercent, 30),
    scopes,
  };
  if (name !== '') options.interfaceName = name;
  if (typeof config.internalNetworks === 'string' && config.internalNetworks.trim() !== '') {
    options.internalNetworks = config.internalNetworks.split(/[\s,]+/).filter((c) => c !== '');
  }
  return options;
}

export = function (RED: NodeAPI): void {
  /** Texts of `nodes/locales/<lang>/flow-aggregator.json`. */
  const t = catalogue(RED, 'flow-aggregator');

  function FlowAggregatorNode(this: Node, config: FlowAggregatorNodeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    let core: FlowAggregator | undefined;
    let configError = '';
    try {
      core = new FlowAggregator(optionsFromConfig(config));
      node.status(statusIdle(t('status.waiting')));
    } catch (err) {
      configError = errorMessage(err);
      node.error(t('errors.badConfig', { reason: configError }));
      node.status(statusError(configError));
    }
    let seenFlowEvictions = 0;
    let seenHostEvictions = 0;

    function showStatus(agg: FlowAggregator): void {
      const c = agg.counters;
      if (c.emergencyMode === 1) {
        node.status(statusWarn(t('status.emergency', { evicted: compactNumber(c.flowEvictions) })));
      } else if (c.flowEvictions > seenFlowEvictions) {
        node.status(statusWarn(t('status.flowTableFull', { evicted: compactNumber(c.flowEvictions) })));
      } else if (c.hostEvictions > seenHostEvictions) {
        node.status(statusWarn(t('status.hostCapHit', { refused: compactNumber(c.hostEvictions) })));
      } else {
        node.status(statusOk(t('status.running', { flows: compactNumber(c.trackedFlows), windows: compactNumber(c.windows) })));
      }
      seenFlowEvictions = c.flowEvictions;
      seenHostEvictions = c.hostEvictions;
    }

    node.on('input', (msg, send, done) => {
      try {
        if (core === undefined) throw new Error(t('errors.notConfigured', { reason: configError }));
        const m = msg as NodeMessage & { reset?: unknown };
        if (m.reset === true) {
          core.reset();
          seenFlowEvictions = seenHostEvictions = 0;
          if (m.payload === undefined || m.payload === null || typeof m.payload !== 'object') {
            node.status(statusIdle(t('status.reset')));
            done();
            return;
          }
        }
        let windows: WindowMessage[];
        if (m.payload === 'flush') windows = core.flush(false);
        else windows = core.ingest(m.payload as PacketBatch); // throws ContractError on a bad payload, state kept
        if (windows.length > 0) {
          send([windows.map((w): NodeMessage => ({ topic: w.source, payload: w }))]);
        }
        showStatus(core);
        done();
      } catch (err) {
        rejectInput(node, err, done);
      }
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      // no timers or handles: windows close on packet time and batch clocks only
      done();
    });
  }
  RED.nodes.registerType('flow-aggregator', FlowAggregatorNode);
};
