/**
 * Allocation-free hash tables behind the flow-aggregator: {@link FlowTable} (5-tuple flows that live
 * across windows, capped, least-recently-seen eviction) and {@link HostTable} (the addresses of one
 * window with their `srcHost` / `dstHost` accumulators, capped per role).
 *
 * Both store their entries in typed arrays that grow by doubling up to the cap, chain collisions
 * through an `Int32Array`, and look keys up by comparing 32-bit words of the 16-byte addresses, so
 * that the per-packet path neither builds strings nor allocates objects. What a packet touches is
 * kept row-wise (a flow's key row, its counter row and its number row: {@link FLOW_KEY},
 * {@link WIN}, {@link FLOW_NUM}; a host's sums row: {@link HOST_SUM}), so that a packet reads a few
 * cache lines rather than one per column; what it rarely touches stays in columns. Addresses are
 * handled as 4 words of an `Int32Array` view over the packet batch's 16-byte address columns
 * (IPv4 as `::ffff:a.b.c.d`, RFC 4291 §2.5.5.2); the byte order of the words is the platform's and
 * never leaves this module (a `Uint8Array` view over the same buffer gives the address bytes back).
 *
 * Hashing: MurmurHash3 x86_32 mixing (Austin Appleby, public domain) with a random seed per table,
 * so that an attacker who chooses spoofed addresses cannot predict collisions.
 *
 * @packageDocumentation
 */

/** Value meaning "no entry" in the chain and list columns. */
const NONE = -1;

