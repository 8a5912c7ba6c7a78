import { createTenantCommand } from './tenant-key-commands.js';

/**
 * Operator command: creates a tenant and its first API key, and prints the key once.
 *   npm run create-tenant -- --name acme --table <TenantsTableName output> [--region eu-west-1]
 *   npm run create-tenant -- --name acme --local        (local mode: its table and endpoint, found itself)
 * Uses the standard AWS credential chain and region (AWS_PROFILE, AWS_REGION, ...). Further keys, listing,
 * revocation and rotation: npm run tenant-keys -- --help.
 */
process.exitCode = await createTenantCommand(process.argv.slice(2), {
  log: console.log,
  error: console.error,
});
