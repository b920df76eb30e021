'use strict';
/**
 * Drives the Node-RED editor in headless Chromium (Debian's `chromium`, through playwright-core) the
 * way a user does: palette, main menu, import dialog, edit tray, Deploy button. Used by
 * test/e2e/editor.test.js against the real Node-RED that test/support/node-red-process.js starts.
 *
 * Selectors are those of the Node-RED 4 and 5 editor (`@node-red/editor-client`).
 */
const fs = require('fs');
const os = require('os');
const path = require('path');

/** The Chromium the tests use (Debian package `chromium`; CI installs it in .ci/run). */
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
];

/**
 * Starts Chromium with a fresh user-data-dir (removed again by `close()`), one page of
 * `viewport` size. Resolves `{ context, page, close }`.
 * @param {{ width: number, height: number }} [viewport]
 */
async function launchEditorBrowser(viewport = { width: 1400, height: 860 }) {
  const { chromium } = require('playwright-core');
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'netbaseline-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport,
  });
  const page = context.pages()[0] || await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(err.stack || err.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/catalogue\.nodered\.org|ERR_NAME_NOT_RESOLVED|Failed to load resource/.test(m.text())) pageErrors.push(`console: ${m.text()}`); });
  return {
    context,
    page,
    pageErrors,
    async close() {
      try { await context.close(); } finally { fs.rmSync(userDataDir, { recursive: true, force: true }); }
    },
  };
}

/**
 * Opens the editor at `base` and waits until the palette is drawn and the flows are loaded;
 * dismisses the "Enable Update Notifications" prompt Node-RED 4.1+ shows on a fresh install.
 * @param {import('playwright-core').Page} page
 * @param {string} base e.g. http://127.0.0.1:1880
 */
async function openEditor(page, base) {
  await page.goto(`${base}/`);
  await page.waitForSelector('.red-ui-palette-node[data-palette-type="inject"]', { timeout: 60_000 });
  await page.waitForFunction(() => window.RED && RED.nodes && RED.nodes.version && RED.nodes.version() !== undefined, null, { timeout: 30_000 });
  await dismissPrompts(page);
}

/** Clicks away the update-notification prompt if it is open (it may appear a moment after load). */
async function dismissPrompts(page) {
  const no = page.getByRole('button', { name: /do not enable notifications/i });
  try {
    await no.waitFor({ state: 'visible', timeout: 2000 });
    await no.click();
  } catch { /* no prompt */ }
}

/**
 * Imports an example flow through the main menu: ☰ → Import → Examples → `moduleName` → `exampleName`
 * → Import. Waits until the dialog is closed.
 */
async function importExample(page, moduleName, exampleName) {
  await page.click('#red-ui-header-button-sidemenu');
  await page.click('#menu-item-import');
  await page.waitForSelector('#red-ui-clipboard-dialog', { state: 'visible' });
  await page.click('#red-ui-tab-red-ui-clipboard-dialog-import-tab-examples a');
  const tab = page.locator('#red-ui-clipboard-dialog-import-tab-examples');
  await tab.locator('.red-ui-treeList-label-text', { hasText: moduleName }).first().click();
  await tab.locator('.red-ui-treeList-label-text', { hasText: new RegExp(`^${exampleName}$`) }).first().click();
  await page.click('#red-ui-clipboard-dialog-ok');
  await page.waitForSelector('#red-ui-clipboard-dialog', { state: 'hidden' });
}

/** Clicks Deploy and waits for the editor's "Successfully deployed" notification. */
async function deploy(page) {
  const button = page.locator('#red-ui-header-button-deploy');
  await button.click();
  const done = page.locator('.red-ui-notification:has-text("Successfully deployed")');
  const invalid = page.locator('.red-ui-notification:has-text("not properly configured")');
  await done.or(invalid).first().waitFor({ state: 'visible', timeout: 30_000 });
  if (await invalid.isVisible()) {
    const text = (await invalid.innerText()).replace(/\s+/g, ' ');
    const reasons = await page.evaluate(() => {
      const out = [];
      RED.nodes.eachNode((n) => { if (n.valid === false) out.push(`${n.type} ${n.id}: ${(n.validationErrors || []).join(', ')}`); });
      return out;
    });
    throw new Error(`Deploy asked to confirm invalid nodes: ${text}\n  ${reasons.join('\n  ')}`);
  }
  // the notification fades out; wait for it so that the next deploy's notification is a new one
  await page.waitForSelector('.red-ui-notification:has-text("Successfully deployed")', { state: 'detached', timeout: 30_000 });
}

/** Ids of the editor's nodes of `type` (from the editor's own model, RED.nodes). */
function nodeIds(page, type) {
  return page.evaluate((t) => RED.nodes.filterNodes({ type: t }).map((n) => n.id), type);
}

/** The node's `<g>` in the workspace SVG. */
function nodeElement(page, id) {
  return page.locator(`g.red-ui-flow-node-group[id="${id}"]`);
}

/** Double-clicks a node in the workspace and waits for its edit tray. */
async function openEditDialog(page, id) {
  await page.evaluate((nid) => RED.view.reveal(nid), id);
  await nodeElement(page, id).locator('rect.red-ui-flow-node').dblclick();
  await page.waitForSelector('#node-dialog-ok', { state: 'visible' });
  await page.waitForTimeout(400); // the tray slides in
}

/**
 * The text field a user types into for property `name` of the open edit tray: the TypedInput's
 * visible input when the property is a TypedInput (the `#node-input-<name>` element is hidden
 * then), else `#node-input-<name>` itself.
 */
function field(page, name) {
  // TypedInput inserts its own <input> in a <div> right after the original element and hides that one
  return page.locator(`#node-input-${name} + div input.red-ui-typedInput-input, input#node-input-${name}:not([type="hidden"])`).first();
}

/** Clicks Done in the edit tray and waits for it to close. */
async function closeEditDialog(page) {
  await page.click('#node-dialog-ok');
  await page.waitForSelector('#node-dialog-ok', { state: 'detached' });
}

/**
 * Whether the editor draws the node as invalid (the red triangle, class `red-ui-flow-node-error`),
 * with the editor's own `valid` flag and list of invalid properties.
 */
async function invalidMark(page, id) {
  const model = await page.evaluate((nid) => {
    const n = RED.nodes.node(nid);
    return { valid: n.valid, validationErrors: n.validationErrors || [] };
  }, id);
  const triangle = nodeElement(page, id).locator('g.red-ui-flow-node-error');
  const drawn = (await triangle.count()) > 0 && await triangle.first().isVisible();
  return { drawn, ...model };
}

module.exports = {
  CHROMIUM, CHROMIUM_ARGS, launchEditorBrowser, openEditor, dismissPrompts, importExample, deploy,
  nodeIds, nodeElement, field, openEditDialog, closeEditDialog, invalidMark,
};
