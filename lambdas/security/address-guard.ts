import { lookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * The SSRF guard: webhook URLs may only reach global unicast addresses. The same rule applies when a
 * subscription is registered and again at every connection a delivery makes (DNS may answer differently
 * by then), unless allowPrivateUrls is set (local mode's default).
 *
 * Allow-list: an IPv4 address is global unless it is in NON_GLOBAL_V4; an IPv6 address is global only inside
 * 2000::/3 (IANA's global unicast space) and outside NON_GLOBAL_V6. IPv4-mapped (::ffff:0:0/96) and
 * IPv4-compatible (::/96) addresses are never global, whatever they embed; NAT64 (64:ff9b::/96), 6to4
 * (2002::/16) and Teredo (2001::/32) are global exactly when every IPv4 address they embed is.
 */

/** IANA special-purpose IPv4 blocks that are not globally reachable, plus multicast and class E. */
const NON_GLOBAL_V4 = [
  '0.0.0.0/8', // "this network", including 0.0.0.0
  '10.0.0.0/8', // RFC 1918
  '100.64.0.0/10', // carrier-grade NAT
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link-local, including the cloud metadata endpoint 169.254.169.254
  '172.16.0.0/12', // RFC 1918
  '192.0.0.0/24', // IETF protocol assignments
  '192.0.2.0/24', // TEST-NET-1
  '192.88.99.0/24', // deprecated 6to4 relay anycast
  '192.168.0.0/16', // RFC 1918
  '198.18.0.0/15', // benchmarking
  '198.51.100.0/24', // TEST-NET-2
  '203.0.113.0/24', // TEST-NET-3
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved, including broadcast 255.255.255.255
].map((range) => ipaddr.IPv4.parseCIDR(range));

const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');

/** Blocks inside 2000::/3 that are not globally reachable (embedding ranges are handled before these). */
const NON_GLOBAL_V6 = [
  '2001::/23', // IETF protocol assignments: benchmarking, ORCHID and the like
  '2001:db8::/32', // documentation
  '3fff::/20', // documentation (RFC 9637)
].map((range) => ipaddr.IPv6.parseCIDR(range));

const NAT64 = ipaddr.IPv6.parseCIDR('64:ff9b::/96');
const SIX_TO_FOUR = ipaddr.IPv6.parseCIDR('2002::/16');
const TEREDO = ipaddr.IPv6.parseCIDR('2001::/32');

/**
 * Whether an IP address (as DNS returns it; legacy IPv4 spellings such as "0x7f.1" are read the way the
 * system would) is global unicast. Anything that does not parse, or carries an IPv6 zone, is not.
 */
export function isGlobalAddress(ip: string): boolean {
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    address = ipaddr.parse(ip);
  } catch {
    return false;
  }
  if (address.kind() === 'ipv4') return isGlobalV4(address as ipaddr.IPv4);
  const v6 = address as ipaddr.IPv6;
  if (v6.zoneId) return false;
  const embedded = embeddedIPv4(v6);
  if (embedded) return embedded.every(isGlobalV4);
  return v6.match(GLOBAL_UNICAST_V6) && !NON_GLOBAL_V6.some((range) => v6.match(range));
}

function isGlobalV4(address: ipaddr.IPv4): boolean {
  return !NON_GLOBAL_V4.some((range) => address.match(range));
}

/** The IPv4 addresses a translation or tunnelling address leads to, if it is one. */
function embeddedIPv4(address: ipaddr.IPv6): ipaddr.IPv4[] | undefined {
  const p = address.parts;
  const v4 = (high: number, low: number) => new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
  if (address.match(NAT64)) return [v4(p[6] as number, p[7] as number)];
  if (address.match(SIX_TO_FOUR)) return [v4(p[1] as number, p[2] as number)];
  // Teredo: the server's address, then the client's with every bit inverted (RFC 4380).
  if (address.match(TEREDO)) {
    return [v4(p[2] as number, p[3] as number), v4(~(p[6] as number) & 0xffff, ~(p[7] as number) & 0xffff)];
  }
  return undefined;
}

/** Names that only ever mean this machine or a private network, whatever a resolver answers. */
const LOCAL_ONLY_SUFFIXES = ['localhost', 'localdomain', 'local', 'internal', 'home.arpa'];

/**
 * What is wrong with a URL's host name (WHATWG `URL.hostname`, which has already turned decimal, octal, hex
 * and short IPv4 spellings into dotted quads) before any lookup, or undefined. IP literals are refused
 * outright, as are local-only and single-label names.
 */
export function hostnameProblem(hostname: string): string | undefined {
  const host = hostname.toLowerCase().replace(/\.+$/, '');
  if (host.startsWith('[') || isIP(host) !== 0 || ipaddr.isValid(host)) {
    return 'must use a host name, not an IP address';
  }
  if (LOCAL_ONLY_SUFFIXES.some((suffix) => host === suffix || host.endsWith(`.${suffix}`))) {
    return 'must not use localhost or another local-only host name';
  }
  const labels = host.split('.');
  if (labels.length < 2) return 'must use a fully qualified host name';
  if (labels.some((label) => label === '')) return 'must use a valid host name';
  return undefined;
}

/** Every address a host name resolves to. Rejects with the resolver's error (ENOTFOUND, EAI_AGAIN…). */
export type HostResolver = (hostname: string) => Promise<readonly string[]>;

/** getaddrinfo answers can take a while to fail; a registration or connection should not wait longer. */
const DNS_TIMEOUT_MS = 5_000;

/** The system resolver (what a plain connection would use), all addresses, bounded by DNS_TIMEOUT_MS. */
export const resolveHost: HostResolver = async (hostname) => {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error(`DNS lookup of ${hostname} timed out`), { code: 'EAI_AGAIN' })),
      DNS_TIMEOUT_MS,
    );
  });
  try {
    const answers = await Promise.race([lookup(hostname, { all: true, order: 'verbatim' }), timedOut]);
    return answers.map((answer) => answer.address);
  } finally {
    clearTimeout(timer);
  }
};

