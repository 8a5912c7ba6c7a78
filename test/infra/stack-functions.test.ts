import { beforeAll, describe, expect, it } from 'vitest';
import { environmentVariable, FUNCTION_SETTINGS, type SettingName } from '../../lambdas/contract/settings.js';
import { ATTEMPTS_BY_EVENT_INDEX, EVENTS_BY_TIME_INDEX } from '../../lambdas/contract/tables.js';
import { serviceDefinition, type TableDefinition } from '../../lib/definitions.js';
import {
  CDK_JSON_CONTEXT,
  FUNCTION_NAMES,
  type Grants,
  grantsOf,
  props,
  ref,
  roleOf,
  type Synthesized,
  synthesize,
} from '../support/template.js';

/** The stack's Lambda functions: runtime, roles, logs and settings, and what each role may do (least privilege). */

const def = serviceDefinition();
/** The stack with default context, synthesized once for the whole file. */
let synth: Synthesized;

beforeAll(() => {
  synth = synthesize();
});

describe('Stack: functions', () => {
  let grants: Grants;

  beforeAll(() => {
    grants = grantsOf(synth);
  });

  it('runs every function on Node.js 24, arm64, with the defined description, timeout and memory', () => {
    for (const name of FUNCTION_NAMES) {
      const { description, timeoutSeconds, memoryMb } = def.functions[name];
      expect(props(synth.resources, synth.id(synth.stack.functions[name])), name).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Description: description,
        Timeout: timeoutSeconds,
        MemorySize: memoryMb,
        Handler: 'index.handler',
      });
    }
  });

  it('gives each function its own role, with no managed policies, that may write only to its own log group', () => {
    const roles = new Set<string>();
    for (const name of FUNCTION_NAMES) {
      const fn = synth.stack.functions[name];
      const [roleId, role] = roleOf(synth.resources, synth.id(fn));
      roles.add(roleId);
      expect(role.ManagedPolicyArns, name).toBeUndefined();
      expect(role.AssumeRolePolicyDocument.Statement, name).toEqual([
        { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
      ]);
      expect(grants[name].logs, name).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
    }
    expect(roles.size).toBe(FUNCTION_NAMES.length);
  });

  it('lets only the fan-out function, which feeds its own queue page by page, recurse past 16 hops', () => {
    for (const name of FUNCTION_NAMES) {
      const { RecursiveLoop } = props(synth.resources, synth.id(synth.stack.functions[name]));
      // Unset is Lambda's default, Terminate.
      expect(RecursiveLoop, name).toBe(name === 'fanout' ? 'Allow' : undefined);
    }
  });

  it('logs JSON to a log group kept for 30 days', () => {
    for (const name of FUNCTION_NAMES) {
      const fn = synth.stack.functions[name];
      const logGroupId = synth.id(fn.logGroup);
      expect(props(synth.resources, synth.id(fn)).LoggingConfig).toEqual({
        LogFormat: 'JSON',
        LogGroup: ref(logGroupId),
      });
      expect(props(synth.resources, logGroupId).RetentionInDays).toBe(30);
    }
  });

  it('sets exactly the environment variables of the settings each function reads', () => {
    const { stack, id } = synth;
    const values: Record<SettingName, unknown> = {
      tenantsTable: ref(id(stack.storage.tenants)),
      subscriptionsTable: ref(id(stack.storage.subscriptions)),
      eventsTable: ref(id(stack.storage.events)),
      attemptsTable: ref(id(stack.storage.attempts)),
      eventBusName: ref(id(stack.ingestion.bus)),
      fanoutQueueUrl: ref(id(stack.fanoutQueue.queue)),
      deliveryQueueUrl: ref(id(stack.deliveryQueue.queue)),
      fanoutDeadLetterQueueUrl: ref(id(stack.fanoutQueue.deadLetterQueue.queue)),
      deliveryDeadLetterQueueUrl: ref(id(stack.deliveryQueue.deadLetterQueue.queue)),
      retryScheduleSeconds: def.retryScheduleSeconds.join(','),
      attemptTimeoutMs: String(def.attemptTimeoutMs),
      eventRetentionDays: String(def.eventRetentionDays),
      attemptLog: 'all',
      attemptRetentionDays: '30',
      autoDisableAfterSeconds: String(5 * 86_400),
      fanoutPageSize: String(def.fanoutPageSize),
      maxSubscriptionsPerTenant: '10000',
      tenantRequestsPerSecond: '50',
    };
    for (const name of FUNCTION_NAMES) {
      const settings: readonly SettingName[] = FUNCTION_SETTINGS[name];
      const expected = Object.fromEntries(
        settings.map((setting) => [environmentVariable(setting), values[setting]]),
      );
      expect(props(synth.resources, id(stack.functions[name])).Environment.Variables, name).toEqual({
        ...expected,
        NODE_OPTIONS: '--enable-source-maps',
        ...(name === 'api' || name === 'deliver' ? { UV_THREADPOOL_SIZE: '64' } : {}),
      });
    }
  });
});

