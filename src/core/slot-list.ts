/**
 * A doubly linked list over integer slots (0 … capacity − 1) in two `Int32Array`s: the order of
 * use of the slots of a slot-indexed store, least recently seen at {@link head}, most recently seen
 * at {@link tail}. No object per entry and O(1) moves, so that a store of 100,000 keys can keep an
 * exact least-recently-seen order per record without a `Map` delete + set. Used by the baseline
 * store (ewma-baseline) and the recent-peak store (rule-detector).
 *
 * @packageDocumentation
 */

/** See the module comment. Slots not in the list have undefined links. */
export class SlotList {
  /** Least recently seen slot (first to evict), −1 when the list is empty. */
  head = -1;
  /** Most recently seen slot, −1 when the list is empty. */
  tail = -1;
  /** `next[s]`: the slot seen after `s` (towards {@link tail}), −1 at the tail. Read it to walk the list from {@link head}. */
  next = new Int32Array(0);
  private prev = new Int32Array(0);

  /** Room for slots 0 … `capacity` − 1 (links kept; never shrinks). */
  grow(capacity: number): void {
    if (capacity <= this.next.length) return;
    const next = new Int32Array(capacity); next.set(this.next); this.next = next;
    const prev = new Int32Array(capacity); prev.set(this.prev); this.prev = prev;
  }

  /** Adds slot `s` (not in the list) at the tail. */
  append(s: number): void {
    this.prev[s] = this.tail;
    this.next[s] = -1;
    if (this.tail !== -1) this.next[this.tail] = s; else this.head = s;
    this.tail = s;
  }

  /** Moves slot `s` (in the list) to the tail. */
  moveToTail(s: number): void {
    if (this.tail === s) return;
    const p = this.prev[s]!, n = this.next[s]!;
    if (p !== -1) this.next[p] = n; else this.head = n;
    this.prev[n] = p; // n !== -1: s is not the tail
    this.prev[s] = this.tail;
    this.next[s] = -1;
    this.next[this.tail] = s;
    this.tail = s;
  }

  /** Takes slot `s` (in the list) out of it. */
  remove(s: number): void {
    const p = this.prev[s]!, n = this.next[s]!;
    if (p !== -1) this.next[p] = n; else this.head = n;
    if (n !== -1) this.prev[n] = p; else this.tail = p;
  }

  /** Empties the list and releases its arrays. */
  clear(): void {
    this.head = -1; this.tail = -1;
    this.next = new Int32Array(0); this.prev = new Int32Array(0);
  }
}
