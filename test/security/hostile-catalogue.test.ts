import { describe, expect, it } from 'vitest';
import { AUTH, CURSORS, LIMITS, OTHER_TENANT, PATHS, STATE } from '../support/hostile/access-cases.js';
import { CONTENT_TYPES, MALFORMED_JSON, UNKNOWN_FIELDS, WRONG_TYPES } from '../support/hostile/body-cases.js';
import { DEEP, HUGE } from '../support/hostile/payload-cases.js';
import type { HostileCase } from '../support/hostile/requests.js';
import { INJECTION, SSRF, UNICODE } from '../support/hostile/string-cases.js';
import { useHostileWorld } from '../support/hostile/world.js';

/**
 * The hostile-input suite as a whole: its case tables (test/support/hostile/), run by the other
 * hostile-*.test.ts files, are many and distinct, and the world they act on starts clean.
 */

const CASES: HostileCase[] = [
  ...MALFORMED_JSON,
  ...WRONG_TYPES,
  ...UNKNOWN_FIELDS,
  ...HUGE,
  ...DEEP,
  ...SSRF,
  ...INJECTION,
  ...UNICODE,
  ...CONTENT_TYPES,
  ...CURSORS,
  ...PATHS,
  ...AUTH,
  ...OTHER_TENANT,
  ...STATE,
  ...LIMITS,
];

describe('Security: hostile requests are refused with the error contract and change nothing', () => {
  const setup = useHostileWorld();

  it('has at least 100 distinct cases, each named once', () => {
    const { world } = setup;
    expect(CASES.length).toBeGreaterThanOrEqual(100);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
    const requests = CASES.map((c) => JSON.stringify([c.via, c.request(world)]));
    expect(new Set(requests).size).toBe(CASES.length);
  });

  it('starts from the expected state: two stored events, no queued work', async () => {
    const { state } = setup;
    const { tables, queues } = await state();
    expect(tables.events).toHaveLength(2);
    for (const depth of Object.values(queues)) expect(depth).toEqual({ visible: 0, inFlight: 0 });
  });
});
