'use strict';
/**
 * Message catalogues (issue #9: "Status text and labels come from a message catalogue
 * (locales/en-US)"). For pcap-source, flow-aggregator, ewma-baseline, cooldown-gate and
 * anomaly-formatter:
 * - every key the runtime glue (src/nodes/<type>.ts) looks up with t(…) exists in
 *   nodes/locales/en-US/<type>.json, and every status/errors/log/field text there is used;
 * - every data-i18n key and every this._ / node._ key of the editor file exists (Node-RED's own
 *   `node-red:` keys in @node-red/nodes' catalogue), and the edit template has no text outside them;
 * - a real test-helper run shows a status equal to the catalogue text with its placeholders filled
 *   with values that follow from the input (hand-built input, or capinfos / MANIFEST counts).
 */
const fs = require('fs');
const path = require('path');
const { expect } = require('chai');
const helper = require('node-red-node-test-helper');
helper.init(require.resolve('node-red'));
const P = require('../fixtures/pcaps.js');
const { IPPROTO, TCP_FLAG } = require('../../dist/core/contracts');

const root = path.resolve(__dirname, '..', '..');
const TYPES = ['pcap-source', 'flow-aggregator', 'ewma-baseline', 'cooldown-gate', 'anomaly-formatter'];

/** The catalogue of `type` (the object under its top-level key). */
function catalogue(type) {
  const json = JSON.parse(fs.readFileSync(path.join(root, 'nodes', 'locales', 'en-US', `${type}.json`), 'utf8'));
  expect(Object.keys(json), `${type}.json has one top-level key, the type`).to.deep.equal([type]);
  return json[type];
}
/** The value at a dotted key path, or undefined. */
function lookup(obj, key) {
  return key.split('.').reduce((v, part) => (v !== null && typeof v === 'object' ? v[part] : undefined), obj);
}
/** Dotted paths of every string leaf. */
function leaves(obj, prefix = '') {
  return Object.entries(obj).flatMap(([k, v]) => (typeof v === 'object' ? leaves(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
}
/** i18next-style `__name__` placeholders filled (written here, independently of glue.ts). */
function fill(text, vars = {}) {
  expect(text, 'catalogue text').to.be.a('string');
  const out = text.replace(/__([A-Za-z0-9]+)__/g, (m, name) => (name in vars ? String(vars[name]) : m));
  expect(out, `every placeholder of "${text}" filled`).not.to.match(/__[A-Za-z0-9]+__/);
  return out;
}

/** Keys the glue looks up: string literals in the first argument of every t(…) call, plus catalogue-section literals passed on (e.g. 'field.snapLength'). */
function sourceKeys(source) {
  const keys = new Set();
  const call = /(^|[^\w.$])t\(/g;
  let m;
  while ((m = call.exec(source)) !== null) {
    let i = m.index + m[0].length; let depth = 0; let arg = '';
    for (; i < source.length; i++) {
      const c = source[i];
      if (depth === 0 && (c === ',' || c === ')')) break;
      if (c === '(' || c === '{' || c === '[') depth++;
      if (c === ')' || c === '}' || c === ']') depth--;
      arg += c;
    }
    const literals = [...arg.matchAll(/'([^'\\]*)'/g)].map((x) => x[1]);
    // a bare name (pcap-source's `t(what)`) passes on a key; those literals are collected below
    if (!/^\s*[A-Za-z_$][\w$]*\s*$/.test(arg)) expect(literals.length, `t(${arg}) names its key with string literals`).to.be.greaterThan(0);
    literals.forEach((k) => keys.add(k));
  }
  for (const x of source.matchAll(/'((?:status|errors|log|field)\.[\w.]+)'/g)) keys.add(x[1]);
  return keys;
}

describe('message catalogues (nodes/locales/en-US)', function () {
  const nodeRedMessages = JSON.parse(fs.readFileSync(require.resolve('@node-red/nodes/locales/en-US/messages.json'), 'utf8'));

  for (const type of TYPES) {
    describe(type, function () {
      const cat = catalogue(type);
      const own = fs.readFileSync(path.join(root, 'src', 'nodes', `${type}.ts`), 'utf8');
      // a node that keeps its state in a file lends its catalogue to src/nodes/state-file.ts
      const source = own.includes('NodeStateFile.open(') ? own + fs.readFileSync(path.join(root, 'src', 'nodes', 'state-file.ts'), 'utf8') : own;
      const html = fs.readFileSync(path.join(root, 'nodes', `${type}.html`), 'utf8');

      it('every key looked up in src/nodes/' + type + '.ts exists, and every runtime text in the catalogue is used', function () {
        expect(source).to.include(`catalogue(RED, '${type}')`);
        const keys = sourceKeys(source);
        expect(keys.size, 'keys found in the source').to.be.greaterThan(1);
        for (const key of keys) expect(lookup(cat, key), `${type}.json: ${key}`).to.be.a('string');
        const runtime = leaves(cat).filter((k) => /^(status|errors|log|field)\./.test(k));
        for (const key of runtime) expect(keys.has(key), `${key} is used by ${type}.ts`).to.equal(true);
        // no user-facing text left as a template literal in status/warn/log/error calls
        expect(source).not.to.match(/node\.(status|warn|log|error)\((status\w+\()?`/);
      });

      it('every data-i18n and this._/node._ key of nodes/' + type + '.html exists; the edit template has no text outside them', function () {
        const used = [...html.matchAll(/data-i18n="([^"]*)"/g)].flatMap((x) => x[1].split(';')).map((k) => k.replace(/^\[[a-z]+\]/, ''));
        expect(used.length, 'data-i18n attributes').to.be.greaterThan(3);
        for (const key of used) {
          if (key.startsWith('node-red:')) expect(lookup(nodeRedMessages, key.slice('node-red:'.length)), key).to.be.a('string');
          else {
            expect(key.startsWith(`${type}.`), `${key} is in the ${type} namespace`).to.equal(true);
            expect(lookup(cat, key.slice(type.length + 1)), `${type}.json: ${key}`).to.be.a('string');
          }
        }
        const script = [...html.matchAll(/<script type="text\/javascript">([\s\S]*?)<\/script>/g)].map((x) => x[1]).join('\n');
        for (const x of script.matchAll(/\._\(\s*([^)]*)/g)) {
          const literals = [...x[1].matchAll(/'([^'\\]*)'(\s*\+)?/g)];
          expect(literals.length, `_(${x[1]}) names its key`).to.be.greaterThan(0);
          for (const [, key, concatenated] of literals) {
            if (!key.startsWith(`${type}.`)) continue; // a value such as a default shape
            const rel = key.slice(type.length + 1);
            if (concatenated) expect(leaves(cat).some((k) => k.startsWith(rel)), `${type}.json has keys ${rel}…`).to.equal(true);
            else expect(lookup(cat, rel), `${type}.json: ${key}`).to.be.a('string');
          }
        }
        const template = html.match(new RegExp(`<script type="text/html" data-template-name="${type}">([\\s\\S]*?)</script>`))[1];
        const bareText = [...template.matchAll(/>([^<]*)</g)].map((x) => x[1].replace(/&nbsp;/g, '').trim()).filter((x) => x !== '');
        expect(bareText, 'text in the edit template not from the catalogue').to.deep.equal([]);
      });
    });
  }

  describe('status of a real test-helper run equals the catalogue text', function () {
    beforeEach(function (done) { helper.startServer(done); });
    afterEach(async function () { await helper.unload(); await new Promise((r) => helper.stopServer(r)); });

    const T0 = 1_700_000_000_000; // a multiple of 10 000 ms
    /** Resolves once `predicate()` is true (polls the event loop; no timing is asserted). */
    async function until(predicate) { while (!predicate()) await new Promise((r) => setImmediate(r)); }
    /** The last status `n` itself showed (the helper's spies sit on the prototype, shared by all nodes). */
    const lastStatus = (n) => n.status.getCalls().filter((c) => c.thisValue === n).pop().args[0];

    it('pcap-source: a replayed capture ends in status.done with the packet count of capinfos / MANIFEST', async function () {
      const name = 'ndpi__sites.pcapng';
      if (!fs.existsSync(P.pcapPath(name))) this.skip();
      const expected = P.expectedPacketCount(name).count; // 699: below 10 000, shown as is
      const cat = catalogue('pcap-source');
      const node = require('../../nodes/pcap-source.js');
      const events = [];
      await helper.load(node, [
        { id: 'n1', type: 'pcap-source', mode: 'file', filename: P.pcapPath(name), speed: 'max', wires: [['batches'], ['events']] },
        { id: 'batches', type: 'helper' }, { id: 'events', type: 'helper' },
      ]);
      const n1 = helper.getNode('n1');
      expect(n1, 'node started').to.exist;
      helper.getNode('events').on('input', (msg) => events.push(msg.payload));
      await until(() => events.some((e) => e.event === 'replay-complete'));
      expect(lastStatus(n1)).to.deep.equal({ fill: 'green', shape: 'dot', text: fill(cat.status.done, { packets: expected }) });
      expect(lastStatus(n1).text).to.equal(`done · ${expected} pkts`);
    });

    it('flow-aggregator: one TCP flow across a window boundary: status.running with 1 flow and 1 window; msg.reset: status.reset', async function () {
      const cat = catalogue('flow-aggregator');
      const node = require('../../nodes/flow-aggregator.js');
      await helper.load(node, [{ id: 'n1', type: 'flow-aggregator', windowSeconds: '10', wires: [['out']] }, { id: 'out', type: 'helper' }]);
      const n1 = helper.getNode('n1');
      expect(n1, 'node started').to.exist;
      expect(lastStatus(n1).text).to.equal(cat.status.waiting);
      // 10.0.0.1:40000 > 10.0.0.2:80, packets at 0 s, 1 s (window 1) and 10 s (closes window 1)
      const times = [T0, T0 + 1000, T0 + 10_000];
      const n = times.length;
      const batch = {
        kind: 'netbaseline/packets', version: 1, source: 'hand-built', seq: 0, count: n, clockMs: times[n - 1], final: false,
        counters: { packetsRead: n, packetsDecoded: n, nonIp: 0, unsupportedLinkType: 0, malformed: 0, fragments: 0, timeClamped: 0 },
        timeMs: Float64Array.from(times), wireLength: new Uint32Array(n).fill(100), ipVersion: new Uint8Array(n).fill(4),
        srcAddr: new Uint8Array(16 * n), dstAddr: new Uint8Array(16 * n), protocol: new Uint8Array(n).fill(IPPROTO.TCP),
        srcPort: new Uint16Array(n).fill(40000), dstPort: new Uint16Array(n).fill(80), tcpFlags: new Uint8Array(n).fill(TCP_FLAG.ACK),
        tcpSeq: new Uint32Array(n), tcpAck: new Uint32Array(n), payloadLength: new Uint32Array(n), info: new Uint8Array(n), ifIndex: new Uint16Array(n),
      };
      for (let i = 0; i < n; i++) {
        batch.srcAddr.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1], 16 * i);
        batch.dstAddr.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 2], 16 * i);
      }
      const windows = [];
      helper.getNode('out').on('input', (msg) => windows.push(msg.payload));
      n1.receive({ payload: batch });
      await until(() => windows.length === 1);
      await until(() => lastStatus(n1).text !== cat.status.waiting);
      expect(lastStatus(n1)).to.deep.equal({ fill: 'green', shape: 'dot', text: fill(cat.status.running, { flows: 1, windows: 1 }) });
      n1.receive({ reset: true });
      await until(() => lastStatus(n1).text === cat.status.reset);
      expect(lastStatus(n1).fill).to.equal('grey');
    });

    it('ewma-baseline: a first window with one record: 1 key, 0% mature, 1 bootstrap (the key is new)', async function () {
      const cat = catalogue('ewma-baseline');
      const node = require('../../nodes/ewma-baseline.js');
      await helper.load(node, [{ id: 'n1', type: 'ewma-baseline', persist: false, wires: [['out'], []] }, { id: 'out', type: 'helper' }]);
      const n1 = helper.getNode('n1');
      expect(n1, 'node started').to.exist;
      const got = [];
      helper.getNode('out').on('input', (msg) => got.push(msg));
      n1.receive({
        payload: {
          kind: 'netbaseline/window', version: 1, source: 'hand-built', windowStart: T0, windowEnd: T0 + 10_000, windowMs: 10_000, gapBeforeMs: 0, final: false,
          counters: { packetsSeen: 3, packetsSkipped: 0, trackedFlows: 1, flowEvictions: 0, hostEvictions: 0, windows: 1 },
          records: [{ scope: 'dstHost', key: 'dst 10.0.0.2', dstIp: '10.0.0.2', windowStart: T0, windowEnd: T0 + 10_000, metrics: { packets: 3, bytes: 300 } }],
        },
      });
      await until(() => got.length === 1);
      const sep = cat.status.separator;
      const text = fill(cat.status.key, { count: 1 }) + sep + fill(cat.status.mature, { percent: 0 }) + sep + fill(cat.status.bootstrap, { count: 1 });
      expect(lastStatus(n1)).to.deep.equal({ fill: 'blue', shape: 'dot', text });
      expect(text).to.equal('1 key · 0% mature · 1 bootstrap');
      // a bad control value: the catalogue's error text, with the property name filled in
      const errors = [];
      n1.on('call:error', (call) => errors.push(call.args[0]));
      n1.receive({ freeze: 'maybe' });
      await until(() => errors.length === 1);
      expect(String(errors[0].message || errors[0])).to.equal(fill(cat.errors.onOff, { name: 'freeze' }));
    });

    const anomaly = (over = {}) => ({
      kind: 'netbaseline/anomaly', version: 1, id: 'a1', status: 'firing', time: T0, window: { start: T0 - 10_000, end: T0, ms: 10_000 },
      rule: 'port-scan', severity: 'medium', scope: 'srcHost', key: 'src 10.0.0.140', metric: 'distinctDstPorts', value: 500,
      threshold: 100, baseline: null, deviationPercent: 400, message: 'scan', findings: [], source: 'hand-built', ...over,
    });

    it('cooldown-gate: the first anomaly passes: 1 open, 1 passed, 0 held; a bad msg.query: errors.badQuery', async function () {
      const cat = catalogue('cooldown-gate');
      const node = require('../../nodes/cooldown-gate.js');
      await helper.load(node, [{ id: 'n1', type: 'cooldown-gate', cooldown: '5', persist: false, wires: [['out'], [], []] }, { id: 'out', type: 'helper' }]);
      const n1 = helper.getNode('n1');
      expect(n1, 'node started').to.exist;
      expect(lastStatus(n1)).to.deep.equal({ fill: 'grey', shape: 'ring', text: cat.status.waiting });
      const got = [];
      helper.getNode('out').on('input', (msg) => got.push(msg));
      n1.receive({ payload: anomaly() });
      await until(() => got.length === 1);
      expect(lastStatus(n1)).to.deep.equal({ fill: 'green', shape: 'dot', text: fill(cat.status.running, { open: 1, passed: 1, held: 0 }) });
      const errors = [];
      n1.on('call:error', (call) => errors.push(call.args[0]));
      n1.receive({ query: 'everything' });
      await until(() => errors.length === 1);
      expect(String(errors[0].message || errors[0])).to.equal(cat.errors.badQuery);
      expect(lastStatus(n1)).to.deep.equal({ fill: 'red', shape: 'ring', text: cat.errors.badQuery });
    });

    it('anomaly-formatter: "text · 0 sent" on deploy, "text · 1 sent" after one anomaly; an unknown shape: errors.badShape', async function () {
      const cat = catalogue('anomaly-formatter');
      const node = require('../../nodes/anomaly-formatter.js');
      await helper.load(node, [
        { id: 'n1', type: 'anomaly-formatter', shape: 'text', wires: [['out']] }, { id: 'out', type: 'helper' },
        { id: 'n2', type: 'anomaly-formatter', shape: 'pigeon', wires: [[]] },
      ]);
      const n1 = helper.getNode('n1');
      expect(n1, 'node started').to.exist;
      expect(lastStatus(n1)).to.deep.equal({ fill: 'grey', shape: 'ring', text: fill(cat.status.sent, { shape: 'text', sent: 0 }) });
      const got = [];
      helper.getNode('out').on('input', (msg) => got.push(msg));
      n1.receive({ payload: anomaly() });
      await until(() => got.length === 1);
      expect(lastStatus(n1)).to.deep.equal({ fill: 'green', shape: 'dot', text: fill(cat.status.sent, { shape: 'text', sent: 1 }) });
      const n2 = helper.getNode('n2');
      expect(n2, 'node with a bad shape stays deployed').to.exist;
      const shapes = 'text, json, email, mqtt, slack, teams, discord, syslog, cef, dashboard-table, dashboard-notification, dashboard-chart'; // the editor's shape list
      expect(n2.error.getCalls().find((c) => c.thisValue === n2).args[0]).to.equal(fill(cat.errors.badShape, { shapes, value: '"pigeon"' }));
    });
  });
});
