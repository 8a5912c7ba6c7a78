import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  BlockedAddressError,
  checkWebhookHost,
  guardedLookup,
  type HostResolver,
  hostnameProblem,
  isGlobalAddress,
  resolveHost,
} from '../../lambdas/security/address-guard.js';
import { fakeResolver, PUBLIC_ADDRESS, TEST_HOSTS } from '../support/resolver.js';

describe('SSRF guard: address classification', () => {
  it.each([
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', '"this network" 0.0.0.0/8'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback, end of 127/8'],
    ['10.0.0.1', 'RFC 1918 10/8'],
    ['172.16.0.1', 'RFC 1918 172.16/12'],
    ['172.31.255.255', 'RFC 1918 172.16/12, last'],
    ['192.168.1.1', 'RFC 1918 192.168/16'],
    ['169.254.169.254', 'link-local: the cloud metadata endpoint'],
    ['169.254.0.1', 'link-local'],
    ['100.64.0.1', 'CGNAT'],
    ['100.127.255.255', 'CGNAT, last'],
    ['198.18.0.1', 'benchmarking'],
    ['198.19.255.255', 'benchmarking, last'],
    ['192.0.2.1', 'TEST-NET-1'],
    ['198.51.100.1', 'TEST-NET-2'],
    ['203.0.113.1', 'TEST-NET-3'],
    ['192.0.0.1', 'IETF protocol assignments 192.0.0.0/24'],
    ['192.0.0.170', 'NAT64 discovery (192.0.0.0/24)'],
    ['192.88.99.1', '6to4 relay anycast'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast (SSDP)'],
    ['240.0.0.1', 'reserved class E'],
    ['255.255.255.255', 'broadcast'],
    ['::', 'IPv6 unspecified'],
    ['::1', 'IPv6 loopback'],
    ['fe80::1', 'IPv6 link-local'],
    ['febf:ffff::1', 'IPv6 link-local, end of fe80::/10'],
    ['fe80::1%eth0', 'IPv6 link-local with a zone'],
    ['fc00::1', 'unique-local fc00::/7'],
    ['fd12:3456::1', 'unique-local fd00::/8'],
    ['fd00:ec2::254', 'the EC2 metadata endpoint over IPv6'],
    ['fec0::1', 'deprecated site-local'],
    ['ff02::1', 'IPv6 multicast'],
    ['ff0e::1', 'IPv6 global-scope multicast'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback, hex'],
    ['::ffff:169.254.169.254', 'IPv4-mapped metadata endpoint'],
    ['::ffff:8.8.8.8', 'IPv4-mapped, even of a public address'],
    ['::127.0.0.1', 'IPv4-compatible loopback'],
    ['::8.8.8.8', 'IPv4-compatible, even of a public address'],
    ['::ffff:0:127.0.0.1', 'IPv4-translated (RFC 6145)'],
    ['64:ff9b::7f00:1', 'NAT64 of 127.0.0.1'],
    ['64:ff9b::10.0.0.1', 'NAT64 of 10.0.0.1'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 of 169.254.169.254'],
    ['64:ff9b:1::808:808', 'local-use NAT64 64:ff9b:1::/48'],
    ['2002:7f00:1::1', '6to4 of 127.0.0.1'],
    ['2002:a00:1::', '6to4 of 10.0.0.1'],
    ['2002:c0a8:101::1', '6to4 of 192.168.1.1'],
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'Teredo with client 127.0.0.1'],
    ['2001:0:a00:1:8000:63bf:f7f7:f7f7', 'Teredo with server 10.0.0.1'],
    ['2001:db8::1', 'IPv6 documentation'],
    ['3fff::1', 'IPv6 documentation (RFC 9637)'],
    ['2001:2::1', 'IPv6 benchmarking'],
    ['2001:10::1', 'ORCHID'],
    ['100::1', 'IPv6 discard-only'],
    ['5f00::1', 'segment routing, outside 2000::/3'],
    ['4000::1', 'unassigned, outside 2000::/3'],
    ['2130706433', 'a decimal spelling of 127.0.0.1'],
    ['0x7f.1', 'a hex short spelling of 127.0.0.1'],
    ['0177.0.0.1', 'an octal spelling of 127.0.0.1'],
    ['127.1', 'a short spelling of 127.0.0.1'],
    ['', 'empty'],
    ['localhost', 'a name'],
    ['[::1]', 'bracketed'],
    ['1.2.3.4.5', 'not an address'],
    ['8.8.8.8:53', 'with a port'],
  ])('%s is not global (%s)', (ip) => {
    expect(isGlobalAddress(ip)).toBe(false);
  });

  it.each([
    ['8.8.8.8', 'public IPv4'],
    [PUBLIC_ADDRESS, 'public IPv4'],
    ['1.1.1.1', 'public IPv4'],
    ['100.63.255.255', 'just below CGNAT'],
    ['100.128.0.0', 'just above CGNAT'],
    ['172.15.255.255', 'just below 172.16/12'],
    ['172.32.0.0', 'just above 172.16/12'],
    ['169.253.255.255', 'just below link-local'],
    ['198.17.255.255', 'just below benchmarking'],
    ['198.20.0.0', 'just above benchmarking'],
    ['192.0.1.1', 'just above 192.0.0.0/24'],
    ['223.255.255.255', 'just below multicast'],
    ['11.0.0.1', 'just above 10/8'],
    ['2606:4700:4700::1111', 'public IPv6'],
    ['2a00:1450:4001:82a::200e', 'public IPv6'],
    ['2001:4860:4860::8888', 'public IPv6 just outside 2001::/23'],
    ['64:ff9b::808:808', 'NAT64 of 8.8.8.8'],
    ['2002:808:808::1', '6to4 of 8.8.8.8'],
    ['2001:0:808:808:8000:63bf:f7f7:f7f7', 'Teredo with server 8.8.8.8 and client 8.8.8.8'],
  ])('%s is global (%s)', (ip) => {
    expect(isGlobalAddress(ip)).toBe(true);
  });
});

describe('SSRF guard: host names', () => {
  it.each([
    ['127.0.0.1', /not an IP address/],
    ['8.8.8.8', /not an IP address/],
    ['[::1]', /not an IP address/],
    ['[2606:4700::1111]', /not an IP address/],
    ['::1', /not an IP address/],
    ['127.0.0.1.', /not an IP address/],
    ['0x7f.1', /not an IP address/],
    ['2130706433', /not an IP address/],
    ['localhost', /localhost/],
    ['localhost.', /localhost/],
    ['LOCALHOST', /localhost/],
    ['api.localhost', /localhost/],
    ['db.localdomain', /localhost/],
    ['printer.local', /localhost/],
    ['metadata.google.internal', /localhost/],
    ['router.home.arpa', /localhost/],
    ['intranet', /fully qualified/],
    ['intranet.', /fully qualified/],
    ['a..example.com', /valid host name/],
    ['.example.com', /valid host name/],
  ])('refuses %s before any lookup', (hostname, reason) => {
    expect(hostnameProblem(hostname)).toMatch(reason);
  });

  it.each(['hooks.example.com', 'hooks.example.com.', 'xn--bcher-kva.example', 'a-b.c-d.example.org'])(
    'lets %s through to the lookup',
    (hostname) => {
      expect(hostnameProblem(hostname)).toBeUndefined();
    },
  );

  const resolve = fakeResolver(TEST_HOSTS);

  it('passes a name whose every address is global, and returns them', async () => {
    expect(await checkWebhookHost('public.test.dev', resolve)).toEqual({
      ok: true,
      addresses: [PUBLIC_ADDRESS, '2606:4700:4700::1111'],
    });
    expect(await checkWebhookHost('PUBLIC.test.dev.', resolve)).toMatchObject({ ok: true });
  });

  it.each(['loopback', 'metadata', 'mixed', 'mixed6', 'mapped', 'nat64'])(
    'refuses %s.test.dev: one non-global address is enough',
    async (name) => {
      expect(await checkWebhookHost(`${name}.test.dev`, resolve)).toEqual({
        ok: false,
        reason: expect.stringMatching(/must not resolve to a private/),
      });
    },
  );

  it.each(['nothing.test.dev', 'empty.test.dev'])('refuses %s, which does not resolve', async (name) => {
    expect(await checkWebhookHost(name, resolve)).toEqual({
      ok: false,
      reason: 'must use a host name that resolves',
    });
  });

  it('does not call the resolver for a name refused by its shape', async () => {
    const asked: string[] = [];
    const recording: HostResolver = async (hostname) => {
      asked.push(hostname);
      return [PUBLIC_ADDRESS];
    };
    for (const name of ['127.0.0.1', 'localhost', 'intranet', '[::1]']) {
      expect(await checkWebhookHost(name, recording)).toMatchObject({ ok: false });
    }
    expect(asked).toEqual([]);
  });

  it('uses the system resolver by default', async () => {
    // /etc/hosts answers for localhost everywhere; .invalid never resolves (RFC 6761).
    expect(await resolveHost('localhost')).toContain('127.0.0.1');
    expect(await checkWebhookHost('nothing-here.invalid')).toEqual({
      ok: false,
      reason: 'must use a host name that resolves',
    });
  });
});

describe('SSRF guard: connect-time lookup', () => {
  const resolve = fakeResolver({
    'dual.test.dev': [PUBLIC_ADDRESS, '2606:4700:4700::1111'],
    'loopback.test.dev': ['127.0.0.1'],
    'mixed.test.dev': [PUBLIC_ADDRESS, '127.0.0.1'],
  });
  const lookup = guardedLookup(resolve);
  const call = (hostname: string, options: Parameters<typeof lookup>[1]) =>
    new Promise<{ error: NodeJS.ErrnoException | null; address: unknown; family: unknown }>((done) =>
      lookup(hostname, options, (error, address, family) => done({ error, address, family })),
    );

  it('answers with the checked addresses, in the shape net asks for', async () => {
    expect(await call('dual.test.dev', { all: true })).toMatchObject({
      error: null,
      address: [
        { address: PUBLIC_ADDRESS, family: 4 },
        { address: '2606:4700:4700::1111', family: 6 },
      ],
    });
    expect(await call('dual.test.dev', {})).toMatchObject({ address: PUBLIC_ADDRESS, family: 4 });
    expect(await call('dual.test.dev', { family: 6 })).toMatchObject({
      address: '2606:4700:4700::1111',
      family: 6,
    });
  });

  it('fails with ERR_BLOCKED_ADDRESS when any address is not global, and passes DNS errors through', async () => {
    for (const name of ['loopback.test.dev', 'mixed.test.dev', 'localhost', 'intranet']) {
      const { error } = await call(name, { all: true });
      expect(error).toBeInstanceOf(BlockedAddressError);
      expect(error?.code).toBe('ERR_BLOCKED_ADDRESS');
    }
    expect((await call('nothing.test.dev', { all: true })).error?.code).toBe('ENOTFOUND');
  });

  it('keeps a real socket from ever connecting to a refused address', async () => {
    let connections = 0;
    const server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };

    const socket = connect({ host: 'loopback.test.dev', port, lookup });
    const [error] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ERR_BLOCKED_ADDRESS');
    // The same port answers a direct connection, so nothing but the guard stopped the first one.
    const direct = connect({ host: '127.0.0.1', port });
    await once(direct, 'close');
    expect(connections).toBe(1);
    server.close();
  });
});
