#!/usr/bin/env node
'use strict';
/**
 * `npm test`: every test, in three runs, then one closing line `N passed, N failed, N skipped`.
 *  1. core modules and nodes (mocha; nodes in node-red-node-test-helper's Node-RED 4 runtime);
 *  2. end to end on Node-RED 4 with this Node.js: the packed package installed into a fresh
 *     user directory, a real Node-RED started, every example deployed through the admin API;
 *  3. the same end-to-end run on Node-RED 5 with Node.js 22 (from the npm registry's `node@22`
 *     package), the native pcap addon built for that Node.
 * Set E2E=0 to run only the first, E2E=nr4 to skip Node-RED 5; --e2e-only skips the first.
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { prepareRuntime } = require('./e2e-setup');

const root = path.resolve(__dirname, '..');
const mocha = path.join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
const reporter = path.join(root, 'test', 'support', 'summary-reporter.js');
const totals = { passes: 0, failures: 0, pending: 0 };
let broken = false;

function runMocha(label, args, env = {}) {
  console.log(`\n=== ${label} ===`);
  const statsFile = path.join(os.tmpdir(), `netbaseline-mocha-${process.pid}-${label.replace(/\W+/g, '_')}.json`);
  fs.rmSync(statsFile, { force: true });
  const r = spawnSync(process.execPath, [mocha, '--reporter', reporter, ...args], {
    cwd: root, stdio: 'inherit', env: { ...process.env, ...env, MOCHA_STATS_FILE: statsFile },
  });
  if (!fs.existsSync(statsFile)) {
    console.error(`${label}: mocha ended (exit ${r.status}, signal ${r.signal}) without reporting a result`);
    broken = true;
    totals.failures++;
    return;
  }
  const s = JSON.parse(fs.readFileSync(statsFile, 'utf8'));
  totals.passes += s.passes;
  totals.failures += s.failures;
  totals.pending += s.pending;
  if (r.status !== 0 && s.failures === 0) { broken = true; totals.failures++; }
}

function main() {
  if (!process.argv.includes('--e2e-only')) runMocha('core and nodes (Node-RED 4 test helper)', ['test/core/**/*.test.js', 'test/nodes/**/*.test.js', 'test/cli/**/*.test.js', 'test/synth/**/*.test.js', 'test/package/**/*.test.js']);
  const mode = process.env.E2E ?? 'all';
  if (mode !== '0') {
    for (const flavour of mode === 'nr4' ? ['nr4'] : ['nr4', 'nr5']) {
      let runtime;
      try {
        runtime = prepareRuntime(flavour);
      } catch (err) {
        console.error(`\n=== end to end (${flavour}) could not be prepared: ${err.message}`);
        totals.failures++;
        broken = true;
        continue;
      }
      runMocha(`end to end on ${runtime.label}`, ['test/e2e/**/*.test.js', '--config', path.join(root, '.mocharc.e2e.json')], {
        E2E_NODE: runtime.node, E2E_RED: runtime.red, E2E_USERDIR: runtime.userDir, E2E_LABEL: runtime.label,
        E2E_USERDIR_WITHOUT_PCAP: runtime.userDirWithoutPcap || '',
      });
    }
  }
  console.log(`\n${totals.passes} passed, ${totals.failures} failed, ${totals.pending} skipped`);
  process.exitCode = totals.failures > 0 || broken ? 1 : 0;
}

main();
