import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { newId } from '../platform/ids.js';
import { TtlCache } from '../platform/ttl-cache.js';
import { batchGetAll, isConditionalCheckFailed } from './dynamo.js';
import { apiKeyItemKey, tenantItemKey } from './keys.js';

/**
 * Tenants and their API keys live in one table:
 *   { pk: "tenant#<tenantId>", tenantId, name, createdAt, keys: { <keyId>: <key hash> } }
 *   { pk: "key#<sha256 of key>", keyHash, tenantId, keyId, status, createdAt, revokedAt? }
 * Only the SHA-256 of a key is stored. A key is 256 random bits, so a fast hash is enough: there is nothing
 * to brute-force, and the authorizer can look a key up with one GetItem. The tenant's `keys` map is how an
 * operator finds a tenant's keys (list, revoke by id) without a scan; request paths never read it.
 * (The table also holds the per-tenant request counters, "rate#...", see rate-limit.ts.)
 */
const API_KEY_PREFIX = 'fk_';
export const API_KEY_PATTERN = /^fk_[A-Za-z0-9_-]{43}$/;
/** Characters of the key's hash shown when listing: enough to tell keys apart, useless for finding one. */
const KEY_HINT_LENGTH = 6;

type ApiKeyStatus = 'active' | 'revoked';

interface TenantRecord {
  tenantId: string;
  name: string;
  createdAt: string;
}

export interface CreatedApiKey {
  tenantId: string;
  keyId: string;
  createdAt: string;
  /** The only time the key is ever available in clear. */
  apiKey: string;
}

export interface CreatedTenant extends TenantRecord {
  keyId: string;
  /** The only time the key is ever available in clear. */
  apiKey: string;
}

/** A key as an operator sees it: never the key, only an id and the first characters of its hash. */
export interface ApiKeyInfo {
  keyId: string;
  tenantId: string;
  status: ApiKeyStatus;
  createdAt: string;
  revokedAt?: string;
  /** The first characters of the key's SHA-256 (hex), e.g. to match `printf %s "$KEY" | sha256sum`. */
  hashHint: string;
}