/** The `code` of a BlockedAddressError, by which the delivery step tells it from other connection errors. */
export const BLOCKED_ADDRESS = 'ERR_BLOCKED_ADDRESS';

/** A host the guard refuses. */
export class BlockedAddressError extends Error {
  override name = 'BlockedAddressError';
  readonly code = BLOCKED_ADDRESS;
}

/**
 * Resolves a host name and returns its addresses if it passes the guard: hostnameProblem finds nothing and
 * every address is global (one bad answer is enough to refuse, since a client may be handed any of them).
 * Throws BlockedAddressError if not, or the resolver's own error if the name does not resolve.
 */
async function resolveGlobalAddresses(
  hostname: string,
  resolve: HostResolver = resolveHost,
): Promise<string[]> {
  const problem = hostnameProblem(hostname);
  if (problem) throw new BlockedAddressError(problem);
  const addresses = [...(await resolve(hostname.replace(/\.+$/, '')))];
  if (addresses.length === 0) {
    throw Object.assign(new Error(`${hostname} has no addresses`), { code: 'ENOTFOUND' });
  }
  if (!addresses.every(isGlobalAddress)) {
    throw new BlockedAddressError('must not resolve to a private, loopback, link-local or reserved address');
  }
  return addresses;
}

export type HostCheck = { ok: true; addresses: string[] } | { ok: false; reason: string };

/** resolveGlobalAddresses as a result: the registration check, whose reason completes "url: …". */
export async function checkWebhookHost(
  hostname: string,
  resolve: HostResolver = resolveHost,
): Promise<HostCheck> {
  try {
    return { ok: true, addresses: await resolveGlobalAddresses(hostname, resolve) };
  } catch (error) {
    if (error instanceof BlockedAddressError) return { ok: false, reason: error.message };
    return { ok: false, reason: 'must use a host name that resolves' };
  }
}

/**
 * A `lookup` for net/tls.connect that hands the socket only addresses this guard has just checked, so the
 * address connected to is the address checked (no window for DNS rebinding). net calls it for host names
 * only: IP literals never reach it and must be refused before connecting (hostnameProblem).
 */
export function guardedLookup(resolve: HostResolver = resolveHost): LookupFunction {
  return (hostname, options, callback) => {
    resolveGlobalAddresses(hostname, resolve).then(
      (addresses) => {
        const wanted = familyNumber(options.family);
        const usable = addresses
          .map((address) => ({ address, family: isIP(address) }))
          .filter((answer) => wanted === 0 || answer.family === wanted);
        const first = usable[0];
        if (!first) {
          callback(
            Object.assign(new Error(`${hostname} has no IPv${wanted} address`), { code: 'ENOTFOUND' }),
            '',
          );
        } else if (options.all) {
          callback(null, usable);
        } else {
          callback(null, first.address, first.family);
        }
      },
      (error: NodeJS.ErrnoException) => callback(error, ''),
    );
  };
}

function familyNumber(family: number | string | undefined): number {
  if (family === 'IPv4' || family === 4) return 4;
  if (family === 'IPv6' || family === 6) return 6;
  return 0;
}
