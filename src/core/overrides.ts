/**
 * Per-host overrides and allow-list for the rule-detector: CIDR prefixes (IPv4 and IPv6), a
 * longest-prefix match of a record's address against them, and {@link ProfiledDetector}, which
 * runs one {@link RuleDetector} per override profile and skips allow-listed addresses.
 *
 * CIDR notation: RFC 4632 §3.1 (IPv4), RFC 4291 §2.3 (IPv6 prefixes); IPv6 text forms RFC 4291
 * §2.2 (with `::` compression and a trailing dotted quad). An IPv4-mapped IPv6 address
 * (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2) is matched as the IPv4 address it carries. IPv4 prefixes
 * match only IPv4 addresses and IPv6 prefixes only IPv6 addresses. The longest matching prefix
 * wins, as in IP routing (RFC 1812 §5.2.4.3).
 *
 * Pure: no Node-RED import.
 *
 * @packageDocumentation
 */
import type { AnomalyEvent, TrafficRecord, WindowMessage } from './contracts';
import { RuleDetector, evaluateJob, profileValues, type DetectorOptions, type EvaluateJob, type SensitivityProfile } from './rules';

/** An IP address as bytes: 4 bytes for IPv4 (also for `::ffff:a.b.c.d`), 16 for IPv6. */
export interface IpAddressBytes {
  family: 4 | 6;
  bytes: Uint8Array;
}

/** A parsed CIDR prefix: network address with host bits cleared, prefix length in bits. */
export interface CidrBlock {
  family: 4 | 6;
  /** Network address, 4 or 16 bytes, host bits zero. */
  network: Uint8Array;
  /** Prefix length in bits: 0–32 (IPv4), 0–128 (IPv6). */
  prefixLength: number;
  /** Canonical text `<network>/<prefixLength>` (IPv6 in lower case, longest zero run compressed). */
  text: string;
}

const DEC_OCTET = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;

function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!DEC_OCTET.test(p)) return null; // no leading zeros (ambiguous octal), 0–255
    out[i] = Number(p);
  }
  return out;
}

