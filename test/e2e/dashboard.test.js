'use strict';
/**
 * The dashboard example in a real browser: examples/dashboard.json deployed into a real Node-RED
 * (4 or 5, see scripts/test.js) with this package and FlowFuse Dashboard 2
 * (`@flowfuse/node-red-dashboard`, installed into the user directory by scripts/e2e-setup.js), its
 * page opened in headless Chromium (Debian `chromium`, playwright-core) and used as an operator
 * does: start the replay with the page's button, watch the port scan's row appear in the
 * open-anomalies table and a toast, press the "false positive" button of the scanner's row (an
 * allow-list entry in rule-detector) and of a destination's row (a per-host override), chart the
 * clicked row's key, switch maintenance on and off, see the rows go when the capture ends, and
 * replay again: the allow-listed scanner raises nothing.
 *
 * The screenshot the README shows (docs/dashboard.png) is written on the Node-RED 4 run when
 * DOCS_SCREENSHOTS=1 (`DOCS_SCREENSHOTS=1 E2E=nr4 node scripts/test.js --e2e-only`); otherwise it
 * goes to the temporary directory, so that a test run leaves the working tree as it was.
 */
const { expect } = require('chai');
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { NodeRedProcess } = require('../support/node-red-process');
const browser = require('../support/browser');

const runtime = { node: process.env.E2E_NODE, red: process.env.E2E_RED, userDir: process.env.E2E_USERDIR };
const label = process.env.E2E_LABEL || 'Node-RED';
const root = path.resolve(__dirname, '..', '..');
const demo = path.join(root, 'examples', 'demo-scan-and-flood.pcap');
const example = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'dashboard.json'), 'utf8'));
const screenshotDir = /^Node-RED 4/.test(label) && process.env.DOCS_SCREENSHOTS === '1'
  ? path.join(root, 'docs')
  : path.join(os.tmpdir(), `netbaseline-dashboard-screens-${label.replace(/\W+/g, '_')}`);
fs.mkdirSync(screenshotDir, { recursive: true });

/** The port scan of the demo capture (README, examples/replay-demo-capture.json): its source. */
const SCANNER = '192.168.10.66';
const byType = (type) => example.filter((n) => n.type === type);
const node = (id) => {
  const n = example.find((x) => x.id === id);
  if (!n) throw new Error(`examples/dashboard.json has no node ${id}`);
  return n;
};

/**
 * Ground truth from Wireshark, not from our code: the distinct TCP destination ports the scanner
 * sent SYNs (SYN set, ACK clear) to; null without tshark.
 */