describe('Stack: least privilege', () => {
  /** What each function may do, as { resource: sorted actions }, with resources named by grantsOf. */
  let grants: Grants;

  beforeAll(() => {
    grants = grantsOf(synth);
  });

  /** The actions SqsEventSource grants on the queue a function consumes. */
  const CONSUMER = [
    'sqs:ChangeMessageVisibility',
    'sqs:DeleteMessage',
    'sqs:GetQueueAttributes',
    'sqs:GetQueueUrl',
    'sqs:ReceiveMessage',
  ];

  /** Every function writes its own log group, and only that one. */
  const LOGS = ['logs:CreateLogStream', 'logs:PutLogEvents'];

  it('lets the authorizer only read the tenants table', () => {
    expect(grants.authorizer).toEqual({ tenants: ['dynamodb:GetItem'], logs: LOGS });
  });

  it('lets the API function manage subscriptions and their count, read events and attempts, queue replay jobs and count requests', () => {
    expect(grants.api).toEqual({
      subscriptions: [
        'dynamodb:BatchWriteItem',
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
      ],
      events: ['dynamodb:GetItem'],
      attempts: ['dynamodb:Query'],
      'attempts/index/byEvent': ['dynamodb:Query'],
      fanoutQueue: ['sqs:SendMessage'],
      tenants: ['dynamodb:UpdateItem'],
      logs: LOGS,
    });
  });

  it('lets the ingest function put events on the bus and count requests, and nothing else', () => {
    expect(grants.ingest).toEqual({
      bus: ['events:PutEvents'],
      tenants: ['dynamodb:UpdateItem'],
      logs: LOGS,
    });
  });

  it('lets the fan-out function check tenants, route, store and replay events, send deliveries and continuations, and dead-letter poison', () => {
    expect(grants.fanout).toEqual({
      tenants: ['dynamodb:GetItem'],
      subscriptions: ['dynamodb:GetItem', 'dynamodb:Query'],
      events: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      'events/index/byTime': ['dynamodb:Query'],
      'attempts/index/byEvent': ['dynamodb:Query'],
      deliveryQueue: ['sqs:SendMessage'],
      fanoutQueue: ['sqs:SendMessage', ...CONSUMER].sort(),
      fanoutDlq: ['sqs:SendMessage'],
      logs: LOGS,
    });
  });

  it('lets the deliver function update subscriptions, read events, log and count attempts, put operational events, send waiting copies to its own queue and those that run out to its DLQ', () => {
    expect(grants.deliver).toEqual({
      subscriptions: [
        'dynamodb:BatchGetItem',
        'dynamodb:BatchWriteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
      ],
      events: ['dynamodb:GetItem'],
      attempts: ['dynamodb:BatchWriteItem', 'dynamodb:UpdateItem'],
      bus: ['events:PutEvents'],
      deliveryQueue: ['sqs:SendMessage', ...CONSUMER].sort(),
      deliveryDlq: ['sqs:SendMessage'],
      logs: LOGS,
    });
  });

  it('grants queries on the indexes the code names, which exist in the definitions', () => {
    const indexNames = (table: TableDefinition) => (table.indexes ?? []).map((index) => index.name);
    expect(indexNames(def.tables.events)).toContain(EVENTS_BY_TIME_INDEX);
    expect(indexNames(def.tables.attempts)).toContain(ATTEMPTS_BY_EVENT_INDEX);
  });

  it('keeps the issue’s boundaries: the API function cannot send deliveries, deliver cannot read tenants, fan-out only reads them, ingest touches only the bus and the request counters, only fan-out and deliver send to a DLQ, each to its own', () => {
    expect(Object.keys(grants.api)).not.toContain('deliveryQueue');
    expect(Object.keys(grants.deliver)).not.toContain('tenants');
    expect(grants.fanout.tenants).toEqual(['dynamodb:GetItem']);
    expect(grants.ingest.tenants).toEqual(['dynamodb:UpdateItem']);
    expect(Object.keys(grants.ingest).sort()).toEqual(['bus', 'logs', 'tenants']);
    expect(Object.keys(grants.authorizer).sort()).toEqual(['logs', 'tenants']);
    // Only fan-out and deliver touch a DLQ, each its own, and only to send: fan-out a message that can never
    // succeed, deliver a waiting copy that ran out. Reading from a DLQ and redriving run with an operator's
    // rights.
    for (const name of FUNCTION_NAMES) {
      expect(
        Object.fromEntries(Object.entries(grants[name]).filter(([resource]) => resource.endsWith('Dlq'))),
        name,
      ).toEqual(
        name === 'fanout'
          ? { fanoutDlq: ['sqs:SendMessage'] }
          : name === 'deliver'
            ? { deliveryDlq: ['sqs:SendMessage'] }
            : {},
      );
    }
  });

  it('grants the same whether or not policies are minimized (cdk.json minimizes them for deployments)', () => {
    expect(CDK_JSON_CONTEXT['@aws-cdk/aws-iam:minimizePolicies']).toBe(true);
    expect(grantsOf(synthesize({ '@aws-cdk/aws-iam:minimizePolicies': false }))).toEqual(grants);
  });
});
