'use strict';
/**
 * End to end: learned baselines survive a Node-RED restart.
 *
 * The demo capture (10:00:00–10:09:00; port scan at 10:05, SYN flood on 192.168.10.5 at 10:08) is
 * split with editcap at 10:06:30, a window boundary between the two. Two copies of the six-node
 * pipeline are deployed side by side (their own node ids, so their own baseline files):
 *  - U replays the whole capture in one go;
 *  - R replays the first half, Node-RED is stopped and started again with the same user directory,
 *    then R replays the second half.
 * The second half must raise the same alerts in R as in U (same ids rule|key|window, severity,
 * metric and baseline state; no burst of bootstrap alerts), and the keys R restored must carry the
 * sample count and maturity they had before the stop.
 */
const { expect } = require('chai');
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { NodeRedProcess } = require('../support/node-red-process');

const runtime = { node: process.env.E2E_NODE, red: process.env.E2E_RED, userDir: process.env.E2E_USERDIR };
const label = process.env.E2E_LABEL || 'Node-RED';
const demo = path.resolve(__dirname, '..', '..', 'examples', 'demo-scan-and-flood.pcap');
const SPLIT_MS = Date.UTC(2026, 0, 15, 10, 6, 30); // a 10 s window boundary after the scan, before the flood
const WINDOW_MS = 10_000;

const has = (cmd) => spawnSync(cmd, ['--version'], { encoding: 'utf8' }).status === 0;
function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The six node types (and injects and debug nodes) of one pipeline copy, ids prefixed `p`. */
function pipeline(p, y) {
  const z = 'rs-tab';
  return [
    { id: `${p}-inj1`, type: 'inject', z, name: `${p} first`, props: [{ p: 'payload' }, { p: 'filename', v: '', vt: 'str' }], payload: 'start', payloadType: 'str', repeat: '', once: false, x: 100, y, wires: [[`${p}-src`]] },
    { id: `${p}-inj2`, type: 'inject', z, name: `${p} second`, props: [{ p: 'payload' }, { p: 'filename', v: '', vt: 'str' }], payload: 'start', payloadType: 'str', repeat: '', once: false, x: 100, y: y + 40, wires: [[`${p}-src`]] },
    { id: `${p}-src`, type: 'pcap-source', z, name: '', mode: 'file', filename: '', iface: '', filter: '', snapLength: 262144, promiscuous: true, batchSize: 4096, speed: 'max', startOnDeploy: false, x: 250, y, wires: [[`${p}-agg`], [`${p}-events`]] },
    { id: `${p}-agg`, type: 'flow-aggregator', z, name: '', windowSeconds: 10, maxFlows: 100000, maxHostsPerWindow: 50000, flowIdleTimeoutSeconds: 60, interfaceName: 'lan', scopeInterface: true, scopeDstHost: true, scopeSrcHost: true, scopeFlow: true, x: 400, y, wires: [[`${p}-base`]] },
    { id: `${p}-base`, type: 'ewma-baseline', z, name: '', fastAlpha: '0.3', slowAlpha: '0.05', bootstrapMinutes: '5', scopeInterface: true, scopeDstHost: true, scopeSrcHost: true, scopeFlow: false, maxKeys: '100000', persist: true, x: 550, y, wires: [[`${p}-det`], []] },
    { id: `${p}-det`, type: 'rule-detector', z, name: '', dualEwma: true, fastMultiplier: '3', slowMultiplier: '5', spike: true, highSigma: '3', mediumSigma: '2', portScan: true, scanSyns: '100', scanPorts: '20', scanWindowSeconds: '60', bootstrapStatic: true, staticPps: '10000', staticMbps: '100', staticSynPerSecond: '100', scopeInterface: true, scopeDstHost: true, scopeSrcHost: true, scopeFlow: false, x: 700, y, wires: [[`${p}-gate`, `${p}-anomalies`], [`${p}-gate`, `${p}-judged`]] },
    { id: `${p}-gate`, type: 'cooldown-gate', z, name: '', cooldown: '5', persist: true, x: 850, y, wires: [[`${p}-fmt`]] },
    { id: `${p}-fmt`, type: 'anomaly-formatter', z, name: '', shape: 'json', x: 1000, y, wires: [[`${p}-alerts`]] },
    { id: `${p}-anomalies`, type: 'debug', z, name: `${p} anomalies`, active: true, tosidebar: true, console: false, tostatus: false, complete: 'payload', targetType: 'msg', x: 850, y: y + 40, wires: [] },
    { id: `${p}-alerts`, type: 'debug', z, name: `${p} alerts`, active: true, tosidebar: true, console: false, tostatus: false, complete: 'payload', targetType: 'msg', x: 1150, y, wires: [] },
    { id: `${p}-judged`, type: 'debug', z, name: `${p} judged`, active: true, tosidebar: true, console: false, tostatus: false, complete: 'payload.final', targetType: 'msg', x: 850, y: y + 80, wires: [] },
    { id: `${p}-events`, type: 'debug', z, name: `${p} events`, active: true, tosidebar: true, console: false, tostatus: false, complete: 'payload', targetType: 'msg', x: 400, y: y + 40, wires: [] },
  ];
}

/** Sets the file an inject node sends as msg.filename. */
function setFile(flow, id, file) {
  flow.find((n) => n.id === id).props[1].v = file;
}

