import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { RouteKey } from '../../contract/api-routes.js';
import { MAX_EVENT_ENTRY_BYTES, putEventsEntryBytes, toPutEventsEntry } from '../../contract/bus-events.js';
import { PayloadTooLargeError, ServiceUnavailableError } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import { logger } from '../../platform/logger.js';
import { jsonResponse, type RouteHandler } from '../handler.js';
import { publishEventSchema, validate } from '../schemas.js';

/**
 * POST /events puts the event on the bus for the caller's tenant. The id is the idempotency key: publishing
 * it again is accepted (202, same id) and fan-out recognises the repeat, so it is delivered once.
 */
export function eventRoutes(
  eventBridge: EventBridgeClient,
  busName: string,
): Partial<Record<RouteKey, RouteHandler>> {
  return {
    'POST /events': async (request) => {
      const body = request.jsonBody();
      const input = validate(publishEventSchema, body);
      // The payload as parsed, not as the schema rebuilt it: a record schema drops a "__proto__" key.
      const data = (body as { data: Record<string, unknown> }).data;
      const id = input.id ?? newId('evt');
      const entry = toPutEventsEntry(busName, request.tenantId, { type: input.type, data, id });
      // EventBridge counts the whole entry, so data just under the limit can still make an entry over it.
      const entryBytes = putEventsEntryBytes(entry);
      const excess = entryBytes - MAX_EVENT_ENTRY_BYTES;
      if (excess > 0) {
        throw new PayloadTooLargeError(
          `the event is ${excess} byte${excess === 1 ? '' : 's'} over the limit: as a bus entry (data as JSON, type, id and tenant) it has ${entryBytes} bytes, and at most ${MAX_EVENT_ENTRY_BYTES} are allowed`,
        );
      }
      const result = await eventBridge.send(new PutEventsCommand({ Entries: [entry] }));
      const failure = result.Entries?.[0];
      if ((result.FailedEntryCount ?? 0) > 0 || !failure?.EventId) {
        logger.error('event bus rejected an event', { eventId: id, errorCode: failure?.ErrorCode });
        throw new ServiceUnavailableError(
          'the event could not be accepted right now; retry with the same id',
        );
      }
      return jsonResponse(202, { id });
    },
  };
}
