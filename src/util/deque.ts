// A growable ring buffer: O(1) push/shift/unshift, index access, and ordered insertion near
// the head (where requeued messages go back). Arrays' shift() is O(n) on large queues.

export class Deque<T> {
  private buf: (T | undefined)[];
  private head = 0;
  private size = 0;

  constructor(initialCapacity = 16) {
    this.buf = new Array<T | undefined>(Math.max(4, initialCapacity));
  }

  get length(): number {
    return this.size;
  }

  at(index: number): T | undefined {
    if (index < 0 || index >= this.size) return undefined;
    return this.buf[(this.head + index) % this.buf.length];
  }

  peek(): T | undefined {
    return this.size === 0 ? undefined : this.buf[this.head];
  }

  push(item: T): void {
    if (this.size === this.buf.length) this.grow();
    this.buf[(this.head + this.size) % this.buf.length] = item;
    this.size++;
  }

  unshift(item: T): void {
    if (this.size === this.buf.length) this.grow();
    this.head = (this.head - 1 + this.buf.length) % this.buf.length;
    this.buf[this.head] = item;
    this.size++;
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) % this.buf.length;
    this.size--;
    return item;
  }

  /**
   * Insert keeping the deque ordered by `key` (ascending), assuming it already is.
   * Shifts the elements in front of the insertion point, so it is cheap near the head.
   */
  insertOrdered(item: T, key: (t: T) => number): void {
    const k = key(item);
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (key(this.at(mid) as T) < k) lo = mid + 1;
      else hi = mid;
    }
    if (lo === this.size) {
      this.push(item);
      return;
    }
    this.unshift(item);
    // bubble the new head forward to index lo
    const cap = this.buf.length;
    for (let i = 0; i < lo; i++) {
      const a = (this.head + i) % cap;
      const b = (this.head + i + 1) % cap;
      const tmp = this.buf[a];
      this.buf[a] = this.buf[b];
      this.buf[b] = tmp;
    }
  }

  /** remove everything; returns the removed items in order */
  drain(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.size; i++) out.push(this.buf[(this.head + i) % this.buf.length] as T);
    this.buf = new Array<T | undefined>(16);
    this.head = 0;
    this.size = 0;
    return out;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.size; i++) yield this.buf[(this.head + i) % this.buf.length] as T;
  }

  private grow(): void {
    const next = new Array<T | undefined>(this.buf.length * 2);
    for (let i = 0; i < this.size; i++) next[i] = this.buf[(this.head + i) % this.buf.length];
    this.buf = next;
    this.head = 0;
  }
}
