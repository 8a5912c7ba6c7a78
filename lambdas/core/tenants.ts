import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { newId } from './ids.js';

/**
 * Tenants and their API keys live in one table:
 *   { pk: "tenant#<tenantId>", tenantId, name, createdAt }
 *   { pk: "key#<sha256 of key>", keyHash, tenantId, keyId, status, createdAt }
 * Only the SHA-256 of a key is stored. A key is 256 random bits, so a fast hash is enough: there is nothing
 * to brute-force, and the authorizer can look a key up with one GetItem.
 */
export const API_KEY_PREFIX = 'fk_';
export const API_KEY_PATTERN = /^fk_[A-Za-z0-9_-]{43}$/;

export interface TenantRecord {
  tenantId: string;
  name: string;
  createdAt: string;
}

export interface CreatedTenant extends TenantRecord {
  keyId: string;
  /** The only time the key is ever available in clear. */
  apiKey: string;
}

export function generateApiKey(): string {
  return `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex');
}

export async function createTenant(
  db: DynamoDBDocumentClient,
  tableName: string,
  input: { name: string; apiKey?: string },
): Promise<CreatedTenant> {
  const apiKey = input.apiKey ?? generateApiKey();
  if (!API_KEY_PATTERN.test(apiKey))
    throw new Error(`an API key must look like ${API_KEY_PREFIX}<43 base64url characters>`);
  const tenant: TenantRecord = {
    tenantId: newId('ten'),
    name: input.name,
    createdAt: new Date().toISOString(),
  };
  const keyId = newId('key');
  await db.send(
    new PutCommand({
      TableName: tableName,
      Item: { pk: `tenant#${tenant.tenantId}`, ...tenant },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
  await db.send(
    new PutCommand({
      TableName: tableName,
      Item: {
        pk: `key#${hashApiKey(apiKey)}`,
        keyHash: hashApiKey(apiKey),
        tenantId: tenant.tenantId,
        keyId,
        status: 'active',
        createdAt: tenant.createdAt,
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
  return { ...tenant, keyId, apiKey };
}

/** The tenant an active key belongs to, or undefined for anything else (malformed, unknown, revoked). */
export async function resolveApiKey(
  db: DynamoDBDocumentClient,
  tableName: string,
  apiKey: string,
): Promise<string | undefined> {
  if (!API_KEY_PATTERN.test(apiKey)) return undefined;
  const keyHash = hashApiKey(apiKey);
  const { Item } = await db.send(new GetCommand({ TableName: tableName, Key: { pk: `key#${keyHash}` } }));
  if (Item?.status !== 'active' || typeof Item.tenantId !== 'string') return undefined;
  // Defence in depth: the stored hash must equal ours, compared without a timing side channel.
  const stored = Buffer.from(String(Item.keyHash), 'hex');
  const presented = Buffer.from(keyHash, 'hex');
  if (stored.length !== presented.length || !timingSafeEqual(stored, presented)) return undefined;
  return Item.tenantId;
}
