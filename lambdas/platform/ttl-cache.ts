/**
 * A Lambda instance's memory of recent answers: each entry is kept for ttlMs, and at most maxEntries are
 * kept, the one stored longest ago forgotten first (a Map keeps insertion order, and a refreshed entry is
 * re-inserted), so the memory stays bounded however many keys an instance meets.
 */
export interface TtlCacheOptions {
  ttlMs: number;
  maxEntries: number;
  /** Epoch milliseconds; Date.now by default. */
  now?: () => number;
}

export class TtlCache<K, V> {
  private readonly entries = new Map<K, { value: V; expiresAt: number }>();
  private readonly now: () => number;

  constructor(private readonly options: TtlCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The value stored for the key, wrapped so that a stored `undefined` differs from none. */
  get(key: K): { value: V } | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt > this.now()) return { value: entry.value };
    this.entries.delete(key);
    return undefined;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    if (this.entries.size >= this.options.maxEntries) {
      this.entries.delete(this.entries.keys().next().value as K);
    }
    this.entries.set(key, { value, expiresAt: this.now() + this.options.ttlMs });
  }
}
