import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { expect } from 'vitest';
import type { EventSourceMappingStatus } from '../../local/emulators/event-source-mapping.js';
import type { QueueDepth } from '../../local/emulators/queue-metrics.js';
import type { LocalRuntime } from '../../local/runtime.js';
import type { startReceiver } from './receiver.js';
import { bearer } from './service.js';

/** What the tests of a running local mode (startLocalRuntime) share. */
export type LocalReceiver = Awaited<ReturnType<typeof startReceiver>>;

interface Status {
  queues: Record<string, QueueDepth>;
  alarms: Record<string, 'OK' | 'ALARM'>;
  eventSources: Record<'fanout' | 'delivery', EventSourceMappingStatus>;
}

/** The API of a running local mode, through HTTP only, as a user's client would call it. */
export function localClient(runtime: LocalRuntime, apiKey: string) {
  const call = async <T = { id: string; secret?: string }>(method: string, path: string, body?: unknown) => {
    const response = await fetch(`${runtime.url}${path}`, {
      method,
      headers: bearer(apiKey),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  return {
    call,
    async subscribe(receiver: LocalReceiver, eventTypes: string[]) {
      const created = await call('POST', '/subscriptions', { url: receiver.url, eventTypes });
      expect(created.status).toBe(201);
      receiver.useSecret(created.body.secret ?? '');
      return created.body;
    },
    async publish(event: { type: string; data: Record<string, unknown>; id?: string }) {
      const published = await call('POST', '/events', event);
      expect(published.status).toBe(202);
      return published.body.id;
    },
    status: async () => (await (await fetch(`${runtime.url}/_local/status`)).json()) as Status,
  };
}

/** PutEvents on local mode's bus with the EventBridge SDK client, as a publisher would call it. */
export async function putOnLocalBus(runtime: LocalRuntime, entries: PutEventsRequestEntry[]) {
  const eventBridge = new EventBridgeClient({
    endpoint: runtime.busEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    return await eventBridge.send(
      new PutEventsCommand({
        Entries: entries.map((entry) => ({ EventBusName: runtime.busName, ...entry })),
      }),
    );
  } finally {
    eventBridge.destroy();
  }
}

export const deliveriesOf = (receiver: LocalReceiver, id: string) =>
  receiver.received.filter((delivery) => delivery.headers['webhook-id'] === id);

export function nonEmpty<T>(items: T[]): T[] | undefined {
  return items.length > 0 ? items : undefined;
}
