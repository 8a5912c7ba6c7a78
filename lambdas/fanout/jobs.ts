import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod/mini';
import { PoisonMessageError } from '../platform/errors.js';
import { describeIssues, safeParse } from '../platform/validation.js';

/**
 * Besides the events EventBridge delivers, the fan-out queue carries jobs: work that expands into delivery
 * messages but does not start from a new publish. Each job is one bounded page of work; a job that has more
 * to do sends its own continuation (the same job with `start` set to where it stopped) after its deliveries,
 * so a retried page re-sends only its own deliveries, never the pages before it. Delivery is at least once:
 * a page that fails after queueing its continuation is retried and queues a second one, so the later pages
 * go out twice; receivers dedupe by webhook-id (the event id).
 *
 *   event               deliver a stored event to every active subscription it matches (the continuation of
 *                       a publish, or a replay of a stored event)
 *   event-subscription  deliver a stored event to one subscription (a replay)
 *   subscription-since  deliver to one subscription every stored event since a time that did not succeed
 *                       for it (a replay)
 */
const startKey = z.record(z.string(), z.unknown());
const id = z.string().check(z.minLength(1));

const fanoutJobSchema = z.discriminatedUnion('job', [
  z.object({
    kind: z.literal('fanout.job'),
    job: z.literal('event'),
    tenantId: id,
    eventId: id,
    eventType: id,
    replay: z.boolean(),
    /** Index into the event type's candidate filters, and the route query's position within it. */
    start: z.optional(
      z.object({ filter: z.number().check(z.int(), z.minimum(0)), key: z.optional(startKey) }),
    ),
  }),
  z.object({
    kind: z.literal('fanout.job'),
    job: z.literal('event-subscription'),
    tenantId: id,
    eventId: id,
    subscriptionId: id,
  }),
  z.object({
    kind: z.literal('fanout.job'),
    job: z.literal('subscription-since'),
    tenantId: id,
    subscriptionId: id,
    since: z.iso.datetime(),
    /**
     * Events after this are left out: they were published after the replay was asked for, so their own
     * fan-out delivers them. Set by the first page to the time it runs, when the request did not set it.
     */
    until: z.optional(z.iso.datetime()),
    /** The events-by-time query's position. */
    start: z.optional(startKey),
  }),
]);

export type FanoutJob = z.infer<typeof fanoutJobSchema>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type FanoutJobInput = DistributiveOmit<FanoutJob, 'kind'>;

/** True when a fan-out queue message is a job rather than an EventBridge event. */
export function isFanoutJob(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as { kind?: unknown }).kind === 'fanout.job';
}

export function parseFanoutJob(json: unknown): FanoutJob {
  const result = safeParse(fanoutJobSchema, json);
  if (!result.success) {
    // Jobs are written by the API and fan-out functions only: a bad one is a bug or a hand-made message.
    throw new PoisonMessageError(`fan-out job is malformed: ${describeIssues(result.error.issues, 'job')}`, {
      reason: 'malformed_job',
      action:
        'jobs are written by the API (replays) and fan-out (continuations) only: report it as a bug with this body, then delete it from the DLQ; ask for the replay again if one is missing',
    });
  }
  return result.data;
}

export async function sendFanoutJob(sqs: SQSClient, queueUrl: string, job: FanoutJobInput): Promise<void> {
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: JSON.stringify({ kind: 'fanout.job', ...job }),
    }),
  );
}
