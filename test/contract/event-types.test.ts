import { describe, expect, it } from 'vitest';
import {
  anyFilterMatches,
  candidateFilters,
  filterMatches,
  isEventType,
  isEventTypeFilter,
  routingFilters,
} from '../../lambdas/contract/event-types.js';

describe('Event types', () => {
  it.each(['order', 'order.created', 'a_b-c.D9.x'])('accepts the type %s', (type) => {
    expect(isEventType(type)).toBe(true);
  });

  it.each([
    '',
    '.order',
    'order.',
    'order..created',
    'order.*',
    '*',
    'order created',
    'ordér.created',
    'a'.repeat(129),
  ])('rejects the type %j', (type) => {
    expect(isEventType(type)).toBe(false);
  });

  it.each(['*', 'order.*', 'order.created', 'a.b.*'])('accepts the filter %s', (filter) => {
    expect(isEventTypeFilter(filter)).toBe(true);
  });

  it.each(['', '**', 'order*', 'order.*.created', '*.created', 'order.**', 'order.'])(
    'rejects the filter %j',
    (filter) => {
      expect(isEventTypeFilter(filter)).toBe(false);
    },
  );

  it('matches exact types, prefixes and everything', () => {
    expect(filterMatches('order.created', 'order.created')).toBe(true);
    expect(filterMatches('order.created', 'order.created.v2')).toBe(false);
    expect(filterMatches('order.*', 'order.created')).toBe(true);
    expect(filterMatches('order.*', 'order.created.v2')).toBe(true);
    expect(filterMatches('order.*', 'order')).toBe(false);
    expect(filterMatches('order.*', 'orders.created')).toBe(false);
    expect(filterMatches('*', 'anything.at.all')).toBe(true);
    expect(anyFilterMatches(['user.*', 'order.paid'], 'order.created')).toBe(false);
  });

  it('lists exactly the filters that can match a type', () => {
    expect(candidateFilters('a.b.c')).toEqual(['*', 'a.*', 'a.b.*', 'a.b.c']);
    expect(candidateFilters('a')).toEqual(['*', 'a']);
    for (const filter of candidateFilters('a.b.c')) expect(filterMatches(filter, 'a.b.c')).toBe(true);
  });

  it('routes each subscription under filters of which at most one matches any type', () => {
    expect(routingFilters(['order.created', 'order.*', 'user.deleted', 'order.*'])).toEqual([
      'order.*',
      'user.deleted',
    ]);
    expect(routingFilters(['a.b.*', 'a.*', 'a.b.c'])).toEqual(['a.*']);
    expect(routingFilters(['x', '*', 'y.*'])).toEqual(['*']);
    const routed = routingFilters(['a.*', 'a.b.*', 'b.c', 'b.*', 'c']);
    for (const type of ['a.x', 'a.b.c', 'b.c', 'c', 'b.c.d']) {
      expect(routed.filter((filter) => filterMatches(filter, type)).length).toBe(1);
    }
  });
});
