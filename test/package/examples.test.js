'use strict';
/**
 * Every example flow, checked against the editor's own node definitions (nodes/*.html): the editor
 * does not fill in missing properties on import, so an example that lacks a property or holds a value
 * the validator rejects is imported as an invalid node and cannot be deployed.
 */
const { expect } = require('chai');
const fs = require('fs');
const path = require('path');
const { loadEditorDefinitions, invalidProperties } = require('../support/editor-defs');

const examplesDir = path.resolve(__dirname, '..', '..', 'examples');
const files = fs.readdirSync(examplesDir).filter((f) => f.endsWith('.json')).sort();

describe('example flows', function () {
  const defs = loadEditorDefinitions();

  it('reads the six node definitions from the editor files', function () {
    expect(Object.keys(defs)).to.have.members(['pcap-source', 'flow-aggregator', 'ewma-baseline', 'rule-detector', 'cooldown-gate', 'anomaly-formatter']);
  });

  for (const file of files) {
    describe(file, function () {
      const flow = JSON.parse(fs.readFileSync(path.join(examplesDir, file), 'utf8'));

      it('gives every node of ours every property of its definition, each valid', function () {
        const ours = flow.filter((n) => defs[n.type]);
        expect(ours.length).to.be.above(0);
        const problems = ours.map((n) => [n.id, n.type, invalidProperties(defs[n.type], n)]).filter(([, , bad]) => bad.length);
        expect(problems).to.deep.equal([]);
      });

      it('starts with a comment node that says what it shows and what to change', function () {
        const tab = flow.find((n) => n.type === 'tab');
        const nodes = flow.filter((n) => n.type !== 'tab' && (!tab || n.z === tab.id));
        const topmost = nodes.reduce((a, b) => ((b.y ?? 0) < (a.y ?? 0) ? b : a));
        expect(topmost.type, 'the topmost node').to.equal('comment');
        expect(`${topmost.name} ${topmost.info || ''}`).to.match(/change/i);
      });

      it('wires pcap-source\'s packet output to exactly one node (each extra wire deep-copies every batch)', function () {
        for (const src of flow.filter((n) => n.type === 'pcap-source')) expect(src.wires[0]).to.have.length(1);
      });
    });
  }
});
