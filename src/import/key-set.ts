/**
 * The keys (references) a file has had so far, kept as two 32-bit hashes per key in an open-addressing
 * table: 16 MiB at a million keys, where a Set of the strings took about 80 MiB. `add` answers whether
 * the key may have come before: when it did, surely; when it did not, the answer is "no" but for a 64-bit
 * collision. The import uses it to skip SQL's duplicate check (a hash aggregate over every staged row,
 * 1.5 s at a million rows) when no reference can repeat; any "maybe" runs that exact check as before.
 */
export class KeySet {
  private slots = new Uint32Array(2 * 1024);
  private count = 0;

  /** Adds the key; true when it may already have been added. */
  add(key: string): boolean {
    let h1 = 0x811c9dc5;
    let h2 = 0x9747b28c;
    for (let i = 0; i < key.length; i += 1) {
      const c = key.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      h2 ^= h2 >>> 15;
    }
    // 0/0 marks an empty slot.
    h2 = (h2 | 1) >>> 0;
    h1 >>>= 0;
    if (this.place(h1, h2)) return true;
    this.count += 1;
    if (this.count * 2 > this.slots.length / 2) this.grow();
    return false;
  }

  /** Puts the pair in its slot (linear probing); true when it was already there. */
  private place(h1: number, h2: number): boolean {
    const mask = this.slots.length / 2 - 1;
    for (let at = h1 & mask; ; at = (at + 1) & mask) {
      const a = this.slots[2 * at]!;
      const b = this.slots[2 * at + 1]!;
      if (b === 0) {
        this.slots[2 * at] = h1;
        this.slots[2 * at + 1] = h2;
        return false;
      }
      if (a === h1 && b === h2) return true;
    }
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Uint32Array(old.length * 2);
    for (let i = 0; i < old.length; i += 2) if (old[i + 1] !== 0) this.place(old[i]!, old[i + 1]!);
  }
}
