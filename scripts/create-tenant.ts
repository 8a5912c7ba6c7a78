import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { documentClient } from '../lambdas/core/aws.js';
import { createTenant } from '../lambdas/core/tenants.js';

/**
 * Operator command: creates a tenant and its first API key in a deployed stack, and prints the key once.
 *   npm run create-tenant -- --name acme --table <TenantsTableName output>
 * Uses the standard AWS credential chain and region (AWS_PROFILE, AWS_REGION, ...). Further keys, listing,
 * revocation and rotation: npm run tenant-keys -- --help.
 */
const usage = 'usage: npm run create-tenant -- --name <tenant name> --table <TenantsTableName stack output>';
const { values } = parseArgs({
  options: { name: { type: 'string' }, table: { type: 'string' }, help: { type: 'boolean' } },
});
if (values.help || !values.name || !values.table) {
  console.error(usage);
  process.exit(values.help ? 0 : 2);
}

const dynamo = new DynamoDBClient({});
const tenant = await createTenant(documentClient(dynamo), values.table, { name: values.name });
console.log(`tenant:  ${tenant.tenantId} (${tenant.name})`);
console.log(`key id:  ${tenant.keyId}`);
console.log(`api key: ${tenant.apiKey}`);
console.log('Store the key now: only its hash is kept, so it cannot be shown again.');
dynamo.destroy();
