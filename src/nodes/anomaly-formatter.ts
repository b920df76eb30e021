/**
 * Node-RED glue of the `anomaly-formatter` node: shapes an anomaly (or a maintenance summary) for a
 * receiving node: text, JSON, e-mail, MQTT, Slack/Teams/Discord webhooks, syslog or CEF lines, and
 * FlowFuse Dashboard 2 table rows, notifications and chart points.
 * Behaviour lives in {@link formatMessages} (`src/core/formatter.ts`).
 *
 * `dashboard-chart` also takes control messages: `msg.chartKey` / `msg.chartMetric` (strings)
 * choose what to plot from then on (an empty string: every key / the anomaly's own metric) and
 * clear the chart with `payload: []`. The choice lasts until the node is redeployed.
 */
import * as os from 'os';
import type { NodeAPI, Node, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { checkTopicTemplate, DEFAULT_CHART_METRIC, formatMessages, FORMAT_SHAPES } from '../core/formatter';
import type { FormatOptions, FormatShape } from '../core/formatter';
import { catalogue, compactNumber, configNumber, errorMessage, rejectInput, statusError, statusIdle, statusOk } from './glue';

/** Editor configuration. */
interface AnomalyFormatterNodeDef extends NodeDef {
  /** One of {@link FORMAT_SHAPES}; default `text`. */
  shape: string;
  /** `mqtt`: topic template; default `netbaseline/{severity}/{scope}/{key}`. */
  topicTemplate?: string;
  /** `mqtt`: retained current state. */
  retain?: boolean;
  /** `syslog`: HOSTNAME; empty: this machine's host name. */
  hostname?: string;
  /** `syslog`: facility 0–23; default 16 (local0). */
  facility?: string;
}

type OutMessage = NodeMessageInFlow & {
  plaintext?: string; retain?: boolean; headers?: Record<string, string>; ui_update?: { color: string };
  chartKey?: unknown; chartMetric?: unknown;
};

export = function (RED: NodeAPI): void {
  /** Texts of `nodes/locales/<lang>/anomaly-formatter.json`. */
  const t = catalogue(RED, 'anomaly-formatter');

  function AnomalyFormatterNode(this: Node, config: AnomalyFormatterNodeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const shape = (config.shape === undefined || config.shape === '' ? 'text' : config.shape) as FormatShape;
    const options: FormatOptions = {
      topicTemplate: config.topicTemplate || undefined,
      retain: config.retain === true,
      hostname: config.hostname || os.hostname(),
      facility: configNumber(config.facility, 16),
      // dashboard-chart: chosen by control messages (msg.chartKey / msg.chartMetric); empty = every key / the anomaly's metric
      chartKey: '',
      chartMetric: '',
    };
    let configError = FORMAT_SHAPES.includes(shape)
      ? ''
      : t('errors.badShape', { shapes: FORMAT_SHAPES.join(', '), value: JSON.stringify(config.shape) ?? 'undefined' });
    if (!configError && shape === 'mqtt' && options.topicTemplate !== undefined) {
      try { checkTopicTemplate(options.topicTemplate); } catch (err) { configError = errorMessage(err); }
    }
    if (!configError && shape === 'syslog' && !(Number.isInteger(options.facility) && options.facility! >= 0 && options.facility! <= 23)) {
      configError = t('errors.badFacility', { value: JSON.stringify(config.facility) ?? 'undefined' });
    }
    let sent = 0;
    if (configError) {
      node.error(configError);
      node.status(statusError(configError));
    } else {
      node.status(statusIdle(t('status.sent', { shape, sent: '0' })));
    }

    node.on('input', (msg: OutMessage, send, done) => {
      try {
        if (configError) throw new Error(configError);
        if (shape === 'dashboard-chart' && (msg.chartKey !== undefined || msg.chartMetric !== undefined)) {
          // control: choose the key / metric to plot, and clear the chart (ui-chart clears on an empty array)
          for (const [field, value] of [['chartKey', msg.chartKey], ['chartMetric', msg.chartMetric]] as const) {
            if (value !== undefined && typeof value !== 'string') throw new TypeError(t('errors.badChartControl', { field, value: JSON.stringify(value) ?? String(value) }));
          }
          if (typeof msg.chartKey === 'string') options.chartKey = msg.chartKey.trim();
          if (typeof msg.chartMetric === 'string') options.chartMetric = msg.chartMetric.trim();
          send({ topic: 'netbaseline/chart', payload: [] } as NodeMessage);
          node.status(statusOk(t('status.chart', { key: options.chartKey || t('status.anyKey'), metric: options.chartMetric || t('status.defaultMetric', { metric: DEFAULT_CHART_METRIC }) })));
          done();
          return;
        }
        const outs = formatMessages(msg.payload, shape, options); // validates, throws ContractError
        if (shape === 'dashboard-chart') {
          if (outs.length > 0) {
            send([outs.map((o) => ({ ...msg, topic: o.topic, payload: o.payload }) as NodeMessage)]);
            sent += outs.length;
            node.status(statusOk(t('status.points', { key: options.chartKey || t('status.anyKey'), sent: compactNumber(sent) })));
          }
          done();
          return;
        }
        const out = outs[0]!;
        msg.topic = out.topic;
        msg.payload = out.payload;
        if (out.plaintext !== undefined) msg.plaintext = out.plaintext; // node-red-node-email's text alternative
        if (out.retain !== undefined) msg.retain = out.retain;
        if (out.headers !== undefined) msg.headers = { ...out.headers };
        if (out.uiUpdate !== undefined) msg.ui_update = { ...out.uiUpdate }; // ui-notification's border colour
        if (out.clearRetained) {
          // resolved: the event, then an empty retained payload that clears the topic's retained state
          const clear: NodeMessage = { topic: out.topic, payload: '', retain: true } as NodeMessage;
          send([[msg, clear]]);
        } else {
          send(msg);
        }
        sent++;
        node.status(statusOk(shape === 'dashboard-table'
          ? t('status.open', { open: compactNumber((out.payload as unknown[]).length) })
          : t('status.sent', { shape, sent: compactNumber(sent) })));
        done();
      } catch (err) {
        rejectInput(node, err, done);
      }
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      done();
    });
  }
  RED.nodes.registerType('anomaly-formatter', AnomalyFormatterNode);
};
