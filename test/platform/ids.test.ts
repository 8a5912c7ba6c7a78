import { decodeTime } from 'ulid';
import { describe, expect, it } from 'vitest';
import { newId, newUlid } from '../../lambdas/platform/ids.js';

describe('ids', () => {
  it('makes ULIDs that carry their time and differ within one millisecond', () => {
    const at = Date.parse('2026-11-23T10:00:00.000Z');
    const ids = Array.from({ length: 20_000 }, () => newUlid(at));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids.slice(0, 100)) {
      expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
      expect(decodeTime(id)).toBe(at);
    }
  });

  it('uses every character of the random part about equally often', () => {
    // 20,000 ids × 16 random characters over 32 symbols: 10,000 expected each, σ ≈ 98, so ±1,000 is about 10σ.
    const counts = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      for (const char of newUlid().slice(10)) counts.set(char, (counts.get(char) ?? 0) + 1);
    }
    expect(counts.size).toBe(32);
    for (const count of counts.values()) expect(Math.abs(count - 10_000)).toBeLessThan(1_000);
  });

  it('prefixes ids with their kind', () => {
    expect(newId('sub')).toMatch(/^sub_[0-9A-HJKMNP-TV-Z]{26}$/);
  });
});
