import { ulid } from 'ulid';

/** Prefixed ULIDs: readable type at a glance, and sorting by id sorts by creation time. */
export function newId(prefix: 'sub' | 'evt' | 'ten' | 'key'): string {
  return `${prefix}_${ulid()}`;
}
