// Placeholder: replaced by the real glue of the ewma-baseline node.
import type { NodeAPI, Node, NodeDef } from 'node-red';

export = function (RED: NodeAPI): void {
  function Placeholder(this: Node, config: NodeDef): void {
    RED.nodes.createNode(this, config);
  }
  RED.nodes.registerType('ewma-baseline', Placeholder);
};
