import { beforeAll, describe, expect, it } from 'vitest';
import { ATTEMPTS_BY_EVENT_INDEX, EVENTS_BY_TIME_INDEX } from '../../lambdas/contract/tables.js';
import { type ServiceDefinition, serviceDefinition, type TableDefinition } from '../../lib/definitions.js';
import { keySchema, props, type Synthesized, synthesize } from '../support/template.js';

/** The stack's DynamoDB tables: keys, indexes, encryption, recovery, expiry and what a stack deletion keeps. */

const def = serviceDefinition();
/** The stack with default context, synthesized once for the whole file. */
let synth: Synthesized;

beforeAll(() => {
  synth = synthesize();
});

describe('Stack: tables', () => {
  let tables: { name: keyof ServiceDefinition['tables']; definition: TableDefinition; id: string }[];

  beforeAll(() => {
    const { storage } = synth.stack;
    tables = (['tenants', 'subscriptions', 'events', 'attempts'] as const).map((name) => ({
      name,
      definition: def.tables[name],
      id: synth.id(storage[name]),
    }));
  });

  it('creates every table on demand, encrypted at rest, with the defined string keys', () => {
    for (const { definition, id } of tables) {
      const keys = [definition.partitionKey, definition.sortKey].filter((key) => key !== undefined);
      const indexKeys = (definition.indexes ?? []).flatMap((index) => [index.partitionKey, index.sortKey]);
      const table = props(synth.resources, id);
      expect(table).toMatchObject({
        BillingMode: 'PAY_PER_REQUEST',
        SSESpecification: { SSEEnabled: true },
        KeySchema: keySchema(definition.partitionKey, definition.sortKey),
      });
      expect(table.AttributeDefinitions).toEqual(
        [...new Set([...keys, ...indexKeys])].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
      );
    }
  });

  it('creates the global secondary indexes of the definitions, with their keys and projections', () => {
    for (const { name, definition, id } of tables) {
      const expected = (definition.indexes ?? []).map((index) => ({
        IndexName: index.name,
        KeySchema: keySchema(index.partitionKey, index.sortKey),
        Projection:
          index.projection === 'ALL'
            ? { ProjectionType: 'ALL' }
            : { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.projection] },
      }));
      expect(props(synth.resources, id).GlobalSecondaryIndexes, name).toEqual(
        expected.length > 0 ? expected : undefined,
      );
    }
  });

  it('lists events by time with their type only, and attempts by event with every attribute', () => {
    const indexes = (name: 'events' | 'attempts') =>
      props(synth.resources, synth.id(synth.stack.storage[name])).GlobalSecondaryIndexes;
    expect(indexes('events')).toEqual([
      {
        IndexName: EVENTS_BY_TIME_INDEX,
        KeySchema: keySchema('tenantId', 'timestamp'),
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['eventId', 'type'] },
      },
    ]);
    expect(indexes('attempts')).toEqual([
      {
        IndexName: ATTEMPTS_BY_EVENT_INDEX,
        KeySchema: keySchema('eventKey', 'sk'),
        Projection: { ProjectionType: 'ALL' },
      },
    ]);
  });

  it('enables point-in-time recovery exactly where the definition asks for it', () => {
    for (const { definition, id } of tables) {
      const pitr =
        props(synth.resources, id).PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled ?? false;
      expect(pitr).toBe(definition.pointInTimeRecovery);
    }
    expect(def.tables.tenants.pointInTimeRecovery && def.tables.subscriptions.pointInTimeRecovery).toBe(true);
  });

  it('expires items by the defined TTL attribute', () => {
    for (const { definition, id } of tables) {
      const ttl = props(synth.resources, id).TimeToLiveSpecification;
      if (definition.timeToLiveAttribute) {
        expect(ttl).toEqual({ AttributeName: definition.timeToLiveAttribute, Enabled: true });
      } else {
        expect(ttl).toBeUndefined();
      }
    }
    // Tenants: the per-tenant request counters expire; events and attempts: their retention.
    expect(def.tables.tenants.timeToLiveAttribute).toBe('expiresAt');
    expect(def.tables.events.timeToLiveAttribute).toBe('expiresAt');
    expect(def.tables.attempts.timeToLiveAttribute).toBe('expiresAt');
    expect(def.tables.subscriptions.timeToLiveAttribute).toBeUndefined();
  });

  it('keeps tenants and subscriptions when the stack is deleted, but not events or attempts', () => {
    const deletionPolicy = Object.fromEntries(
      tables.map(({ name, id }) => [name, synth.resources[id]?.DeletionPolicy]),
    );
    expect(deletionPolicy).toEqual({
      tenants: 'Retain',
      subscriptions: 'Retain',
      events: 'Delete',
      attempts: 'Delete',
    });
  });
});
