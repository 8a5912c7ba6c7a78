import type { RouteKey } from '../../contract/api-routes.js';
import type { EventStore } from '../../storage/events.js';
import { jsonResponse, type RouteHandler } from '../handler.js';
import { findPathEvent } from '../lookups.js';

/** Stored events, readable by their tenant for the retention period (the ones replay can re-deliver). */
export function storedEventRoutes(events: EventStore): Partial<Record<RouteKey, RouteHandler>> {
  return {
    'GET /events/{id}': async (request) => {
      const { id, type, timestamp, data } = await findPathEvent(events, request);
      return jsonResponse(200, { id, type, timestamp, data });
    },
  };
}
