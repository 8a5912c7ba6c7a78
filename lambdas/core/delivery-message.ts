import { z } from 'zod';
import { PoisonMessageError } from './errors.js';

/** What fan-out puts on the delivery queue: one message per (event, subscription). */
const deliveryMessageSchema = z.object({
  v: z.literal(1),
  tenantId: z.string().min(1),
  subscriptionId: z.string().min(1),
  event: z.object({
    id: z.string().min(1),
    type: z.string().min(1),
    timestamp: z.string().min(1),
    data: z.record(z.string(), z.unknown()),
  }),
});

export type DeliveryMessage = z.infer<typeof deliveryMessageSchema>;

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