function parseIpv6(text: string): Uint8Array | null {
  if (text.length === 0 || text.length > 45) return null;
  let t = text;
  const lastColon = t.lastIndexOf(':');
  if (t.indexOf('.', lastColon) >= 0) { // trailing dotted quad: the last 32 bits
    const v4 = parseIpv4(t.slice(lastColon + 1));
    if (v4 === null) return null;
    t = `${t.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = t.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  const tail = halves.length === 2 && halves[1] !== '' ? halves[1]!.split(':') : [];
  for (const g of head) if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
  for (const g of tail) if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
  if (halves.length === 1 ? head.length !== 8 : head.length + tail.length > 7) return null; // `::` is at least one zero group
  const out = new Uint8Array(16);
  head.forEach((g, i) => { const w = parseInt(g, 16); out[i * 2] = w >> 8; out[i * 2 + 1] = w & 0xff; });
  tail.forEach((g, i) => { const w = parseInt(g, 16); const at = 8 - tail.length + i; out[at * 2] = w >> 8; out[at * 2 + 1] = w & 0xff; });
  return out;
}

const isV4Mapped = (b: Uint8Array): boolean => {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
};

/**
 * Parses an IPv4 dotted quad or an IPv6 address (RFC 4291 §2.2 text forms; no zone index).
 * An IPv4-mapped IPv6 address is returned as IPv4.
 * @returns the address, or `null` when `text` is not an IP address.
 */
export function parseIpAddress(text: string): IpAddressBytes | null {
  if (typeof text !== 'string') return null;
  const t = text.trim();
  if (t.includes(':')) {
    const b = parseIpv6(t);
    if (b === null) return null;
    return isV4Mapped(b) ? { family: 4, bytes: b.slice(12) } : { family: 6, bytes: b };
  }
  const v4 = parseIpv4(t);
  return v4 === null ? null : { family: 4, bytes: v4 };
}

function formatNetwork(family: 4 | 6, b: Uint8Array): string {
  if (family === 4) return Array.from(b).join('.');
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((b[i]! << 8) | b[i + 1]!);
  let bestAt = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestAt = i; bestLen = j - i; }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

/**
 * Parses a CIDR prefix `address/length` (RFC 4632 §3.1, RFC 4291 §2.3); a bare address is a host
 * prefix (/32 or /128). Host bits set in the address are cleared (`10.1.2.3/8` is `10.0.0.0/8`).
 * An IPv4-mapped IPv6 prefix of length ≥ 96 is taken as the IPv4 prefix it covers.
 * @throws {RangeError} naming what is wrong: not an address, a length that is not a whole number
 *   within 0–32 / 0–128.
 */
export function parseCidr(text: string): CidrBlock {
  if (typeof text !== 'string' || text.trim() === '') throw new RangeError('CIDR is empty; write e.g. 10.0.0.0/8 or 2001:db8::/32');
  const t = text.trim();
  const slash = t.indexOf('/');
  const addrText = slash < 0 ? t : t.slice(0, slash);
  const lenText = slash < 0 ? null : t.slice(slash + 1);
  let family: 4 | 6;
  let bytes: Uint8Array;
  let maxLen: number;
  let mappedShift = 0;
  if (addrText.includes(':')) {
    const b = parseIpv6(addrText);
    if (b === null) throw new RangeError(`"${t}": ${JSON.stringify(addrText)} is not an IPv6 address`);
    if (isV4Mapped(b) && (lenText === null || Number(lenText) >= 96)) { family = 4; bytes = b.slice(12); maxLen = 32; mappedShift = 96; }
    else { family = 6; bytes = b; maxLen = 128; }
  } else {
    const b = parseIpv4(addrText);
    if (b === null) throw new RangeError(`"${t}": ${JSON.stringify(addrText)} is not an IPv4 address (four numbers 0–255, e.g. 192.168.1.0/24)`);
    family = 4; bytes = b; maxLen = 32;
  }
  let prefixLength = maxLen;
  if (lenText !== null) {
    if (!/^[0-9]{1,3}$/.test(lenText)) throw new RangeError(`"${t}": prefix length ${JSON.stringify(lenText)} is not a whole number`);
    prefixLength = Number(lenText) - mappedShift;
    if (prefixLength < 0 || prefixLength > maxLen) throw new RangeError(`"${t}": prefix length must be 0–${maxLen + mappedShift} for IPv${mappedShift ? 6 : family}`);
  }
  const network = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bitsHere = Math.min(8, Math.max(0, prefixLength - i * 8));
    network[i] = bytes[i]! & ((0xff << (8 - bitsHere)) & 0xff);
  }
  return { family, network, prefixLength, text: `${formatNetwork(family, network)}/${prefixLength}` };
}

/** `true` when {@link parseCidr} accepts `text`. */
export function isCidr(text: string): boolean {
  try { parseCidr(text); return true; } catch { return false; }
}

/** Whether `address` lies within `block` (same family only). */
export function cidrContains(block: CidrBlock, address: IpAddressBytes): boolean {
  if (block.family !== address.family) return false;
  const full = block.prefixLength >> 3, rest = block.prefixLength & 7;
  for (let i = 0; i < full; i++) if (address.bytes[i] !== block.network[i]) return false;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (address.bytes[full]! & mask) === block.network[full];
}

/**
 * A set of CIDR prefixes with a value each; {@link PrefixMatcher.match} returns the entry with the
 * longest prefix that contains an address. Prefixes are kept sorted longest first, so a match is
 * a scan that stops at the first hit: meant for tens to hundreds of entries.
 */
export class PrefixMatcher<T> {
  private readonly entries: Array<{ block: CidrBlock; value: T }>;

  /**
   * @param entries CIDR text and value per entry.
   * @throws {RangeError} on a malformed CIDR (message names the entry, 1-based) or on the same
   *   prefix given twice (after normalisation).
   */
  constructor(entries: ReadonlyArray<{ cidr: string; value: T }>) {
    const seen = new Map<string, number>();
    this.entries = entries.map((e, i) => {
      let block: CidrBlock;
      try { block = parseCidr(e.cidr); } catch (err) { throw new RangeError(`entry ${i + 1}: ${(err as Error).message}`); }
      const before = seen.get(block.text);
      if (before !== undefined) throw new RangeError(`entry ${i + 1}: ${block.text} is already entry ${before}`);
      seen.set(block.text, i + 1);
      return { block, value: e.value };
    });
    this.entries.sort((a, b) => b.block.prefixLength - a.block.prefixLength);
  }

  /** Number of prefixes. */
  get size(): number { return this.entries.length; }

  /** The longest prefix containing `address` (text or parsed), or `undefined`. */
  match(address: string | IpAddressBytes): { block: CidrBlock; value: T } | undefined {
    const a = typeof address === 'string' ? parseIpAddress(address) : address;
    if (a === null) return undefined;
    for (const e of this.entries) if (cidrContains(e.block, a)) return e;
    return undefined;
  }
}

/**
 * One per-host override: records whose address is in `cidr` are judged with these values instead
 * of the node's (an omitted value keeps the node's).
 */
export interface OverrideProfile {
  /** CIDR prefix, e.g. `192.168.10.5/32` or `2001:db8::/48`. */
  cidr: string;
  /**
   * Sensitivity profile for these hosts (`steady`, `default`, `spiky`; `custom` or absent: the
   * node's multipliers). Its four multipliers replace the node's; the explicit fields below still
   * win over the profile's.
   */
  profile?: SensitivityProfile;
  /** Dual-EWMA multiplier of the fast EWMA (> 0). */
  fastMultiplier?: number;
  /** Dual-EWMA multiplier of the slow EWMA (> 0). */
  slowMultiplier?: number;
  /** Spike rule: σ multiple for high (> 0). */
  highSigma?: number;
  /** Spike rule: σ multiple for medium (> 0, ≤ highSigma). */
  mediumSigma?: number;
  /** Port-scan: more than this many SYNs (integer ≥ 0) … */
  scanSyns?: number;
  /** … to more than this many distinct destination ports (integer ≥ 0). */
  scanPorts?: number;
}

/**
 * One allow-list entry. A plain entry (`cidr` only): records whose address is in `cidr` are not
 * evaluated at all. A **host pair** (`peer` set): flow and host-pair records between `cidr` and
 * `peer`, either direction (a backup pair). A **service** (`port` set, optionally `protocol`):
 * service records of a host in `cidr` on that port, and flow records to or from that port of such
 * a host (a speed-test server's port). Pair and service entries can combine (`peer` and `port`).
 * They silence only those records: the hosts' own and the interface's records, which also count
 * that traffic, are still judged.
 */
export interface AllowEntry {
  /** CIDR prefix. */
  cidr: string;
  /** Why it is allowed (shown in the editor only). */
  note?: string;
  /** Host pair: the other side, a CIDR prefix. */
  peer?: string;
  /** Service: the port (1–65535) on the `cidr` side. */
  port?: number;
  /** Service: `tcp` or `udp` (any when absent). */
  protocol?: 'tcp' | 'udp';
}

/** A parsed pair/service allow entry. */
interface NarrowAllow { block: CidrBlock; peer?: CidrBlock; port?: number; protocol?: string }

const isNarrow = (a: AllowEntry): boolean => a.peer !== undefined || a.port !== undefined;

/** Identity of an allow entry: the normalised prefix, peer, port and protocol. */
function allowIdentity(a: AllowEntry): string {
  return [parseCidr(a.cidr).text, a.peer === undefined ? '' : parseCidr(a.peer).text, a.port ?? '', a.protocol ?? ''].join(' ');
}

function parseNarrow(a: AllowEntry): NarrowAllow {
  const n: NarrowAllow = { block: parseCidr(a.cidr) };
  if (a.peer !== undefined) n.peer = parseCidr(a.peer);
  if (a.port !== undefined) {
    if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65535) throw new RangeError(`port must be a whole number 1–65535, got ${String(a.port)}`);
    n.port = a.port;
  }
  if (a.protocol !== undefined) {
    if (a.protocol !== 'tcp' && a.protocol !== 'udp') throw new RangeError(`protocol must be "tcp" or "udp", got ${JSON.stringify(a.protocol)}`);
    if (a.port === undefined) throw new RangeError('protocol needs a port');
    n.protocol = a.protocol;
  }
  return n;
}

/** Whether a pair/service allow entry covers a record (flow, hostPair and service records only). */
function narrowCovers(n: NarrowAllow, record: TrafficRecord): boolean {
  const inside = (block: CidrBlock | undefined, ip: string | undefined): boolean => {
    if (block === undefined) return true;
    const a = ip === undefined ? null : parseIpAddress(ip);
    return a !== null && cidrContains(block, a);
  };
  if (n.protocol !== undefined && record.protocol !== undefined && record.protocol !== n.protocol) return false;
  switch (record.scope) {
    case 'service':
      return n.peer === undefined && n.port !== undefined && record.dstPort === n.port && inside(n.block, record.dstIp);
    case 'hostPair':
      if (n.port !== undefined || n.peer === undefined) return false;
      return (inside(n.block, record.srcIp) && inside(n.peer, record.dstIp)) || (inside(n.peer, record.srcIp) && inside(n.block, record.dstIp));
    case 'flow': {
      // the `cidr` side is the source or the destination; the port (if any) is on that side, the peer (if any) on the other
      const fromSide = inside(n.block, record.srcIp) && (n.port === undefined || record.srcPort === n.port) && inside(n.peer, record.dstIp);
      const toSide = inside(n.block, record.dstIp) && (n.port === undefined || record.dstPort === n.port) && inside(n.peer, record.srcIp);
      return fromSide || toSide;
    }
    default:
      return false;
  }
}

/**
 * The address a record is matched by: `srcIp` for srcHost records, `dstIp` for dstHost and service
 * records; for flow and host-pair records the one of `srcIp`/`dstIp` with the longer matching
 * prefix (destination on a tie); interface and subnet records have none (they always use the
 * node's own settings).
 */
export function recordAddresses(record: TrafficRecord): string[] {
  switch (record.scope) {
    case 'srcHost': return record.srcIp !== undefined ? [record.srcIp] : [];
    case 'dstHost': return record.dstIp !== undefined ? [record.dstIp] : [];
    case 'flow': case 'hostPair': return [record.dstIp, record.srcIp].filter((a): a is string => a !== undefined);
    case 'service': return record.dstIp !== undefined ? [record.dstIp] : [];
    default: return [];
  }
}

type Target = { kind: 'allow'; index: number } | { kind: 'profile'; index: number };

/**
 * Runs the rules with per-host overrides and an allow-list. Each record is matched by its address
 * ({@link recordAddresses}) against the overrides and the allow-list together; the longest prefix
 * wins. An allow-listed record is skipped (no rule, not even port-scan, sees it); a record in an
 * override is judged by a RuleDetector built from the node's options with the override's values;
 * every other record by the node's own detector. Port-scan evidence lives in the detector that
 * judges the source, so a source keeps its evidence as long as the configuration is unchanged.
 *
 * Events come in the order of the window's records, as from {@link RuleDetector.evaluate}.
 */
export class ProfiledDetector {
  /** The node's own detector (records outside every override). */
  readonly base: RuleDetector;
  private readonly profiles: RuleDetector[];
  private readonly matcher: PrefixMatcher<Target>;
  private readonly narrow: NarrowAllow[] = [];
  private allowSkipped = 0;
  private readonly options: DetectorOptions;
  /** The override and allow-list entries in force (copies). */
  readonly overrides: readonly OverrideProfile[];
  readonly allowList: readonly AllowEntry[];

  /**
   * @param options the node's detector options
   * @param overrides per-host overrides
   * @param allowList allow-listed prefixes
   * @param previous a detector whose evidence to keep: its node detector, and the detector of each
   *   override whose entry is unchanged (see {@link withChanges})
   * @throws {RangeError} on a bad CIDR, a prefix listed twice (in either list), or override values
   *   the RuleDetector rejects (the message names the override's CIDR).
   */
  constructor(options: DetectorOptions, overrides: readonly OverrideProfile[] = [], allowList: readonly AllowEntry[] = [], previous?: ProfiledDetector) {
    this.options = options;
    this.overrides = overrides.map((o) => ({ ...o }));
    this.allowList = allowList.map((a) => ({ ...a }));
    this.base = previous?.base ?? new RuleDetector(options);
    this.profiles = overrides.map((o, i) => {
      const same = previous?.overrides.findIndex((p) => sameOverride(p, o)) ?? -1;
      if (same >= 0) return previous!.profiles[same]!;
      try {
        return new RuleDetector(mergeOverride(options, o));
      } catch (err) {
        throw new RangeError(`override ${i + 1} (${o.cidr}): ${(err as Error).message}`);
      }
    });
    // pair and service entries are matched on their own; plain prefixes go to the longest-prefix matcher
    const seenNarrow = new Map<string, number>();
    allowList.forEach((a, i) => {
      if (!isNarrow(a)) return;
      let id: string;
      try { this.narrow.push(parseNarrow(a)); id = allowIdentity(a); } catch (err) { throw new RangeError(`allow-list entry ${i + 1}: ${(err as Error).message}`); }
      const before = seenNarrow.get(id);
      if (before !== undefined) throw new RangeError(`allow-list entry ${i + 1}: the same pair/service as allow-list entry ${before}`);
      seenNarrow.set(id, i + 1);
    });
    const plain = allowList.map((a, i) => ({ a, i })).filter(({ a }) => !isNarrow(a));
    const entries: Array<{ cidr: string; value: Target }> = [
      ...overrides.map((o, i) => ({ cidr: o.cidr, value: { kind: 'profile', index: i } as Target })),
      ...plain.map(({ a, i }) => ({ cidr: a.cidr, value: { kind: 'allow', index: i } as Target })),
    ];
    try {
      this.matcher = new PrefixMatcher(entries);
    } catch (err) {
      // name the list: entries are overrides first, then the allow-list
      const m = /^entry (\d+): (.*)$/.exec((err as Error).message);
      if (m === null) throw err;
      const n = Number(m[1]);
      const name = (k: number): string => (k <= overrides.length ? `override ${k}` : `allow-list entry ${plain[k - overrides.length - 1]!.i + 1}`);
      const where = name(n);
      const detail = m[2]!.replace(/is already entry (\d+)/, (_s, k: string) => `is already ${name(Number(k))}`);
      throw new RangeError(`${where}: ${detail}`);
    }
  }

  /** Records skipped because they were allow-listed, since construction or the last reset. */
  get allowListed(): number { return this.allowSkipped; }

  /**
   * A detector with entries added, replaced or removed (runtime control messages): an entry whose
   * prefix equals one already in the same list replaces it (`remove: true` drops it); an allow
   * entry drops an override of the same prefix and vice versa, so one prefix is in one list. An
   * override entry merges into the override of the same prefix. The node detector and the
   * detectors of unchanged overrides are kept with their evidence, and the allow-list count
   * carries on. This detector is not changed.
   * @throws {RangeError} on a bad CIDR or override value, naming the entry; nothing changes then.
   */
  withChanges(changes: { allow?: ReadonlyArray<AllowEntry & { remove?: boolean }>; override?: ReadonlyArray<OverrideProfile & { remove?: boolean }> }): ProfiledDetector {
    const norm = (cidr: string): string => parseCidr(cidr).text;
    let overrides = this.overrides.map((o) => ({ ...o }));
    let allowList = this.allowList.map((a) => ({ ...a }));
    for (const a of changes.allow ?? []) {
      const { remove, ...entry } = a;
      let id: string;
      try { id = allowIdentity(entry); if (isNarrow(entry)) parseNarrow(entry); } catch (err) { throw new RangeError(`allow: ${(err as Error).message}`); }
      allowList = allowList.filter((x) => allowIdentity(x) !== id);
      // a plain prefix lives in one list: it replaces an override of the same prefix
      if (!isNarrow(entry)) overrides = overrides.filter((x) => norm(x.cidr) !== norm(entry.cidr));
      if (remove !== true) allowList.push(entry);
    }
    for (const o of changes.override ?? []) {
      let text: string;
      try { text = norm(o.cidr); } catch (err) { throw new RangeError(`override: ${(err as Error).message}`); }
      const before = overrides.find((x) => norm(x.cidr) === text);
      overrides = overrides.filter((x) => norm(x.cidr) !== text);
      allowList = allowList.filter((x) => isNarrow(x) || norm(x.cidr) !== text);
      if (o.remove !== true) {
        const { remove: _r, ...values } = o;
        overrides.push({ ...(before ?? {}), ...values });
      }
    }
    const next = new ProfiledDetector(this.options, overrides, allowList, this);
    next.allowSkipped = this.allowSkipped;
    return next;
  }

  /** Number of override profiles and allow-list entries (prefixes, pairs, services). */
  get sizes(): { overrides: number; allowList: number } {
    return { overrides: this.profiles.length, allowList: this.matcher.size - this.profiles.length + this.narrow.length };
  }

  /**
   * Which detector judges `record`: `-1` the node's own, `i ≥ 0` override i, `null` allow-listed
   * (a pair or service entry covering it, else the longest matching prefix being an allow entry).
   */
  route(record: TrafficRecord): number | null {
    if (this.narrow.length > 0 && (record.scope === 'flow' || record.scope === 'hostPair' || record.scope === 'service')) {
      for (const n of this.narrow) if (narrowCovers(n, record)) return null;
    }
    if (this.matcher.size === 0) return -1;
    let best: { block: CidrBlock; value: Target } | undefined;
    for (const a of recordAddresses(record)) {
      const m = this.matcher.match(a);
      if (m !== undefined && (best === undefined || m.block.prefixLength > best.block.prefixLength)) best = m;
    }
    if (best === undefined) return -1;
    return best.value.kind === 'allow' ? null : best.value.index;
  }

  /**
   * Evaluates a window (see {@link RuleDetector.evaluate}): records routed to their detector,
   * allow-listed records dropped. The window must pass `assertWindowMessage`. The same as
   * {@link beginEvaluate} followed at once by `finish()`.
   * @throws {ContractError} from the detectors on malformed annotations.
   */
  evaluate(window: WindowMessage): AnomalyEvent[] {
    return this.beginEvaluate(window).finish();
  }

  /**
   * Starts evaluating `window` in steps (see {@link EvaluateJob}; the events of `finish()` are the
   * same as {@link evaluate}'s). Without overrides and allow-list entries this is the node
   * detector's job; otherwise the steps route each record ({@link route}), then run the node
   * detector's job on its records and each override's job on its own, one after the other, every
   * one with the whole window as context. Do not use this detector (or one made from it by
   * {@link withChanges}) for anything else until `finish()` has returned; after dropping a job
   * unfinished, call {@link reset}.
   * @throws {ContractError} (from `step` / `finish`) on malformed annotations of a judged record.
   */
  beginEvaluate(window: WindowMessage): EvaluateJob {
    if (this.matcher.size === 0 && this.narrow.length === 0) return this.base.beginEvaluate(window);
    const records = window.records;
    const groups: TrafficRecord[][] = this.profiles.map(() => []);
    const own: TrafficRecord[] = [];
    const order = new Map<string, number>();
    let skipped = 0;
    let routed = 0;
    /** The detectors' jobs, created once every record is routed: the node's detector first. */
    let jobs: EvaluateJob[] | undefined;
    let current = 0;
    /** Records judged by the jobs already finished, and allow-listed ones. */
    let judgedBefore = 0;
    const events: AnomalyEvent[] = [];
    let complete = false;

    const run = (budget: number): boolean => {
      if (routed < records.length) {
        const end = Math.min(records.length, routed + budget);
        budget -= end - routed;
        for (; routed < end; routed++) {
          const r = records[routed]!;
          const target = this.route(r);
          if (target === null) { skipped++; continue; }
          if (!order.has(r.key)) order.set(r.key, routed);
          (target < 0 ? own : groups[target]!).push(r);
        }
        if (routed < records.length) return false;
      }
      if (jobs === undefined) {
        // the base detector always runs: it prunes its port-scan evidence by window time
        // every detector sees the whole window as context (SYNs a host sent, flow fan-out, contributors)
        jobs = [this.base.beginEvaluate({ ...window, records: own }, records)];
        this.profiles.forEach((d, i) => { jobs!.push(d.beginEvaluate({ ...window, records: groups[i]! }, records)); });
        judgedBefore = skipped;
      }
      while (budget > 0 && current < jobs.length) {
        const job = jobs[current]!;
        const before = job.done;
        if (!job.step(budget)) return false; // a step that is not done used its whole budget
        budget -= Math.max(1, job.done - before);
        events.push(...job.finish());
        judgedBefore += job.total;
        current++;
      }
      if (current < jobs.length) return false;
      if (!complete) {
        complete = true;
        this.allowSkipped += skipped;
        events.sort((a, b) => (order.get(a.key) ?? 0) - (order.get(b.key) ?? 0));
      }
      return true;
    };

    const done = (): number => (jobs === undefined || current >= jobs.length ? judgedBefore : judgedBefore + jobs[current]!.done);
    return evaluateJob(records.length, done, run, () => events);
  }

  /** Forgets all port-scan evidence (every profile) and the allow-list count. */
  reset(): void {
    this.base.reset();
    for (const d of this.profiles) d.reset();
    this.allowSkipped = 0;
  }
}

function sameOverride(a: OverrideProfile, b: OverrideProfile): boolean {
  const keys: Array<keyof OverrideProfile> = ['cidr', 'profile', 'fastMultiplier', 'slowMultiplier', 'highSigma', 'mediumSigma', 'scanSyns', 'scanPorts'];
  return keys.every((k) => a[k] === b[k]);
}

/**
 * The node's options with an override's values put in (omitted values keep the node's). Order, last
 * wins: the node's multipliers (or the node's preset), the override's preset, the override's
 * explicit numbers. The result's profile is `custom` with the numbers spelled out.
 * @throws {RangeError} on an unknown profile name (node's or override's).
 */
export function mergeOverride(options: DetectorOptions, o: OverrideProfile): DetectorOptions {
  const node = profileValues(options.profile);
  const preset = profileValues(o.profile);
  const pick = (explicit: number | undefined, fromPreset: number | undefined, fromNode: number | undefined, own: number | undefined): number | undefined =>
    explicit ?? fromPreset ?? fromNode ?? own;
  const fastMultiplier = pick(o.fastMultiplier, preset?.fastMultiplier, node?.fastMultiplier, options.dualEwma?.fastMultiplier);
  const slowMultiplier = pick(o.slowMultiplier, preset?.slowMultiplier, node?.slowMultiplier, options.dualEwma?.slowMultiplier);
  const highSigma = pick(o.highSigma, preset?.highSigma, node?.highSigma, options.spike?.highSigma);
  const mediumSigma = pick(o.mediumSigma, preset?.mediumSigma, node?.mediumSigma, options.spike?.mediumSigma);
  return {
    ...options,
    profile: 'custom',
    dualEwma: { ...options.dualEwma, ...(fastMultiplier !== undefined && { fastMultiplier }), ...(slowMultiplier !== undefined && { slowMultiplier }) },
    spike: { ...options.spike, ...(highSigma !== undefined && { highSigma }), ...(mediumSigma !== undefined && { mediumSigma }) },
    portScan: { ...options.portScan, ...(o.scanSyns !== undefined && { minSyns: o.scanSyns }), ...(o.scanPorts !== undefined && { minPorts: o.scanPorts }) },
  };
}
