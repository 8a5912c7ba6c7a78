import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../lambdas/platform/aws-clients.js';
import { AUTH_CACHE_TTL_SECONDS } from '../lambdas/security/authorizer.js';
import {
  type ApiKeyInfo,
  createApiKey,
  createTenant,
  listApiKeys,
  revokeApiKey,
  rotateApiKey,
} from '../lambdas/storage/tenants.js';
import {
  awsClientConfig,
  CommandError,
  type CommandIo,
  describeFailure,
  type OptionValues,
  requireOptions,
  runCommand,
  UsageError,
} from './command-line.js';
import { localModeOf } from './local-mode.js';

const TABLE_OPTIONS = {
  table: { type: 'string' },
  region: { type: 'string' },
  endpoint: { type: 'string' },
  local: { type: 'boolean' },
} as const;
const TARGET = '(--table <TenantsTableName> [--region <region>] [--endpoint <DynamoDB URL>] | --local)';

export const TENANT_KEYS_USAGE = `usage: npm run tenant-keys -- <command> ${TARGET} [options]
  create-tenant --name <name>               a new tenant and its first key
  list          --tenant <tenantId>         the tenant's keys: id, status, dates, hash hint (never the key)
  create-key    --tenant <tenantId>         one more key for the tenant (to rotate without downtime,
                                            then revoke the old key once clients use the new one)
  revoke        --tenant <tenantId> --key <keyId>
  rotate        --tenant <tenantId> --key <keyId>   create-key, then revoke the old key at once
where the tenants table is
  --table <TenantsTableName>  the stack output; AWS credentials and region as usual, or --region <region>
  --endpoint <DynamoDB URL>   another DynamoDB, such as local mode's (placeholder credentials)
  --local                     local mode's (npm start on PORT, 3000 by default): its table and endpoint
A new key is printed once: only its hash is stored. A revoked key stops working within ${AUTH_CACHE_TTL_SECONDS} s.`;

const COMMANDS = ['create-tenant', 'list', 'create-key', 'revoke', 'rotate'] as const;
type Command = (typeof COMMANDS)[number];
const NEEDED: Record<Command, readonly string[]> = {
  'create-tenant': ['name'],
  list: ['tenant'],
  'create-key': ['tenant'],
  revoke: ['tenant', 'key'],
  rotate: ['tenant', 'key'],
};

const TENANT_KEYS = {
  usage: `usage: npm run tenant-keys -- <${COMMANDS.join('|')}> ${TARGET} [--name <name>] [--tenant <tenantId>] [--key <keyId>] (--help for more)`,
  help: TENANT_KEYS_USAGE,
  options: {
    ...TABLE_OPTIONS,
    name: { type: 'string' },
    tenant: { type: 'string' },
    key: { type: 'string' },
  },
  positionals: 1,
} as const;

const CREATE_TENANT = {
  usage: `usage: npm run create-tenant -- --name <tenant name> ${TARGET}`,
  options: { ...TABLE_OPTIONS, name: { type: 'string' } },
} as const;

interface Io extends CommandIo {
  /** Tests pass the local engine's client; otherwise one is made from --region/--endpoint/--local. */
  db?: DynamoDBDocumentClient;
  /** Where --local finds local mode (PORT); process.env by default. */
  env?: Record<string, string | undefined>;
}

/**
 * Operator commands for tenants and their API keys (lambdas/storage/tenants.ts), on a deployed stack with the
 * standard AWS credential chain, or on local mode's DynamoDB with --endpoint or --local. Returns the exit code.
 */
export function tenantKeysCommand(argv: readonly string[], io: Io): Promise<number> {
  return runCommand(TENANT_KEYS, argv, io, async ({ values, positionals }) => {
    const command = positionals[0];
    if (!command) throw new UsageError('missing the command');
    if (!COMMANDS.includes(command as Command)) throw new UsageError(`unknown command '${command}'`);
    return await run(command as Command, values, io);
  });
}

/** `npm run create-tenant`: tenant-keys create-tenant under its own name. */
export function createTenantCommand(argv: readonly string[], io: Io): Promise<number> {
  return runCommand(CREATE_TENANT, argv, io, ({ values }) => run('create-tenant', values, io));
}

type Values = OptionValues<(typeof TENANT_KEYS)['options']>;

async function run(command: Command, values: Values, io: Io): Promise<number> {
  requireOptions(values, [...(values.local ? [] : ['table']), ...NEEDED[command]]);
  const local = await localModeOf(values, io.env);
  const table = values.table ?? local?.tables.tenants ?? '';
  const region = values.region ?? local?.region;
  const dynamo = io.db
    ? undefined
    : new DynamoDBClient(awsClientConfig(region, values.endpoint ?? local?.endpoints.dynamodb));
  const db = io.db ?? documentClient(dynamo);
  const tenantId = values.tenant ?? '';
  const keyId = values.key ?? '';
  try {
    switch (command) {
      case 'create-tenant': {
        const tenant = await createTenant(db, table, { name: values.name ?? '' });
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
    const problem =
      (error as Error).name === 'ResourceNotFoundException'
        ? `the table ${table} does not exist${region ? ` in ${region}` : ''}: check --table (the TenantsTableName output) and the region`
        : describeFailure(error);
    throw new CommandError(`${command} failed: ${problem}`);
  } finally {
    dynamo?.destroy();
  }
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
