/**
 * Node-RED glue of the `anomaly-formatter` node: shapes an anomaly (or a maintenance summary) for a
 * receiving node: text, JSON, e-mail, MQTT, Slack/Teams/Discord webhooks, syslog or CEF lines.
 * Behaviour lives in {@link formatAnomaly} (`src/core/formatter.ts`).
 */
import * as os from 'os';
import type { NodeAPI, Node, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { checkTopicTemplate, formatAnomaly, FORMAT_SHAPES } from '../core/formatter';
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

type OutMessage = NodeMessageInFlow & { plaintext?: string; retain?: boolean; headers?: Record<string, string> };

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
        const out = formatAnomaly(msg.payload as never, shape, options); // validates, throws ContractError
        msg.topic = out.topic;
        msg.payload = out.payload;
        if (out.plaintext !== undefined) msg.plaintext = out.plaintext; // node-red-node-email's text alternative
        if (out.retain !== undefined) msg.retain = out.retain;
        if (out.headers !== undefined) msg.headers = { ...out.headers };
        if (out.clearRetained) {
          // resolved: the event, then an empty retained payload that clears the topic's retained state
          const clear: NodeMessage = { topic: out.topic, payload: '', retain: true } as NodeMessage;
          send([[msg, clear]]);
        } else {
          send(msg);
        }
        sent++;
        node.status(statusOk(t('status.sent', { shape, sent: compactNumber(sent) })));
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
