import { describe } from 'vitest';
import { AUTH, CURSORS, LIMITS, OTHER_TENANT, PATHS, STATE } from '../support/hostile/access-cases.js';
import { refusesEach, useHostileWorld } from '../support/hostile/world.js';

/**
 * Hostile access, each refused with its status and error code and changing nothing: forged cursors and paths,
 * bad or missing API keys, another tenant's resources, a disabled subscription, and the subscription cap and
 * request rate of a tenant. The cases are in test/support/hostile/access-cases.ts.
 */

describe('Security: hostile requests are refused with the error contract and change nothing', () => {
  const setup = useHostileWorld();
  refusesEach(setup, [...CURSORS, ...PATHS, ...AUTH, ...OTHER_TENANT, ...STATE, ...LIMITS]);
});
