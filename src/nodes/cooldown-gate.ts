/**
 * Node-RED glue of the `cooldown-gate` node: holds back repeated anomalies per key and rule for a
 * cooldown of packet time. Behaviour lives in {@link CooldownGate} (`src/core/cooldown.ts`).
 */
import type { NodeAPI, Node, NodeDef, NodeMessageInFlow } from 'node-red';
import { CooldownGate } from '../core/cooldown';
import { compactNumber, configNumber, errorMessage, rejectInput, statusError, statusIdle, statusOk } from './glue';

/** Editor configuration (fields arrive as strings). */
interface CooldownGateNodeDef extends NodeDef {
  /** Cooldown in minutes of packet time; default 5. */
  cooldown: string;
}

/** Default cooldown of the node, in minutes. */
const DEFAULT_COOLDOWN_MIN = 5;

export = function (RED: NodeAPI): void {
  function CooldownGateNode(this: Node, config: CooldownGateNodeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    let gate: CooldownGate | null = null;
    let configError = '';
    try {
      const minutes = configNumber(config.cooldown, DEFAULT_COOLDOWN_MIN);
      gate = new CooldownGate({ cooldownMs: minutes * 60_000 });
    } catch (err) {
      configError = `cooldown: ${errorMessage(err)}`;
      node.error(configError);
      node.status(statusError(configError));
    }
    if (gate) node.status(statusIdle('waiting for anomalies'));

    const showCounts = (g: CooldownGate): void => {
      const s = g.stats();
      node.status(statusOk(`${compactNumber(s.passed)} passed · ${compactNumber(s.suppressed)} held`));
    };

    node.on('input', (msg: NodeMessageInFlow & { reset?: unknown }, send, done) => {
      try {
        if (!gate) throw new Error(configError);
        if (msg.reset === true) {
          gate.reset();
          node.status(statusIdle('reset · 0 passed · 0 held'));
          done();
          return;
        }
        const decision = gate.offer(msg.payload as never); // validates, throws ContractError
        if (decision.pass) {
          msg.payload = decision.event;
          msg.topic = decision.event.key;
          send(msg);
        }
        showCounts(gate);
        done();
      } catch (err) {
        rejectInput(node, err, done);
      }
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      // nothing to release: no timers, no handles
      done();
    });
  }
  RED.nodes.registerType('cooldown-gate', CooldownGateNode);
};
