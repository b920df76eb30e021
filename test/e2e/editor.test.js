'use strict';
/**
 * The editor in a real browser: headless Chromium (Debian `chromium`, driven by playwright-core)
 * against the real Node-RED that the end-to-end run starts with this package installed from its
 * tarball. What a user does: find the nodes in the palette, import an example through the menu,
 * deploy it, open rule-detector's dialog, change a value, deploy, and see invalid values marked.
 *
 * Writes the screenshots the README shows (docs/editor-flow.png, docs/editor-rule-detector.png) on the
 * Node-RED 4 run when DOCS_SCREENSHOTS=1 (`DOCS_SCREENSHOTS=1 E2E=nr4 node scripts/test.js --e2e-only`);
 * otherwise they go to the temporary directory, so that a test run leaves the working tree as it was.
 */
const { expect } = require('chai');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { NodeRedProcess } = require('../support/node-red-process');
const browser = require('../support/browser');

const runtime = { node: process.env.E2E_NODE, red: process.env.E2E_RED, userDir: process.env.E2E_USERDIR };
const label = process.env.E2E_LABEL || 'Node-RED';
const MODULE = '@netbaseline/node-red-traffic-anomaly';
const OUR_TYPES = ['pcap-source', 'flow-aggregator', 'ewma-baseline', 'rule-detector', 'cooldown-gate', 'anomaly-formatter'];
const root = path.resolve(__dirname, '..', '..');
const catalogue = JSON.parse(fs.readFileSync(path.join(root, 'nodes', 'locales', 'en-US', 'rule-detector.json'), 'utf8'))['rule-detector'];
const example = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'replay-demo-capture.json'), 'utf8'));
const screenshotDir = /^Node-RED 4/.test(label) && process.env.DOCS_SCREENSHOTS === '1' ? path.join(root, 'docs') : path.join(os.tmpdir(), `netbaseline-editor-screens-${label.replace(/\W+/g, '_')}`);
fs.mkdirSync(screenshotDir, { recursive: true });

