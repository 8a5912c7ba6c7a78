import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AUTH_CACHE_TTL_SECONDS } from '../lambdas/core/authorizer.js';
import { documentClient } from '../lambdas/core/aws.js';
import {
  type ApiKeyInfo,
  createApiKey,
  createTenant,
  listApiKeys,
  revokeApiKey,
  rotateApiKey,
  TenantKeyError,
} from '../lambdas/core/tenants.js';

export const TENANT_KEYS_USAGE = `usage: npm run tenant-keys -- <command> --table <TenantsTableName stack output> [options]
  create-tenant --name <name>               a new tenant and its first key
  list          --tenant <tenantId>         the tenant's keys: id, status, dates, hash hint (never the key)
  create-key    --tenant <tenantId>         one more key for the tenant (to rotate without downtime,
                                            then revoke the old key once clients use the new one)
  revoke        --tenant <tenantId> --key <keyId>
  rotate        --tenant <tenantId> --key <keyId>   create-key, then revoke the old key at once
options: --region <region>, --endpoint <DynamoDB URL> (local mode; placeholder credentials)
A new key is printed once: only its hash is stored. A revoked key stops working within ${AUTH_CACHE_TTL_SECONDS} s.`;

const COMMANDS = ['create-tenant', 'list', 'create-key', 'revoke', 'rotate'] as const;
type Command = (typeof COMMANDS)[number];

interface Io {
  log: (line: string) => void;
  error: (line: string) => void;
  /** Tests pass the local engine's client; otherwise one is made from --region/--endpoint. */
  db?: DynamoDBDocumentClient;
}

/**
 * Operator commands for tenants and their API keys (lambdas/core/tenants.ts), on a deployed stack with the
 * standard AWS credential chain, or on local mode's DynamoDB with --endpoint. Returns the exit code.
 */
export async function tenantKeysCommand(argv: readonly string[], io: Io): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    io.error(`${(error as Error).message}\n${TENANT_KEYS_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0] as Command | undefined;
  if (values.help) {
    io.log(TENANT_KEYS_USAGE);
    return 0;
  }
  const missing = missingOptions(command, values);
  if (!command || !COMMANDS.includes(command) || positionals.length > 1 || missing.length > 0) {
    io.error(
      `${missing.length > 0 ? `missing ${missing.map((name) => `--${name}`).join(', ')}\n` : ''}${TENANT_KEYS_USAGE}`,
    );
    return 2;
  }

  const dynamo = io.db ? undefined : dynamoClient(values.region, values.endpoint);
  const db = io.db ?? documentClient(dynamo);
  const table = values.table as string;
  const tenantId = values.tenant as string;
  const keyId = values.key as string;
  try {
    switch (command) {
      case 'create-tenant': {
        const tenant = await createTenant(db, table, { name: values.name as string });
        io.log(`tenant:  ${tenant.tenantId} (${tenant.name})`);
        printNewKey(io, tenant.keyId, tenant.apiKey);
        break;
      }
      case 'list': {
        const keys = await listApiKeys(db, table, tenantId);
        if (keys.length === 0) io.log(`tenant ${tenantId} has no keys`);
        for (const key of keys) io.log(describeKey(key));
        break;
      }
      case 'create-key': {
        const created = await createApiKey(db, table, tenantId);
        printNewKey(io, created.keyId, created.apiKey);
        break;
      }
      case 'revoke': {
        const revoked = await revokeApiKey(db, table, tenantId, keyId);
        io.log(`revoked: ${describeKey(revoked)}`);
        io.log(`It stops working within ${AUTH_CACHE_TTL_SECONDS} s (the authorizer's cache).`);
        break;
      }
      case 'rotate': {
        const { created, revoked } = await rotateApiKey(db, table, tenantId, keyId);
        printNewKey(io, created.keyId, created.apiKey);
        io.log(`revoked: ${describeKey(revoked)}`);
        io.log(`The old key stops working within ${AUTH_CACHE_TTL_SECONDS} s (the authorizer's cache).`);
        break;
      }
    }
    return 0;
  } catch (error) {
    io.error(`${command} failed: ${(error as Error).message}`);
    return error instanceof TenantKeyError ? 2 : 1;
  } finally {
    dynamo?.destroy();
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      table: { type: 'string' },
      name: { type: 'string' },
      tenant: { type: 'string' },
      key: { type: 'string' },
      region: { type: 'string' },
      endpoint: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
}

function missingOptions(command: string | undefined, values: Record<string, unknown>): string[] {
  const needed: Record<Command, string[]> = {
    'create-tenant': ['table', 'name'],
    list: ['table', 'tenant'],
    'create-key': ['table', 'tenant'],
    revoke: ['table', 'tenant', 'key'],
    rotate: ['table', 'tenant', 'key'],
  };
  const names = COMMANDS.includes(command as Command) ? needed[command as Command] : [];
  return names.filter((name) => !values[name]);
}

function printNewKey(io: Io, keyId: string, apiKey: string): void {
  io.log(`key id:  ${keyId}`);
  io.log(`api key: ${apiKey}`);
  io.log('Store the key now: only its hash is kept, so it cannot be shown again.');
}

function describeKey(key: ApiKeyInfo): string {
  return [
    key.keyId,
    key.status.padEnd(7),
    `created ${key.createdAt}`,
    ...(key.revokedAt ? [`revoked ${key.revokedAt}`] : []),
    `sha256 ${key.hashHint}…`,
  ].join('  ');
}

/** The default credential chain on AWS; placeholder credentials for a local DynamoDB, which ignores them. */
function dynamoClient(region: string | undefined, endpoint: string | undefined): DynamoDBClient {
  if (!endpoint) return new DynamoDBClient(region ? { region } : {});
  return new DynamoDBClient({
    endpoint,
    region: region ?? 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}
