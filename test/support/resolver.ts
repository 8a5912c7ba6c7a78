import type { HostResolver } from '../../lambdas/security/address-guard.js';

/** A global unicast address (example.com's of old) that the suite's example names resolve to. */
export const PUBLIC_ADDRESS = '93.184.215.14';

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
