/**
 * A node's learned state kept in a JSON file under `<userDir>/netbaseline/`, so that it survives a
 * redeploy and a Node-RED restart: read once on start, written atomically (temporary file, then
 * rename) every `intervalMs` while it changed and when the node closes. A file that cannot be read
 * back is moved aside as `<file>.corrupt-<epoch ms>` (never deleted) and the node starts fresh.
 *
 * Used by ewma-baseline and cooldown-gate; texts come from the node's own message catalogue, which
 * must have `errors.noUserDir`, `errors.notJson`, `errors.movedAside`, `errors.notMovedAside`,
 * `errors.corrupt`, `errors.saveFailed` and `status.restoreFailed`.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Node, NodeAPI } from 'node-red';
import { errorMessage, type Translate } from './glue';

/** How often a changed state is written, ms. */
export const SAVE_INTERVAL_MS = 60_000;

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

/** See the module comment. */
export class NodeStateFile {
  private dirty = false;
  private writing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;

  /**
   * The state file of `node`, `<userDir>/netbaseline/<prefix>-<node id>.json`; null, with a warning,
   * when Node-RED has no user directory.
   * @param snapshot returns the plain-JSON state to write; called at each save.
   */
  static open(RED: NodeAPI, node: Node, prefix: string, t: Translate, snapshot: () => unknown, intervalMs = SAVE_INTERVAL_MS): NodeStateFile | null {
    const userDir = (RED.settings as unknown as { userDir?: string }).userDir;
    if (typeof userDir !== 'string' || userDir === '') {
      node.warn(t('errors.noUserDir'));
      return null;
    }
    const safeId = String(node.id).replace(/[^A-Za-z0-9._-]/g, '_');
    return new NodeStateFile(path.join(userDir, 'netbaseline', `${prefix}-${safeId}.json`), node, t, snapshot, intervalMs);
  }

  private constructor(readonly file: string, private readonly node: Node, private readonly t: Translate, private readonly snapshot: () => unknown, intervalMs: number) {
    this.timer = setInterval(() => { if (this.dirty) void this.save(); }, intervalMs);
  }

  /**
   * Reads the saved state, if there is one, through `fromJson` (which throws on a foreign or
   * corrupt document). On failure the file is moved aside and `problem` is the short status text.
   */
  restore<T>(fromJson: (parsed: unknown) => T): { value?: T; problem?: string } {
    if (!fs.existsSync(this.file)) return {};
    const { file, t } = this;
    try {
      let parsed: unknown;
      try { parsed = JSON.parse(fs.readFileSync(file, 'utf8')); } catch (err) { throw new Error(t('errors.notJson', { reason: errorMessage(err) })); }
      return { value: fromJson(parsed) };
    } catch (err) {
      const target = `${file}.corrupt-${Date.now()}`;
      let moved: string;
      try { fs.renameSync(file, target); moved = t('errors.movedAside', { target }); } catch (e) { moved = t('errors.notMovedAside', { reason: errorMessage(e) }); }
      this.node.warn(t('errors.corrupt', { file, reason: errorMessage(err), moved }));
      return { problem: t('status.restoreFailed') };
    }
  }

  /** The state changed: write it at the next interval. */
  markDirty(): void {
    this.dirty = true;
  }

  /**
   * Writes the state now (after any write under way); a failure is warned and retried later. When
   * `snapshot` returns `undefined` (the state is mid-update, e.g. a window half annotated), nothing
   * is written and the state stays dirty for the next interval.
   */
  save(): Promise<void> {
    const target = this.file;
    const state = this.snapshot();
    if (state === undefined) { this.dirty = true; return this.writing; }
    this.dirty = false;
    const data = JSON.stringify(state);
    this.writing = this.writing.then(() => writeAtomic(target, data)).catch((err: unknown) => {
      this.dirty = true;
      this.node.warn(this.t('errors.saveFailed', { target, reason: errorMessage(err) }));
    });
    return this.writing;
  }

  /** Stops the interval and writes the state a last time. */
  close(): Promise<void> {
    clearInterval(this.timer);
    return this.save();
  }
}
