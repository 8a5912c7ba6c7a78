import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AttemptLogMode } from '../lambdas/contract/tables.js';
import { API_KEY_PATTERN, generateApiKey, resolveApiKey } from '../lambdas/storage/tenants.js';
import { startAlarms } from './emulators/alarms.js';
import { type Engines, startEngines } from './emulators/engines.js';
import { moveMessages } from './emulators/message-move.js';
import type { LocalResourceNames } from './emulators/provision.js';
import { namedQueues, queueDepth } from './emulators/queue-metrics.js';
import { type RedriveQueue, startHttpServer } from './http-server.js';
import { createLocalService, type LocalService } from './service.js';

/**
 * Local mode as one object: engines, the stack's resources, the HTTP API with /health and /_local/status,
 * pollers scaling as the event source mappings do, and the DLQ alarms. `npm start` runs it from the
 * environment; tests start it on random ports. stop() leaves no port open and no timer running.
 */
export interface LocalRuntimeOptions {
  /** Port of the HTTP API; 0 picks a free one. */
  port?: number;
  host?: string;
  /** Keeps DynamoDB data in this directory across restarts; in memory when absent. */
  dataDir?: string;
  /** Resource names start with it; fixed by default so that tables on disk are found again. */
  namePrefix?: string;
  retryScheduleSeconds?: readonly number[];
  allowPrivateUrls?: boolean;
  /**
   * One tenant per key, found again when the key is already stored. When absent, one generated key, which with
   * dataDir is kept in `<dataDir>/local-api-key` (owner-only) so that a restart finds the same tenant.
   */
  apiKeys?: readonly string[];
  attemptLog?: AttemptLogMode;
  autoDisableAfterSeconds?: number;
  maxSubscriptionsPerTenant?: number;
  tenantRequestsPerSecond?: number;
  fanoutMaxConcurrency?: number;
  deliveryMaxConcurrency?: number;
  alarmIntervalMs?: number;
  log?: (line: string) => void;
}

export interface LocalTenant {
  tenantId: string;
  apiKey: string;
  /** True when the key was already in the tenants table (a restart with FANOUT_DATA_DIR). */
  existing: boolean;
  /** The file the generated key is kept in, with FANOUT_DATA_DIR and no FANOUT_API_KEY. */
  keyFile?: string;
}

export type LocalRuntime = Awaited<ReturnType<typeof startLocalRuntime>>;