describe(`editor in headless Chromium on ${label}`, function () {
  /** @type {NodeRedProcess} */
  let red;
  let session;
  let page;
  let detectorId;
  let userDir;

  before(async function () {
    if (!runtime.node || !runtime.red || !runtime.userDir) throw new Error('run through `npm test` (scripts/test.js), which prepares the runtime');
    if (!fs.existsSync(browser.CHROMIUM)) throw new Error(`${browser.CHROMIUM} is missing: apt-get install chromium (.ci/run installs it)`);
    // a user directory of its own (the installed package shared through a symlink), so that the
    // baselines and cooldowns this test persists do not reach the other end-to-end tests
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'netbaseline-editor-user-'));
    fs.copyFileSync(path.join(runtime.userDir, 'package.json'), path.join(userDir, 'package.json'));
    fs.symlinkSync(path.join(runtime.userDir, 'node_modules'), path.join(userDir, 'node_modules'), 'dir');
    red = new NodeRedProcess({ ...runtime, userDir });
    await red.start();
    session = await browser.launchEditorBrowser();
    page = session.page;
    await browser.openEditor(page, red.base);
  });

  afterEach(async function () {
    if (this.currentTest && this.currentTest.state === 'failed') {
      if (page) {
        const file = path.join(os.tmpdir(), `netbaseline-editor-failure-${Date.now()}.png`);
        await page.screenshot({ path: file }).catch(() => {});
        console.log(`--- screenshot of the failure: ${file}`);
      }
      if (session && session.pageErrors.length) console.log(`--- editor page errors ---\n${session.pageErrors.join('\n')}`);
      if (red) console.log(`--- Node-RED log (last 40 lines) ---\n${red.log.slice(-40).join('\n')}\n---`);
    }
  });

  after(async function () {
    if (session) await session.close();
    if (red) await red.stop();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  const deployedNodes = async () => {
    const d = await red.get('/flows');
    return d.flows || d;
  };

  it('shows the "traffic anomaly" palette category with all six nodes', async function () {
    const category = page.locator('.red-ui-palette-category', { has: page.locator('.red-ui-palette-header', { hasText: /^\s*traffic anomaly\s*$/ }) });
    await expect(await category.count(), 'one "traffic anomaly" category').to.equal(1);
    const types = await category.locator('.red-ui-palette-node').evaluateAll((els) => els.map((e) => e.getAttribute('data-palette-type')));
    expect(types).to.have.members(OUR_TYPES);
    for (const t of OUR_TYPES) {
      expect(await category.locator(`.red-ui-palette-node[data-palette-type="${t}"]`).isVisible(), `${t} visible`).to.equal(true);
    }
  });

  it('shows each node\'s help in the help sidebar as the Node-RED help style guide lays it out', async function () {
    // https://nodered.org/docs/creating-nodes/help-style-guide: a summary paragraph, then Inputs,
    // Outputs (one entry per port when there are several), Details, References
    for (const type of OUR_TYPES) {
      const help = await page.evaluate((t) => {
        RED.sidebar.help.show(t);
        const section = document.querySelector('#red-ui-sidebar .red-ui-help-title') && document.querySelector('#red-ui-sidebar .red-ui-help-title').parentElement;
        const body = section.querySelector('.red-ui-help > span');
        const children = [...body.children];
        const heads = children.filter((c) => c.tagName === 'H3').map((c) => c.textContent.trim());
        /** The elements between the H3 `title` and the next H3. */
        const between = (title) => {
          const out = [];
          let on = false;
          for (const c of children) {
            if (c.tagName === 'H3') { on = c.textContent.trim() === title; continue; }
            if (on) out.push(c);
          }
          return out;
        };
        const inputs = between('Inputs'), outputs = between('Outputs'), refs = between('References');
        return {
          title: section.querySelector('.red-ui-help-title').textContent.trim(),
          heads,
          summary: children[0] && children[0].tagName === 'P' ? children[0].textContent.trim() : null,
          inputsDl: inputs.some((c) => c.matches('dl.message-properties')),
          outputsDl: outputs.some((c) => c.matches('dl.message-properties') || c.querySelector('dl.message-properties')),
          outputPorts: outputs.filter((c) => c.matches('ol.node-ports')).map((c) => c.querySelectorAll(':scope > li').length),
          outputCount: RED.nodes.getType(t).outputs,
          references: refs.reduce((n, c) => n + c.querySelectorAll('li').length, 0),
        };
      }, type);
      expect(help.title, `${type}: help title`).to.equal(type);
      expect(help.heads, `${type}: sections`).to.deep.equal(['Inputs', 'Outputs', 'Details', 'References']);
      expect(help.summary, `${type}: a summary paragraph first`).to.be.a('string').and.not.equal('');
      expect(help.inputsDl, `${type}: Inputs as message properties`).to.equal(true);
      expect(help.outputsDl, `${type}: Outputs with the message shape`).to.equal(true);
      if (help.outputCount > 1) expect(help.outputPorts, `${type}: one node-ports entry per output`).to.include(help.outputCount);
      expect(help.references, `${type}: references`).to.be.above(0);
    }
  });

  it('imports replay-demo-capture through Import → Examples and deploys it with the Deploy button', async function () {
    await browser.importExample(page, MODULE, 'replay-demo-capture');
    // the editor now holds the example's nodes (the import may finish a moment after the dialog closes)
    const expectedTypes = example.filter((n) => n.type !== 'tab').map((n) => n.type);
    const inEditor = () => page.evaluate(() => { const a = []; RED.nodes.eachNode((n) => { a.push(n.type); }); return a; });
    await page.waitForFunction((types) => {
      const have = []; RED.nodes.eachNode((n) => { have.push(n.type); });
      return types.every((t) => have.includes(t));
    }, expectedTypes, { timeout: 30_000 }).catch(() => {});
    expect(await inEditor()).to.include.members(expectedTypes);
    await browser.deploy(page);
    const deployed = await deployedNodes();
    const deployedTypes = deployed.filter((n) => n.type !== 'tab').map((n) => n.type);
    expect(deployedTypes.sort()).to.deep.equal(expectedTypes.sort());
    const ids = await browser.nodeIds(page, 'rule-detector');
    expect(ids, 'one rule-detector in the editor').to.have.length(1);
    detectorId = ids[0];
    expect(deployed.find((n) => n.id === detectorId), 'the rule-detector the editor shows is the deployed one').to.include({ type: 'rule-detector', fastMultiplier: '3' });

    // show the example's tab (the import adds it beside the empty default tab)
    const tabLabel = example.find((n) => n.type === 'tab').label;
    const tabId = await page.evaluate((l) => { let id = null; RED.nodes.eachWorkspace((w) => { if (w.label === l) id = w.id; }); return id; }, tabLabel);
    expect(tabId, `a tab "${tabLabel}"`).to.be.a('string');
    await page.locator(`#red-ui-workspace-tabs li.red-ui-tab[id="red-ui-tab-${tabId.replace('.', '-')}"] a`).click();
    await page.waitForFunction((id) => RED.workspaces.active() === id, tabId);
    // screenshot: the whole flow with its statuses, our palette category, the alerts in the debug sidebar
    await page.setViewportSize({ width: 1920, height: 960 });
    await page.evaluate(() => {
      const c = document.getElementById('red-ui-palette-container-traffic_anomaly');
      if (c) c.scrollIntoView({ block: 'center' });
      RED.view.select({ nodes: [] });
      RED.sidebar.show('debug');
      RED.actions.invoke('core:zoom-out');
    });
    await page.evaluate(() => { const w = document.getElementById('red-ui-workspace-chart'); w.scrollLeft = 0; w.scrollTop = 0; });
    await page.mouse.move(5, 5);
    // the deployed flow runs: the replay's port-scan alert reaches the debug sidebar
    await page.waitForSelector('#red-ui-sidebar .red-ui-debug-msg:has-text("192.168.10.66")', { timeout: 60_000 });
    await page.waitForTimeout(1500);
    await page.screenshot({ path: path.join(screenshotDir, 'editor-flow.png') });
    await page.setViewportSize({ width: 1400, height: 860 });
    await page.evaluate(() => RED.actions.invoke('core:zoom-reset'));
  });

  it('sets the fast multiplier to 4 in rule-detector\'s dialog; after Deploy the runtime\'s flow carries 4', async function () {
    expect(detectorId, 'the example was imported').to.be.a('string');
    // the runtime's status text comes from the message catalogue (RED._ in the real runtime)
    const statusText = await browser.nodeElement(page, detectorId).locator('.red-ui-flow-node-status-label').textContent();
    const pattern = (tpl) => tpl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/__\w+__/g, '.+');
    const fromCatalogue = new RegExp(`^(${['window', 'windows', 'anomaly', 'anomalies'].map((k) => pattern(catalogue.status[k])).join('|')})$`);
    expect(statusText).to.match(fromCatalogue);
    await browser.openEditDialog(page, detectorId);
    // labels from the catalogue, not their keys
    expect((await page.locator('label[for="node-input-fastMultiplier"]').textContent()).trim()).to.equal(catalogue.label.fastMultiplier);
    expect((await page.locator('#dialog-form h4').allTextContents()).map((x) => x.trim())).to.include.members([catalogue.section.rules, catalogue.section.overrides, catalogue.section.allowList]);
    const input = browser.field(page, 'fastMultiplier');
    expect(await input.inputValue()).to.equal('3');
    await input.fill('4');
    await input.press('Tab');
    await browser.closeEditDialog(page);
    await browser.deploy(page);
    const node = (await deployedNodes()).find((n) => n.id === detectorId);
    expect(node.fastMultiplier).to.equal('4');
  });

  it('marks rule-detector invalid (red triangle) with fast multiplier "abc", and valid again with 2.5', async function () {
    expect(detectorId, 'the example was imported').to.be.a('string');
    expect((await browser.invalidMark(page, detectorId)).drawn, 'valid before the change').to.equal(false);
    await browser.openEditDialog(page, detectorId);
    await browser.field(page, 'fastMultiplier').fill('abc');
    await browser.field(page, 'fastMultiplier').press('Tab');
    await browser.closeEditDialog(page);
    let mark = await browser.invalidMark(page, detectorId);
    expect(mark.valid).to.equal(false);
    expect(mark.validationErrors.join(' | '), 'the editor names the field').to.match(/Fast EWMA ×/);
    expect(mark.drawn, 'red triangle drawn').to.equal(true);

    await browser.openEditDialog(page, detectorId);
    await browser.field(page, 'fastMultiplier').fill('2.5');
    await browser.field(page, 'fastMultiplier').press('Tab');
    await browser.closeEditDialog(page);
    mark = await browser.invalidMark(page, detectorId);
    expect(mark.valid).to.equal(true);
    expect(mark.drawn, 'red triangle gone').to.equal(false);
  });

  it('checks a CIDR in the overrides as it is typed, and marks the node invalid with a bad one', async function () {
    expect(detectorId, 'the example was imported').to.be.a('string');
    await browser.openEditDialog(page, detectorId);
    await page.locator('#node-input-overrides-container').locator('xpath=ancestor::div[contains(concat(" ", @class, " "), " red-ui-editableList ")][1]').locator('button.red-ui-editableList-addButton').click();
    const cidr = page.locator('#node-input-overrides-container .node-input-cidr').last();
    const flagged = () => cidr.evaluate((el) => el.classList.contains('input-error'));
    await cidr.pressSequentially('192.168.10.5/3');
    expect(await flagged(), '192.168.10.5/3 is a valid prefix').to.equal(false);
    await cidr.pressSequentially('3');
    expect(await flagged(), '/33 flagged as typed').to.equal(true);
    await cidr.press('Backspace');
    await cidr.pressSequentially('2');
    expect(await flagged(), '/32 accepted').to.equal(false);
    await page.locator('#node-input-overrides-container .node-input-override-fastMultiplier').last().fill('6');
    // screenshot of the whole panel: a viewport tall enough for every section
    await page.setViewportSize({ width: 1400, height: 1900 });
    await page.waitForTimeout(500);
    await page.locator('.red-ui-tray').first().screenshot({ path: path.join(screenshotDir, 'editor-rule-detector.png') });
    await page.setViewportSize({ width: 1400, height: 860 });
    await browser.closeEditDialog(page);
    let mark = await browser.invalidMark(page, detectorId);
    expect(mark.drawn, 'valid override: no triangle').to.equal(false);
    expect(await page.evaluate((id) => RED.nodes.node(id).overrides, detectorId)).to.deep.equal([{ cidr: '192.168.10.5/32', fastMultiplier: '6' }]);

    // a bad CIDR in the allow-list: the field is flagged and the node marked invalid
    await browser.openEditDialog(page, detectorId);
    await page.locator('#node-input-allowList-container').locator('xpath=ancestor::div[contains(concat(" ", @class, " "), " red-ui-editableList ")][1]').locator('button.red-ui-editableList-addButton').click();
    const allow = page.locator('#node-input-allowList-container .node-input-cidr').last();
    await allow.pressSequentially('10.0.0.256/8');
    expect(await allow.evaluate((el) => el.classList.contains('input-error')), '10.0.0.256 flagged').to.equal(true);
    await browser.closeEditDialog(page);
    mark = await browser.invalidMark(page, detectorId);
    expect(mark.valid).to.equal(false);
    expect(mark.validationErrors.join(' | ')).to.match(/Allow-list: entry 1: "10\.0\.0\.256\/8"/);
    expect(mark.drawn, 'red triangle drawn').to.equal(true);

    // fixed and deployed: the runtime honours the override and the allow-list
    await browser.openEditDialog(page, detectorId);
    await page.locator('#node-input-allowList-container .node-input-cidr').last().fill('10.0.0.0/8');
    await browser.closeEditDialog(page);
    expect((await browser.invalidMark(page, detectorId)).drawn).to.equal(false);
    await browser.deploy(page);
    const node = (await deployedNodes()).find((n) => n.id === detectorId);
    expect(node.overrides).to.deep.equal([{ cidr: '192.168.10.5/32', fastMultiplier: '6' }]);
    expect(node.allowList).to.deep.equal([{ cidr: '10.0.0.0/8' }]);
  });
});
