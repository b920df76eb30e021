'use strict';
/**
 * Reads the node definitions (`RED.nodes.registerType('<type>', {...})`) out of the editor files in
 * nodes/*.html by running their `<script type="text/javascript">` blocks against a stand-in of the
 * editor's `RED` and `$`, so that tests can check flows against `defaults` and their validators the
 * way the editor does on import.
 */
const fs = require('fs');
const path = require('path');
const vm = require('vm');

const nodesDir = path.resolve(__dirname, '..', '..', 'nodes');

function loadEditorDefinitions() {
  const defs = {};
  const RED = {
    nodes: { registerType: (type, def) => { defs[type] = def; } },
    validators: {
      number: (blankAllowed) => (v) => (blankAllowed && (v === '' || v === undefined)) || (v !== '' && v !== undefined && v !== null && !isNaN(Number(v))),
      regex: (re) => (v) => re.test(v),
      typedInput: () => () => true,
    },
    _: (k) => k,
    settings: {},
  };
  // Validators may read other fields of the open dialog; on import there is no dialog.
  const $ = () => ({ val: () => undefined, length: 0, is: () => false, typedInput: () => undefined });
  for (const file of fs.readdirSync(nodesDir).filter((f) => f.endsWith('.html'))) {
    const html = fs.readFileSync(path.join(nodesDir, file), 'utf8');
    const scripts = [...html.matchAll(/<script type="text\/javascript">([\s\S]*?)<\/script>/g)].map((m) => m[1]);
    for (const code of scripts) vm.runInNewContext(code, { RED, $, console, window: {} });
  }
  return defs;
}

/** Keys of `def.defaults` that `node` lacks or whose validator rejects the node's value. */
function invalidProperties(def, node) {
  const bad = [];
  for (const [key, spec] of Object.entries(def.defaults || {})) {
    if (!(key in node)) { bad.push(`${key} (missing)`); continue; }
    const value = node[key];
    if (spec.required && (value === '' || value === undefined || value === null)) { bad.push(`${key} (required)`); continue; }
    if (typeof spec.validate === 'function') {
      const ok = spec.validate.call(node, value, {});
      if (ok !== true) bad.push(`${key}=${JSON.stringify(value)} (${ok === false ? 'invalid' : ok})`);
    }
  }
  return bad;
}

module.exports = { loadEditorDefinitions, invalidProperties };
