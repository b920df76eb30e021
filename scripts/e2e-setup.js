'use strict';
/**
 * Prepares a real Node-RED for the end-to-end tests, the way a user installs this package:
 * `npm pack` of this repository, installed with npm into a fresh Node-RED user directory.
 *
 * - `nr4`: Node-RED 4 (this repository's devDependency) on the Node.js running this script.
 * - `nr5`: Node-RED 5 on Node.js 22, both from the npm registry (`node@22` ships the binary and its
 *   headers), installed under $E2E_DIR (default: <tmp>/netbaseline-e2e); this package is installed with that Node so that the native
 *   pcap addon is built for it (npm_config_nodedir points at the Node 22 headers).
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
// Outside the repository on purpose: from a folder inside it, require() would find this
// repository's own node_modules (its pcap, its dependencies) and hide a broken install.
const e2eDir = process.env.E2E_DIR || path.join(os.tmpdir(), 'netbaseline-e2e');
let tarball = null;
/** FlowFuse Dashboard 2 for examples/dashboard.json and test/e2e/dashboard.test.js. */
const DASHBOARD = '@flowfuse/node-red-dashboard@1.31.0';

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { cwd: options.cwd ?? root, env: options.env ?? process.env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}):\n${(r.stdout || '').slice(-2000)}\n${(r.stderr || '').slice(-4000)}`);
  }
  return r.stdout;
}

/** Packs this repository once per process (the build must exist: npm install ran `prepare`). */
function pack() {
  if (tarball) return tarball;
  if (!fs.existsSync(path.join(root, 'dist', 'nodes', 'pcap-source.js'))) throw new Error('dist/ is missing: run npm install (or npm run build) first');
  fs.mkdirSync(e2eDir, { recursive: true });
  for (const f of fs.readdirSync(e2eDir)) if (f.endsWith('.tgz')) fs.rmSync(path.join(e2eDir, f));
  const out = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', e2eDir]);
  tarball = path.join(e2eDir, JSON.parse(out)[0].filename);
  return tarball;
}

/**
 * A fresh user directory with the packed package, node-red-node-email@5 and @flowfuse/node-red-dashboard
 * (FlowFuse Dashboard 2, pinned: {@link DASHBOARD}) installed by `npm` running on `env`'s Node.
 * `omitOptional` installs it without its optional dependency `pcap`, as on a machine without
 * libpcap where that module cannot be built.
 */
function freshUserDir(name, env, omitOptional = false) {
  const userDir = path.join(e2eDir, name);
  fs.rmSync(userDir, { recursive: true, force: true });
  fs.mkdirSync(userDir, { recursive: true });
  fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-user', private: true, description: 'e2e user directory' }, null, 2));
  // @flowfuse/node-red-dashboard: the ui-table, ui-chart, ui-notification… of examples/dashboard.json (a
  // user installs it from the palette manager too), pinned so that a new release cannot change the page under the test.
  // node-red-node-email: the e-mail node that examples/email-alerts.json sends through (a user installs it
  // from the palette manager); installed in the same npm run as the package.
  run('npm', ['install', '--no-audit', '--no-fund', ...(omitOptional ? ['--omit=optional'] : []), pack(), 'node-red-node-email@5', DASHBOARD], { cwd: userDir, env });
  return userDir;
}

/** Node 22 from the npm registry's `node@22` package, installed once under $E2E_DIR/node22. */
function node22() {
  const prefix = path.join(e2eDir, 'node22');
  const bin = path.join(prefix, 'node_modules', 'node', 'bin', 'node');
  if (!fs.existsSync(bin)) {
    fs.mkdirSync(prefix, { recursive: true });
    run('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', prefix, 'node@22']);
  }
  const arch = path.join(prefix, 'node_modules', 'node', 'node_modules');
  const headers = fs.readdirSync(arch).map((d) => path.join(arch, d)).find((d) => fs.existsSync(path.join(d, 'include', 'node', 'node_api.h')));
  if (!headers) throw new Error(`node@22 is installed in ${prefix} but its headers (include/node) were not found`);
  const version = run(bin, ['--version']).trim();
  return { bin, headers, version };
}

/**
 * @param {'nr4'|'nr5'} flavour
 * @returns {{ label: string, node: string, red: string, userDir: string, userDirWithoutPcap?: string }}
 */
function prepareRuntime(flavour) {
  if (flavour === 'nr4') {
    const red = require.resolve('node-red/red.js', { paths: [root] });
    const version = require(path.join(path.dirname(red), 'package.json')).version;
    return {
      label: `Node-RED ${version} / Node ${process.version}`, node: process.execPath, red,
      userDir: freshUserDir('nr4-user', process.env),
      userDirWithoutPcap: freshUserDir('nr4-user-without-pcap', process.env, true),
    };
  }
  if (flavour === 'nr5') {
    const n22 = node22();
    const env = { ...process.env, PATH: `${path.dirname(n22.bin)}${path.delimiter}${process.env.PATH}`, npm_config_nodedir: n22.headers };
    const home = path.join(e2eDir, 'nr5');
    const red = path.join(home, 'node_modules', 'node-red', 'red.js');
    if (!fs.existsSync(red)) {
      fs.mkdirSync(home, { recursive: true });
      fs.writeFileSync(path.join(home, 'package.json'), JSON.stringify({ name: 'nr5-home', private: true }));
      run('npm', ['install', '--no-audit', '--no-fund', 'node-red@5'], { cwd: home, env });
    }
    const version = require(path.join(home, 'node_modules', 'node-red', 'package.json')).version;
    return { label: `Node-RED ${version} / Node ${n22.version}`, node: n22.bin, red, userDir: freshUserDir('nr5-user', env) };
  }
  throw new Error(`unknown runtime flavour ${flavour}`);
}

module.exports = { prepareRuntime, pack };