function tsharkScannedPorts() {
  const r = spawnSync('tshark', ['-r', demo, '-Y', `ip.src==${SCANNER} && tcp.flags.syn==1 && tcp.flags.ack==0`, '-T', 'fields', '-e', 'tcp.dstport'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) return null;
  return new Set(r.stdout.split('\n').filter((l) => l.trim())).size;
}

describe(`dashboard example (FlowFuse Dashboard 2) in headless Chromium on ${label}`, function () {
  /** @type {NodeRedProcess} */
  let red;
  let session;
  let page;
  let userDir;
  let statuses;
  let debug;
  /** What the page's "false positive" press sent towards rule-detector (set by the first test). */
  let feedback = null;
  /** rule-detector's statuses from just before that press on. */
  let detectorStatusesFrom = 0;

  // the ids the test drives or reads, checked to exist in the example
  const ids = {
    table: byType('ui-table')[0] && byType('ui-table')[0].id,
    maintenance: byType('ui-switch')[0] && byType('ui-switch')[0].id,
    replayButton: byType('ui-button')[0] && byType('ui-button')[0].id,
    page: byType('ui-page')[0],
    base: byType('ui-base')[0],
    gate: byType('cooldown-gate')[0] && byType('cooldown-gate')[0].id,
    baseline: byType('ewma-baseline')[0] && byType('ewma-baseline')[0].id,
    detector: byType('rule-detector')[0] && byType('rule-detector')[0].id,
    chart: example.find((n) => n.type === 'anomaly-formatter' && n.shape === 'dashboard-chart'),
    feedbackDebug: example.find((n) => n.type === 'debug' && /feedback/i.test(n.name || '')),
  };

  before(async function () {
    if (!runtime.node || !runtime.red || !runtime.userDir) throw new Error('run through `npm test` (scripts/test.js), which prepares the runtime');
    if (!fs.existsSync(browser.CHROMIUM)) throw new Error(`${browser.CHROMIUM} is missing: apt-get install chromium (.ci/run installs it)`);
    for (const [k, v] of Object.entries(ids)) expect(v, `examples/dashboard.json: ${k}`).to.exist;
    // a user directory of its own (the installed packages shared through a symlink): the baselines
    // and open anomalies this test persists stay here, and every run starts from a fresh state
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'netbaseline-dashboard-user-'));
    fs.copyFileSync(path.join(runtime.userDir, 'package.json'), path.join(userDir, 'package.json'));
    fs.symlinkSync(path.join(runtime.userDir, 'node_modules'), path.join(userDir, 'node_modules'), 'dir');
    red = new NodeRedProcess({ ...runtime, userDir });
    await red.start();
    const modules = await red.get('/nodes');
    expect(modules.map((m) => m.module), '@flowfuse/node-red-dashboard installed in the user directory (scripts/e2e-setup.js)').to.include('@flowfuse/node-red-dashboard');
    statuses = await red.subscribe('status/#');
    debug = await red.subscribe('debug');
    session = await browser.launchEditorBrowser({ width: 1400, height: 900 });
    page = session.page;
  });

  afterEach(async function () {
    if (this.currentTest && this.currentTest.state === 'failed') {
      if (page) {
        const file = path.join(os.tmpdir(), `netbaseline-dashboard-failure-${Date.now()}.png`);
        await page.screenshot({ path: file }).catch(() => {});
        console.log(`--- screenshot of the failure: ${file}`);
      }
      if (session && session.pageErrors.length) console.log(`--- dashboard page errors ---\n${session.pageErrors.join('\n')}`);
      if (statuses) console.log(`--- last statuses ---\n${statuses.messages.slice(-25).map((m) => `${m.topic} ${JSON.stringify(m.data)}`).join('\n')}`);
      if (red) console.log(`--- Node-RED log (last 40 lines) ---\n${red.log.slice(-40).join('\n')}\n---`);
    }
  });

  after(async function () {
    if (statuses) statuses.close();
    if (debug) debug.close();
    if (session) await session.close();
    if (red) await red.stop();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  /** The latest status a node showed, or {}. */
  const lastStatus = (id) => {
    const mine = statuses.messages.filter((m) => m.topic === `status/${id}`);
    return mine.length ? mine[mine.length - 1].data || {} : {};
  };
  const table = () => page.locator(`#nrdb-ui-widget-${ids.table}`);
  const cell = (column, text) => page.locator(`td[data-column-key="${column}"]`, { hasText: new RegExp(`^\\s*${text.replace(/\./g, '\\.')}\\s*$`) });
  /** The table rows whose Key cell is `key` (and Rule cell `rule`, when given). */
  const row = (key, rule) => {
    const rows = table().locator('tr', { has: cell('key', key) });
    return rule ? rows.filter({ has: cell('rule', rule) }) : rows;
  };

  it('shows the port scan of a replay in the table and a toast, sends false positives to rule-detector (allow-list, override), charts the clicked row\'s key, switches maintenance on and off, and drops the rows when the capture ends', async function () {
    await red.deploy(example);
    const url = `${red.base}${ids.base.path}${ids.page.path}`;
    await page.goto(url);
    await table().waitFor({ state: 'visible', timeout: 60_000 });
    await page.locator(`#nrdb-ui-widget-${ids.maintenance}`).waitFor({ state: 'visible' });
    expect(await row(`src ${SCANNER}`).count(), 'no row before the replay').to.equal(0);

    // start the replay from the page (10× packet time: the scan is at 10:05, 30 s in)
    await page.locator(`#nrdb-ui-widget-${ids.replayButton} button`).click();
    const scanRow = row(`src ${SCANNER}`, 'port-scan');
    await scanRow.waitFor({ state: 'visible', timeout: 90_000 });
    const cells = async (r) => Object.fromEntries(await r.locator('td[data-column-key]').evaluateAll((tds) => tds.map((td) => [td.getAttribute('data-column-key'), td.innerText.trim()])));
    const scan = await cells(scanRow);
    expect(scan).to.include({ severity: 'high', rule: 'port-scan', metric: 'distinctDstPorts', 'false positive': 'false positive' });
    const ports = tsharkScannedPorts();
    if (ports !== null) expect(scan.valueText, 'distinct ports as Wireshark counts them').to.equal(`${ports.toLocaleString('en-US')} ports`);
    else console.log('      (tshark not installed: the scanned ports are not compared with Wireshark)');
    expect(scan.since).to.match(/^2026-01-15T10:05:\d\dZ$/);

    // a toast for the anomalies of that window (the notification shows the latest one)
    await page.getByText(/^(HIGH|MEDIUM) [a-z-]+ on \S+/).first().waitFor({ state: 'visible', timeout: 10_000 });

    // the chart plots the key chosen on deploy, from ewma-baseline's windows
    const chartStatus = await NodeRedProcess.waitFor(() => {
      const s = lastStatus(ids.chart.id);
      const m = /^chart · (.+) · ([\d.,k]+) points$/.exec(s.text || '');
      return m && Number(m[2].replace(/,/g, '')) > 0 ? m : null;
    }, 10_000, 'points sent to the chart');
    expect(chartStatus[1]).to.equal(byType('inject').find((n) => (n.props || []).some((p) => p.p === 'chartKey')).props.find((p) => p.p === 'chartKey').v);
    await page.locator(`#nrdb-ui-widget-${node('nb-dash-chart').id} canvas`).first().waitFor({ state: 'visible' });

    await page.screenshot({ path: path.join(screenshotDir, 'dashboard.png') });

    // "false positive" on the scanner's row: the control message reaches the runtime
    detectorStatusesFrom = statuses.messages.length;
    await scanRow.locator('td[data-column-key="false positive"] button').click();
    const sent = await NodeRedProcess.waitFor(() => debug.messages.find((m) => m.topic === 'debug' && m.data && m.data.id === ids.feedbackDebug.id), 10_000, 'the feedback message in the debug sidebar');
    feedback = JSON.parse(sent.data.msg);
    expect(feedback.allow, 'a port scan\'s source is allow-listed').to.include({ cidr: `${SCANNER}/32` });
    expect(feedback.allow.note).to.match(new RegExp(`port-scan on src ${SCANNER.replace(/\./g, '\\.')}`));
    await page.getByText(`Sent to rule-detector: allow-list ${SCANNER}/32`).first().waitFor({ state: 'visible', timeout: 10_000 });

    // "false positive" on a destination's row (here the static SYN-rate alert on 192.168.10.40): a per-host
    // override with doubled multipliers, which rule-detector applies at once
    const dstRow = table().locator('tr', { has: page.locator('td[data-column-key="key"]', { hasText: /^\s*dst \d/ }) }).first();
    await dstRow.waitFor({ state: 'visible', timeout: 5_000 });
    const dstAddress = (await dstRow.locator('td[data-column-key="key"]').innerText()).trim().replace(/^dst /, '');
    await dstRow.locator('td[data-column-key="false positive"] button').click();
    const sent2 = await NodeRedProcess.waitFor(() => debug.messages.filter((m) => m.topic === 'debug' && m.data && m.data.id === ids.feedbackDebug.id)[1], 10_000, 'the second feedback message');
    const override = JSON.parse(sent2.data.msg).override;
    expect(override, 'a destination gets an override').to.include({ cidr: `${dstAddress}/32`, fastMultiplier: 6, slowMultiplier: 10 });
    await NodeRedProcess.waitFor(() => statuses.messages.slice(detectorStatusesFrom).some((m) => m.topic === `status/${ids.detector}` && ((m.data || {}).text || '').startsWith(`override +${dstAddress}/32`)), 10_000, `rule-detector: override +${dstAddress}/32`);

    // a click on the row charts that row's key and metric
    const beforeClick = statuses.messages.length;
    await scanRow.locator('td[data-column-key="key"]').click();
    await NodeRedProcess.waitFor(() => statuses.messages.slice(beforeClick).some((m) => m.topic === `status/${ids.chart.id}` && (m.data || {}).text === `chart · src ${SCANNER} · distinctDstPorts`), 10_000, 'the chart to switch to the clicked row');

    // maintenance on: cooldown-gate holds alerts back and ewma-baseline learns at full weight; off: a summary toast
    await page.locator(`#nrdb-ui-widget-${ids.maintenance} button`).click();
    await NodeRedProcess.waitFor(() => /maintenance/.test(lastStatus(ids.gate).text || ''), 10_000, 'cooldown-gate in maintenance');
    await NodeRedProcess.waitFor(() => /maintenance/.test(lastStatus(ids.baseline).text || ''), 10_000, 'ewma-baseline in maintenance');
    // the summary toast may be replaced at once by the next anomaly's toast (the replay goes on), so
    // every text the page renders from here on is recorded rather than looked for afterwards
    await page.evaluate(() => {
      window.nbRendered = [];
      new MutationObserver((records) => {
        for (const r of records) for (const n of r.addedNodes) if (n.textContent) window.nbRendered.push(n.textContent);
        for (const r of records) if (r.type === 'characterData' && r.target.textContent) window.nbRendered.push(r.target.textContent);
      }).observe(document.body, { childList: true, subtree: true, characterData: true });
    });
    await page.locator(`#nrdb-ui-widget-${ids.maintenance} button`).click();
    await NodeRedProcess.waitFor(() => !/maintenance/.test(lastStatus(ids.gate).text || ''), 10_000, 'cooldown-gate out of maintenance');
    await page.waitForFunction(() => window.nbRendered.some((t) => /Maintenance ended:/.test(t)), null, { timeout: 10_000 });

    // the scan resolves after the example's resolve period of packet time (its row goes), the flood
    // comes at 10:08, and the end of the capture resolves what is still open: the table ends empty
    await scanRow.waitFor({ state: 'detached', timeout: 60_000 });
    await NodeRedProcess.waitFor(() => /done · /.test(lastStatus(node('nb-dash-src').id).text || ''), 90_000, 'the end of the replay (pcap-source "done")');
    await NodeRedProcess.waitFor(() => /^0 open/.test(lastStatus(ids.gate).text || ''), 10_000, 'cooldown-gate: nothing open');
    await table().locator('td[data-column-key="key"]').first().waitFor({ state: 'detached', timeout: 10_000 });
    expect(await table().locator('td[data-column-key="key"]').count(), 'no open anomaly left after the capture ended').to.equal(0);
  });

  it('rule-detector takes the false positive at runtime: the scanner is allow-listed, and a replay again raises no port scan from it', async function () {
    if (!feedback) this.skip(); // the first test did not get as far as the press
    const esc = SCANNER.replace(/\./g, '\\.');
    const mine = () => statuses.messages.slice(detectorStatusesFrom).filter((m) => m.topic === `status/${ids.detector}`).map((m) => m.data || {});
    const taken = await NodeRedProcess.waitFor(() => mine().find((s) => s.fill === 'red' || /allow-list/.test(s.text || '')), 10_000, 'rule-detector\'s answer to the control message');
    expect(taken.fill, `rule-detector status "${taken.text}"`).to.not.equal('red');
    expect(taken.text).to.match(new RegExp(`^allow-list \\+${esc}/32`));

    // replay again from the page: the scanner's records reach rule-detector and are skipped
    const from = statuses.messages.length;
    await page.locator(`#nrdb-ui-widget-${ids.replayButton} button`).click();
    let scanRows = 0;
    const srcId = node('nb-dash-src').id;
    const doneAgain = () => statuses.messages.slice(from).some((m) => m.topic === `status/${srcId}` && /done · /.test((m.data || {}).text || ''));
    const deadline = Date.now() + 100_000;
    while (!doneAgain()) {
      if (Date.now() > deadline) throw new Error('the second replay did not end within 100 s');
      scanRows = Math.max(scanRows, await row(`src ${SCANNER}`).count());
      await page.waitForTimeout(200);
    }
    expect(scanRows, 'rows of the allow-listed scanner during the second replay').to.equal(0);
    const skipped = statuses.messages.slice(from).filter((m) => m.topic === `status/${ids.detector}`).map((m) => /· ([\d,]+) allow-listed/.exec((m.data || {}).text || '')).filter(Boolean).map((m) => Number(m[1].replace(/,/g, '')));
    expect(Math.max(0, ...skipped), 'records skipped because they were allow-listed').to.be.above(0);
    expect(statuses.messages.slice(from).filter((m) => m.topic === `status/${ids.detector}` && (m.data || {}).fill === 'red'), 'rule-detector errors').to.deep.equal([]);
  });
});