export async function startLocalRuntime(options: LocalRuntimeOptions = {}) {
  const log = options.log ?? console.log;
  // Everything started so far, stopped in reverse order, also when a later step fails.
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };

  const http = await startHttpServer({ port: options.port ?? 0, host: options.host ?? '127.0.0.1', log });
  try {
    const engines: Engines = await startEngines(options.dataDir ? { dataDir: options.dataDir } : {});
    stops.push(engines.stop);
    const service = await createLocalService({
      dynamoEndpoint: engines.dynamoEndpoint,
      sqsEndpoint: engines.sqsEndpoint,
      namePrefix: options.namePrefix ?? 'fanout-local',
      allowPrivateUrls: options.allowPrivateUrls ?? true,
      ...(options.retryScheduleSeconds ? { retryScheduleSeconds: options.retryScheduleSeconds } : {}),
      ...(options.attemptLog ? { attemptLog: options.attemptLog } : {}),
      ...(options.autoDisableAfterSeconds
        ? { autoDisableAfterSeconds: options.autoDisableAfterSeconds }
        : {}),
      ...(options.maxSubscriptionsPerTenant
        ? { maxSubscriptionsPerTenant: options.maxSubscriptionsPerTenant }
        : {}),
      ...(options.tenantRequestsPerSecond
        ? { tenantRequestsPerSecond: options.tenantRequestsPerSecond }
        : {}),
      ...(options.fanoutMaxConcurrency ? { fanoutMaxConcurrency: options.fanoutMaxConcurrency } : {}),
      ...(options.deliveryMaxConcurrency ? { deliveryMaxConcurrency: options.deliveryMaxConcurrency } : {}),
      // On AWS operators route these with their own rules; locally they are logged.
      onOperationalEvent: (event) =>
        log(`[operations] ${String(event['detail-type'])} ${JSON.stringify(event.detail)}`),
    });
    stops.push(service.close);
    // Requests under way finish before the service and engines go (closing twice is harmless).
    stops.push(http.close);
    const tenants = await ensureTenants(service, options.apiKeys ?? [], options.dataDir);

    const queues = namedQueues(service.resources);
    const alarms = await startAlarms({
      sqs: service.clients.sqs,
      queues: queues.filter((queue) => queue.deadLetter),
      alarm: service.definition.alarm,
      intervalMs: options.alarmIntervalMs ?? 5_000,
      log,
    });
    stops.push(alarms.stop);
    const eventSources = service.startEventSources(log);
    stops.push(async () => {
      await Promise.all(Object.values(eventSources).map((mapping) => mapping.stop()));
    });

    const resources: LocalResourceNames = {
      region: service.region,
      endpoints: {
        dynamodb: engines.dynamoEndpoint,
        sqs: engines.sqsEndpoint,
        eventBridge: service.busEndpoint,
      },
      eventBusName: service.busName,
      ...service.resources,
    };
    const status = async () => ({
      queues: Object.fromEntries(
        await Promise.all(
          queues.map(async (queue) => [queue.name, await queueDepth(service.clients.sqs, queue.url)]),
        ),
      ),
      alarms: alarms.states(),
      eventSources: {
        fanout: eventSources.fanout.status(),
        delivery: eventSources.delivery.status(),
      },
      operationalEvents: service.operationalEvents.slice(-20),
      resources,
    });
    // Local mode's StartMessageMoveTask: fauxqs does not implement it (emulators/message-move.ts).
    const redrive = async (queue: RedriveQueue) => {
      const { url, deadLetterUrl } = service.resources.queues[queue];
      return {
        moved: await moveMessages(service.clients.sqs, { sourceUrl: deadLetterUrl, destinationUrl: url }),
      };
    };
    http.serve({ api: service.api, status, redrive });

    let stopped: Promise<void> | undefined;
    return {
      url: http.url,
      busName: service.busName,
      busEndpoint: service.busEndpoint,
      sqsEndpoint: engines.sqsEndpoint,
      dynamoEndpoint: engines.dynamoEndpoint,
      resources,
      retryScheduleSeconds: service.definition.retryScheduleSeconds,
      attemptLog: service.definition.attemptLog,
      tenants,
      status,
      redrive,
      stop: () => {
        stopped ??= stopAll();
        return stopped;
      },
    };
  } catch (error) {
    await stopAll();
    await http.close();
    throw error;
  }
}

async function ensureTenants(
  service: LocalService,
  apiKeys: readonly string[],
  dataDir: string | undefined,
): Promise<LocalTenant[]> {
  if (apiKeys.length === 0 && dataDir) {
    const keyFile = join(dataDir, LOCAL_API_KEY_FILE);
    const tenants = await ensureTenants(service, [await keptApiKey(keyFile)], undefined);
    return tenants.map((tenant) => ({ ...tenant, keyFile }));
  }
  if (apiKeys.length === 0) {
    const { tenantId, apiKey } = await service.createTenant('local');
    return [{ tenantId, apiKey, existing: false }];
  }
  const tenants: LocalTenant[] = [];
  for (const [index, apiKey] of apiKeys.entries()) {
    const found = await resolveApiKey(service.clients.db, service.resources.tables.tenants, apiKey);
    const tenantId = found ?? (await service.createTenant(`local-${index + 1}`, apiKey)).tenantId;
    tenants.push({ tenantId, apiKey, existing: found !== undefined });
  }
  return tenants;
}

const LOCAL_API_KEY_FILE = 'local-api-key';

/**
 * The key kept beside the data: created once, exclusively and readable by its owner only, then read again on
 * every start. The tenants table holds only its hash, as on AWS; the file is what lets the banner show it again.
 */
async function keptApiKey(keyFile: string): Promise<string> {
  await mkdir(dirname(keyFile), { recursive: true });
  try {
    await writeFile(keyFile, `${generateApiKey()}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const apiKey = (await readFile(keyFile, 'utf8')).trim();
  if (!API_KEY_PATTERN.test(apiKey)) {
    throw new Error(
      `${keyFile} does not hold an API key (fk_ + 43 characters); delete it to have a new one made`,
    );
  }
  return apiKey;
}
