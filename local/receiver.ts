import { loadReceiverConfig } from './config.js';
import { type ReceivedWebhook, startWebhookReceiver } from './webhook-receiver.js';

/**
 * `npm run receiver`: a webhook endpoint that prints each delivery and whether its signature verified.
 *   WEBHOOK_SECRET   the subscription's secret (whsec_…), to verify signatures; a delivery that does not verify
 *                    is answered 401 with the reason. Without it, signatures are not checked and all accepted.
 *   RECEIVER_PORT    default 4000
 *   RECEIVER_STATUS  the status to answer with, default 204; 500 makes every delivery fail
 */
let config: ReturnType<typeof loadReceiverConfig>;
try {
  config = loadReceiverConfig();
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}

const receiver = await startWebhookReceiver({
  port: config.receiverPort,
  status: config.receiverStatus,
  ...(config.webhookSecret ? { secret: config.webhookSecret } : {}),
  onDelivery: print,
});

console.log(`receiver listening on ${receiver.url}, answering ${config.receiverStatus}`);
if (!config.webhookSecret) {
  console.log(
    'WEBHOOK_SECRET is not set, so signatures cannot be checked and every delivery is accepted. Restart\n' +
      'with the "secret" that POST /subscriptions returned:  WEBHOOK_SECRET=whsec_... npm run receiver',
  );
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    await receiver.close();
    process.exit(0);
  });
}

function print(delivery: ReceivedWebhook) {
  const signature = !config.webhookSecret
    ? 'signature not checked (WEBHOOK_SECRET is not set)'
    : delivery.verificationError
      ? `signature NOT verified (${delivery.verificationError})`
      : 'signature verified';
  console.log(
    `${new Date().toISOString()}  ${delivery.headers['webhook-id']}  ${typeOf(delivery.body)}  ${signature}  → ${delivery.status}`,
  );
}

/** The event type, read from the body even when unverified, so that a failing delivery can be recognised. */
function typeOf(body: string): string {
  try {
    const { type } = JSON.parse(body) as { type?: unknown };
    return typeof type === 'string' ? type : '(no type)';
  } catch {
    return '(not JSON)';
  }
}
