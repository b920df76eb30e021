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
import { RuleDetector, type DetectorOptions } from './rules';

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

/** One allow-list entry: records whose address is in `cidr` are not evaluated at all. */
export interface AllowEntry {
  /** CIDR prefix. */
  cidr: string;
  /** Why it is allowed (shown in the editor only). */
  note?: string;
}

/**
 * The address a record is matched by: `srcIp` for srcHost records, `dstIp` for dstHost records;
 * for flow records the one of `srcIp`/`dstIp` with the longer matching prefix (destination on a
 * tie); interface records have none (they always use the node's own settings).
 */
export function recordAddresses(record: TrafficRecord): string[] {
  switch (record.scope) {
    case 'srcHost': return record.srcIp !== undefined ? [record.srcIp] : [];
    case 'dstHost': return record.dstIp !== undefined ? [record.dstIp] : [];
    case 'flow': return [record.dstIp, record.srcIp].filter((a): a is string => a !== undefined);
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
  private allowSkipped = 0;

  /**
   * @param options the node's detector options
   * @param overrides per-host overrides
   * @param allowList allow-listed prefixes
   * @throws {RangeError} on a bad CIDR, a prefix listed twice (in either list), or override values
   *   the RuleDetector rejects (the message names the override's CIDR).
   */
  constructor(options: DetectorOptions, overrides: readonly OverrideProfile[] = [], allowList: readonly AllowEntry[] = []) {
    this.base = new RuleDetector(options);
    this.profiles = overrides.map((o, i) => {
      try {
        return new RuleDetector(mergeOverride(options, o));
      } catch (err) {
        throw new RangeError(`override ${i + 1} (${o.cidr}): ${(err as Error).message}`);
      }
    });
    const entries: Array<{ cidr: string; value: Target }> = [
      ...overrides.map((o, i) => ({ cidr: o.cidr, value: { kind: 'profile', index: i } as Target })),
      ...allowList.map((a, i) => ({ cidr: a.cidr, value: { kind: 'allow', index: i } as Target })),
    ];
    try {
      this.matcher = new PrefixMatcher(entries);
    } catch (err) {
      // name the list: entries are overrides first, then the allow-list
      const m = /^entry (\d+): (.*)$/.exec((err as Error).message);
      if (m === null) throw err;
      const n = Number(m[1]);
      const where = n <= overrides.length ? `override ${n}` : `allow-list entry ${n - overrides.length}`;
      const detail = m[2]!.replace(/is already entry (\d+)/, (_s, k: string) => {
        const j = Number(k);
        return `is already ${j <= overrides.length ? `override ${j}` : `allow-list entry ${j - overrides.length}`}`;
      });
      throw new RangeError(`${where}: ${detail}`);
    }
  }

  /** Records skipped because they were allow-listed, since construction or the last reset. */
  get allowListed(): number { return this.allowSkipped; }

  /** Number of override profiles and allow-list prefixes. */
  get sizes(): { overrides: number; allowList: number } {
    return { overrides: this.profiles.length, allowList: this.matcher.size - this.profiles.length };
  }

  /**
   * Which detector judges `record`: `-1` the node's own, `i ≥ 0` override i, `null` allow-listed.
   */
  route(record: TrafficRecord): number | null {
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
   * allow-listed records dropped. The window must pass `assertWindowMessage`.
   * @throws {ContractError} from the detectors on malformed annotations.
   */
  evaluate(window: WindowMessage): AnomalyEvent[] {
    if (this.matcher.size === 0) return this.base.evaluate(window);
    const groups: TrafficRecord[][] = this.profiles.map(() => []);
    const own: TrafficRecord[] = [];
    const order = new Map<string, number>();
    let skipped = 0;
    window.records.forEach((r, i) => {
      const target = this.route(r);
      if (target === null) { skipped++; return; }
      if (!order.has(r.key)) order.set(r.key, i);
      (target < 0 ? own : groups[target]!).push(r);
    });
    const events: AnomalyEvent[] = [];
    // the base detector always runs: it prunes its port-scan evidence by window time
    events.push(...this.base.evaluate({ ...window, records: own }));
    this.profiles.forEach((d, i) => { events.push(...d.evaluate({ ...window, records: groups[i]! })); });
    this.allowSkipped += skipped;
    events.sort((a, b) => (order.get(a.key) ?? 0) - (order.get(b.key) ?? 0));
    return events;
  }

  /** Forgets all port-scan evidence (every profile) and the allow-list count. */
  reset(): void {
    this.base.reset();
    for (const d of this.profiles) d.reset();
    this.allowSkipped = 0;
  }
}

/** The node's options with an override's values put in (omitted values keep the node's). */
export function mergeOverride(options: DetectorOptions, o: OverrideProfile): DetectorOptions {
  return {
    ...options,
    dualEwma: { ...options.dualEwma, ...(o.fastMultiplier !== undefined && { fastMultiplier: o.fastMultiplier }), ...(o.slowMultiplier !== undefined && { slowMultiplier: o.slowMultiplier }) },
    spike: { ...options.spike, ...(o.highSigma !== undefined && { highSigma: o.highSigma }), ...(o.mediumSigma !== undefined && { mediumSigma: o.mediumSigma }) },
    portScan: { ...options.portScan, ...(o.scanSyns !== undefined && { minSyns: o.scanSyns }), ...(o.scanPorts !== undefined && { minPorts: o.scanPorts }) },
  };
}
