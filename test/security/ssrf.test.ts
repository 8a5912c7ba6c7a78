import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFunction, authorizerFunction, ingestFunction } from '../../lambdas/wiring.js';
import { invokeApi } from '../../local/emulators/api-gateway.js';
import { publishEvent } from '../support/events.js';
import { startReceiver } from '../support/receiver.js';
import { fakeResolver, TEST_HOSTS } from '../support/resolver.js';
import { bearer, startTestService } from '../support/service.js';
import {
  createSubscription,
  postSubscription,
  subscribeReceiver,
  subscriptionInput,
} from '../support/subscriptions.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

/** Every spelling of a private or local target the issue lists, and a few more; each must be a 422. */
const REFUSED_URLS: [url: string, message: RegExp][] = [
  ['https://127.0.0.1/hook', /not an IP address/],
  ['https://127.0.0.1:8443/hook', /not an IP address/],
  ['https://2130706433/hook', /not an IP address/],
  ['https://0177.0.0.1/hook', /not an IP address/],
  ['https://0x7f.1/hook', /not an IP address/],
  ['https://0x7f000001/hook', /not an IP address/],
  ['https://127.1/hook', /not an IP address/],
  ['https://0/hook', /not an IP address/],
  ['https://0.0.0.0/hook', /not an IP address/],
  ['https://127.0.0.1./hook', /not an IP address/],
  ['https://%31%32%37.0.0.1/hook', /not an IP address/],
  ['https://１２７.０.０.１/hook', /not an IP address/],
  ['https://169.254.169.254/latest/meta-data/', /not an IP address/],
  ['https://10.0.0.1/hook', /not an IP address/],
  ['https://172.16.0.1/hook', /not an IP address/],
  ['https://192.168.1.1/hook', /not an IP address/],
  ['https://100.64.0.1/hook', /not an IP address/],
  ['https://198.18.0.1/hook', /not an IP address/],
  ['https://224.0.0.1/hook', /not an IP address/],
  ['https://255.255.255.255/hook', /not an IP address/],
  ['https://8.8.8.8/hook', /not an IP address/],
  ['https://[::1]/hook', /not an IP address/],
  ['https://[::]/hook', /not an IP address/],
  ['https://[0:0:0:0:0:0:0:1]/hook', /not an IP address/],
  ['https://[::ffff:127.0.0.1]/hook', /not an IP address/],
  ['https://[::ffff:a9fe:a9fe]/hook', /not an IP address/],
  ['https://[fd00:ec2::254]/hook', /not an IP address/],
  ['https://[fe80::1]/hook', /not an IP address/],
  ['https://[fc00::1]/hook', /not an IP address/],
  ['https://[64:ff9b::7f00:1]/hook', /not an IP address/],
  ['https://[2606:4700:4700::1111]/hook', /not an IP address/],
  ['https://localhost/hook', /localhost/],
  ['https://localhost./hook', /localhost/],
  ['https://LOCALHOST/hook', /localhost/],
  ['https://%6c%6f%63%61%6c%68%6f%73%74/hook', /localhost/],
  ['https://api.localhost/hook', /localhost/],
  ['https://metadata.google.internal/computeMetadata/v1/', /localhost/],
  ['https://printer.local/hook', /localhost/],
  ['https://intranet/hook', /fully qualified/],
  ['https://intranet./hook', /fully qualified/],
  ['https://a..example.com/hook', /valid host name/],
  ['https://good@127.0.0.1/hook', /credentials/],
  ['https://hooks.example.com@127.0.0.1/hook', /credentials/],
  ['https://user:pass@hooks.example.com/hook', /credentials/],
  ['http://hooks.example.com/hook', /must use https/],
  ['http://127.0.0.1/hook', /must use https/],
  ['ftp://hooks.example.com/hook', /must use https/],
  ['file:///etc/passwd', /must use https/],
  ['https://loopback.test.dev/hook', /must not resolve to a private/],
  ['https://metadata.test.dev/hook', /must not resolve to a private/],
  ['https://mixed.test.dev/hook', /must not resolve to a private/],
  ['https://mixed6.test.dev/hook', /must not resolve to a private/],
  ['https://mapped.test.dev/hook', /must not resolve to a private/],
  ['https://127.0.0.1.nip.io/hook', /must not resolve to a private/],
  ['https://nothing.test.dev/hook', /must use a host name that resolves/],
];

