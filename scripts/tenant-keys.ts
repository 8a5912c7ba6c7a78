import { tenantKeysCommand } from './tenant-key-commands.js';

/**
 * Operator command: tenants and their API keys (create, list without secrets, add, revoke, rotate).
 *   npm run tenant-keys -- list --tenant <tenantId> --table <TenantsTableName output>
 * Run with --help for every command. Uses the standard AWS credential chain and region.
 */
process.exitCode = await tenantKeysCommand(process.argv.slice(2), { log: console.log, error: console.error });
