'use strict';
/**
 * pcap-source's edit dialog in headless Chromium against a real Node-RED with the packed package:
 * the interface list comes from the runtime (with the addresses iproute2 reports for lo), and the
 * "check" button shows libpcap's own verdict on a BPF filter. Without the pcap module (the
 * Node-RED 4 run prepares such a user directory) the dialog says why it cannot list interfaces.
 */
const { expect } = require('chai');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { NodeRedProcess } = require('../support/node-red-process');
const browser = require('../support/browser');

const runtime = { node: process.env.E2E_NODE, red: process.env.E2E_RED, userDir: process.env.E2E_USERDIR };
const withoutPcap = process.env.E2E_USERDIR_WITHOUT_PCAP || '';
const label = process.env.E2E_LABEL || 'Node-RED';

const flow = [
  { id: 'pse-tab', type: 'tab', label: 'pcap-source editor' },
  { id: 'pse-src', type: 'pcap-source', z: 'pse-tab', name: '', mode: 'live', filename: '', iface: 'lo', filter: '', startOnDeploy: false, x: 200, y: 100, wires: [[], []] },
];

/** A Node-RED on its own copy of `base` (the installed package shared through a symlink). */
async function startRed(base) {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'netbaseline-pse-user-'));
  fs.copyFileSync(path.join(base, 'package.json'), path.join(userDir, 'package.json'));
  fs.symlinkSync(path.join(base, 'node_modules'), path.join(userDir, 'node_modules'), 'dir');
  const red = new NodeRedProcess({ ...runtime, userDir });
  await red.start();
  await red.deploy(flow);
  return { red, userDir };
}

