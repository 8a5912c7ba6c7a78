import { type ReceivedWebhook, startWebhookReceiver } from '../../local/webhook-receiver.js';

/** A loopback receiver that records every delivery, verified with standardwebhooks once given the secret. */
export async function startReceiver(options: { status?: number } = {}) {
  const received: ReceivedWebhook[] = [];
  const receiver = await startWebhookReceiver({
    ...options,
    onDelivery: (delivery) => received.push(delivery),
  });
  return { ...receiver, received };
}
