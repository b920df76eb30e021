/**
 * Small helpers shared by the node wrappers (the glue). Nothing here holds behaviour of a stage:
 * that lives in `src/core`.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Node, NodeStatus } from 'node-red';
import type { Scope } from '../core/contracts';

/** Status shown when a node is running normally: a green dot and a short text. */
export function statusOk(text: string): NodeStatus {
  return { fill: 'green', shape: 'dot', text };
}

/** Status shown while a node waits for input or has not started: a grey ring. */
export function statusIdle(text: string): NodeStatus {
  return { fill: 'grey', shape: 'ring', text };
}

/** Status for a problem the node survives (bad input, a capture at its cap): a yellow ring. */
export function statusWarn(text: string): NodeStatus {
  return { fill: 'yellow', shape: 'ring', text };
}

/** Status for an error: red ring with a short reason (≤ 60 characters, the status bar is narrow). */
export function statusError(text: string): NodeStatus {
  return { fill: 'red', shape: 'ring', text: shorten(text, 60) };
}

/** Cuts `text` to `max` characters with an ellipsis. */
export function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** 1234 → "1.2k", 1234567 → "1.2M": compact counts for status texts. */
export function compactNumber(n: number): string {
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (abs >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (abs >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

/** Message of any thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Handles an input the node could not use: red status with the reason, and `done(err)` so that the
 * error is logged and reaches Catch nodes. The node keeps running and its state is untouched.
 */
export function rejectInput(node: Node, err: unknown, done: (err?: Error) => void): void {
  const message = errorMessage(err);
  node.status(statusError(message));
  done(err instanceof Error ? err : new Error(message));
}

/** Parses a config value that the editor stores as a string; `fallback` when empty or not a number. */
export function configNumber(value: unknown, fallback: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : fallback;
}

/**
 * The scope checkboxes of an edit dialog (`scopeInterface`, `scopeDstHost`, `scopeSrcHost`,
 * `scopeFlow`, `scopeService`, `scopeHostPair`, `scopeSubnet`).
 */
export interface ScopeCheckboxes {
  scopeInterface?: boolean;
  scopeDstHost?: boolean;
  scopeSrcHost?: boolean;
  scopeFlow?: boolean;
  scopeService?: boolean;
  scopeHostPair?: boolean;
  scopeSubnet?: boolean;
}

/**
 * The scopes ticked in a dialog, in {@link Scope} order. A checkbox missing from the saved config
 * (a flow saved before it existed) counts as its default: on for interface and hosts, `flowDefault`
 * for 5-tuple flows, off for service, host pair and subnet.
 */
export function scopesFromConfig(config: ScopeCheckboxes, flowDefault: boolean): Scope[] {
  const ticked = (v: boolean | undefined, dflt: boolean) => (v === undefined ? dflt : v === true);
  const scopes: Scope[] = [];
  if (ticked(config.scopeInterface, true)) scopes.push('interface');
  if (ticked(config.scopeDstHost, true)) scopes.push('dstHost');
  if (ticked(config.scopeSrcHost, true)) scopes.push('srcHost');
  if (ticked(config.scopeFlow, flowDefault)) scopes.push('flow');
  if (ticked(config.scopeService, false)) scopes.push('service');
  if (ticked(config.scopeHostPair, false)) scopes.push('hostPair');
  if (ticked(config.scopeSubnet, false)) scopes.push('subnet');
  return scopes;
}

/** Values for the `__name__` placeholders of a catalogue text. */
export type CatalogueVars = Record<string, string | number>;

/** Looks up a text of one node's message catalogue: `key` is relative to the node type (`status.idle`). */
export type Translate = (key: string, vars?: CatalogueVars) => string;

/** The part of Node-RED's runtime API that {@link catalogue} needs (`RED._`, i18next underneath). */
export interface CatalogueRuntime {
  _: (key: string, substitutions?: Record<string, string | number>) => string;
}

/** English catalogues read from disk, per node type (`{}` when the file is missing or unreadable). */
const englishCatalogues = new Map<string, Record<string, unknown>>();

/**
 * The English text of `fullKey` (`<type>.status.idle`) from `nodes/locales/en-US/<type>.json`,
 * or `undefined` when the catalogue has no such string.
 */
export function englishText(type: string, fullKey: string): string | undefined {
  let cat = englishCatalogues.get(type);
  if (cat === undefined) {
    try {
      cat = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'nodes', 'locales', 'en-US', `${type}.json`), 'utf8')) as Record<string, unknown>;
    } catch {
      cat = {};
    }
    englishCatalogues.set(type, cat);
  }
  let v: unknown = cat;
  for (const part of fullKey.split('.')) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[part] : undefined;
  return typeof v === 'string' ? v : undefined;
}

/** Fills `__name__` placeholders (Node-RED's i18next interpolation syntax) from `vars`; unknown names stay. */
export function fillPlaceholders(text: string, vars: CatalogueVars): string {
  return text.replace(/__(\w+?)__/g, (m, name: string) => (Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : m));
}

