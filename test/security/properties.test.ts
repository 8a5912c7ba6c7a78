import fc from 'fast-check';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSubscriptionSchema } from '../../lambdas/api/schemas.js';
import { checkWebhookHost, hostnameProblem, isGlobalAddress } from '../../lambdas/security/address-guard.js';
import { signatureHeaders } from '../../lambdas/security/signing.js';
import {
  anyV4,
  dotted,
  globalV4,
  globalV6,
  hex16,
  nonGlobalV4,
  nonGlobalV6,
  spelledV4,
} from '../support/address-arbitraries.js';
import { fakeResolver } from '../support/resolver.js';

/**
 * Property-based tests of the SSRF guard and of signing. The seed is fixed so that every run checks the same
 * cases (a failure prints its counterexample and seed); the run counts keep the file to a few seconds.
 */
const RUNS = { seed: 0x5ec_0005, numRuns: 300 };

/** A resolver that would call everything public: only the guard itself can refuse. */
const everythingPublic = fakeResolver();
const registrationSchema = createSubscriptionSchema(false);

describe('Properties: SSRF address classification', () => {
  it('no IPv4 address inside a non-global range is global', () => {
    fc.assert(
      fc.property(nonGlobalV4, (address) => !isGlobalAddress(dotted(address))),
      RUNS,
    );
  });

  it('every IPv4 address inside the chosen global ranges is global', () => {
    fc.assert(
      fc.property(globalV4, (address) => isGlobalAddress(dotted(address))),
      RUNS,
    );
  });

  it('no IPv6 address inside a non-global range is global; chosen global ones are', () => {
    fc.assert(
      fc.property(nonGlobalV6, (address) => !isGlobalAddress(address)),
      RUNS,
    );
    fc.assert(
      fc.property(globalV6, (address) => isGlobalAddress(address)),
      RUNS,
    );
  });

  it('IPv4-mapped, -compatible and -translated IPv6 are never global, whatever they embed', () => {
    fc.assert(
      fc.property(anyV4, (address) => {
        const hi = hex16(address >>> 16);
        const lo = hex16(address);
        return [
          `::ffff:${dotted(address)}`,
          `::ffff:${hi}:${lo}`,
          `0:0:0:0:0:ffff:${hi}:${lo}`,
          `::${dotted(address)}`,
          `::${hi}:${lo}`,
          `::ffff:0:${dotted(address)}`,
        ].every((form) => !isGlobalAddress(form));
      }),
      RUNS,
    );
  });

  it('NAT64 and 6to4 addresses are global exactly when the IPv4 address they embed is', () => {
    fc.assert(
      fc.property(
        anyV4,
        fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 3, maxLength: 3 }),
        (address, [subnet = 0, iface = 0, low = 0]) => {
          const expected = isGlobalAddress(dotted(address));
          const hi = hex16(address >>> 16);
          const lo = hex16(address);
          expect(isGlobalAddress(`64:ff9b::${hi}:${lo}`)).toBe(expected);
          expect(isGlobalAddress(`64:ff9b::${dotted(address)}`)).toBe(expected);
          expect(isGlobalAddress(`2002:${hi}:${lo}:${hex16(subnet)}:${hex16(iface)}::${hex16(low)}`)).toBe(
            expected,
          );
        },
      ),
      RUNS,
    );
  });

  it('Teredo addresses are global exactly when both the server and the (inverted) client address are', () => {
    fc.assert(
      fc.property(anyV4, anyV4, fc.integer({ min: 0, max: 0xffff }), (server, client, port) => {
        const teredo = [
          '2001:0',
          hex16(server >>> 16),
          hex16(server),
          '8000',
          hex16(port),
          hex16(~(client >>> 16)),
          hex16(~client),
        ].join(':');
        expect(isGlobalAddress(teredo)).toBe(
          isGlobalAddress(dotted(server)) && isGlobalAddress(dotted(client)),
        );
      }),
      RUNS,
    );
  });

  it('a DNS answer passes the registration check exactly when every address in it is global', async () => {
    const tagged = fc.oneof(
      fc.record({ ip: nonGlobalV4.map(dotted), global: fc.constant(false) }),
      fc.record({ ip: nonGlobalV6, global: fc.constant(false) }),
      fc.record({ ip: globalV4.map(dotted), global: fc.constant(true) }),
      fc.record({ ip: globalV6, global: fc.constant(true) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(tagged, { minLength: 1, maxLength: 6 }), async (answer) => {
        const resolve = fakeResolver({ 'hooks.example.net': answer.map((entry) => entry.ip) });
        const check = await checkWebhookHost('hooks.example.net', resolve);
        expect(check.ok).toBe(answer.every((entry) => entry.global));
      }),
      RUNS,
    );
  });
});

describe('Properties: odd spellings of IP addresses never pass registration', () => {
  it('any URL spelling of a non-global IPv4 address is read as that address and refused', async () => {
    await fc.assert(
      fc.asyncProperty(spelledV4(nonGlobalV4), async ({ address, host }) => {
        const url = new URL(`https://${host}/hook`);
        // The generator is right about what the parser (and so any HTTP client) would connect to…
        expect(url.hostname).toBe(address);
        // …and the guard refuses it, before and regardless of any lookup.
        expect(hostnameProblem(url.hostname)).toMatch(/not an IP address/);
        expect(await checkWebhookHost(url.hostname, everythingPublic)).toEqual({
          ok: false,
          reason: expect.stringMatching(/not an IP address/),
        });
        expect(registrationSchema.safeParse({ url: url.href, eventTypes: ['*'] }).success).toBe(false);
        expect(registrationSchema.safeParse({ url: `https://${host}/hook`, eventTypes: ['*'] }).success).toBe(
          false,
        );
      }),
      RUNS,
    );
  });

  it('no IP literal at all is accepted as a webhook host, however it is spelled', () => {
    fc.assert(
      fc.property(spelledV4(anyV4), ({ host }) => {
        expect(hostnameProblem(new URL(`https://${host}/`).hostname)).toBeDefined();
      }),
      RUNS,
    );
    fc.assert(
      fc.property(fc.oneof(nonGlobalV6, globalV6), (address) => {
        const { hostname } = new URL(`https://[${address}]/`);
        expect(hostnameProblem(hostname)).toBeDefined();
        expect(
          registrationSchema.safeParse({ url: `https://[${address}]/`, eventTypes: ['*'] }).success,
        ).toBe(false);
      }),
      RUNS,
    );
  });
});

