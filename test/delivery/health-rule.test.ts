import { describe, expect, it } from 'vitest';
import { healthChange } from '../../lambdas/delivery/health.js';
import { endpointOrigin } from '../../lambdas/delivery/operational-events.js';

/** The endpoint health rule and the endpoint an operational event names, as functions, without a service. */
describe('Endpoint health rule', () => {
  const now = new Date('2026-01-06T00:00:00.000Z');
  const fiveDays = 5 * 86_400;

  it('counts every failure and ends the run on the first success', () => {
    expect(healthChange({}, { result: 'failed', statusCode: 500 }, now, fiveDays)).toEqual({
      kind: 'failure',
    });
    expect(healthChange({}, { result: 'failed' }, now, fiveDays)).toEqual({ kind: 'failure' });
    expect(healthChange({}, { result: 'delivered', statusCode: 200 }, now, fiveDays)).toEqual({
      kind: 'none',
    });
    expect(
      healthChange({ failingSince: '2026-01-05T00:00:00.000Z' }, { result: 'delivered' }, now, fiveDays),
    ).toEqual({ kind: 'recovered' });
    // A success after counted failures closes the circuit too, even on a read that lacks failingSince.
    expect(healthChange({ consecutiveFailures: 2 }, { result: 'delivered' }, now, fiveDays)).toEqual({
      kind: 'recovered',
    });
  });

  it('disables after failing for the whole window, not before', () => {
    const failed = { result: 'failed' as const, statusCode: 503 };
    expect(healthChange({ failingSince: '2026-01-01T00:00:01.000Z' }, failed, now, fiveDays)).toEqual({
      kind: 'failure',
    });
    expect(healthChange({ failingSince: '2026-01-01T00:00:00.000Z' }, failed, now, fiveDays)).toEqual({
      kind: 'disable',
      reason: 'failing_too_long',
    });
  });

  it('disables at once on 410 Gone, failing or not', () => {
    const gone = { result: 'failed' as const, statusCode: 410 };
    const disable = { kind: 'disable', reason: 'endpoint_gone' };
    expect(healthChange({}, gone, now, fiveDays)).toEqual(disable);
    expect(healthChange({ failingSince: '2026-01-05T00:00:00.000Z' }, gone, now, fiveDays)).toEqual(disable);
  });
});

describe('Operational event endpoint', () => {
  it("is the URL's origin only: no path, query, fragment or credentials, and no default port", () => {
    expect(endpointOrigin('https://hooks.slack.com/services/T000/B000/XXXXXXXX')).toBe(
      'https://hooks.slack.com',
    );
    expect(endpointOrigin('https://user:pass@example.com:8443/hook?token=abc#frag')).toBe(
      'https://example.com:8443',
    );
    expect(endpointOrigin('https://example.com:443/hook')).toBe('https://example.com');
    expect(endpointOrigin('http://127.0.0.1:4000/webhooks')).toBe('http://127.0.0.1:4000');
    expect(endpointOrigin('HTTPS://Example.COM/Path')).toBe('https://example.com');
    expect(endpointOrigin('not a url with a s3cr3t')).toBe('');
  });
});
