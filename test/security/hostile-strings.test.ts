import { describe } from 'vitest';
import { INJECTION, SSRF, UNICODE } from '../support/hostile/string-cases.js';
import { refusesEach, useHostileWorld } from '../support/hostile/world.js';

/**
 * Hostile strings, each refused with its status and error code and changing nothing: webhook URLs that
 * reach a non-global address however spelled (SSRF), control characters in stored text, and Unicode look-alikes
 * in event types, filters and hosts. The cases are in test/support/hostile/string-cases.ts.
 */

describe('Security: hostile requests are refused with the error contract and change nothing', () => {
  const setup = useHostileWorld();
  refusesEach(setup, [...SSRF, ...INJECTION, ...UNICODE]);
});
