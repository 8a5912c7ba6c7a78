import fc from 'fast-check';
import ipaddr from 'ipaddr.js';

/**
 * fast-check generators of IP addresses, global and not, and of the spellings a URL parser reads as an IPv4
 * address: the SSRF guard's property tests draw from them.
 */

// ---- IPv4 and IPv6 generators, written from the ranges in the issue, independently of address-guard.ts ----

/** Non-global IPv4 ranges (IANA special-purpose registry, multicast, class E). */
const NON_GLOBAL_V4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.88.99.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
];

/** Global unicast ranges, many right beside a non-global one so that an off-by-one prefix shows. */
const GLOBAL_V4 = [
  '1.0.0.0/8',
  '8.8.0.0/16',
  '9.0.0.0/8',
  '11.0.0.0/8',
  '93.184.0.0/16',
  '99.0.0.0/8',
  '100.0.0.0/10',
  '100.128.0.0/9',
  '126.0.0.0/8',
  '128.0.0.0/8',
  '169.253.0.0/16',
  '169.255.0.0/16',
  '172.0.0.0/12',
  '172.32.0.0/11',
  '192.0.1.0/24',
  '192.0.3.0/24',
  '192.88.98.0/24',
  '192.88.100.0/24',
  '192.167.0.0/16',
  '192.169.0.0/16',
  '198.17.0.0/16',
  '198.20.0.0/14',
  '198.51.99.0/24',
  '198.51.101.0/24',
  '203.0.112.0/24',
  '203.0.114.0/23',
  '223.0.0.0/8',
];

const NON_GLOBAL_V6 = [
  '::/128',
  '::1/128',
  '100::/64',
  '2001:db8::/32',
  '3fff::/20',
  'fc00::/7',
  'fe80::/10',
  'fec0::/10',
  'ff00::/8',
];
const GLOBAL_V6 = ['2400::/12', '2600::/12', '2a00::/12', '2606:4700::/32', '2c0f::/16'];

export const dotted = (value: number) => [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.');
export const hex16 = (value: number) => (value & 0xffff).toString(16);

function v4In(cidr: string): fc.Arbitrary<number> {
  const [base = '', bits = ''] = cidr.split('/');
  const start = base.split('.').reduce((sum, part) => sum * 256 + Number(part), 0);
  return fc.integer({ min: start, max: start + 2 ** (32 - Number(bits)) - 1 });
}

/** An address inside an IPv6 prefix, in full uncompressed form. */
function v6In(cidr: string): fc.Arbitrary<string> {
  const [base = '', bits = ''] = cidr.split('/');
  const prefix = ipaddr.IPv6.parse(base).parts;
  return fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }).map((random) =>
    random
      .map((group, i) => {
        const fixedBits = Math.min(16, Math.max(0, Number(bits) - 16 * i));
        const mask = fixedBits === 0 ? 0 : (0xffff << (16 - fixedBits)) & 0xffff;
        return hex16(((prefix[i] ?? 0) & mask) | (group & ~mask));
      })
      .join(':'),
  );
}

export const nonGlobalV4 = fc.oneof(...NON_GLOBAL_V4.map(v4In));
export const globalV4 = fc.oneof(...GLOBAL_V4.map(v4In));
export const anyV4 = fc.oneof(nonGlobalV4, globalV4, fc.integer({ min: 0, max: 0xffff_ffff }));
export const nonGlobalV6 = fc.oneof(...NON_GLOBAL_V6.map(v6In));
export const globalV6 = fc.oneof(...GLOBAL_V6.map(v6In));

// ---- Legacy IPv4 spellings, as the WHATWG URL parser reads them ----

type Radix = 'decimal' | 'octal' | 'hex';

function spellNumber(value: number, radix: Radix, zeros: number, upper: boolean): string {
  if (radix === 'decimal') return String(value);
  if (radix === 'octal') return `0${'0'.repeat(zeros)}${value.toString(8)}`;
  const digits = `${'0'.repeat(zeros)}${value.toString(16)}`;
  return upper ? `0X${digits.toUpperCase()}` : `0x${digits}`;
}

const FULL_WIDTH_OFFSET = 0xfee0;
/** Full-width forms (U+FF01…) of ASCII letters, digits and dots, which IDNA maps back before parsing. */
const fullWidth = (text: string) =>
  text.replace(/[0-9A-Za-z.]/g, (c) => String.fromCharCode(c.charCodeAt(0) + FULL_WIDTH_OFFSET));
const percentEncode = (text: string, every: number) =>
  [...text]
    .map((c, i) => (i % every === 0 ? `%${c.charCodeAt(0).toString(16).padStart(2, '0')}` : c))
    .join('');

/** Any spelling of an IPv4 address: 1 to 4 parts, each decimal, octal or hex, and host-level disguises. */
export const spelledV4 = (address: fc.Arbitrary<number>) =>
  fc
    .record({
      address,
      parts: fc.integer({ min: 1, max: 4 }),
      radixes: fc.array(fc.constantFrom<Radix>('decimal', 'octal', 'hex'), { minLength: 4, maxLength: 4 }),
      zeros: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4, maxLength: 4 }),
      upper: fc.boolean(),
      trailingDot: fc.boolean(),
      disguise: fc.constantFrom('none', 'full-width', 'percent-encoded'),
      every: fc.integer({ min: 1, max: 4 }),
    })
    .map(({ address, parts, radixes, zeros, upper, trailingDot, disguise, every }) => {
      // The last part holds every byte the earlier parts do not: a.b.c.d, a.b.C, a.B, A.
      const bytes = [24, 16, 8, 0].map((shift) => (address >>> shift) & 0xff);
      const numbers = [...bytes.slice(0, parts - 1), address % 2 ** (8 * (5 - parts))];
      let host = numbers
        .map((n, i) => spellNumber(n, radixes[i] ?? 'decimal', zeros[i] ?? 0, upper))
        .join('.');
      if (trailingDot) host += '.';
      if (disguise === 'full-width') host = fullWidth(host);
      if (disguise === 'percent-encoded') host = percentEncode(host, every);
      return { address: dotted(address), host };
    });
