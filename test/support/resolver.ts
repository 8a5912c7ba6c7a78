import type { HostResolver } from '../../lambdas/security/address-guard.js';

/** A global unicast address (example.com's of old) that the suite's example names resolve to. */
export const PUBLIC_ADDRESS = '93.184.215.14';

/**
 * The SSRF tests' DNS, for fakeResolver: public.test.dev answers only global addresses; every other name
 * answers at least one loopback, private, metadata, mapped or NAT64 address, or (empty.test.dev) none.
 */
export const TEST_HOSTS: Record<string, readonly string[]> = {
  'public.test.dev': [PUBLIC_ADDRESS, '2606:4700:4700::1111'],
  'loopback.test.dev': ['127.0.0.1'],
  'metadata.test.dev': ['169.254.169.254'],
  'mixed.test.dev': [PUBLIC_ADDRESS, '10.0.0.7'],
  'mixed6.test.dev': ['2606:4700:4700::1111', 'fd00:ec2::254'],
  'mapped.test.dev': ['::ffff:127.0.0.1'],
  'nat64.test.dev': ['64:ff9b::a00:1'],
  'empty.test.dev': [],
  '127.0.0.1.nip.io': ['127.0.0.1'],
};

/**
 * A resolver for the SSRF guard that never touches the network: names in `table` answer with their
 * addresses, example.com/.net/.org names (RFC 2606) with PUBLIC_ADDRESS, anything else fails the way
 * getaddrinfo does (ENOTFOUND).
 */
export function fakeResolver(table: Record<string, readonly string[]> = {}): HostResolver {
  return async (hostname) => {
    const name = hostname.toLowerCase();
    const listed = table[name];
    if (listed) return listed;
    if (/(^|\.)example\.(com|net|org)$/.test(name)) return [PUBLIC_ADDRESS];
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
  };
}