describe(`pcap-source edit dialog in headless Chromium on ${label}`, function () {
  let red; let userDir; let session; let page;

  before(async function () {
    if (!runtime.node || !runtime.red || !runtime.userDir) throw new Error('run through `npm test` (scripts/test.js), which prepares the runtime');
    if (!fs.existsSync(browser.CHROMIUM)) throw new Error(`${browser.CHROMIUM} is missing: apt-get install chromium (.ci/run installs it)`);
    ({ red, userDir } = await startRed(runtime.userDir));
    session = await browser.launchEditorBrowser();
    page = session.page;
    await browser.openEditor(page, red.base);
  });

  afterEach(async function () {
    if (this.currentTest && this.currentTest.state === 'failed' && page) {
      const file = path.join(os.tmpdir(), `netbaseline-pse-failure-${Date.now()}.png`);
      await page.screenshot({ path: file }).catch(() => {});
      console.log(`--- screenshot of the failure: ${file}`);
      if (session.pageErrors.length) console.log(`--- editor page errors ---\n${session.pageErrors.join('\n')}`);
      console.log(`--- Node-RED log (last 30 lines) ---\n${red.log.slice(-30).join('\n')}\n---`);
    }
  });

  after(async function () {
    if (session) await session.close();
    if (red) await red.stop();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('offers the runtime\'s interfaces with their addresses (lo with 127.0.0.1) and keeps free text', async function () {
    await browser.openEditDialog(page, 'pse-src');
    await page.waitForSelector('#pcap-source-interfaces option[value="lo"]', { state: 'attached', timeout: 10000 });
    const lo = await page.locator('#pcap-source-interfaces option[value="lo"]').getAttribute('label');
    expect(lo).to.match(/^lo \(.*127\.0\.0\.1.*\)$/);
    expect(await page.locator('#pcap-source-iface-note').textContent()).to.match(/^\d+ interfaces on the Node-RED host; or type a name$/);
    const iface = page.locator('#node-input-iface');
    expect(await iface.getAttribute('list')).to.equal('pcap-source-interfaces');
    await iface.fill('my-mirror-port0');
    expect(await iface.inputValue()).to.equal('my-mirror-port0');
    await iface.fill('lo');
  });

  it('"check" shows libpcap\'s error for an invalid filter and accepts a valid one', async function () {
    const filter = page.locator('#node-input-filter');
    const result = page.locator('#pcap-source-filter-result');
    await filter.fill('tcp port and');
    await page.click('#pcap-source-filter-check');
    await page.waitForFunction(() => /^libpcap/.test(document.getElementById('pcap-source-filter-result').textContent));
    expect(await result.textContent()).to.match(/^libpcap: can't parse filter expression: syntax error/);
    await filter.fill('tcp port 443 or udp port 53');
    await page.click('#pcap-source-filter-check');
    await page.waitForFunction(() => document.getElementById('pcap-source-filter-result').textContent === 'libpcap compiles this filter');
    await page.click('#node-dialog-cancel');
    await page.waitForSelector('#node-dialog-ok', { state: 'detached' });
  });

  it('without the pcap module the dialog says why the interfaces cannot be listed', async function () {
    if (!withoutPcap) { console.log('      (no user directory without the pcap module on this run)'); this.skip(); }
    await session.close(); session = null;
    await red.stop(); fs.rmSync(userDir, { recursive: true, force: true });
    ({ red, userDir } = await startRed(withoutPcap));
    session = await browser.launchEditorBrowser();
    page = session.page;
    await browser.openEditor(page, red.base);
    await browser.openEditDialog(page, 'pse-src');
    await page.waitForFunction(() => /^cannot list interfaces/.test(document.getElementById('pcap-source-iface-note').textContent), null, { timeout: 10000 });
    expect(await page.locator('#pcap-source-iface-note').textContent()).to.match(/^cannot list interfaces: libpcap \/ the pcap module is not available: install libpcap-dev/);
  });
});

describe(`pcap-source admin endpoints behind adminAuth on ${label}`, function () {
  const { spawn } = require('child_process');
  const { freePort } = require('../support/node-red-process');
  let child; let userDir; let base; const log = [];

  before(async function () {
    if (!runtime.node || !runtime.red || !runtime.userDir) throw new Error('run through `npm test` (scripts/test.js), which prepares the runtime');
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'netbaseline-pse-auth-'));
    fs.copyFileSync(path.join(runtime.userDir, 'package.json'), path.join(userDir, 'package.json'));
    fs.symlinkSync(path.join(runtime.userDir, 'node_modules'), path.join(userDir, 'node_modules'), 'dir');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // two users, password "e2e-password" (bcrypt hash): one may read everything, one only the flows
    const hash = '$2b$08$9T2OT.wvUKYJ3N3nXkMOyuyNED2UBq/s1FttfwyMq4tm7hInnqA2O';
    const settings = path.join(userDir, 'auth-settings.js');
    fs.writeFileSync(settings, `module.exports = ${JSON.stringify({
      uiHost: '127.0.0.1', uiPort: port, flowFile: 'flows.json', credentialSecret: false,
      logging: { console: { level: 'warn' } }, editorTheme: { tours: false },
      adminAuth: { type: 'credentials', users: [
        { username: 'reader', password: hash, permissions: 'read' },
        { username: 'flowsonly', password: hash, permissions: 'flows.read' },
      ] },
    })};\n`);
    child = spawn(runtime.node, [runtime.red, '--userDir', userDir, '--settings', settings], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => log.push(d.toString()));
    child.stderr.on('data', (d) => log.push(d.toString()));
    for (let t = 0; t < 240; t++) {
      try { if ((await fetch(`${base}/auth/login`)).ok) return; } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`Node-RED with adminAuth did not start:\n${log.join('')}`);
  });

  after(async function () {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(timer);
    }
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  async function token(username, scope) {
    const r = await fetch(`${base}/auth/token`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ client_id: 'node-red-admin', grant_type: 'password', scope, username, password: 'e2e-password' }),
    });
    expect(r.status, `token for ${username}`).to.equal(200);
    return (await r.json()).access_token;
  }

  it('answers 401 without a token, 200 to a user with "read", 401 to a user with only "flows.read"', async function () {
    for (const p of ['/pcap-source/interfaces', '/pcap-source/check-filter?filter=tcp']) {
      expect((await fetch(`${base}${p}`)).status, `${p} without a token`).to.equal(401);
    }
    const reader = await token('reader', 'read');
    const ok = await fetch(`${base}/pcap-source/check-filter?filter=tcp`, { headers: { Authorization: `Bearer ${reader}` } });
    expect(ok.status).to.equal(200);
    expect(await ok.json()).to.deep.equal({ ok: true, linkType: 1 });
    const list = await fetch(`${base}/pcap-source/interfaces`, { headers: { Authorization: `Bearer ${reader}` } });
    expect(list.status).to.equal(200);
    const flowsOnly = await token('flowsonly', 'flows.read');
    expect((await fetch(`${base}/flows`, { headers: { Authorization: `Bearer ${flowsOnly}` } })).status, 'the token works for the flows').to.equal(200);
    expect((await fetch(`${base}/pcap-source/interfaces`, { headers: { Authorization: `Bearer ${flowsOnly}` } })).status).to.equal(401);
  });
});
