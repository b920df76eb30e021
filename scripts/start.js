#!/usr/bin/env node
'use strict';
/**
 * `npm start`: a local Node-RED on http://127.0.0.1:1880 (PORT to change it) with this package
 * loaded from the working tree and, on the first start, the replay example deployed: it replays the
 * bundled demo capture and the alerts appear in the debug sidebar.
 *
 * The user directory is `.node-red/` in the repository (git-ignored; NETBASELINE_USER_DIR to use
 * another one); delete it to start afresh.
 */
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const userDir = process.env.NETBASELINE_USER_DIR ? path.resolve(process.env.NETBASELINE_USER_DIR) : path.join(root, '.node-red');
const port = Number(process.env.PORT || 1880);

if (!fs.existsSync(path.join(root, 'dist', 'nodes', 'pcap-source.js'))) {
  console.error('The package is not built yet: run `npm install` (or `npm run build`) first.');
  process.exit(1);
}

fs.mkdirSync(userDir, { recursive: true });
const flowFile = path.join(userDir, 'flows.json');
if (!fs.existsSync(flowFile)) {
  const example = fs.readdirSync(path.join(root, 'examples')).find((f) => /replay/i.test(f) && f.endsWith('.json'));
  fs.copyFileSync(path.join(root, 'examples', example), flowFile);
  console.log(`First start: deployed examples/${example}`);
}
const settingsFile = path.join(userDir, 'settings.js');
fs.writeFileSync(settingsFile, `// Written by scripts/start.js on every start.
module.exports = {
  uiHost: '127.0.0.1',
  uiPort: ${port},
  flowFile: 'flows.json',
  credentialSecret: false,
  // Load this package straight from the repository (it has a node-red section in package.json).
  nodesDir: [${JSON.stringify(root)}],
  editorTheme: { tours: false },
  logging: { console: { level: 'info', metrics: false, audit: false } },
};
`);

const red = require.resolve('node-red/red.js', { paths: [root] });
console.log(`Starting Node-RED on http://127.0.0.1:${port}/ (Ctrl-C to stop)`);
const child = spawn(process.execPath, [red, '--userDir', userDir, '--settings', settingsFile], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => { process.exitCode = code ?? (signal ? 0 : 1); });
