'use strict';
/**
 * End to end: a real Node-RED (4 or 5, see scripts/test.js) with this package installed from its
 * packed tarball; every flow in examples/ deployed through the admin API.
 */
const { expect } = require('chai');
const fs = require('fs');
const path = require('path');
const { NodeRedProcess, useNodeRed } = require('../support/node-red-process');

const runtime = { node: process.env.E2E_NODE, red: process.env.E2E_RED, userDir: process.env.E2E_USERDIR };
const label = process.env.E2E_LABEL || 'Node-RED';
const examplesDir = path.resolve(__dirname, '..', '..', 'examples');
const OUR_TYPES = ['pcap-source', 'flow-aggregator', 'ewma-baseline', 'rule-detector', 'cooldown-gate', 'anomaly-formatter'];

describe(`end to end on ${label}`, function () {
  const nodeRed = useNodeRed(runtime);
  /** @type {NodeRedProcess} */
  let red;
  beforeEach(function () { red = nodeRed(); });

  it('loads the package from its tarball with all six node types', async function () {
    const modules = await red.get('/nodes');
    const ours = modules.filter((set) => set.module === '@netbaseline/node-red-traffic-anomaly');
    const types = ours.flatMap((set) => set.types);
    expect(types).to.have.members(OUR_TYPES);
    for (const set of ours) expect(set.enabled, `${set.id} enabled`).to.equal(true);
    for (const set of ours) expect(set.err, `${set.id} loaded without error`).to.be.undefined;
  });

  it('serves each node\'s palette icon from the package\'s icons/ folder', async function () {
    for (const type of OUR_TYPES) {
      const r = await fetch(`${red.base}/icons/@netbaseline/node-red-traffic-anomaly/${type}.svg`);
      expect(r.status, `${type}.svg`).to.equal(200);
      expect(r.headers.get('content-type'), `${type}.svg content type`).to.match(/image\/svg\+xml/);
      expect(await r.text(), `${type}.svg`).to.match(/<svg[\s>]/);
    }
  });

  const exampleFiles = fs.readdirSync(examplesDir).filter((f) => f.endsWith('.json')).sort();

  it('lists every example under the package in the Import > Examples menu', async function () {
    // The editor's Import > Examples menu reads the "examples" library: modules, then their flows.
    const modules = await red.get('/library/examples/flows/');
    expect(modules).to.include('@netbaseline/node-red-traffic-anomaly');
    const listing = await red.get('/library/examples/flows/@netbaseline/node-red-traffic-anomaly/');
    const names = listing.map((e) => e.fn);
    expect(names).to.have.members(exampleFiles.map((f) => f.replace(/\.json$/, '')));
  });

  for (const file of exampleFiles) {
    it(`deploys examples/${file}: no missing types, every node started, no node in error`, async function () {
      const flow = JSON.parse(fs.readFileSync(path.join(examplesDir, file), 'utf8'));
      const statuses = await red.subscribe('status/#');
      const before = red.log.length;
      try {
        await red.deploy(flow);
        await new Promise((r) => setTimeout(r, 1500)); // let sources open their files or interfaces
      } finally {
        statuses.close();
      }
      const newLines = red.log.slice(before);
      expect(newLines.filter((l) => /missing types|Unknown type|\[error\]/i.test(l)), 'log after deploy').to.deep.equal([]);
      const deployed = await red.get('/flows');
      const deployedIds = new Set((deployed.flows || deployed).map((n) => n.id));
      for (const n of flow) expect(deployedIds.has(n.id), `node ${n.id} (${n.type}) deployed`).to.equal(true);
      // the last status each of our nodes showed must not be an error
      const last = new Map();
      for (const m of statuses.messages) last.set(m.topic.replace(/^status\//, ''), m.data || {});
      for (const n of flow.filter((x) => OUR_TYPES.includes(x.type))) {
        const st = last.get(n.id) || {};
        const rootless = process.getuid && process.getuid() !== 0;
        if (st.fill === 'red' && rootless && /permission|CAP_NET_RAW/i.test(st.text || '')) continue; // live capture as a non-root user
        expect(st.fill, `${n.type} ${n.id} status "${st.text}"`).to.not.equal('red');
      }
      // a live source that waits for a "start" message (examples/mqtt-alerts.json) shows a grey "send start" status
      const live = flow.find((x) => x.type === 'pcap-source' && x.mode === 'live' && x.startOnDeploy !== false);
      if (live && process.getuid && process.getuid() === 0) {
        const st = last.get(live.id) || {};
        expect(st.fill, `live pcap-source status "${st.text}" (libpcap loaded and the interface opened)`).to.equal('green');
      }
    });
  }

  it('replays the bundled demo capture and shows the port scan and the SYN flood in the debug sidebar', async function () {
    const file = exampleFiles.find((f) => /replay/i.test(f));
    expect(file, 'a replay example exists').to.be.a('string');
    const flow = JSON.parse(fs.readFileSync(path.join(examplesDir, file), 'utf8'));
    const debug = await red.subscribe('debug');
    const statuses = await red.subscribe('status/#');
    try {
      await red.deploy(flow);
      const text = () => debug.messages.filter((m) => m.topic === 'debug').map((m) => String(m.data && m.data.msg));
      await NodeRedProcess.waitFor(() => text().some((t) => /port-scan/.test(t) && t.includes('192.168.10.66')), 60_000, 'a port-scan alert naming 192.168.10.66');
      await NodeRedProcess.waitFor(() => text().some((t) => t.includes('192.168.10.5') && /SYN|syn/.test(t) && !/port-scan/.test(t)), 60_000, 'a SYN flood alert naming 192.168.10.5');
    } catch (err) {
      console.log('--- statuses ---\n' + statuses.messages.map((m) => `${m.topic} ${JSON.stringify(m.data)}`).join('\n'));
      console.log('--- debug ---\n' + debug.messages.map((m) => JSON.stringify(m).slice(0, 300)).join('\n'));
      throw err;
    } finally {
      debug.close();
      statuses.close();
    }
  });

  it('survives redeploying a live capture and a replay back and forth (capture handles released)', async function () {
    const live = JSON.parse(fs.readFileSync(path.join(examplesDir, 'live-capture.json'), 'utf8'));
    const replay = JSON.parse(fs.readFileSync(path.join(examplesDir, 'replay-demo-capture.json'), 'utf8'));
    for (let i = 0; i < 8; i++) {
      await red.deploy(i % 2 === 0 ? live : replay);
      await new Promise((r) => setTimeout(r, 700));
      // traffic on loopback (the capture on "any" sees it), so node_pcap can finish closing handles
      await red.get('/settings');
      expect(red.exited, `Node-RED still running after deploy ${i + 1}:\n${red.log.slice(-5).join('\n')}`).to.equal(false);
    }
    const deployed = await red.get('/flows');
    expect((deployed.flows || deployed).map((n) => n.id)).to.include('nb-replay-src');
  });
});

// Prepared by scripts/test.js for the Node-RED 4 run only (one runtime is enough for this case).
const userDirWithoutPcap = process.env.E2E_USERDIR_WITHOUT_PCAP;
(userDirWithoutPcap ? describe : describe.skip)(`end to end on ${label}, installed without the optional pcap module (no libpcap) [run with Node-RED 4 only]`, function () {
  const userDir = userDirWithoutPcap;
  /** @type {NodeRedProcess} */
  let red;

  before(async function () {
    expect(fs.existsSync(path.join(userDir, 'node_modules', 'pcap')), 'pcap left out of this install').to.equal(false);
    red = new NodeRedProcess({ ...runtime, userDir });
    await red.start();
  });

  after(async function () {
    if (red) await red.stop();
  });

  it('replays a file, and live capture says how to install libpcap', async function () {
    const replayFlow = JSON.parse(fs.readFileSync(path.join(examplesDir, 'replay-demo-capture.json'), 'utf8'));
    const liveFlow = JSON.parse(fs.readFileSync(path.join(examplesDir, 'live-capture.json'), 'utf8'));
    const debug = await red.subscribe('debug');
    const statuses = await red.subscribe('status/#');
    try {
      await red.deploy([...replayFlow, ...liveFlow]);
      const text = () => debug.messages.filter((m) => m.topic === 'debug').map((m) => String(m.data && m.data.msg));
      await NodeRedProcess.waitFor(() => text().some((t) => /port-scan/.test(t) && t.includes('192.168.10.66')), 60_000, 'the replay\'s port-scan alert');
      const live = liveFlow.find((n) => n.type === 'pcap-source');
      const st = await NodeRedProcess.waitFor(() => {
        const mine = statuses.messages.filter((m) => m.topic === `status/${live.id}`);
        return mine.length ? mine[mine.length - 1].data : null;
      }, 10_000, 'a status from the live pcap-source');
      expect(st.fill).to.equal('red');
      expect(st.text).to.match(/libpcap|pcap module/i);
      expect(red.log.join('\n')).to.match(/install libpcap-dev/);
    } finally {
      debug.close();
      statuses.close();
    }
  });
});