describe(`baseline persistence across a restart on ${label}`, function () {
  this.timeout(90_000);
  let red;
  let tmp;

  before(function () {
    if (!runtime.node || !runtime.red || !runtime.userDir) throw new Error('run through `npm test` (scripts/test.js), which prepares the runtime');
    if (!has('editcap') || !has('tshark')) { console.log('      (editcap/tshark not installed: apt-get install tshark)'); this.skip(); }
  });

  afterEach(function () {
    if (this.currentTest && this.currentTest.state === 'failed' && red) {
      console.log(`--- Node-RED log (last 60 lines) ---\n${red.log.slice(-60).join('\n')}\n---`);
    }
  });

  after(async function () {
    if (red) await red.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('restored keys keep their samples and maturity, and the second half raises the same alerts as an uninterrupted run', async function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-restart-'));
    const half1 = path.join(tmp, 'first-half.pcap'), half2 = path.join(tmp, 'second-half.pcap');
    run('editcap', ['-B', String(SPLIT_MS / 1000), demo, half1]);
    run('editcap', ['-A', String(SPLIT_MS / 1000), demo, half2]);
    const count = (f) => Number(run('capinfos', ['-M', '-c', '-T', f]).trim().split('\n').pop().split('\t')[1]);
    expect(count(half1) + count(half2), 'the halves hold every packet').to.equal(count(demo));
    expect(count(half1)).to.be.above(0);
    expect(count(half2)).to.be.above(0);
    // ground truth for the web server's sample count at the split, from tshark: one sample per
    // 10 s window from the window of its first packet up to the split (zero samples fill the windows
    // without traffic to it), so the restored key must have exactly that many
    const firstToServer = Number(run('tshark', ['-r', half1, '-Y', 'ip.dst == 192.168.10.5', '-T', 'fields', '-e', 'frame.time_epoch']).trim().split('\n')[0]) * 1000;
    const serverSamples = (SPLIT_MS - Math.floor(firstToServer / WINDOW_MS) * WINDOW_MS) / WINDOW_MS;

    for (const f of ['baseline-rs-u-base.json', 'baseline-rs-r-base.json', 'cooldown-rs-u-gate.json', 'cooldown-rs-r-gate.json']) {
      fs.rmSync(path.join(runtime.userDir, 'netbaseline', f), { force: true });
    }
    const flow = [{ id: 'rs-tab', type: 'tab', label: 'baseline restart test' }, ...pipeline('rs-u', 100), ...pipeline('rs-r', 300)];
    setFile(flow, 'rs-u-inj1', demo);
    setFile(flow, 'rs-r-inj1', half1);
    setFile(flow, 'rs-r-inj2', half2);

    red = new NodeRedProcess(runtime);
    await red.start();
    let debug = await red.subscribe('debug');
    const received = (name) => debug.messages.filter((m) => m.topic === 'debug' && m.data && m.data.name === name).map((m) => {
      try { return JSON.parse(m.data.msg); } catch { return m.data.msg; }
    });
    // a replay is through the pipeline when rule-detector has judged its final window (output 2)
    const completed = (p) => received(`${p} judged`).some((final) => final === true);
    const inject = async (id) => {
      const r = await fetch(`${red.base}/inject/${id}`, { method: 'POST' });
      expect(r.status, `inject ${id}`).to.equal(200);
    };
    await red.deploy(flow);

    // uninterrupted run
    await inject('rs-u-inj1');
    await NodeRedProcess.waitFor(() => completed('rs-u'), 60_000, 'the full replay to be judged');
    const uninterrupted = received('rs-u anomalies');

    // first half, then stop Node-RED (nodes close: the baseline is written)
    await inject('rs-r-inj1');
    await NodeRedProcess.waitFor(() => completed('rs-r'), 60_000, 'the first half to be judged');
    const firstHalf = received('rs-r anomalies');
    debug.close();
    await red.stop();
    const saved = JSON.parse(fs.readFileSync(path.join(runtime.userDir, 'netbaseline', 'baseline-rs-r-base.json'), 'utf8'));
    const server = saved.keys.find((k) => k.key === 'dst 192.168.10.5');
    expect(server, 'the web server was saved').to.exist;
    expect(server.samples).to.equal(serverSamples);
    expect(saved.clockMs).to.equal(SPLIT_MS);

    // start again with the same user directory, replay the second half
    red = new NodeRedProcess(runtime);
    await red.start();
    debug = await red.subscribe('debug');
    await NodeRedProcess.waitFor(() => red.log.some((l) => /restored \d+ baseline keys/.test(l)), 30_000, 'the baseline restored');
    await inject('rs-r-inj2');
    await NodeRedProcess.waitFor(() => completed('rs-r'), 60_000, 'the second half to be judged');
    await new Promise((r) => setTimeout(r, 300)); // the alerts are two hops further (cooldown-gate → anomaly-formatter)
    const secondHalf = received('rs-r anomalies');
    const alertsAfterRestart = received('rs-r alerts');
    debug.close();

    const describe = (e) => `${e.id} ${e.severity} ${e.metric} ${e.baseline ? e.baseline.state : '-'}`;
    const expected = uninterrupted.filter((e) => e.window.start >= SPLIT_MS).map(describe).sort();
    const got = secondHalf.map(describe).sort();
    expect(expected.length, 'the uninterrupted run has alerts in the second half (the flood)').to.be.above(0);
    expect(got).to.deep.equal(expected);
    // and the first half matched too
    expect(firstHalf.map(describe).sort()).to.deep.equal(uninterrupted.filter((e) => e.window.start < SPLIT_MS).map(describe).sort());
    // the flood at 10:08 on the web server is judged against its restored baseline: 8 minutes after
    // it was first seen (past the 5-minute bootstrap) and with fewer than 59 samples → learning
    const flood = secondHalf.filter((e) => e.key === 'dst 192.168.10.5');
    expect(flood.length, 'the SYN flood raised an alert').to.be.above(0);
    for (const e of flood) expect(e.baseline && e.baseline.state, describe(e)).to.equal('learning');
    expect(alertsAfterRestart.some((a) => JSON.stringify(a).includes('192.168.10.5')), 'the flood alert left the formatter').to.equal(true);
  });
});
