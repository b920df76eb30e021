'use strict';
/**
 * `npm start` as README gives it to a new user (scripts/start.js): a Node-RED of this repository's
 * node_modules on 127.0.0.1 with the package loaded from the working tree and the replay example
 * deployed; pressing its inject button *replay again* puts the demo capture's alerts in the debug
 * sidebar (read here from the editor's websocket).
 */
const { expect } = require('chai');
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { NodeRedProcess, freePort } = require('../support/node-red-process');

const root = path.resolve(__dirname, '..', '..');

describe('npm start (scripts/start.js)', function () {
  this.timeout(90_000);
  let child;
  let userDir;
  const log = [];
  let red;

  before(async function () {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-start-'));
    const port = await freePort();
    child = spawn(process.execPath, [path.join(root, 'scripts', 'start.js')], {
      cwd: root, env: { ...process.env, PORT: String(port), NETBASELINE_USER_DIR: userDir }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk) => { for (const line of chunk.toString().split('\n')) if (line.trim()) log.push(line); };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    red = new NodeRedProcess({});
    red.port = port;
    red.log = log;
    await NodeRedProcess.waitFor(() => red.startedFlowsAt(0) >= 0 || child.exitCode !== null, 60_000, '"Started flows" from npm start');
    expect(child.exitCode, `npm start exited:\n${log.join('\n')}`).to.equal(null);
  });

  after(async function () {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT'); // forwarded to Node-RED by start.js
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  afterEach(function () {
    if (this.currentTest && this.currentTest.state === 'failed') console.log(`--- npm start log ---\n${log.slice(-60).join('\n')}\n---`);
  });

  it('listens on 127.0.0.1 with the replay example deployed on first start, written to the user directory', async function () {
    expect(log.join('\n')).to.match(/First start: deployed examples\/replay-demo-capture\.json/);
    const settings = await red.get('/settings');
    expect(settings).to.have.property('httpNodeRoot');
    const flows = await red.get('/flows');
    const nodes = flows.flows || flows;
    expect(nodes.filter((n) => n.z === 'nb-replay-tab').map((n) => n.type)).to.include.members(
      ['pcap-source', 'flow-aggregator', 'ewma-baseline', 'rule-detector', 'cooldown-gate', 'anomaly-formatter']);
    expect(fs.existsSync(path.join(userDir, 'flows.json'))).to.equal(true);
    const settingsFile = fs.readFileSync(path.join(userDir, 'settings.js'), 'utf8');
    expect(settingsFile).to.match(/uiHost: '127\.0\.0\.1'/);
    expect(log.filter((l) => /\[error\]|missing types/i.test(l)), 'log').to.deep.equal([]);
  });

  it('"replay again" puts the demo capture\'s port-scan and SYN-flood alerts in the debug sidebar', async function () {
    const debug = await red.subscribe('debug');
    try {
      const r = await fetch(`${red.base}/inject/nb-replay-inject`, { method: 'POST' });
      expect(r.status).to.equal(200);
      const alerts = () => debug.messages.filter((m) => m.data && m.data.id === 'nb-replay-dbg').map((m) => String(m.data.msg));
      // the replay's completion message (pcap-source output 2) arrives after its last packets went downstream
      const completed = () => debug.messages.some((m) => m.data && m.data.id === 'nb-replay-dbgsrc' && /complete/.test(String(m.data.msg)));
      await NodeRedProcess.waitFor(completed, 30_000, 'the replay to complete');
      await NodeRedProcess.waitFor(() => alerts().some((t) => /syn-flood|SYN flood/i.test(t)), 10_000, 'the SYN-flood alert');
      if (process.env.SHOW) console.log(alerts());
      expect(alerts().find((t) => /port-scan src 192\.168\.10\.66/.test(t)), 'port scan naming the scanner').to.be.a('string');
    } finally {
      debug.close();
    }
  });
});
