import * as z from 'zod';
import { PoisonMessageError } from './errors.js';

/**
 * What fan-out puts on the delivery queue: one message per (event, subscription). It carries references
 * only (claim-check): the deliver step reads the subscription and the stored event, so a message stays
 * about 150 bytes whatever the payload, and a replay or DLQ redrive sends the event as it was stored.
 */
const deliveryMessageSchema = z.object({
  v: z.literal(2),
  tenantId: z.string().min(1),
  subscriptionId: z.string().min(1),
  eventId: z.string().min(1),
  /** Set on deliveries that a replay asked for; shown in the attempt log. */
  replay: z.literal(true).optional(),
});

export type DeliveryMessage = z.infer<typeof deliveryMessageSchema>;

export function deliveryMessage(
  tenantId: string,
  subscriptionId: string,
  eventId: string,
  replay = false,
): DeliveryMessage {
  return { v: 2, tenantId, subscriptionId, eventId, ...(replay ? { replay: true as const } : {}) };
}

export function parseDeliveryMessage(body: string): DeliveryMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new PoisonMessageError('delivery message is not JSON');
  }
  const result = deliveryMessageSchema.safeParse(json);
  if (!result.success) throw new PoisonMessageError(`delivery message is malformed: ${result.error.message}`);
  return result.data;
}
