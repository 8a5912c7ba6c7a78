import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logger } from '../../lambdas/platform/logger.js';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.js';
import { waitFor } from '../../local/wait.js';
import { localClient } from '../support/local.js';
import { startReceiver } from '../support/receiver.js';

/**
 * Secrets never reach a log: every line written during a full create → publish → deliver → fail → rotate →
 * deliver → replay cycle, at the most verbose log level, is captured and searched for the API key and every
 * signing secret (whole, and the base64 key inside `whsec_`).
 */
describe('Security: secrets in logs', () => {
  const lines: string[] = [];
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
  let runtime: LocalRuntime;

  beforeAll(async () => {
    logger.setLogLevel('DEBUG');
    for (const stream of ['stdout', 'stderr'] as const) {
      const original = writes[stream];
      process[stream].write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
        lines.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
        return (original as (...args: unknown[]) => boolean).call(process[stream], chunk, ...rest);
      }) as typeof process.stdout.write;
    }
    runtime = await startLocalRuntime({
      port: 0,
      retryScheduleSeconds: [0, 1],
      alarmIntervalMs: 100,
      log: (line) => lines.push(line),
    });
  });
  afterAll(async () => {
    await runtime.stop();
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
    logger.setLogLevel('WARN');
  });

  it('writes no API key and no signing secret to any log line', async () => {
    const apiKey = runtime.tenants[0]?.apiKey ?? '';
    const api = localClient(runtime, apiKey);
    const receiver = await startReceiver({ status: 500 });
    const { body: created } = await api.call<{ id: string; secret: string }>('POST', '/subscriptions', {
      url: receiver.url,
      eventTypes: ['*'],
      description: 'secret-test',
    });
    receiver.useSecret(created.secret);
    const publish = (n: number) => api.publish({ type: 'a.b', data: { n } });
    const received = (id: string, count: number) =>
      waitFor(
        () =>
          receiver.received.filter((delivery) => delivery.headers['webhook-id'] === id).length >= count
            ? true
            : undefined,
        { what: `${count} attempts of ${id}` },
      );

    const failing = await publish(1);
    await received(failing, 2);
    receiver.respondWith(204);
    const { body: rotated } = await api.call<{ secret: string }>(
      'POST',
      `/subscriptions/${created.id}/secret/rotate`,
    );
    const delivered = await publish(2);
    await received(delivered, 1);
    await api.call('POST', `/events/${failing}/replay`, { subscriptionId: created.id });
    await received(failing, 3);
    // An unauthenticated and a wrong-key request are logged too, if at all, without the key.
    await fetch(`${runtime.url}/subscriptions`, { headers: { authorization: `Bearer ${apiKey}x` } });
    await receiver.close();

    const secrets = [apiKey, created.secret, rotated.secret].flatMap((secret) =>
      secret.startsWith('whsec_') ? [secret, secret.slice('whsec_'.length)] : [secret],
    );
    expect(secrets.every((secret) => secret.length >= 32)).toBe(true);
    const log = lines.join('\n');
    // The capture did see the cycle: handler lines at debug/info level and the local runtime's own lines.
    expect(log).toContain(created.id);
    expect(log).toContain('webhook delivered');
    for (const secret of secrets) expect(log).not.toContain(secret);
  });
});