describe('SSRF guard at registration (AWS mode: allowPrivateUrls false)', () => {
  let service: Service;
  let apiKey: string;

  beforeAll(async () => {
    service = await startTestService({
      allowPrivateUrls: false,
      resolveHost: fakeResolver(TEST_HOSTS),
    });
    apiKey = (await service.createTenant('ssrf')).apiKey;
  });
  afterAll(() => service.close());

  const call = (method: string, path: string, body: unknown) =>
    service.api({ method, path, headers: bearer(apiKey), body: JSON.stringify(body) });
  const storedUrls = async () => {
    const { Items = [] } = await service.clients.db.send(
      new ScanCommand({ TableName: service.resources.tables.subscriptions }),
    );
    return Items.map((item) => item.url as string).sort();
  };

  it.each(REFUSED_URLS)('refuses %s with a 422 naming url, storing nothing', async (url, message) => {
    const before = await storedUrls();
    const response = await call('POST', '/subscriptions', { url, eventTypes: ['*'] });
    expect(response.statusCode).toBe(422);
    const { error } = JSON.parse(response.body);
    expect(error.code).toBe('validation_error');
    expect(error.message).toMatch(/^url: /);
    expect(error.message).toMatch(message);
    expect(await storedUrls()).toEqual(before);
  });

  it.each(REFUSED_URLS)('refuses a change of url to %s and keeps the old one', async (url, message) => {
    const { id } = await createSubscription(service.api, apiKey, { url: 'https://public.test.dev/hook' });

    const response = await call('PATCH', `/subscriptions/${id}`, { url, description: 'changed' });
    expect(response.statusCode).toBe(422);
    expect(JSON.parse(response.body).error).toEqual({
      code: 'validation_error',
      message: expect.stringMatching(message),
    });
    const stored = JSON.parse(
      (await service.api({ method: 'GET', path: `/subscriptions/${id}`, headers: bearer(apiKey) })).body,
    );
    expect(stored.url).toBe('https://public.test.dev/hook');
    expect(stored.description).not.toBe('changed');
  });

  it('accepts a host name whose every address is global, on create and on change', async () => {
    const { id, url } = await createSubscription(service.api, apiKey, {
      url: 'https://public.test.dev:8443/webhooks?tenant=1',
      eventTypes: ['order.*'],
    });
    expect(url).toBe('https://public.test.dev:8443/webhooks?tenant=1');
    expect(await storedUrls()).toContain(url);

    const changed = await call('PATCH', `/subscriptions/${id}`, { url: 'https://hooks.example.com/v2' });
    expect(changed.statusCode).toBe(200);
    expect(JSON.parse(changed.body).url).toBe('https://hooks.example.com/v2');
  });

  it('does not look the host up again on a change that leaves the url alone', async () => {
    const { id } = await createSubscription(service.api, apiKey, { url: 'https://public.test.dev/kept' });
    const changed = await call('PATCH', `/subscriptions/${id}`, { description: 'still here' });
    expect(changed.statusCode).toBe(200);
    expect(JSON.parse(changed.body)).toMatchObject({ url: 'https://public.test.dev/kept' });
  });
});

describe('Private URLs allowed (local mode default)', () => {
  let service: Service;
  let apiKey: string;

  beforeAll(async () => {
    service = await startTestService();
    apiKey = (await service.createTenant('local')).apiKey;
  });
  afterAll(() => service.close());

  it('accepts an http loopback receiver and delivers signed webhooks to it', async () => {
    const receiver = await startReceiver();
    await subscribeReceiver(service.api, apiKey, receiver);

    const id = await publishEvent(service.api, apiKey);
    await service.pollFanout();
    expect(await service.pollDelivery()).toMatchObject({ received: 1, succeeded: 1 });

    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]?.verificationError).toBeUndefined();
    expect(receiver.received[0]?.headers['webhook-id']).toBe(id);
    await receiver.close();
  });

  it.each(['http://localhost:9/hook', 'https://[::1]:9/hook', 'http://10.0.0.1/hook'])(
    'accepts %s',
    async (url) => {
      const created = await postSubscription(service.api, apiKey, subscriptionInput({ url }));
      expect(created.statusCode).toBe(201);
    },
  );

  it('still refuses credentials in the url', async () => {
    const response = await postSubscription(
      service.api,
      apiKey,
      subscriptionInput({ url: 'http://good@127.0.0.1/hook' }),
    );
    expect(response.statusCode).toBe(422);
    expect(JSON.parse(response.body).error.message).toMatch(/^url: must not contain credentials/);
  });
});

describe('SSRF guard: no way to switch it off in a Lambda function', () => {
  it('applies to functions built as the Lambda entries build them, whatever the environment says', async () => {
    const service = await startTestService();
    const previous = process.env.FANOUT_ALLOW_PRIVATE_URLS;
    process.env.FANOUT_ALLOW_PRIVATE_URLS = 'true';
    try {
      const { apiKey } = await service.createTenant('lambda-built');
      // Settings and clients, nothing else: what lambdas/entry/api.ts passes.
      const functions = {
        authorizer: authorizerFunction(service.config, service.clients, { cacheTtlMs: 0 }),
        api: apiFunction(service.config, service.clients),
        ingest: ingestFunction(service.config, service.clients),
      };
      const response = await postSubscription(
        (request) => invokeApi(functions, request),
        apiKey,
        subscriptionInput({ url: 'http://127.0.0.1:4000/hook' }),
      );
      expect(response.statusCode).toBe(422);
      expect(JSON.parse(response.body).error.message).toMatch(/^url: must use https/);
    } finally {
      if (previous === undefined) delete process.env.FANOUT_ALLOW_PRIVATE_URLS;
      else process.env.FANOUT_ALLOW_PRIVATE_URLS = previous;
      await service.close();
    }
  });
});
