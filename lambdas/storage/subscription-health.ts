import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionalCheckFailed } from './dynamo.js';
import { subscriptionItemKey } from './keys.js';
import type { CircuitFields, StoredSubscription } from './subscription-model.js';

/** The circuit fields a closed circuit has: none (re-enabling a subscription clears them too). */
export const CLOSED_CIRCUIT = {
  consecutiveFailures: undefined,
  circuitOpenUntil: undefined,
  circuitOpenings: undefined,
  probeUntil: undefined,
} as const satisfies CircuitFields;

/** A failed attempt as counted: whether it began a run of failures, and the run as it now stands. */
export interface CountedFailure {
  startedRun: boolean;
  consecutiveFailures: number;
  /** The circuit before this failure. */
  circuit: CircuitFields;
}

/**
 * What delivery writes about an endpoint's health, on the subscription item itself: the run of failures
 * (failingSince, consecutiveFailures) and the circuit breaker. Only failing subscriptions are written: a
 * success writes nothing unless it ends a run. Each write is conditional, so of concurrent attempts exactly
 * one makes each change, and bumps `version` so that an API update, which writes the whole item on the
 * version it read, cannot put back what it read before the change.
 */
export class SubscriptionHealth {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Counts a failed attempt of an active subscription; undefined when it is no longer active (or is gone). */
  async countFailure(tenantId: string, id: string, now: Date): Promise<CountedFailure | undefined> {
    const old = await this.update<StoredSubscription>(tenantId, id, {
      update:
        'SET failingSince = if_not_exists(failingSince, :now), version = version + :one ADD consecutiveFailures :one',
      condition: '#status = :active',
      values: { ':now': now.toISOString(), ':one': 1, ':active': 'active' },
      returnOld: true,
    });
    if (!old) return undefined;
    return {
      startedRun: old.failingSince === undefined,
      consecutiveFailures: (old.consecutiveFailures ?? 0) + 1,
      circuit: {
        circuitOpenUntil: old.circuitOpenUntil,
        circuitOpenings: old.circuitOpenings,
        probeUntil: old.probeUntil,
      },
    };
  }

  /**
   * Ends a run of failures and closes the circuit; the fields as they were for the call that ended it,
   * undefined for any other.
   */
  async markRecovered(tenantId: string, id: string): Promise<StoredSubscription | undefined> {
    return await this.update<StoredSubscription>(tenantId, id, {
      update:
        'REMOVE failingSince, consecutiveFailures, circuitOpenUntil, circuitOpenings, probeUntil SET version = version + :one',
      condition: 'attribute_exists(failingSince) OR attribute_exists(consecutiveFailures)',
      values: { ':one': 1 },
      returnOld: true,
    });
  }

  /**
   * Opens the circuit until `until` (the `openings`th time in this run), unless it is already open: true
   * only for the call that opened it. A half-open circuit (its open time past) opens again.
   */
  async openCircuit(
    tenantId: string,
    id: string,
    now: Date,
    until: Date,
    openings: number,
  ): Promise<boolean> {
    const opened = await this.update(tenantId, id, {
      update:
        'SET circuitOpenUntil = :until, circuitOpenings = :openings, version = version + :one REMOVE probeUntil',
      condition: '#status = :active AND (attribute_not_exists(circuitOpenUntil) OR circuitOpenUntil <= :now)',
      values: {
        ':until': until.toISOString(),
        ':openings': openings,
        ':now': now.toISOString(),
        ':one': 1,
        ':active': 'active',
      },
    });
    return opened !== undefined;
  }

  /** Claims the half-open circuit's one probe until `leaseUntil`: true only for the call that got it. */
  async claimProbe(tenantId: string, id: string, now: Date, leaseUntil: Date): Promise<boolean> {
    const claimed = await this.update(tenantId, id, {
      update: 'SET probeUntil = :lease, version = version + :one',
      condition: 'circuitOpenUntil <= :now AND (attribute_not_exists(probeUntil) OR probeUntil <= :now)',
      values: { ':lease': leaseUntil.toISOString(), ':now': now.toISOString(), ':one': 1 },
    });
    return claimed !== undefined;
  }

  /** A conditional update: the old item (or {} unless asked for) when it happened, undefined when not. */
  private async update<T = Record<string, never>>(
    tenantId: string,
    id: string,
    write: { update: string; condition: string; values: Record<string, unknown>; returnOld?: boolean },
  ): Promise<T | undefined> {
    try {
      const { Attributes } = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: subscriptionItemKey(tenantId, id),
          UpdateExpression: write.update,
          ConditionExpression: `attribute_exists(pk) AND (${write.condition})`,
          ...(write.condition.includes('#status')
            ? { ExpressionAttributeNames: { '#status': 'status' } }
            : {}),
          ExpressionAttributeValues: write.values,
          ...(write.returnOld ? { ReturnValues: 'ALL_OLD' as const } : {}),
        }),
      );
      return (Attributes ?? {}) as T;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return undefined;
      throw error;
    }
  }
}