/**
 * The translation function of one node type: `RED._('<type>.' + key, vars)` (the catalogue
 * `nodes/locales/<lang>/<type>.json` Node-RED loads for the node's module), falling back to the
 * English catalogue read from disk when the runtime returns the key itself or nothing (the
 * test helper's `RED._` echoes keys; a runtime may lack the catalogue). A key missing from both
 * returns the full key, so a missing string shows up rather than vanishing. Placeholders are
 * `__name__`, as in Node-RED's own catalogues. Not for the per-packet path (it allocates).
 */
export function catalogue(RED: CatalogueRuntime, type: string): Translate {
  return (key: string, vars: CatalogueVars = {}): string => {
    const full = `${type}.${key}`;
    let text: unknown;
    try { text = RED._(full, vars); } catch { text = undefined; }
    if (typeof text !== 'string' || text === full || text === '') text = fillPlaceholders(englishText(type, full) ?? full, vars);
    return text as string;
  };
}

/**
 * Where a TypedInput setting of an edit dialog takes its value from: typed in (`num`, `str`), an
 * environment variable (`env`), or flow / global context (`flow`, `global`). Values from env and
 * context are read once, when the node starts (deploy, restart): the same moment typed-in values
 * take effect. A context store that is not in memory must be able to answer synchronously (the
 * `localfilesystem` store does with its default cache).
 */
export type SettingType = 'num' | 'str' | 'env' | 'flow' | 'global';

/** Setting types whose value is looked up rather than typed in. */
const LOOKED_UP: ReadonlySet<string> = new Set(['env', 'flow', 'global']);

/** The part of Node-RED's runtime API that {@link resolveSettings} needs (`RED.util` of @node-red/util). */
export interface SettingsRuntime {
  util: { evaluateNodeProperty(value: string, type: string, node: Node, msg: object): unknown };
}

/** A setting whose env variable or context key has no value when the node starts. */
export class SettingError extends Error {
  constructor(
    /** The config field, e.g. `cooldown`. */
    readonly field: string,
    /** Its type, `env`, `flow` or `global`. */
    readonly type: string,
    /** The variable or context key named in the dialog. */
    readonly source: string,
  ) {
    super(`${field}: ${type === 'env' ? 'environment variable' : `${type} context`} "${source}" is not set`);
    this.name = 'SettingError';
  }
}

/**
 * A copy of `config` in which each of `fields` whose `<field>Type` is `env`, `flow` or `global` is
 * replaced by the value it names (an environment variable, or a flow / global context key), so that
 * the node's usual config parsing applies to it. Fields typed in (`num`, `str`, or no type field:
 * flows saved before the TypedInput existed) are left as they are.
 * @throws {SettingError} when a variable or key has no value (`undefined`, `null` or an empty string).
 */
export function resolveSettings<T extends object>(RED: SettingsRuntime, node: Node, config: T, fields: readonly (keyof T & string)[]): T {
  const out = { ...config } as Record<string, unknown>;
  for (const field of fields) {
    const type = out[`${field}Type`];
    if (typeof type !== 'string' || !LOOKED_UP.has(type)) continue;
    const name = String(out[field] ?? '').trim();
    const value = name === '' ? undefined : RED.util.evaluateNodeProperty(name, type, node, {});
    if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) throw new SettingError(field, type, name);
    out[field] = typeof value === 'string' ? value.trim() : value;
  }
  return out as T;
}

/**
 * A numeric setting after {@link resolveSettings}: `fallback` when empty; unlike {@link configNumber}
 * a value that is not a number is an error, since it may come from an environment variable or
 * context where a typo is not caught by the editor.
 * @throws {RangeError} naming `field` when `value` is not a finite number.
 */
export function settingNumber(value: unknown, fallback: number, field: string): number {
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) return fallback;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n)) throw new RangeError(`${field}: "${String(value)}" is not a number`);
  return n;
}

/**
 * Records arrays of windows whose every record an ewma-baseline node of this process has checked in
 * full (`assertWindowRecords`, every metric value) and then annotated: the array ewma-baseline sends
 * on. rule-detector checks such records' shape only, not every metric value again (it was about a
 * tenth of the whole flow's CPU time in the benchmark, issue #8). A message Node-RED cloned (an
 * output wired to two nodes) carries a new array and is checked in full. Like the baseline
 * annotations (`baselinesBuiltHere` in core/baseline), this trusts that no node in between edits the
 * records in place.
 */
const checkedRecords = new WeakSet<readonly unknown[]>();

/** Marks `records` as checked in full by a node of this process (see {@link recordsChecked}). */
export function markRecordsChecked(records: readonly unknown[]): void {
  checkedRecords.add(records);
}

/** Whether a node of this process checked every record and metric value of `records` (see {@link markRecordsChecked}). */
export function recordsChecked(records: readonly unknown[]): boolean {
  return checkedRecords.has(records);
}
