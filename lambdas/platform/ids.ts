import { randomFillSync } from 'node:crypto';
import { ulid } from 'ulid';

/**
 * Random bytes for ULIDs, drawn from a buffer refilled from the system's CSPRNG: the library's own source makes
 * one getRandomValues call per character, 16 per id, which was a tenth of the deliver step's CPU. A byte over
 * 256 keeps each of the 32 characters equally likely.
 */
const pool = new Uint8Array(4096);
let next = pool.length;

function pooledRandom(): number {
  if (next === pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  return (pool[next++] as number) / 256;
}

/** A ULID: sorting by it sorts by `at`. */
export function newUlid(at: number = Date.now()): string {
  return ulid(at, pooledRandom);
}

/** Prefixed ULIDs: readable type at a glance, and sorting by id sorts by creation time. */
export function newId(prefix: 'sub' | 'evt' | 'ten' | 'key'): string {
  return `${prefix}_${newUlid()}`;
}