// ---- Signing ----

const secret = fc
  .uint8Array({ minLength: 16, maxLength: 64 })
  .map((key) => `whsec_${Buffer.from(key).toString('base64')}`);
const secrets = fc.uniqueArray(secret, { minLength: 1, maxLength: 5 });
const messageId = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,128}$/);
const payload = fc.json();
/** Whole seconds, as the header carries them. */
const timestamp = fc.integer({ min: Date.UTC(2000, 0, 1) / 1000, max: Date.UTC(2100, 0, 1) / 1000 });
const TOLERANCE_SECONDS = 300;
/** The receiver's clock, within the standard's 5-minute tolerance of the signing time. */
const skew = fc.integer({ min: -TOLERANCE_SECONDS * 1000, max: TOLERANCE_SECONDS * 1000 + 999 });

function sign(keys: readonly string[], id: string, seconds: number, body: string) {
  return signatureHeaders(keys, id, new Date(seconds * 1000), body);
}

/** Verification as a receiver would do it at `seconds` + skew: the parsed payload, or the error. */
function verifyAt(key: string, body: string, headers: Record<string, string>, clockMs: number) {
  vi.setSystemTime(clockMs);
  try {
    return { payload: new Webhook(key).verify(body, headers) };
  } catch (error) {
    return { error };
  }
}

describe('Properties: Standard Webhooks signing round-trip', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('carries one v1 signature per secret and verifies with each of them', () => {
    fc.assert(
      fc.property(secrets, messageId, timestamp, payload, skew, (keys, id, seconds, body, drift) => {
        const headers = sign(keys, id, seconds, body);
        expect(headers['webhook-id']).toBe(id);
        expect(headers['webhook-timestamp']).toBe(String(seconds));
        const signatures = (headers['webhook-signature'] ?? '').split(' ');
        expect(signatures).toHaveLength(keys.length);
        for (const signature of signatures) expect(signature).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
        for (const key of keys) {
          expect(verifyAt(key, body, headers, seconds * 1000 + drift)).toEqual({ payload: JSON.parse(body) });
        }
      }),
      RUNS,
    );
  });

  it('fails with a secret that is not in the set', () => {
    fc.assert(
      fc.property(secrets, secret, messageId, timestamp, payload, (keys, other, id, seconds, body) => {
        fc.pre(!keys.includes(other));
        const result = verifyAt(other, body, sign(keys, id, seconds, body), seconds * 1000);
        expect(result.error).toBeInstanceOf(WebhookVerificationError);
      }),
      RUNS,
    );
  });

  it('fails for a tampered body, id or timestamp, even by one character or second', () => {
    const tamper = fc.oneof(
      fc.record({ field: fc.constant('body' as const), value: payload }),
      fc.record({ field: fc.constant('suffix' as const), value: fc.constantFrom(' ', '\n', '0') }),
      fc.record({ field: fc.constant('id' as const), value: messageId }),
      fc.record({
        field: fc.constant('timestamp' as const),
        value: fc.integer({ min: -TOLERANCE_SECONDS, max: TOLERANCE_SECONDS }).filter((d) => d !== 0),
      }),
    );
    fc.assert(
      fc.property(secrets, messageId, timestamp, payload, tamper, (keys, id, seconds, body, change) => {
        const headers = sign(keys, id, seconds, body);
        let sentBody = body;
        if (change.field === 'body') {
          fc.pre(change.value !== body);
          sentBody = change.value;
        } else if (change.field === 'suffix') {
          // One byte more, even one a JSON parser ignores, must fail too.
          sentBody = body + change.value;
        } else if (change.field === 'id') {
          fc.pre(change.value !== id);
          headers['webhook-id'] = change.value;
        } else {
          headers['webhook-timestamp'] = String(seconds + change.value);
        }
        for (const key of keys) {
          const result = verifyAt(key, sentBody, headers, seconds * 1000);
          expect(result.error).toBeInstanceOf(WebhookVerificationError);
        }
      }),
      RUNS,
    );
  });

  it('fails outside the 5-minute tolerance even with the right secret', () => {
    const late = fc.oneof(
      fc.integer({ min: TOLERANCE_SECONDS + 1, max: 10 ** 7 }),
      fc.integer({ min: -(10 ** 7), max: -(TOLERANCE_SECONDS + 1) }),
    );
    fc.assert(
      fc.property(secrets, messageId, timestamp, payload, late, (keys, id, seconds, body, offset) => {
        const headers = sign(keys, id, seconds, body);
        const result = verifyAt(keys[0] ?? '', body, headers, (seconds + offset) * 1000);
        expect(result.error).toBeInstanceOf(WebhookVerificationError);
        expect(String((result.error as Error).message)).toMatch(/timestamp too (old|new)/);
      }),
      RUNS,
    );
  });
});