/** MurmurHash3 x86_32 body step: folds the 32-bit word `k` into the running hash `h`. */
export function murmurMix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** MurmurHash3 x86_32 finaliser (`fmix32`): avalanches the bits of `h`. */
export function murmurFinal(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/** Hash (int32) of the 16-byte address at words `w … w+3` of `words`, seeded with `seed`. */
export function hashAddress(words: Int32Array, w: number, seed: number): number {
  let h = seed;
  h = murmurMix(h, words[w]!);
  h = murmurMix(h, words[w + 1]!);
  h = murmurMix(h, words[w + 2]!);
  h = murmurMix(h, words[w + 3]!);
  return murmurFinal(h ^ 16);
}

/** Hash (int32) of the `n` words at `words[w … w+n-1]`, seeded with `seed` (MurmurHash3 x86_32 over 4n bytes). */
export function hashWords(words: Int32Array, w: number, n: number, seed: number): number {
  let h = seed;
  for (let k = 0; k < n; k++) h = murmurMix(h, words[w + k]!);
  return murmurFinal(h ^ (4 * n));
}

/** Smallest power of two ≥ `n` (n ≥ 1). */
function pow2AtLeast(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

function grownInt32(a: Int32Array, n: number, fill: number): Int32Array {
  const b = new Int32Array(n);
  b.set(a);
  if (fill !== 0) b.fill(fill, a.length);
  return b;
}
function grownFloat64(a: Float64Array, n: number): Float64Array { const b = new Float64Array(n); b.set(a); return b; }
function grownUint32(a: Uint32Array, n: number): Uint32Array { const b = new Uint32Array(n); b.set(a); return b; }
function grownUint8(a: Uint8Array, n: number): Uint8Array { const b = new Uint8Array(n); b.set(a); return b; }

/** Bits of `WIN.STATE` in a {@link FlowTable.winCounts} row. */
export const FLOW_STATE = {
  /** `WIN.SEQ_END` holds a sequence end seen in this direction. */
  SEQ_VALID: 0x01,
  /** A FIN was seen in this direction (the sender has finished, RFC 9293 §3.6). */
  FIN: 0x02,
  /** A RST was seen in this direction (RFC 9293 §3.5.2). */
  RST: 0x04,
  /** The flow's end (FIN/RST) was reported; it is not reported again. */
  END_REPORTED: 0x08,
  /** The handshake RTT of this (client) flow was measured ({@link FlowTable.synAckToAckMs} valid). */
  HANDSHAKE_DONE: 0x10,
  /** A SYN was seen in this direction ({@link FlowTable.synTimeMs} valid). */
  SYN_SEEN: 0x20,
  /** The peer's SYN-ACK to this flow's SYN was seen ({@link FlowTable.synAckTimeMs}, {@link FlowTable.synToSynAckMs} valid). */
  SYNACK_SEEN: 0x40,
  /** `WIN.HEADER_MIN` of the flow's {@link FlowTable.winCounts} row is valid. */
  HEADER_KNOWN: 0x80,
} as const;

/**
 * Columns of a row of {@link FlowTable.winCounts}: the counters of the current window (`PACKETS` …
 * `GAP`, zeroed at each window close) and then the flow's TCP state (`SEQ_END` … `HEADER_MIN`, kept
 * for the flow's life), in one 48-byte row so that a packet touches one or two cache lines for all of them.
 */
export const WIN = {
  /** Packets in the window. */
  PACKETS: 0,
  /** SYN-without-ACK segments. */
  SYN: 1,
  /** SYN+ACK segments. */
  SYNACK: 2,
  /** Segments with RST set. */
  RST: 3,
  /** Segments with FIN set. */
  FIN: 4,
  /** TCP segments carrying data (the denominator of the loss estimate). */
  DATA: 5,
  /** TCP data segments starting below the highest sequence end seen (retransmissions). */
  RETRANS: 6,
  /** TCP data segments starting beyond the highest sequence end (a gap: reordered or lost before the capture point). */
  GAP: 7,
  /**
   * TCP: highest sequence end seen in this direction, modulo 2^32 (RFC 9293 §3.4: seq + data length,
   * + 1 for SYN and for FIN), from the lower bound of each segment's data length (see `FlowAggregator`
   * on how the data length is bounded). Not a window counter: kept across windows.
   */
  SEQ_END: 8,
  /** TCP: the same from the upper bound of each segment's data length (IP payload − 20). Kept across windows. */
  SEQ_END_HIGH: 9,
  /** Bit set of `FLOW_STATE`. Kept across windows. */
  STATE: 10,
  /** TCP: smallest IP payload of a non-SYN segment in this direction, clamped to 20…60 (the header length of a pure ACK); valid under `FLOW_STATE.HEADER_KNOWN`. Kept across windows. */
  HEADER_MIN: 11,
} as const;
/** Row width of {@link FlowTable.winCounts}. */
export const WIN_WIDTH = 12;

/** Columns of a row of {@link FlowTable.nums} (doubles). */
export const FLOW_NUM = {
  /** Packet time of the flow's first packet, epoch ms. */
  FIRST_SEEN_MS: 0,
  /** Latest packet time of the flow, epoch ms. */
  LAST_SEEN_MS: 1,
  /** Bytes (wire length) in the current window (zeroed at each window close). */
  WIN_BYTES: 2,
  /** Bytes (wire length) since the flow was first tracked (set by the caller after {@link FlowTable.findOrInsert}). */
  TOTAL_BYTES: 3,
  /** Packets since the flow was first tracked (set by the caller). */
  TOTAL_PACKETS: 4,
} as const;
/** Row width of {@link FlowTable.nums}. */
export const FLOW_NUM_WIDTH = 5;
/** Bits of {@link FlowTable.winFlags}. */
export const WIN_FLAG = {
  /** The flow was created in the current window. */
  NEW: 0x01,
  /** The flow's handshake completed (its SYN-ACK → ACK was seen) in the current window. */
  HANDSHAKE: 0x02,
} as const;

/**
 * Word offsets in a row of {@link FlowTable.keys}: everything a lookup reads (hash, ports, protocol,
 * chain link, the 8 address words) and what the per-packet path reads next (active-list position,
 * cached host ids) in one 64-byte row, so that a lookup touches one or two cache lines rather than one
 * per column.
 */
export const FLOW_KEY = {
  /** The 5-tuple's hash ({@link FlowTable.hashKey}). */
  HASH: 0,
  /** `(srcPort << 16) | dstPort` as an int32. */
  PORTS: 1,
  /** IP protocol number. */
  PROTOCOL: 2,
  /** Next slot of the hash chain, -1 at its end. */
  CHAIN: 3,
  /** First of the 4 words of the source address. */
  SRC: 4,
  /** First of the 4 words of the destination address. */
  DST: 8,
  /** Index of the slot in {@link FlowTable.active}, or -1 when the flow has no packets in the current window. */
  ACTIVE_POS: 12,
  /**
   * Host id (of the aggregator's host table) of the flow's source in the current window, or -1: set by
   * the caller after the flow's first packet of the window when both its addresses got records
   * (source role and destination role), so that the flow's later packets in the window skip the host
   * lookups. Reset to -1 by {@link FlowTable.findOrInsert} when the flow becomes active in a window.
   */
  HOST_SRC: 13,
  /** Host id of the flow's destination in the current window (valid when `HOST_SRC` is ≥ 0). */
  HOST_DST: 14,
} as const;
/** Words per row of {@link FlowTable.keys} (16: 64 bytes). */
export const FLOW_KEY_WIDTH = 16;

/** Initial number of entries of a table (it grows by doubling up to its cap). */
const INITIAL_CAPACITY = 1024;

// ---------------------------------------------------------------------------------------------
// Flow table
// ---------------------------------------------------------------------------------------------

/**
 * The tracked 5-tuple flows (src address, dst address, src port, dst port, IP protocol; one
 * direction), at most `maxFlows` of them, with the per-flow accumulators of the current window.
 *
 * Entries are integer slots `0 … capacity-1`. Every slot in use sits on a recency list ordered by
 * the last time a packet touched it (least recently seen at the head).
 *
 * Eviction policy (when a new flow arrives and the table holds `maxFlows` flows): the least
 * recently seen flow is dropped. Because the list is in touch order, that flow is also the one idle
 * the longest, so flows idle past any threshold always go before busier ones, and a long-lived
 * flow that keeps sending survives a flood of one-packet spoofed flows, which only evict each
 * other. A dropped flow that had packets in the current window gets no flow record for that window
 * (its packets still count on its hosts and on the interface); if it comes back it is a new flow.
 * Every eviction is counted in {@link evictions}; the first one sets {@link emergency} (the aggregator
 * then applies its shorter emergency idle timeout and clears the flag once the table has drained).
 * Idle expiry ({@link expireIdle}) walks the same list from the head. Both are O(1) per flow.
 *
 * Besides the key and times, each flow keeps its totals and, for TCP, the state of its sequence
 * space and handshake (see `FLOW_STATE`): about 220 bytes per flow in typed arrays, nothing per packet.
 */
export class FlowTable {
  /** Cap on tracked flows. */
  readonly maxFlows: number;
  /** Flows dropped because the table was full (cumulative). */
  evictions = 0;
  /** Flows currently tracked. */
  size = 0;
  /** Slots with packets in the current window, in order of their first packet in the window (first {@link activeCount} entries). */
  active: Int32Array;
  /** Number of valid entries in {@link active}. */
  activeCount = 0;
  /** True when the last {@link findOrInsert} created a new flow. */
  lastWasNew = false;

  /**
   * Key rows, {@link FLOW_KEY_WIDTH} int32 words per slot at `slot * FLOW_KEY_WIDTH + FLOW_KEY.X`:
   * hash, ports, protocol, chain link, source and destination address words (platform byte order: a
   * `Uint8Array` over the same buffer gives the address bytes), active-list position, cached host ids.
   */
  keys: Int32Array;
  // hash buckets (heads of the chains)
  private buckets: Int32Array;
  /** Recency list: previous slot at `2 * slot`, next at `2 * slot + 1` (-1: none). */
  private links: Int32Array;
  private head = NONE;
  private tail = NONE;
  // free slots (stack) below `used`, and slots ever used
  private free: Int32Array;
  private freeCount = 0;
  private used = 0;
  private capacity = 0;
  /**
   * Times and byte/packet totals, row-wise: {@link FLOW_NUM_WIDTH} doubles per slot at
   * `slot * FLOW_NUM_WIDTH + FLOW_NUM.X` (first and last packet time, bytes of the window, totals).
   */
  nums: Float64Array;
  /**
   * Counters of the current window and the TCP state, row-wise: {@link WIN_WIDTH} per slot at
   * `slot * WIN_WIDTH + WIN.X` (see {@link WIN}).
   */
  winCounts: Uint32Array;
  /** Bit set of `WIN_FLAG` for the current window. */
  winFlags: Uint8Array;
  /** TCP client flow: packet time of its first SYN, epoch ms (valid under `FLOW_STATE.SYN_SEEN`). */
  synTimeMs: Float64Array;
  /** TCP client flow: packet time of the peer's SYN-ACK that answered its SYN, epoch ms (valid under `FLOW_STATE.SYNACK_SEEN`). */
  synAckTimeMs: Float64Array;
  /** TCP client flow: SYN → SYN-ACK as seen at the capture point, ms (the server side of the handshake RTT; valid under `FLOW_STATE.SYNACK_SEEN`). */
  synToSynAckMs: Float64Array;
  /** TCP client flow: SYN-ACK → ACK as seen at the capture point, ms (the client side of the handshake RTT; valid under `FLOW_STATE.HANDSHAKE_DONE`). */
  synAckToAckMs: Float64Array;
  /** Packet time up to which the flow's totals were last reported (first packet time, then each active-timeout report), epoch ms. */
  reportedUntilMs: Float64Array;
  /** True while the table is in emergency mode (set on the first eviction; the aggregator clears it, see {@link FlowAggregator}). */
  emergency = false;
  /** Times the table entered emergency mode (cumulative). */
  emergencyEntries = 0;
  private readonly seed: number;

  /** @param maxFlows cap on tracked flows, an integer ≥ 1. */
  constructor(maxFlows: number) {
    this.maxFlows = maxFlows;
    this.seed = (Math.random() * 0x100000000) | 0;
    const n = Math.min(maxFlows, INITIAL_CAPACITY);
    this.keys = FlowTable.newKeys(n);
    this.buckets = new Int32Array(pow2AtLeast(n * 2)).fill(NONE);
    this.links = new Int32Array(n * 2).fill(NONE);
    this.free = new Int32Array(n);
    this.nums = new Float64Array(n * FLOW_NUM_WIDTH);
    this.winCounts = new Uint32Array(n * WIN_WIDTH);
    this.winFlags = new Uint8Array(n);
    this.active = new Int32Array(n);
    this.synTimeMs = new Float64Array(n);
    this.synAckTimeMs = new Float64Array(n);
    this.synToSynAckMs = new Float64Array(n);
    this.synAckToAckMs = new Float64Array(n);
    this.reportedUntilMs = new Float64Array(n);
    this.capacity = n;
  }

  /** Key rows for `n` slots: chain, active position and host ids -1. */
  private static newKeys(n: number): Int32Array {
    const k = new Int32Array(n * FLOW_KEY_WIDTH);
    for (let o = 0; o < k.length; o += FLOW_KEY_WIDTH) {
      k[o + FLOW_KEY.CHAIN] = NONE; k[o + FLOW_KEY.ACTIVE_POS] = NONE; k[o + FLOW_KEY.HOST_SRC] = NONE; k[o + FLOW_KEY.HOST_DST] = NONE;
    }
    return k;
  }

  /** IP protocol number of the flow in `slot`. */
  protocolOf(slot: number): number { return this.keys[slot * FLOW_KEY_WIDTH + FLOW_KEY.PROTOCOL]!; }

  /** `(srcPort << 16) | dstPort` of the flow in `slot` (unsigned). */
  portsOf(slot: number): number { return this.keys[slot * FLOW_KEY_WIDTH + FLOW_KEY.PORTS]! >>> 0; }

  /** Latest packet time of the flow in `slot`, epoch ms. */
  lastSeenMs(slot: number): number { return this.nums[slot * FLOW_NUM_WIDTH + FLOW_NUM.LAST_SEEN_MS]!; }

  /** Packet time of the first packet of the flow in `slot`, epoch ms. */
  firstSeenMs(slot: number): number { return this.nums[slot * FLOW_NUM_WIDTH + FLOW_NUM.FIRST_SEEN_MS]!; }

  /** Bit set of `FLOW_STATE` of the flow in `slot`. */
  stateOf(slot: number): number { return this.winCounts[slot * WIN_WIDTH + WIN.STATE]!; }

  /** True when the flow in `slot` has packets in the current window. */
  isActive(slot: number): boolean { return this.keys[slot * FLOW_KEY_WIDTH + FLOW_KEY.ACTIVE_POS] !== NONE; }

  /**
   * Returns the slot of a tracked flow, or -1; does not touch recency or the window. Used for the
   * reverse direction of a TCP handshake (a SYN-ACK looks up the SYN's flow). `hash` is
   * {@link hashKey} of the same 5-tuple.
   */
  find(
    srcWords: Int32Array, s: number, dstWords: Int32Array, d: number,
    srcPort: number, dstPort: number, protocol: number, hash: number,
  ): number {
    return this.lookup(srcWords, s, dstWords, d, (srcPort << 16) | dstPort, protocol, hash);
  }

  /** Slot of the key (`portsKey` as int32), or -1: a walk of the hash chain over the key rows. */
  private lookup(
    srcWords: Int32Array, s: number, dstWords: Int32Array, d: number, portsKey: number, protocol: number, hash: number,
  ): number {
    const k = this.keys;
    let slot = this.buckets[hash & (this.buckets.length - 1)]!;
    while (slot !== NONE) {
      const o = slot * FLOW_KEY_WIDTH;
      if (k[o] === hash && k[o + 1] === portsKey && k[o + 2] === protocol
        && k[o + 4] === srcWords[s] && k[o + 5] === srcWords[s + 1] && k[o + 6] === srcWords[s + 2] && k[o + 7] === srcWords[s + 3]
        && k[o + 8] === dstWords[d] && k[o + 9] === dstWords[d + 1] && k[o + 10] === dstWords[d + 2] && k[o + 11] === dstWords[d + 3]) return slot;
      slot = k[o + 3]!;
    }
    return NONE;
  }

  /**
   * Hash (int32) of a 5-tuple straight from its address words (MurmurHash3 x86_32 over the 8 address
   * words, the ports word and the protocol, seeded with this table's seed): one pass, so that the
   * per-packet path need not hash the two addresses separately first. When both addresses start with
   * the same third word after two zero words (two IPv4 addresses, `::ffff:a.b.c.d`), the five
   * constant words are hashed as that one word (5 mixing steps instead of 10; the key comparison
   * of {@link findOrInsert} is on all words either way).
   */
  hashKey(
    srcWords: Int32Array, s: number, dstWords: Int32Array, d: number,
    srcPort: number, dstPort: number, protocol: number,
  ): number {
    let h = this.seed;
    const s0 = srcWords[s]!, s1 = srcWords[s + 1]!, s2 = srcWords[s + 2]!;
    const d0 = dstWords[d]!, d1 = dstWords[d + 1]!, d2 = dstWords[d + 2]!;
    if ((s0 | s1 | d0 | d1) === 0 && s2 === d2) {
      h = murmurMix(h, s2);
    } else {
      h = murmurMix(h, s0); h = murmurMix(h, s1); h = murmurMix(h, s2);
      h = murmurMix(h, d0); h = murmurMix(h, d1); h = murmurMix(h, d2);
    }
    h = murmurMix(h, srcWords[s + 3]!);
    h = murmurMix(h, dstWords[d + 3]!);
    h = murmurMix(h, ((srcPort << 16) | dstPort) | 0);
    h = murmurMix(h, protocol);
    return murmurFinal(h ^ 40);
  }

  /**
   * Returns the slot of the flow, creating it when it is not tracked (evicting the least recently
   * seen flow when the table is full), marks it most recently seen and active in the window, and
   * updates its first/last packet times. Sets {@link lastWasNew}. Allocation-free except when the
   * table grows (doubling, at most log2(maxFlows / 1024) times).
   *
   * @param srcWords address words holding the source at `s … s+3`
   * @param dstWords address words holding the destination at `d … d+3`
   * @param hash {@link hashKey} of the 5-tuple
   * @param times packet times, epoch ms; the packet's is `times[t]` (a column and an index rather than
   *   the time itself: a double argument of a call that is not inlined is boxed, one heap number per packet)
   * @param t index of the packet in `times`
   */
  findOrInsert(
    srcWords: Int32Array, s: number, dstWords: Int32Array, d: number,
    srcPort: number, dstPort: number, protocol: number, hash: number, times: Float64Array, t: number,
  ): number {
    const timeMs = times[t]!;
    const portsKey = (srcPort << 16) | dstPort;
    let slot = this.lookup(srcWords, s, dstWords, d, portsKey, protocol, hash);
    if (slot !== NONE) {
      this.lastWasNew = false;
      this.moveToTail(slot);
      const no = slot * FLOW_NUM_WIDTH, nums = this.nums;
      if (timeMs > nums[no + FLOW_NUM.LAST_SEEN_MS]!) nums[no + FLOW_NUM.LAST_SEEN_MS] = timeMs;
      if (timeMs < nums[no + FLOW_NUM.FIRST_SEEN_MS]!) nums[no + FLOW_NUM.FIRST_SEEN_MS] = timeMs;
    } else {
      slot = this.allocate();
      const k = this.keys, o = slot * FLOW_KEY_WIDTH;
      k[o + 4] = srcWords[s]!; k[o + 5] = srcWords[s + 1]!; k[o + 6] = srcWords[s + 2]!; k[o + 7] = srcWords[s + 3]!;
      k[o + 8] = dstWords[d]!; k[o + 9] = dstWords[d + 1]!; k[o + 10] = dstWords[d + 2]!; k[o + 11] = dstWords[d + 3]!;
      k[o + FLOW_KEY.PORTS] = portsKey;
      k[o + FLOW_KEY.PROTOCOL] = protocol;
      k[o + FLOW_KEY.HASH] = hash;
      const b = hash & (this.buckets.length - 1);
      k[o + FLOW_KEY.CHAIN] = this.buckets[b]!;
      this.buckets[b] = slot;
      this.appendToTail(slot);
      const no = slot * FLOW_NUM_WIDTH;
      this.nums[no + FLOW_NUM.FIRST_SEEN_MS] = timeMs;
      this.nums[no + FLOW_NUM.LAST_SEEN_MS] = timeMs;
      // the other per-flow columns are valid only under their FLOW_STATE bit; the caller sets the totals
      this.reportedUntilMs[slot] = timeMs;
      this.winCounts[slot * WIN_WIDTH + WIN.STATE] = 0;
      this.size++;
      this.lastWasNew = true;
    }
    const ko = slot * FLOW_KEY_WIDTH;
    if (this.keys[ko + FLOW_KEY.ACTIVE_POS] === NONE) {
      this.keys[ko + FLOW_KEY.ACTIVE_POS] = this.activeCount;
      this.active[this.activeCount++] = slot;
      this.winFlags[slot] = this.lastWasNew ? WIN_FLAG.NEW : 0;
      this.keys[ko + FLOW_KEY.HOST_SRC] = NONE;
    }
    return slot;
  }

  /** Clears the window accumulators of the active flows and empties the active list. */
  clearWindow(): void {
    for (let i = 0; i < this.activeCount; i++) {
      const slot = this.active[i]!;
      this.clearWindowOf(slot);
      this.keys[slot * FLOW_KEY_WIDTH + FLOW_KEY.ACTIVE_POS] = NONE;
    }
    this.activeCount = 0;
  }

  private clearWindowOf(slot: number): void {
    this.nums[slot * FLOW_NUM_WIDTH + FLOW_NUM.WIN_BYTES] = 0;
    this.winFlags[slot] = 0;
    // the window counters only (WIN.PACKETS … WIN.GAP); the TCP state after them is the flow's
    const o = slot * WIN_WIDTH, c = this.winCounts;
    c[o] = 0; c[o + 1] = 0; c[o + 2] = 0; c[o + 3] = 0; c[o + 4] = 0; c[o + 5] = 0; c[o + 6] = 0; c[o + 7] = 0;
  }

  /** Least recently seen flow (the head of the recency list), or -1 when empty. */
  get oldest(): number { return this.head; }

  /** The flow seen after `slot` in recency order, or -1. */
  newerThan(slot: number): number { return this.links[2 * slot + 1]!; }

  /**
   * Forgets flows last seen before `cutoffMs` (packet time), walking from the least recently seen.
   * Stops at the first flow seen at or after the cutoff: flows are in touch order, and packet times
   * only go backwards by the decoder's clamping, so this is exact for in-order captures.
   * Flows active in the current window are never expired. Returns how many were forgotten.
   */
  expireIdle(cutoffMs: number): number {
    let n = 0;
    while (this.head !== NONE && this.lastSeenMs(this.head) < cutoffMs && !this.isActive(this.head)) {
      this.remove(this.head);
      n++;
    }
    return n;
  }

  /** Forgets every flow (keeps the cumulative {@link evictions} count). */
  clear(): void {
    this.clearWindow();
    this.buckets.fill(NONE);
    this.keys = FlowTable.newKeys(this.capacity);
    this.links.fill(NONE);
    this.head = this.tail = NONE;
    this.freeCount = 0;
    this.used = 0;
    this.size = 0;
  }

  private allocate(): number {
    if (this.size >= this.maxFlows) {
      const victim = this.head;
      this.remove(victim);
      this.evictions++;
      if (!this.emergency) { this.emergency = true; this.emergencyEntries++; }
    }
    if (this.freeCount > 0) return this.free[--this.freeCount]!;
    if (this.used === this.capacity) this.grow();
    return this.used++;
  }

  /** Unlinks `slot` from its chain, the recency list and the active list, and frees it. */
  private remove(slot: number): void {
    const k = this.keys, o = slot * FLOW_KEY_WIDTH;
    const b = k[o + FLOW_KEY.HASH]! & (this.buckets.length - 1);
    let cur = this.buckets[b]!;
    if (cur === slot) this.buckets[b] = k[o + FLOW_KEY.CHAIN]!;
    else {
      while (k[cur * FLOW_KEY_WIDTH + FLOW_KEY.CHAIN] !== slot) cur = k[cur * FLOW_KEY_WIDTH + FLOW_KEY.CHAIN]!;
      k[cur * FLOW_KEY_WIDTH + FLOW_KEY.CHAIN] = k[o + FLOW_KEY.CHAIN]!;
    }
    k[o + FLOW_KEY.CHAIN] = NONE;
    this.unlink(slot);
    const pos = k[o + FLOW_KEY.ACTIVE_POS]!;
    if (pos !== NONE) {
      // swap-remove from the active list; the dropped flow loses its record for this window
      const last = this.active[--this.activeCount]!;
      this.active[pos] = last;
      k[last * FLOW_KEY_WIDTH + FLOW_KEY.ACTIVE_POS] = pos;
      k[o + FLOW_KEY.ACTIVE_POS] = NONE;
      // window columns are non-zero only on active slots (clearWindow zeroes the others at each close)
      this.clearWindowOf(slot);
    }
    this.free[this.freeCount++] = slot;
    this.size--;
  }

  private unlink(slot: number): void {
    const l = this.links;
    const p = l[2 * slot]!, nx = l[2 * slot + 1]!;
    if (p === NONE) this.head = nx; else l[2 * p + 1] = nx;
    if (nx === NONE) this.tail = p; else l[2 * nx] = p;
    l[2 * slot] = l[2 * slot + 1] = NONE;
  }

  private appendToTail(slot: number): void {
    const l = this.links;
    l[2 * slot] = this.tail;
    l[2 * slot + 1] = NONE;
    if (this.tail === NONE) this.head = slot; else l[2 * this.tail + 1] = slot;
    this.tail = slot;
  }

  private moveToTail(slot: number): void {
    if (this.tail === slot) return;
    this.unlink(slot);
    this.appendToTail(slot);
  }

  private grow(): void {
    const n = Math.min(this.maxFlows, this.capacity * 2);
    const keys = FlowTable.newKeys(n);
    keys.set(this.keys);
    this.keys = keys;
    this.links = grownInt32(this.links, n * 2, NONE);
    this.free = grownInt32(this.free, n, 0);
    this.nums = grownFloat64(this.nums, n * FLOW_NUM_WIDTH);
    this.winCounts = grownUint32(this.winCounts, n * WIN_WIDTH);
    this.winFlags = grownUint8(this.winFlags, n);
    this.active = grownInt32(this.active, n, 0);
    this.synTimeMs = grownFloat64(this.synTimeMs, n);
    this.synAckTimeMs = grownFloat64(this.synAckTimeMs, n);
    this.synToSynAckMs = grownFloat64(this.synToSynAckMs, n);
    this.synAckToAckMs = grownFloat64(this.synAckToAckMs, n);
    this.reportedUntilMs = grownFloat64(this.reportedUntilMs, n);
    this.capacity = n;
    // rehash every slot in use into larger buckets
    this.buckets = new Int32Array(pow2AtLeast(n * 2)).fill(NONE);
    const k = this.keys;
    for (let o = 0; o < k.length; o += FLOW_KEY_WIDTH) k[o + FLOW_KEY.CHAIN] = NONE;
    const mask = this.buckets.length - 1;
    for (let slot = this.head; slot !== NONE; slot = this.links[2 * slot + 1]!) {
      const o = slot * FLOW_KEY_WIDTH;
      const b = k[o + FLOW_KEY.HASH]! & mask;
      k[o + FLOW_KEY.CHAIN] = this.buckets[b]!;
      this.buckets[b] = slot;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Host table (one window)
// ---------------------------------------------------------------------------------------------

/** Protocol classes of the protocol mix. TCP, UDP and ICMP (with ICMPv6) are counted; OTHER is the rest (total − the three). */
export const PROTO_CLASS = { TCP: 0, UDP: 1, ICMP: 2, OTHER: 3 } as const;
/** Number of counted protocol classes per host (TCP, UDP, ICMP; OTHER is derived). */
export const PROTO_CLASSES = 3;

/**
 * Rows of `width` numbers for a few of many ids, allocated on first use: most hosts never receive
 * UDP from a reflector port, so a dense column per port would cost 8 bytes × ports for every host.
 * Allocation-free except when the pool grows (doubling).
 */
export class SparseRows {
  /** Row of each id, -1 when it has none. */
  rowOf: Int32Array;
  /** The rows, `width` numbers each. */
  pool: Float64Array;
  rows = 0;

  constructor(n: number, readonly width: number) {
    this.rowOf = new Int32Array(n).fill(NONE);
    this.pool = new Float64Array(16 * width);
  }

  /** Adds `value` to column `col` of the row of `id`. */
  add(id: number, col: number, value: number): void {
    let row = this.rowOf[id]!;
    if (row === NONE) {
      row = this.rows++;
      if (row * this.width >= this.pool.length) this.pool = grownFloat64(this.pool, this.pool.length * 2);
      this.rowOf[id] = row;
    }
    const k = row * this.width + col;
    this.pool[k] = this.pool[k]! + value;
  }

  grow(n: number): void { this.rowOf = grownInt32(this.rowOf, n, NONE); }

  /** Resets ids `0 … used-1`. */
  clear(used: number): void {
    this.rowOf.fill(NONE, 0, used);
    this.pool.fill(0, 0, this.rows * this.width);
    this.rows = 0;
  }
}

/**
 * UDP source ports of well-known amplification reflectors, in metric order: DNS 53, NTP 123,
 * SNMP 161, CLDAP 389, SSDP 1900, memcached 11211, chargen 19, IPsec IKE NAT-T 4500, WS-Discovery
 * 3702, DVR DHCPDiscover 37810. Sources: CISA alert TA14-017A "UDP-Based Amplification Attacks"
 * (ports and amplification factors), Rossow, "Amplification Hell", NDSS 2014. Metric names are
 * `udpReflectorBytes<port>`.
 */
export const REFLECTOR_PORTS: readonly number[] = Object.freeze([53, 123, 161, 389, 1900, 11211, 19, 4500, 3702, 37810]);

/** UDP port → index in {@link REFLECTOR_PORTS}, or -1 (a 64 KiB lookup so the packet path does no search). */
export const REFLECTOR_INDEX: Int8Array = (() => {
  const a = new Int8Array(65_536).fill(-1);
  REFLECTOR_PORTS.forEach((p, i) => { a[p] = i; });
  return a;
})();

/**
 * Columns of a row of {@link HostTable.sums}: what every packet of a key adds to, in one 64-byte row
 * of doubles per key and role (one cache line per packet and role rather than one per column).
 * Protocol classes in {@link PROTO_CLASS} order from `PROTO_BYTES` and `PROTO_PACKETS` on.
 */
export const HOST_SUM = {
  /** Bytes (wire length). */
  BYTES: 0,
  /** Packets. */
  PACKETS: 1,
  /** Bytes of protocol class TCP; UDP and ICMP follow. */
  PROTO_BYTES: 2,
  /** Packets of protocol class TCP; UDP and ICMP follow. */
  PROTO_PACKETS: 5,
} as const;
/** Row width of {@link HostTable.sums}. */
export const HOST_SUM_WIDTH = 8;

/** Role index of a host: what it sent. */
export const ROLE_SRC = 0;
/** Role index of a host: what it received. */
export const ROLE_DST = 1;

/** Words per hash slot of a {@link DistinctColumn}: generation stamp, id, member, padding. */
const DISTINCT_SLOT_WIDTH = 4;

/**
 * A set of small non-negative integers per id (host ids, ports), column-wise over ids, with no
 * allocation on {@link add} except when its arrays grow (doubling, kept across windows).
 *
 * Storage: one open-addressing hash table (linear probing, load ≤ 1/2) of (id, member) pairs for all
 * ids of the window, emptied in O(1) at {@link clear} by a generation stamp per slot (a slot is used
 * only when its stamp is the current generation); and, for enumeration at window close, the members
 * of each id in a singly linked list of entries (`head` per id, `next` per entry). The first member of
 * an id is kept inline too, so the common repeat (a host talking to its one peer again) costs one
 * array read. `cap` bounds the members kept per id (the id is then marked {@link truncated}).
 */
export class DistinctColumn {
  /** First member of each id, -1 when it has none. */
  first: Int32Array;
  /** 1 when a member was refused because the id already held `cap` members. */
  truncated: Uint8Array;
  /** Distinct members per id. */
  private counts: Int32Array;
  /** First entry of each id's member list, -1 when empty. */
  private head: Int32Array;
  /** Entries (one per distinct pair of the window): member value and next entry of the same id. */
  private entryValue: Int32Array;
  private entryNext: Int32Array;
  private entries = 0;
  /**
   * Hash slots, {@link DISTINCT_SLOT_WIDTH} words each (one 16-byte row, so that a probe reads one cache
   * line): generation stamp, id, member (a slot is used iff its stamp equals {@link gen}).
   */
  private slots: Int32Array;
  /** Number of hash slots (a power of two). */
  private slotCount: number;
  private gen = 1;

  constructor(n: number, readonly cap: number) {
    this.first = new Int32Array(n).fill(NONE);
    this.truncated = new Uint8Array(n);
    this.counts = new Int32Array(n);
    this.head = new Int32Array(n).fill(NONE);
    const slots = 1024;
    this.entryValue = new Int32Array(slots / 2);
    this.entryNext = new Int32Array(slots / 2);
    this.slots = new Int32Array(slots * DISTINCT_SLOT_WIDTH);
    this.slotCount = slots;
  }

  /** Slot of the pair (`id`, `value`) in the hash table: where it is, or the empty slot where it goes. */
  private slotOf(id: number, value: number): number {
    const mask = this.slotCount - 1;
    let s = murmurFinal(Math.imul(id, 0x9e3779b1) ^ value) & mask;
    const g = this.gen, t = this.slots;
    while (t[s * DISTINCT_SLOT_WIDTH] === g && (t[s * DISTINCT_SLOT_WIDTH + 1] !== id || t[s * DISTINCT_SLOT_WIDTH + 2] !== value)) s = (s + 1) & mask;
    return s;
  }

  /** Adds `value` (≥ 0) to the set of `id`. */
  add(id: number, value: number): void {
    const f = this.first[id]!;
    if (f === value) return;
    const s = this.slotOf(id, value);
    const t = this.slots, o = s * DISTINCT_SLOT_WIDTH;
    if (t[o] === this.gen) return; // already a member
    const c = this.counts[id]!;
    if (c >= this.cap) { this.truncated[id] = 1; return; }
    if (f === NONE) this.first[id] = value;
    this.counts[id] = c + 1;
    t[o] = this.gen; t[o + 1] = id; t[o + 2] = value;
    const e = this.entries++;
    if (e === this.entryValue.length) this.growEntries();
    this.entryValue[e] = value;
    this.entryNext[e] = this.head[id]!;
    this.head[id] = e;
    if (this.entries * 2 > this.slotCount) this.rehash();
  }

  /** Number of distinct members of `id`. */
  count(id: number): number { return this.counts[id]!; }

  /** Calls `fn` with each member of `id`, most recent first (allocation-free apart from what `fn` does). */
  forEach(id: number, fn: (member: number) => void): void {
    for (let e = this.head[id]!; e !== NONE; e = this.entryNext[e]!) fn(this.entryValue[e]!);
  }

  /** Members of `id`, ascending (allocates: for records). */
  sorted(id: number): number[] {
    const out: number[] = [];
    for (let e = this.head[id]!; e !== NONE; e = this.entryNext[e]!) out.push(this.entryValue[e]!);
    return out.sort((a, b) => a - b);
  }

  grow(n: number): void {
    this.first = grownInt32(this.first, n, NONE);
    this.truncated = grownUint8(this.truncated, n);
    this.counts = grownInt32(this.counts, n, 0);
    this.head = grownInt32(this.head, n, NONE);
  }

  private growEntries(): void {
    const n = this.entryValue.length * 2;
    this.entryValue = grownInt32(this.entryValue, n, 0);
    this.entryNext = grownInt32(this.entryNext, n, 0);
  }

  /** Doubles the hash table and re-inserts the pairs of the current generation. */
  private rehash(): void {
    const old = this.slots, oldCount = this.slotCount, g = this.gen;
    this.slotCount = oldCount * 2;
    this.slots = new Int32Array(this.slotCount * DISTINCT_SLOT_WIDTH);
    this.gen = 1;
    for (let s = 0; s < oldCount; s++) {
      const o = s * DISTINCT_SLOT_WIDTH;
      if (old[o] !== g) continue;
      const id = old[o + 1]!, value = old[o + 2]!;
      const n = this.slotOf(id, value) * DISTINCT_SLOT_WIDTH;
      this.slots[n] = 1; this.slots[n + 1] = id; this.slots[n + 2] = value;
    }
  }

  /** Resets ids `0 … used-1` (the hash table by a new generation: O(used), not O(table)). */
  clear(used: number): void {
    this.first.fill(NONE, 0, used);
    this.truncated.fill(0, 0, used);
    this.counts.fill(0, 0, used);
    this.head.fill(NONE, 0, used);
    this.entries = 0;
    if (++this.gen === 0x7fffffff) { this.slots.fill(0); this.gen = 1; }
  }
}

/**
 * The distinct keys of one window (ids `0 … size-1` in order of first sight) and, per role (sent =
 * {@link ROLE_SRC}, received = {@link ROLE_DST}), the accumulators of their records.
 *
 * A key is `keyWords` 32-bit words: 4 for an address (the `srcHost` / `dstHost` table, and the
 * subnet table, whose keys are masked addresses), 5 for a service (address + protocol·65536 + port),
 * 8 for a host pair (source address, destination address). The service and host-pair tables use
 * only {@link ROLE_SRC}.
 *
 * Each role holds at most `maxHostsPerRole` keys. A key is interned only when it gets a role
 * record or already has one in the other role, so the table never holds more than
 * 2 × `maxHostsPerRole` keys. A key refused by a full role gets no record of its own for that
 * role in this window; its packets still count on the interface and on the peer's record.
 */
export class HostTable {
  readonly maxHostsPerRole: number;
  /** Interned addresses. */
  size = 0;
  /** Hosts holding a record, per role. */
  roleCount = [0, 0];
  /** Host ids with a record per role, in order of their first packet in that role. */
  order: [Int32Array, Int32Array];
  /** Key words ({@link keyWords} per id; for an address table the 16 address bytes). */
  words: Int32Array;
  /** Words per key (4: address; 5: service; 8: host pair). */
  readonly keyWords: number;
  /**
   * Per role: 1 when a peer of the key was not counted in `peers` because the host table refused it
   * (it was full), so that `peers.count` is a lower bound. Set by the caller.
   */
  peerMissed: [Uint8Array, Uint8Array];
  /**
   * Per role: 0, or k + 1 when the key's distinct peers are also counted in HyperLogLog sketch k of
   * the owner's pool (set by the caller, see `FlowAggregator`: a key gets a sketch when its exact peer
   * set misses a peer). The sketch then holds every peer of the window, the exact ones included.
   */
  peerSketch: [Uint8Array, Uint8Array];
  /** Distinct own-side host ids per role (subnet table: the subnet's addresses that sent / received). */
  members: [DistinctColumn, DistinctColumn];
  /** Per role: 1 when an own-side address was not counted in `members` (host table full). */
  memberMissed: [Uint8Array, Uint8Array];
  private hash: Int32Array;
  private buckets: Int32Array;
  private chain: Int32Array;
  private capacity: number;
  private readonly maxCapacity: number;
  readonly seed: number;

  /** Per role: 1 when the host has a record in that role. */
  has: [Uint8Array, Uint8Array];
  /**
   * Per role: bytes, packets and the protocol mix, row-wise: {@link HOST_SUM_WIDTH} doubles per key at
   * `id * HOST_SUM_WIDTH + HOST_SUM.X` (see {@link HOST_SUM}).
   */
  sums: [Float64Array, Float64Array];
  syn: [Uint32Array, Uint32Array];
  synAck: [Uint32Array, Uint32Array];
  newFlows: [Uint32Array, Uint32Array];
  /** Distinct destination ports (TCP port, or 65536 + UDP port) per role. */
  dstPorts: [DistinctColumn, DistinctColumn];
  /** Distinct peers (host ids) per role: destinations for src, sources for dst. */
  peers: [DistinctColumn, DistinctColumn];
  /** Source role only: destination ports that received a SYN (no ACK), capped. */
  synDstPorts: DistinctColumn;
  /** Source role only: destination host ids that received a SYN. */
  synDstHosts: DistinctColumn;
  /** TCP segments with RST set, per role. */
  rst: [Uint32Array, Uint32Array];
  /** TCP segments with FIN set, per role. */
  fin: [Uint32Array, Uint32Array];
  /** TCP segments carrying payload, per role. */
  dataSegments: [Uint32Array, Uint32Array];
  /** TCP retransmissions (see {@link FlowTable.winRetransmissions}), per role. */
  retransmissions: [Uint32Array, Uint32Array];
  /** TCP out-of-order / gap segments (see {@link FlowTable.winOutOfOrder}), per role. */
  outOfOrder: [Uint32Array, Uint32Array];
  /** Sum of handshake RTTs (ms) completed in the window, per role (client = src, server = dst). */
  rttSum: [Float64Array, Float64Array];
  /** Handshakes completed in the window, per role. */
  rttCount: [Uint32Array, Uint32Array];
  /** UDP bytes per reflector source port ({@link REFLECTOR_PORTS} order), rows only for hosts that have any, per role. */
  reflectorBytes: [SparseRows, SparseRows];

  /**
   * @param maxHostsPerRole cap of records per role, integer ≥ 1
   * @param maxScanPorts cap of {@link synDstPorts} per source
   * @param keyWords 32-bit words per key (4 for addresses, the default)
   */
  constructor(maxHostsPerRole: number, maxScanPorts: number, keyWords = 4) {
    this.maxHostsPerRole = maxHostsPerRole;
    this.keyWords = keyWords;
    this.maxCapacity = maxHostsPerRole * 2;
    this.seed = (Math.random() * 0x100000000) | 0;
    const n = Math.min(this.maxCapacity, INITIAL_CAPACITY);
    this.capacity = n;
    this.words = new Int32Array(n * keyWords);
    this.hash = new Int32Array(n);
    this.peerMissed = [new Uint8Array(n), new Uint8Array(n)];
    this.memberMissed = [new Uint8Array(n), new Uint8Array(n)];
    this.peerSketch = [new Uint8Array(n), new Uint8Array(n)];
    this.buckets = new Int32Array(pow2AtLeast(n * 2)).fill(NONE);
    this.chain = new Int32Array(n).fill(NONE);
    this.order = [new Int32Array(n), new Int32Array(n)];
    this.has = [new Uint8Array(n), new Uint8Array(n)];
    this.sums = [new Float64Array(n * HOST_SUM_WIDTH), new Float64Array(n * HOST_SUM_WIDTH)];
    this.syn = [new Uint32Array(n), new Uint32Array(n)];
    this.synAck = [new Uint32Array(n), new Uint32Array(n)];
    this.newFlows = [new Uint32Array(n), new Uint32Array(n)];
    const unbounded = Number.MAX_SAFE_INTEGER;
    this.dstPorts = [new DistinctColumn(n, unbounded), new DistinctColumn(n, unbounded)];
    this.peers = [new DistinctColumn(n, unbounded), new DistinctColumn(n, unbounded)];
    this.members = [new DistinctColumn(n, unbounded), new DistinctColumn(n, unbounded)];
    this.synDstPorts = new DistinctColumn(n, maxScanPorts);
    this.synDstHosts = new DistinctColumn(n, unbounded);
    this.rst = [new Uint32Array(n), new Uint32Array(n)];
    this.fin = [new Uint32Array(n), new Uint32Array(n)];
    this.dataSegments = [new Uint32Array(n), new Uint32Array(n)];
    this.retransmissions = [new Uint32Array(n), new Uint32Array(n)];
    this.outOfOrder = [new Uint32Array(n), new Uint32Array(n)];
    this.rttSum = [new Float64Array(n), new Float64Array(n)];
    this.rttCount = [new Uint32Array(n), new Uint32Array(n)];
    const r = REFLECTOR_PORTS.length;
    this.reflectorBytes = [new SparseRows(n, r), new SparseRows(n, r)];
  }

  /**
   * Finds the id of the key at `words[w … w+keyWords-1]` (hash from {@link hashAddress} or
   * {@link hashWords} with {@link seed}); -1 if absent.
   */
  find(words: Int32Array, w: number, hash: number): number {
    const hw = this.words;
    const kw = this.keyWords;
    let id = this.buckets[hash & (this.buckets.length - 1)]!;
    while (id !== NONE) {
      if (this.hash[id] === hash) {
        const o = id * kw;
        if (hw[o] === words[w] && hw[o + 1] === words[w + 1] && hw[o + 2] === words[w + 2] && hw[o + 3] === words[w + 3]) {
          let k = 4;
          while (k < kw && hw[o + k] === words[w + k]) k++;
          if (k === kw) return id;
        }
      }
      id = this.chain[id]!;
    }
    return NONE;
  }

  /**
   * Returns the host id of the address with a record in `role`, creating the record (and interning
   * the address) when the role has room; -1 when the role is full and the host has no record in it.
   * `id` is the result of {@link find} for this address (-1 when absent).
   */
  claim(words: Int32Array, w: number, hash: number, id: number, role: number): number {
    if (id !== NONE && this.has[role]![id] === 1) return id;
    if (this.roleCount[role]! >= this.maxHostsPerRole) return NONE;
    if (id === NONE) id = this.intern(words, w, hash);
    this.has[role]![id] = 1;
    this.order[role]![this.roleCount[role]!++] = id;
    return id;
  }

  /** Bytes of key `id` in `role`. */
  bytesOf(role: number, id: number): number { return this.sums[role]![id * HOST_SUM_WIDTH + HOST_SUM.BYTES]!; }

  /** Packets of key `id` in `role`. */
  packetsOf(role: number, id: number): number { return this.sums[role]![id * HOST_SUM_WIDTH + HOST_SUM.PACKETS]!; }

  /** The stored hash of key `id` (the value given to {@link claim}; for an address table {@link hashAddress} with {@link seed}). */
  keyHash(id: number): number { return this.hash[id]!; }

  /** Empties the table for a new window. */
  clear(): void {
    const used = this.size;
    this.buckets.fill(NONE);
    this.chain.fill(NONE, 0, used);
    for (let r = 0; r < 2; r++) {
      this.has[r]!.fill(0, 0, used);
      this.sums[r]!.fill(0, 0, used * HOST_SUM_WIDTH);
      this.syn[r]!.fill(0, 0, used);
      this.synAck[r]!.fill(0, 0, used);
      this.newFlows[r]!.fill(0, 0, used);
      this.dstPorts[r]!.clear(used);
      this.peers[r]!.clear(used);
      this.members[r]!.clear(used);
      this.peerMissed[r]!.fill(0, 0, used);
      this.memberMissed[r]!.fill(0, 0, used);
      this.peerSketch[r]!.fill(0, 0, used);
      this.rst[r]!.fill(0, 0, used);
      this.fin[r]!.fill(0, 0, used);
      this.dataSegments[r]!.fill(0, 0, used);
      this.retransmissions[r]!.fill(0, 0, used);
      this.outOfOrder[r]!.fill(0, 0, used);
      this.rttSum[r]!.fill(0, 0, used);
      this.rttCount[r]!.fill(0, 0, used);
      this.reflectorBytes[r]!.clear(used);
    }
    this.synDstPorts.clear(used);
    this.synDstHosts.clear(used);
    this.size = 0;
    this.roleCount[0] = this.roleCount[1] = 0;
  }

  private intern(words: Int32Array, w: number, hash: number): number {
    if (this.size === this.capacity) this.grow();
    const id = this.size++;
    const kw = this.keyWords;
    const o = id * kw;
    for (let k = 0; k < kw; k++) this.words[o + k] = words[w + k]!;
    this.hash[id] = hash;
    const b = hash & (this.buckets.length - 1);
    this.chain[id] = this.buckets[b]!;
    this.buckets[b] = id;
    return id;
  }

  private grow(): void {
    const n = Math.min(this.maxCapacity, this.capacity * 2);
    this.words = grownInt32(this.words, n * this.keyWords, 0);
    this.hash = grownInt32(this.hash, n, 0);
    this.chain = grownInt32(this.chain, n, NONE);
    for (let r = 0; r < 2; r++) {
      this.order[r] = grownInt32(this.order[r]!, n, 0);
      this.has[r] = grownUint8(this.has[r]!, n);
      this.sums[r] = grownFloat64(this.sums[r]!, n * HOST_SUM_WIDTH);
      this.syn[r] = grownUint32(this.syn[r]!, n);
      this.synAck[r] = grownUint32(this.synAck[r]!, n);
      this.newFlows[r] = grownUint32(this.newFlows[r]!, n);
      this.dstPorts[r]!.grow(n);
      this.peers[r]!.grow(n);
      this.members[r]!.grow(n);
      this.peerMissed[r] = grownUint8(this.peerMissed[r]!, n);
      this.memberMissed[r] = grownUint8(this.memberMissed[r]!, n);
      this.peerSketch[r] = grownUint8(this.peerSketch[r]!, n);
      this.rst[r] = grownUint32(this.rst[r]!, n);
      this.fin[r] = grownUint32(this.fin[r]!, n);
      this.dataSegments[r] = grownUint32(this.dataSegments[r]!, n);
      this.retransmissions[r] = grownUint32(this.retransmissions[r]!, n);
      this.outOfOrder[r] = grownUint32(this.outOfOrder[r]!, n);
      this.rttSum[r] = grownFloat64(this.rttSum[r]!, n);
      this.rttCount[r] = grownUint32(this.rttCount[r]!, n);
      this.reflectorBytes[r]!.grow(n);
    }
    this.synDstPorts.grow(n);
    this.synDstHosts.grow(n);
    this.capacity = n;
    this.buckets = new Int32Array(pow2AtLeast(n * 2)).fill(NONE);
    const mask = this.buckets.length - 1;
    for (let id = 0; id < this.size; id++) {
      const b = this.hash[id]! & mask;
      this.chain[id] = this.buckets[b]!;
      this.buckets[b] = id;
    }
  }
}
