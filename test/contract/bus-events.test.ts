import { describe, expect, it } from 'vitest';
import { putEventsEntryBytes } from '../../lambdas/contract/bus-events.js';

describe('Function: putEventsEntryBytes', () => {
  // AWS's "Calculating PutEvents entry size", by hand (UTF-8: "é" is 2 bytes, "😀" is 4):
  //   Source     "src-é"              4 + 2                 =  6
  //   DetailType "type-😀"            5 + 4                 =  9
  //   Detail     {"k":"é😀"}          6 + 2 + 4 + 2         = 14
  //   Resources  "res-1", "res-é"     5 + (4 + 2)           = 11
  //   Time       present                                    = 14
  // Total 40 without Time, 54 with it. (UTF-16 .length would give 33 and 47.)
  const entry = {
    Source: 'src-é',
    DetailType: 'type-😀',
    Detail: '{"k":"é😀"}',
    Resources: ['res-1', 'res-é'],
  };

  it('counts the UTF-8 bytes of Source, DetailType, Detail and each of Resources', () => {
    expect(putEventsEntryBytes(entry)).toBe(40);
  });

  it('counts 14 bytes for Time when present', () => {
    expect(putEventsEntryBytes({ ...entry, Time: new Date('2026-01-02T03:04:05Z') })).toBe(54);
  });
});
