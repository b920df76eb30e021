'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { expect } = require('chai');
const { NodeStateFile, SAVE_INTERVAL_MS } = require('../../dist/nodes/state-file.js');

/** A stand-in for the parts of RED and of a node that NodeStateFile uses. */
function fakes(userDir) {
  const warnings = [];
  return {
    RED: { settings: { userDir } },
    node: { id: 'n1:ab', warn: (m) => warnings.push(String(m)) },
    t: (key, vars) => `${key} ${JSON.stringify(vars || {})}`,
    warnings,
  };
}
/** Resolves once `check()` is true (polled every 10 ms); rejects after `ms`. */
function until(check, ms = 3000) {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => { if (check()) resolve(); else if (Date.now() - t0 > ms) reject(new Error('condition not met')); else setTimeout(tick, 10); };
    tick();
  });
}

describe('NodeStateFile (periodic state writes of ewma-baseline and cooldown-gate)', function () {
  let dir;
  beforeEach(function () { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-state-')); });
  afterEach(function () { fs.rmSync(dir, { recursive: true, force: true }); });

  it('writes every interval while the state changed, not when it did not, and a last time on close', async function () {
    expect(SAVE_INTERVAL_MS, 'the nodes write once a minute').to.equal(60_000);
    const f = fakes(dir);
    let state = { n: 1 };
    let snapshots = 0;
    const file = NodeStateFile.open(f.RED, f.node, 'baseline', f.t, () => { snapshots++; return state; }, 40);
    expect(file.file).to.equal(path.join(dir, 'netbaseline', 'baseline-n1_ab.json'));
    try {
      // nothing changed: a few intervals pass without a write
      await new Promise((r) => setTimeout(r, 150));
      expect(snapshots).to.equal(0);
      expect(fs.existsSync(file.file)).to.equal(false);
      // a change is written at the next interval, without a close (a crash after it loses nothing)
      file.markDirty();
      await until(() => fs.existsSync(file.file));
      expect(JSON.parse(fs.readFileSync(file.file, 'utf8'))).to.deep.equal({ n: 1 });
      const written = snapshots;
      await new Promise((r) => setTimeout(r, 150));
      expect(snapshots, 'not written again while unchanged').to.equal(written);
      // mid-update (snapshot undefined): skipped and kept dirty, written at a later interval
      let busy = true;
      state = { n: 2 };
      const file2 = NodeStateFile.open(f.RED, { ...f.node, id: 'n2' }, 'baseline', f.t, () => (busy ? undefined : state), 40);
      file2.markDirty();
      await new Promise((r) => setTimeout(r, 120));
      expect(fs.existsSync(file2.file), 'nothing written mid-update').to.equal(false);
      busy = false;
      await until(() => fs.existsSync(file2.file));
      expect(JSON.parse(fs.readFileSync(file2.file, 'utf8'))).to.deep.equal({ n: 2 });
      await file2.close();
    } finally {
      state = { n: 3 };
      await file.close();
    }
    expect(JSON.parse(fs.readFileSync(file.file, 'utf8')), 'written on close').to.deep.equal({ n: 3 });
    expect(fs.readdirSync(path.join(dir, 'netbaseline')).filter((n) => n.includes('.tmp-')), 'no temp files left').to.deep.equal([]);
    expect(f.warnings).to.deep.equal([]);
  });

  it('warns and keeps the state dirty when a write fails, then writes once it can', async function () {
    const f = fakes(dir);
    // the state folder's place is taken by a file: mkdir fails
    fs.writeFileSync(path.join(dir, 'netbaseline'), 'in the way');
    const file = NodeStateFile.open(f.RED, f.node, 'cooldown', f.t, () => ({ ok: true }), 40);
    file.markDirty();
    await until(() => f.warnings.length > 0);
    expect(f.warnings[0]).to.match(/^errors\.saveFailed/);
    fs.rmSync(path.join(dir, 'netbaseline'));
    await until(() => fs.existsSync(file.file));
    await file.close();
    expect(JSON.parse(fs.readFileSync(file.file, 'utf8'))).to.deep.equal({ ok: true });
  });

  it('without a user directory: a warning and no state file', function () {
    const f = fakes(undefined);
    expect(NodeStateFile.open(f.RED, f.node, 'baseline', f.t, () => ({}))).to.equal(null);
    expect(f.warnings[0]).to.match(/^errors\.noUserDir/);
  });
});
