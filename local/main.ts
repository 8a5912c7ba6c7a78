import { loadLocalConfig } from './config.js';
import { type LocalRuntime, startLocalRuntime } from './runtime.js';

/** `npm start`: the whole service on this machine, configured by the environment (see local/config.ts). */
let config: ReturnType<typeof loadLocalConfig>;
let runtime: LocalRuntime;
try {
  config = loadLocalConfig();
  runtime = await startLocalRuntime({
    port: config.port,
    alarmIntervalMs: config.alarmIntervalMs,
    allowPrivateUrls: config.allowPrivateUrls,
    ...(config.dataDir ? { dataDir: config.dataDir } : {}),
    ...(config.retryScheduleSeconds ? { retryScheduleSeconds: config.retryScheduleSeconds } : {}),
    ...(config.apiKeys ? { apiKeys: config.apiKeys } : {}),
    ...(config.attemptLog ? { attemptLog: config.attemptLog } : {}),
    ...(config.autoDisableAfterSeconds ? { autoDisableAfterSeconds: config.autoDisableAfterSeconds } : {}),
    ...(config.maxSubscriptionsPerTenant
      ? { maxSubscriptionsPerTenant: config.maxSubscriptionsPerTenant }
      : {}),
    ...(config.tenantRequestsPerSecond ? { tenantRequestsPerSecond: config.tenantRequestsPerSecond } : {}),
    ...(config.fanoutMaxConcurrency ? { fanoutMaxConcurrency: config.fanoutMaxConcurrency } : {}),
    ...(config.deliveryMaxConcurrency ? { deliveryMaxConcurrency: config.deliveryMaxConcurrency } : {}),
  });
} catch (error) {
  console.error(`local mode did not start: ${(error as Error).message}`);
  process.exit(1);
}

const dynamoStorage = config.dataDir ? `on disk in ${config.dataDir}` : 'in memory';
console.log(
  [
    '',
    'webhook fan-out is running locally',
    `  API          ${runtime.url}`,
    `  status       ${runtime.url}/_local/status`,
    `  EventBridge  ${runtime.busEndpoint}  (bus ${runtime.busName})`,
    `  SQS          ${runtime.sqsEndpoint}  (in memory: queued messages are lost on exit)`,
    `  DynamoDB     ${runtime.dynamoEndpoint}  (${dynamoStorage})`,
    `  retries      after ${runtime.retryScheduleSeconds.join(', ')} seconds`,
    `  attempt log  ${runtime.attemptLog}`,
    // What the operator commands need; with --local they read it from /_local/status themselves.
    `  tenants      ${runtime.resources.tables.tenants}  (DynamoDB table)`,
    ...Object.entries(runtime.resources.queues).flatMap(([name, queue]) => [
      `  ${`${name} DLQ`.padEnd(12)} ${queue.deadLetterUrl}`,
      `               ${queue.deadLetterArn}`,
    ]),
    '  operators    add --local, e.g. npm run create-tenant -- --name acme --local',
    ...runtime.tenants.map(
      (tenant) =>
        `  API key      ${tenant.apiKey}  (tenant ${tenant.tenantId}, ${tenant.existing ? 'found on disk' : 'new'}${tenant.keyFile ? `; kept in ${tenant.keyFile}` : ''})`,
    ),
    '',
    'Press Ctrl-C to stop.',
    '',
  ].join('\n'),
);

// A second Ctrl-C while stopping falls through to Node's default and ends the process at once.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    console.log(`\n${signal}: stopping…`);
    await runtime.stop();
    process.exit(0);
  });
}