/** An operator error: an unknown tenant or key, or a malformed key. */
export class TenantKeyError extends Error {
  override name = 'TenantKeyError';
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
  const apiKey = checkedKey(input.apiKey);
  const tenant: TenantRecord = {
    tenantId: newId('ten'),
    name: input.name,
    createdAt: new Date().toISOString(),
  };
  const keyId = newId('key');
  // The tenant lists its key before the key exists, so no key can ever work without being listed.
  await db.send(
    new PutCommand({
      TableName: tableName,
      Item: { ...tenantItemKey(tenant.tenantId), ...tenant, keys: { [keyId]: hashApiKey(apiKey) } },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
  await putKey(db, tableName, { tenantId: tenant.tenantId, keyId, apiKey, createdAt: tenant.createdAt });
  return { ...tenant, keyId, apiKey };
}

/**
 * Adds a key to an existing tenant, beside its others. Rotating is this followed by revokeApiKey of the old
 * key once clients use the new one (or at once, with rotateApiKey).
 */
export async function createApiKey(
  db: DynamoDBDocumentClient,
  tableName: string,
  tenantId: string,
  input: { apiKey?: string } = {},
): Promise<CreatedApiKey> {
  const apiKey = checkedKey(input.apiKey);
  const created = { tenantId, keyId: newId('key'), createdAt: new Date().toISOString(), apiKey };
  try {
    // A document path cannot be set inside a map that is not there (tenants made before keys were listed).
    await db.send(
      new UpdateCommand({
        TableName: tableName,
        Key: tenantItemKey(tenantId),
        UpdateExpression: 'SET #keys = if_not_exists(#keys, :none)',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#keys': 'keys' },
        ExpressionAttributeValues: { ':none': {} },
      }),
    );
  } catch (error) {
    if (isConditionalCheckFailed(error)) throw new TenantKeyError(`tenant ${tenantId} does not exist`);
    throw error;
  }
  await db.send(
    new UpdateCommand({
      TableName: tableName,
      Key: tenantItemKey(tenantId),
      UpdateExpression: 'SET #keys.#keyId = :hash',
      ExpressionAttributeNames: { '#keys': 'keys', '#keyId': created.keyId },
      ExpressionAttributeValues: { ':hash': hashApiKey(apiKey) },
    }),
  );
  await putKey(db, tableName, created);
  return created;
}

/** A tenant's keys, oldest first, without secrets. */
export async function listApiKeys(
  db: DynamoDBDocumentClient,
  tableName: string,
  tenantId: string,
): Promise<ApiKeyInfo[]> {
  const hashes = Object.values(await tenantKeys(db, tableName, tenantId));
  const items = await batchGetAll(db, tableName, hashes.map(apiKeyItemKey), { consistent: true });
  // A key listed without an item is one whose creation failed half-way: it never worked, so it is left out.
  return items
    .filter((item) => item.tenantId === tenantId)
    .map(toKeyInfo)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.keyId.localeCompare(b.keyId));
}

/**
 * Revokes one of a tenant's keys. The authorizer stops accepting it once its cached answer expires
 * (AUTH_CACHE_TTL_SECONDS). Revoking a revoked key changes nothing and answers the same.
 */
export async function revokeApiKey(
  db: DynamoDBDocumentClient,
  tableName: string,
  tenantId: string,
  keyId: string,
  now: Date = new Date(),
): Promise<ApiKeyInfo> {
  const hash = (await tenantKeys(db, tableName, tenantId))[keyId];
  if (!hash) throw new TenantKeyError(`tenant ${tenantId} has no key ${keyId}`);
  try {
    const { Attributes } = await db.send(
      new UpdateCommand({
        TableName: tableName,
        Key: apiKeyItemKey(hash),
        UpdateExpression: 'SET #status = :revoked, revokedAt = :now',
        ConditionExpression: 'tenantId = :tenantId AND keyId = :keyId AND #status = :active',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':revoked': 'revoked',
          ':active': 'active',
          ':now': now.toISOString(),
          ':tenantId': tenantId,
          ':keyId': keyId,
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return toKeyInfo(Attributes ?? {});
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
  }
  const { Item } = await db.send(
    new GetCommand({ TableName: tableName, Key: apiKeyItemKey(hash), ConsistentRead: true }),
  );
  if (Item?.tenantId !== tenantId || Item.keyId !== keyId) {
    throw new TenantKeyError(`tenant ${tenantId} has no key ${keyId}`);
  }
  return toKeyInfo(Item);
}

/** Replaces a key at once: a new key is created, then the old one is revoked. */
export async function rotateApiKey(
  db: DynamoDBDocumentClient,
  tableName: string,
  tenantId: string,
  keyId: string,
): Promise<{ created: CreatedApiKey; revoked: ApiKeyInfo }> {
  // Fail before creating anything when the old key is not the tenant's.
  if (!(await tenantKeys(db, tableName, tenantId))[keyId]) {
    throw new TenantKeyError(`tenant ${tenantId} has no key ${keyId}`);
  }
  const created = await createApiKey(db, tableName, tenantId);
  return { created, revoked: await revokeApiKey(db, tableName, tenantId, keyId) };
}

/** The tenant an active key belongs to, or undefined for anything else (malformed, unknown, revoked). */
export async function resolveApiKey(
  db: DynamoDBDocumentClient,
  tableName: string,
  apiKey: string,
): Promise<string | undefined> {
  if (!API_KEY_PATTERN.test(apiKey)) return undefined;
  const keyHash = hashApiKey(apiKey);
  // Read consistently, so a revocation is seen at once and the cache TTL alone bounds how long it can lag.
  const { Item } = await db.send(
    new GetCommand({ TableName: tableName, Key: apiKeyItemKey(keyHash), ConsistentRead: true }),
  );
  if (Item?.status !== 'active' || typeof Item.tenantId !== 'string') return undefined;
  // Defence in depth: the stored hash must equal ours, compared without a timing side channel.
  const stored = Buffer.from(String(Item.keyHash), 'hex');
  const presented = Buffer.from(keyHash, 'hex');
  if (stored.length !== presented.length || !timingSafeEqual(stored, presented)) return undefined;
  return Item.tenantId;
}

/** How long fan-out remembers that a tenant exists, and how many tenants one instance remembers. */
const KNOWN_TENANT_TTL_MS = 5 * 60 * 1000;
const MAX_KNOWN_TENANTS = 10_000;

/**
 * Whether a tenant exists, as fan-out asks for each event put on the bus. A tenant found is remembered for
 * KNOWN_TENANT_TTL_MS: the service never deletes a tenant, and the expiry bounds how long one an operator
 * deleted by hand is still served. At most MAX_KNOWN_TENANTS are remembered (tens of bytes each), so a
 * publisher cycling through tenant ids cannot grow the instance's memory. An unknown tenant is never
 * remembered, and before it is called unknown it is read again consistently: an eventually consistent read
 * may miss a tenant created a moment ago, whose first event must not be dead-lettered. Only the key is
 * read (ProjectionExpression), so fan-out never holds the tenant's key hashes.
 */
export class KnownTenants {
  private readonly found = new TtlCache<string, true>({
    ttlMs: KNOWN_TENANT_TTL_MS,
    maxEntries: MAX_KNOWN_TENANTS,
  });
  /** Reads in flight: a batch's records are handled at once, and those of one tenant share one read. */
  private readonly lookups = new Map<string, Promise<boolean>>();

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async exists(tenantId: string): Promise<boolean> {
    if (this.found.get(tenantId)) return true;
    let lookup = this.lookups.get(tenantId);
    if (!lookup) {
      lookup = this.read(tenantId).finally(() => this.lookups.delete(tenantId));
      this.lookups.set(tenantId, lookup);
    }
    return await lookup;
  }

  private async read(tenantId: string): Promise<boolean> {
    const read = (consistent: boolean) =>
      tenantItem(this.db, this.tableName, tenantId, { consistent, projection: 'pk' });
    const exists = (await read(false)) !== undefined || (await read(true)) !== undefined;
    if (exists) this.found.set(tenantId, true);
    return exists;
  }
}

function checkedKey(apiKey: string | undefined): string {
  const key = apiKey ?? generateApiKey();
  if (!API_KEY_PATTERN.test(key))
    throw new TenantKeyError(`an API key must look like ${API_KEY_PREFIX}<43 base64url characters>`);
  return key;
}

async function putKey(db: DynamoDBDocumentClient, tableName: string, key: CreatedApiKey): Promise<void> {
  const keyHash = hashApiKey(key.apiKey);
  await db.send(
    new PutCommand({
      TableName: tableName,
      Item: {
        ...apiKeyItemKey(keyHash),
        keyHash,
        tenantId: key.tenantId,
        keyId: key.keyId,
        status: 'active',
        createdAt: key.createdAt,
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
}

/** The tenant's key ids and their hashes; throws for an unknown tenant. */
async function tenantKeys(
  db: DynamoDBDocumentClient,
  tableName: string,
  tenantId: string,
): Promise<Record<string, string>> {
  const item = await tenantItem(db, tableName, tenantId, { consistent: true });
  if (!item) throw new TenantKeyError(`tenant ${tenantId} does not exist`);
  return (item.keys ?? {}) as Record<string, string>;
}

async function tenantItem(
  db: DynamoDBDocumentClient,
  tableName: string,
  tenantId: string,
  options: { consistent: boolean; projection?: string },
): Promise<Record<string, unknown> | undefined> {
  const { Item } = await db.send(
    new GetCommand({
      TableName: tableName,
      Key: tenantItemKey(tenantId),
      ConsistentRead: options.consistent,
      ...(options.projection ? { ProjectionExpression: options.projection } : {}),
    }),
  );
  return Item;
}

function toKeyInfo(item: Record<string, unknown>): ApiKeyInfo {
  return {
    keyId: String(item.keyId),
    tenantId: String(item.tenantId),
    status: item.status === 'active' ? 'active' : 'revoked',
    createdAt: String(item.createdAt),
    ...(typeof item.revokedAt === 'string' ? { revokedAt: item.revokedAt } : {}),
    hashHint: String(item.keyHash).slice(0, KEY_HINT_LENGTH),
  };
}
