/**
 * Glue of the `ewma-baseline` node: config → {@link BaselineStore}, persistence of the learned
 * baselines under `<userDir>/netbaseline/baseline-<node id>.json`, input/close handling, status.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { NodeAPI, Node, NodeDef, NodeMessageInFlow } from 'node-red';
import { assertWindowMessage, type Scope } from '../core/contracts';
import { BaselineStore, type BaselineOptions } from '../core/baseline';
import { configNumber, errorMessage, rejectInput, statusError, statusOk, statusWarn } from './glue';

interface EwmaBaselineNodeDef extends NodeDef {
  fastAlpha: string;
  slowAlpha: string;
  /** Bootstrap period per key, minutes. */
  bootstrapMinutes: string;
  scopeInterface: boolean;
  scopeDstHost: boolean;
  scopeSrcHost: boolean;
  scopeFlow: boolean;
  maxKeys: string;
  persist: boolean;
}

/** Interval between snapshot writes while the baseline changed, ms. */
const SAVE_INTERVAL_MS = 60_000;

const NUM = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** Writes `data` to `file` atomically: a temp file in the same folder, then rename. */
async function writeAtomic(file: string, data: string): Promise<void> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  try {
    await fs.promises.writeFile(tmp, data);
    await fs.promises.rename(tmp, file);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

export = function (RED: NodeAPI): void {
  function EwmaBaselineNode(this: Node, config: EwmaBaselineNodeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;

    const scopes: Scope[] = [];
    if (config.scopeInterface !== false) scopes.push('interface');
    if (config.scopeDstHost !== false) scopes.push('dstHost');
    if (config.scopeSrcHost !== false) scopes.push('srcHost');
    if (config.scopeFlow === true) scopes.push('flow');
    const options: BaselineOptions = {
      fastAlpha: configNumber(config.fastAlpha, 0.3),
      slowAlpha: configNumber(config.slowAlpha, 0.05),
      bootstrapMs: configNumber(config.bootstrapMinutes, 5) * 60_000,
      scopes,
      maxKeys: configNumber(config.maxKeys, 100_000),
    };

    let store: BaselineStore;
    try {
      store = new BaselineStore(options);
    } catch (err) {
      node.error(`ewma-baseline: bad configuration: ${errorMessage(err)}`);
      node.status(statusError(`config: ${errorMessage(err)}`));
      node.on('input', (_msg: NodeMessageInFlow, _send: unknown, done: (err?: Error) => void) => {
        done(new Error(`ewma-baseline is not configured correctly: ${errorMessage(err)}`));
      });
      return;
    }

    // ---- persistence ----
    let file: string | undefined;
    const userDir = (RED.settings as unknown as { userDir?: string }).userDir;
    if (config.persist !== false) {
      if (typeof userDir === 'string' && userDir !== '') {
        const safeId = String(node.id).replace(/[^A-Za-z0-9._-]/g, '_');
        file = path.join(userDir, 'netbaseline', `baseline-${safeId}.json`);
      } else {
        node.warn('ewma-baseline: RED.settings.userDir is not set, so learned baselines are not persisted');
      }
    }

    let restoreProblem: string | undefined;
    if (file !== undefined && fs.existsSync(file)) {
      try {
        const text = fs.readFileSync(file, 'utf8');
        let parsed: unknown;
        try { parsed = JSON.parse(text); } catch (err) { throw new Error(`not valid JSON (${errorMessage(err)})`); }
        store = BaselineStore.fromSnapshot(parsed, options);
        const st = store.stats();
        node.log(`restored ${st.keys} baseline keys from ${file}`);
        for (const note of store.restoreNotes) node.log(`restored baseline: ${note}`);
      } catch (err) {
        const target = `${file}.corrupt-${Date.now()}`;
        let moved = '';
        try { fs.renameSync(file, target); moved = `; moved to ${target}`; } catch (e) { moved = `; could not move it aside (${errorMessage(e)})`; }
        restoreProblem = `saved baseline unreadable, learning afresh`;
        node.warn(`ewma-baseline: saved baseline ${file} is corrupt or foreign: ${errorMessage(err)}${moved}; learning starts fresh`);
      }
    }

    let dirty = false;
    let writing: Promise<void> = Promise.resolve();
    const save = (): Promise<void> => {
      if (file === undefined) return writing;
      const target = file;
      dirty = false;
      const data = JSON.stringify(store.toSnapshot());
      writing = writing.then(() => writeAtomic(target, data)).catch((err: unknown) => {
        dirty = true;
        node.warn(`ewma-baseline: could not save the baseline to ${target}: ${errorMessage(err)}`);
      });
      return writing;
    };
    const timer = file !== undefined ? setInterval(() => { if (dirty) void save(); }, SAVE_INTERVAL_MS) : undefined;

    const showStatus = (): void => {
      const st = store.stats();
      if (st.keys === 0) { node.status(statusOk('0 keys')); return; }
      const keysText = `${NUM.format(st.keys)} key${st.keys === 1 ? '' : 's'}`;
      if (st.bootstrap * 2 > st.keys) node.status({ fill: 'blue', shape: 'dot', text: `${keysText} · bootstrap` });
      else node.status(statusOk(`${keysText} · ${Math.floor((st.mature / st.keys) * 100)}% mature`));
    };
    if (restoreProblem !== undefined) node.status(statusWarn(restoreProblem));
    else if (store.stats().keys > 0) showStatus();

    node.on('input', (msg: NodeMessageInFlow & { reset?: unknown }, send: (m: NodeMessageInFlow) => void, done: (err?: Error) => void) => {
      try {
        if (msg.reset !== undefined && msg.reset !== false) {
          if (msg.reset === true) store.reset();
          else if (typeof msg.reset === 'string' && msg.reset !== '') store.reset(msg.reset);
          else throw new TypeError('msg.reset must be true (clear all) or a key string such as "dst 10.0.0.1"');
          dirty = true;
          showStatus();
          done();
          return;
        }
        assertWindowMessage(msg.payload);
        msg.payload = store.annotate(msg.payload);
        dirty = true;
        send(msg);
        showStatus();
        done();
      } catch (err) {
        rejectInput(node, err, done);
      }
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      if (timer !== undefined) clearInterval(timer);
      if (file === undefined) { done(); return; }
      save().then(done, done);
    });
  }
  RED.nodes.registerType('ewma-baseline', EwmaBaselineNode);
};
