/**
 * Node-RED glue of the `anomaly-formatter` node: shapes an anomaly as text, JSON (with an MQTT
 * topic) or an e-mail. Behaviour lives in {@link formatAnomaly} (`src/core/formatter.ts`).
 */
import type { NodeAPI, Node, NodeDef, NodeMessageInFlow } from 'node-red';
import { formatAnomaly, FORMAT_SHAPES } from '../core/formatter';
import type { FormatShape } from '../core/formatter';
import { compactNumber, rejectInput, statusError, statusIdle, statusOk } from './glue';

/** Editor configuration. */
interface AnomalyFormatterNodeDef extends NodeDef {
  /** `text`, `json` or `email`; default `text`. */
  shape: string;
}

export = function (RED: NodeAPI): void {
  function AnomalyFormatterNode(this: Node, config: AnomalyFormatterNodeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const shape = (config.shape === undefined || config.shape === '' ? 'text' : config.shape) as FormatShape;
    const configError = FORMAT_SHAPES.includes(shape)
      ? ''
      : `shape must be one of ${FORMAT_SHAPES.join(', ')}, got ${JSON.stringify(config.shape)}`;
    let sent = 0;
    if (configError) {
      node.error(configError);
      node.status(statusError(configError));
    } else {
      node.status(statusIdle(`${shape} · 0 sent`));
    }

    node.on('input', (msg: NodeMessageInFlow & { plaintext?: string }, send, done) => {
      try {
        if (configError) throw new Error(configError);
        const out = formatAnomaly(msg.payload as never, shape); // validates, throws ContractError
        msg.topic = out.topic;
        msg.payload = out.payload;
        if (out.plaintext !== undefined) msg.plaintext = out.plaintext; // node-red-node-email's text alternative
        send(msg);
        sent++;
        node.status(statusOk(`${shape} · ${compactNumber(sent)} sent`));
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
