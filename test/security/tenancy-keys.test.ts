import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  createApiKey,
  hashApiKey,
  listApiKeys,
  revokeApiKey,
  rotateApiKey,
  TenantKeyError,
} from '../../lambdas/storage/tenants.js';
import { TENANT_KEYS_USAGE, tenantKeysCommand } from '../../scripts/tenant-key-commands.js';
import { bearer, startTestService } from '../support/service.js';
import { createSubscription } from '../support/subscriptions.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const run = promisify(execFile);

/**
 * Operator key management on the local engines. The service's authorizer has no cache (TTL 0), so a
 * revocation shows at once; the cache's bound is tested in authorizer.test.ts.
 */
describe('Security: API keys (create, list, add, revoke, rotate)', () => {
  let service: Service;
  let table: string;

  beforeAll(async () => {
    service = await startTestService();
    table = service.resources.tables.tenants;
  });
  afterAll(() => service.close());

  const status = async (apiKey: string) =>
    (await service.api({ method: 'GET', path: '/subscriptions', headers: bearer(apiKey) })).statusCode;
  const tableText = async () =>
    JSON.stringify((await service.clients.db.send(new ScanCommand({ TableName: table }))).Items);

  it('stores only the hash of each key and lists keys without any secret', async () => {
    const tenant = await service.createTenant('listed');
    const second = await createApiKey(service.clients.db, table, tenant.tenantId);
    const keys = await listApiKeys(service.clients.db, table, tenant.tenantId);

    expect(keys).toEqual([
      {
        keyId: tenant.keyId,
        tenantId: tenant.tenantId,
        status: 'active',
        createdAt: tenant.createdAt,
        hashHint: hashApiKey(tenant.apiKey).slice(0, 6),
      },
      {
        keyId: second.keyId,
        tenantId: tenant.tenantId,
        status: 'active',
        createdAt: second.createdAt,
        hashHint: hashApiKey(second.apiKey).slice(0, 6),
      },
    ]);
    const listed = JSON.stringify(keys);
    const stored = await tableText();
    for (const apiKey of [tenant.apiKey, second.apiKey]) {
      expect(listed).not.toContain(apiKey);
      expect(listed).not.toContain(hashApiKey(apiKey));
      expect(stored).not.toContain(apiKey);
      expect(stored).toContain(hashApiKey(apiKey));
    }
  });

  it('adds a key that acts as the same tenant, beside the first', async () => {
    const tenant = await service.createTenant('two-keys');
    const second = await createApiKey(service.clients.db, table, tenant.tenantId);
    expect(second.apiKey).toMatch(/^fk_[A-Za-z0-9_-]{43}$/);
    expect(second.apiKey).not.toBe(tenant.apiKey);
    const { id } = await createSubscription(service.api, second.apiKey, {
      url: 'https://hooks.example.com/k',
    });
    const seenWithFirst = await service.api({
      method: 'GET',
      path: `/subscriptions/${id}`,
      headers: bearer(tenant.apiKey),
    });
    expect(seenWithFirst.statusCode).toBe(200);
  });

  it('revokes one key by id: it fails at once, the tenant’s other keys keep working, and it is listed as revoked', async () => {
    const tenant = await service.createTenant('revoking');
    const second = await createApiKey(service.clients.db, table, tenant.tenantId);
    const at = new Date('2031-02-03T04:05:06.000Z');
    const revoked = await revokeApiKey(service.clients.db, table, tenant.tenantId, tenant.keyId, at);
    expect(revoked).toMatchObject({ keyId: tenant.keyId, status: 'revoked', revokedAt: at.toISOString() });

    expect(await status(tenant.apiKey)).toBe(401);
    expect(await status(second.apiKey)).toBe(200);
    expect(
      (await listApiKeys(service.clients.db, table, tenant.tenantId)).map((key) => [key.keyId, key.status]),
    ).toEqual([
      [tenant.keyId, 'revoked'],
      [second.keyId, 'active'],
    ]);

    // Revoking again changes nothing, not even the time.
    const again = await revokeApiKey(service.clients.db, table, tenant.tenantId, tenant.keyId);
    expect(again).toEqual(revoked);
  });

  it('rotates: a new key works and the old one stops', async () => {
    const tenant = await service.createTenant('rotating');
    const { created, revoked } = await rotateApiKey(service.clients.db, table, tenant.tenantId, tenant.keyId);
    expect(revoked).toMatchObject({ keyId: tenant.keyId, status: 'revoked' });
    expect(await status(created.apiKey)).toBe(200);
    expect(await status(tenant.apiKey)).toBe(401);
  });

  it('never lets an operator command reach another tenant’s key', async () => {
    const owner = await service.createTenant('key-owner');
    const other = await service.createTenant('key-other');
    const before = await tableText();
    for (const attempt of [
      () => revokeApiKey(service.clients.db, table, other.tenantId, owner.keyId),
      () => rotateApiKey(service.clients.db, table, other.tenantId, owner.keyId),
      () => revokeApiKey(service.clients.db, table, 'ten_missing', owner.keyId),
      () => createApiKey(service.clients.db, table, 'ten_missing'),
      () => listApiKeys(service.clients.db, table, 'ten_missing'),
    ]) {
      await expect(attempt()).rejects.toThrow(TenantKeyError);
    }
    expect(await tableText()).toBe(before);
    expect(await status(owner.apiKey)).toBe(200);
    expect((await listApiKeys(service.clients.db, table, other.tenantId)).map((key) => key.keyId)).toEqual([
      other.keyId,
    ]);
  });

  it('refuses to store a key that is not 256 random bits in the expected form', async () => {
    const tenant = await service.createTenant('strict');
    await expect(
      createApiKey(service.clients.db, table, tenant.tenantId, { apiKey: 'fk_short' }),
    ).rejects.toThrow(/must look like fk_/);
    expect(await listApiKeys(service.clients.db, table, tenant.tenantId)).toHaveLength(1);
  });

  describe('CLI: npm run tenant-keys', () => {
    const cli = async (...argv: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await tenantKeysCommand(argv, {
        log: (line) => out.push(line),
        error: (line) => err.push(line),
        db: service.clients.db,
      });
      return { code, out: out.join('\n'), err: err.join('\n') };
    };
    const printedKey = (text: string) => /api key: (fk_\S+)/.exec(text)?.[1] ?? '';
    const printedKeyId = (text: string) => /key id: +(key_\S+)/.exec(text)?.[1] ?? '';

    it('creates a tenant, adds, lists, revokes and rotates keys, printing a key only when it is made', async () => {
      const made = await cli('create-tenant', '--table', table, '--name', 'cli-co');
      expect(made.code).toBe(0);
      const tenantId = /tenant: +(ten_\S+)/.exec(made.out)?.[1] ?? '';
      const firstKey = printedKey(made.out);
      const firstKeyId = printedKeyId(made.out);
      expect(await status(firstKey)).toBe(200);

      const added = await cli('create-key', '--table', table, '--tenant', tenantId);
      expect(added.code).toBe(0);
      const secondKey = printedKey(added.out);
      expect(await status(secondKey)).toBe(200);

      const listed = await cli('list', '--table', table, '--tenant', tenantId);
      expect(listed.code).toBe(0);
      expect(listed.out.split('\n')).toEqual([
        expect.stringMatching(
          new RegExp(`^${firstKeyId} +active .*sha256 ${hashApiKey(firstKey).slice(0, 6)}…$`),
        ),
        expect.stringMatching(
          new RegExp(`^key_\\S+ +active .*sha256 ${hashApiKey(secondKey).slice(0, 6)}…$`),
        ),
      ]);
      expect(listed.out).not.toContain(firstKey);
      expect(listed.out).not.toContain(secondKey);

      const revoked = await cli('revoke', '--table', table, '--tenant', tenantId, '--key', firstKeyId);
      expect(revoked.code).toBe(0);
      expect(revoked.out).toMatch(new RegExp(`^revoked: ${firstKeyId} +revoked `));
      expect(revoked.out).toContain('stops working within 30 s');
      expect(await status(firstKey)).toBe(401);

      const secondKeyId = printedKeyId(added.out);
      const rotated = await cli('rotate', '--table', table, '--tenant', tenantId, '--key', secondKeyId);
      expect(rotated.code).toBe(0);
      expect(await status(printedKey(rotated.out))).toBe(200);
      expect(await status(secondKey)).toBe(401);
    });

    it.each([
      [[], /^missing the command\. usage:/],
      [['list', '--table', 't'], /^missing --tenant\. usage:/],
      [['revoke', '--table', 't', '--tenant', 'ten_1'], /^missing --key\. usage:/],
      [['explode', '--table', 't'], /^unknown command 'explode'\. usage:/],
      [['list', '--tenant', 'ten_1', '--bogus'], /^unknown option '--bogus'\. usage:/],
    ])('refuses %j with usage and exit code 2', async (argv, message) => {
      const result = await cli(...argv);
      expect(result.code).toBe(2);
      expect(result.err).toMatch(message);
      expect(result.out).toBe('');
    });

    // Exit code 2 is for a bad command line only: an unknown tenant or key is a failure of the command (1).
    it.each([
      [
        ['revoke', '--tenant', 'ten_nobody', '--key', 'key_nothing'],
        'revoke failed: tenant ten_nobody does not exist',
      ],
      [['list', '--tenant', 'ten_nobody'], 'list failed: tenant ten_nobody does not exist'],
    ])(
      'reports %j on an unknown tenant as one line and exit code 1, without a stack',
      async (argv, message) => {
        expect(await cli(...argv, '--table', table)).toEqual({ code: 1, out: '', err: message });
      },
    );

    it('prints its usage with --help', async () => {
      expect(await cli('--help')).toEqual({ code: 0, out: TENANT_KEYS_USAGE, err: '' });
    });

    it('runs as the npm scripts do, against local mode’s DynamoDB', async () => {
      const endpoint = inject('dynamoEndpoint');
      const tsx = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
      // npm run create-tenant still works (endpoint from the SDK's standard variable).
      const created = await run(tsx, ['scripts/create-tenant.ts', '--name', 'script-co', '--table', table], {
        cwd: REPO_ROOT,
        timeout: 60_000,
        env: {
          ...process.env,
          AWS_ENDPOINT_URL_DYNAMODB: endpoint,
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'local',
          AWS_SECRET_ACCESS_KEY: 'local',
        },
      });
      const tenantId = /tenant: +(ten_\S+)/.exec(created.stdout)?.[1] ?? '';
      const apiKey = printedKey(created.stdout);
      expect(await status(apiKey)).toBe(200);

      const listed = await run(
        tsx,
        ['scripts/tenant-keys.ts', 'list', '--table', table, '--tenant', tenantId, '--endpoint', endpoint],
        { cwd: REPO_ROOT, timeout: 60_000 },
      );
      expect(listed.stdout).toMatch(
        new RegExp(
          `^${printedKeyId(created.stdout)} +active .*sha256 ${hashApiKey(apiKey).slice(0, 6)}…\\n$`,
        ),
      );
      const { Item } = await service.clients.db.send(
        new GetCommand({ TableName: table, Key: { pk: `key#${hashApiKey(apiKey)}` } }),
      );
      expect(Item?.tenantId).toBe(tenantId);
    });
  });
});
