import { describe } from 'vitest';
import { CONTENT_TYPES, MALFORMED_JSON, UNKNOWN_FIELDS, WRONG_TYPES } from '../support/hostile/body-cases.js';
import { refusesEach, useHostileWorld } from '../support/hostile/world.js';

/**
 * Hostile request bodies, each refused with its status and error code and changing nothing: malformed JSON,
 * wrong types, fields a client must never set (mass assignment) and media types other than JSON. The cases
 * are in test/support/hostile/body-cases.ts.
 */

describe('Security: hostile requests are refused with the error contract and change nothing', () => {
  const setup = useHostileWorld();
  refusesEach(setup, [...MALFORMED_JSON, ...WRONG_TYPES, ...UNKNOWN_FIELDS, ...CONTENT_TYPES]);
});
