'use strict';
/**
 * Every node wraps a core module in src/core that can be used and tested without Node-RED: the
 * built core modules require nothing of Node-RED's (directly or through another module), and the
 * whole core loads in a process where Node-RED cannot be resolved at all.
 */
const { expect } = require('chai');
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..', '..');
const coreDir = path.join(root, 'dist', 'core');

describe('core modules (src/core) have no Node-RED dependency', function () {
  it('no core module requires node-red, @node-red/* or a node wrapper', function () {
    const files = fs.readdirSync(coreDir).filter((f) => f.endsWith('.js'));
    expect(files.length, 'built core modules').to.be.above(10);
    const offenders = [];
    for (const f of files) {
      const src = fs.readFileSync(path.join(coreDir, f), 'utf8');
      for (const m of src.matchAll(/require\(["']([^"']+)["']\)/g)) {
        const id = m[1];
        if (/^(node-red|@node-red\/)/.test(id) || /\.\.\/nodes\//.test(id)) offenders.push(`${f} → ${id}`);
        if (!id.startsWith('.') && !id.startsWith('node:') && !require('module').builtinModules.includes(id) && id !== 'pcap') offenders.push(`${f} → ${id} (a package)`);
      }
    }
    expect(offenders).to.deep.equal([]);
  });

  it('the whole core loads and runs where Node-RED is not installed', function () {
    // a copy of dist/core outside the repository, so that node_modules (and node-red) cannot be found
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-core-alone-'));
    try {
      fs.cpSync(coreDir, path.join(dir, 'core'), { recursive: true });
      const script = `
        let redFound = true; try { require.resolve('node-red'); } catch { redFound = false; }
        if (redFound) throw new Error('node-red resolvable');
        const fs = require('fs');
        for (const f of fs.readdirSync(${JSON.stringify(path.join(dir, 'core'))})) if (f.endsWith('.js')) require(${JSON.stringify(path.join(dir, 'core'))} + '/' + f);
        const { DetectionPipeline } = require(${JSON.stringify(path.join(dir, 'core', 'pipeline.js'))});
        console.log(typeof new DetectionPipeline().ingest);
      `;
      const out = execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8' });
      expect(out.trim()).to.equal('function');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
