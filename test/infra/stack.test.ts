import { Names } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  API_ROUTES,
  DEFAULT_ROUTE_HANDLER,
  GATEWAY_ROUTES,
  routeKeyOf,
} from '../../lambdas/contract/api-routes.js';
import {
  environmentVariable,
  FUNCTION_SETTINGS,
  type FunctionName,
  type SettingName,
} from '../../lambdas/contract/settings.js';
import { ATTEMPTS_BY_EVENT_INDEX, EVENTS_BY_TIME_INDEX } from '../../lambdas/contract/tables.js';
import { type ServiceDefinition, serviceDefinition, type TableDefinition } from '../../lib/definitions.js';
import {
  actionsOf,
  arnOf,
  CDK_JSON_CONTEXT,
  FUNCTION_NAMES,
  type Grants,
  grantsOf,
  isTlsOnlyDenial,
  keySchema,
  ofType,
  type Properties,
  props,
  queuePolicyStatements,
  ref,
  referencedIds,
  roleOf,
  type Statement,
  type Synthesized,
  synthesize,
} from './template.js';

/** Lambda's guidance for SQS event sources. */
const VISIBILITY_PER_FUNCTION_TIMEOUT = 6;

const def = serviceDefinition();
/** The stack with default context, synthesized once for the whole file. */
let synth: Synthesized;

beforeAll(() => {
  synth = synthesize();
});

describe('Stack: queues', () => {
  let sourceQueues: { name: keyof ServiceDefinition['queues']; queueId: string; dlqId: string }[];

  beforeAll(() => {
    const { stack, id } = synth;
    sourceQueues = [
      {
        name: 'fanout',
        queueId: id(stack.fanoutQueue.queue),
        dlqId: id(stack.fanoutQueue.deadLetterQueue.queue),
      },
      {
        name: 'delivery',
        queueId: id(stack.deliveryQueue.queue),
        dlqId: id(stack.deliveryQueue.deadLetterQueue.queue),
      },
    ];
  });

  it('redrives each source queue to its own DLQ after the defined number of receives', () => {
    for (const { name, queueId, dlqId } of sourceQueues) {
      expect(props(synth.resources, queueId).RedrivePolicy).toEqual({
        deadLetterTargetArn: arnOf(dlqId),
        maxReceiveCount: def.queues[name].maxReceiveCount,
      });
    }
  });

  it('gives the delivery queue one receive per attempt of the default retry schedule', () => {
    const { stack, id, resources } = synth;
    const queue = props(resources, id(stack.deliveryQueue.queue));
    expect(queue.RedrivePolicy.maxReceiveCount).toBe(def.retryScheduleSeconds.length);
  });

  it('takes visibility timeout and retention from the definition, and keeps dead letters for their retention', () => {
    for (const { name, queueId, dlqId } of sourceQueues) {
      expect(props(synth.resources, queueId)).toMatchObject({
        VisibilityTimeout: def.queues[name].visibilityTimeoutSeconds,
        MessageRetentionPeriod: def.queues[name].retentionSeconds,
      });
      expect(props(synth.resources, dlqId).MessageRetentionPeriod).toBe(def.deadLetterRetentionSeconds);
    }
    const ruleDlq = props(synth.resources, synth.id(synth.stack.ingestion.deadLetterQueue.queue));
    expect(ruleDlq.MessageRetentionPeriod).toBe(def.deadLetterRetentionSeconds);
  });

  it('encrypts every queue with SQS-managed keys and accepts the full message size', () => {
    const queues = ofType(synth.resources, 'AWS::SQS::Queue');
    expect(queues.length).toBeGreaterThan(0);
    for (const [, queue] of queues) {
      expect(queue.SqsManagedSseEnabled).toBe(true);
      expect(queue.MaximumMessageSize).toBe(def.maxMessageSizeBytes);
    }
  });

  it('denies every queue, DLQs included, to requests without TLS', () => {
    for (const [queueId] of ofType(synth.resources, 'AWS::SQS::Queue')) {
      const denial = queuePolicyStatements(synth.resources, queueId).find(isTlsOnlyDenial);
      expect(denial, `TLS-only policy on ${queueId}`).toMatchObject({
        Principal: { AWS: '*' },
        Action: 'sqs:*',
      });
    }
  });

  it('gives each source queue a visibility timeout of at least six times its consumer timeout', () => {
    const mappings = ofType(synth.resources, 'AWS::Lambda::EventSourceMapping');
    expect(mappings.map(([, mapping]) => mapping.EventSourceArn)).toEqual(
      expect.arrayContaining(sourceQueues.map(({ queueId }) => arnOf(queueId))),
    );
    for (const [, mapping] of mappings) {
      const queue = props(synth.resources, mapping.EventSourceArn['Fn::GetAtt'][0]);
      const consumer = props(synth.resources, mapping.FunctionName.Ref);
      expect(queue.VisibilityTimeout).toBeGreaterThanOrEqual(
        VISIBILITY_PER_FUNCTION_TIMEOUT * consumer.Timeout,
      );
    }
  });

  it('has each source queue consumed by its defined function, with its batch size and partial batch failures', () => {
    const mappings = ofType(synth.resources, 'AWS::Lambda::EventSourceMapping').map(([, mapping]) => mapping);
    for (const { name, queueId } of sourceQueues) {
      const { consumer, batchSize, maxBatchingWindowSeconds } = def.queues[name];
      const mapping = mappings.find((candidate) => candidate.EventSourceArn['Fn::GetAtt'][0] === queueId);
      expect(mapping, `event source mapping for the ${name} queue`).toEqual({
        EventSourceArn: arnOf(queueId),
        FunctionName: ref(synth.id(synth.stack.functions[consumer])),
        BatchSize: batchSize,
        MaximumBatchingWindowInSeconds: maxBatchingWindowSeconds,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
    }
  });
});

describe('Stack: alarms', () => {
  let topicId: string;

  beforeAll(() => {
    topicId = synth.id(synth.stack.alarms.topic);
  });

  it('alarms on every DLQ as soon as it holds a message, notifying the topic on ALARM and on OK', () => {
    const { stack, id, resources } = synth;
    const deadLetterQueues = [
      stack.fanoutQueue.deadLetterQueue,
      stack.deliveryQueue.deadLetterQueue,
      stack.ingestion.deadLetterQueue,
    ];
    const alarms = ofType(resources, 'AWS::CloudWatch::Alarm').map(([, alarm]) => alarm);
    for (const dlq of deadLetterQueues) {
      const dlqId = id(dlq.queue);
      const alarm = alarms.find((candidate) => referencedIds(candidate.Dimensions).has(dlqId));
      expect(alarm, `alarm on ${dlqId}`).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: def.alarm.metricName,
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId, 'QueueName'] } }],
        Threshold: def.alarm.threshold,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
        Period: def.alarm.periodSeconds,
        TreatMissingData: 'notBreaching',
        AlarmActions: [ref(topicId)],
        OKActions: [ref(topicId)],
      });
    }
  });

  it('encrypts the topic with a rotating customer-managed key that CloudWatch may use', () => {
    const keyId = synth.id(synth.stack.alarms.key);
    expect(props(synth.resources, topicId).KmsMasterKeyId).toEqual(arnOf(keyId));
    const key = props(synth.resources, keyId);
    expect(key.EnableKeyRotation).toBe(true);
    const forCloudWatch = (key.KeyPolicy.Statement as Statement[]).find(
      (statement) =>
        statement.Effect === 'Allow' && JSON.stringify(statement.Principal).includes('cloudwatch'),
    );
    expect(forCloudWatch).toMatchObject({
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey*']),
    });
  });

  it('denies publishing to the topic without TLS and lets only this account’s alarms publish', () => {
    const statements = ofType(synth.resources, 'AWS::SNS::TopicPolicy')
      .filter(([, policy]) => referencedIds(policy.Topics).has(topicId))
      .flatMap(([, policy]) => policy.PolicyDocument.Statement as Statement[]);
    expect(statements.find(isTlsOnlyDenial)).toMatchObject({ Action: 'sns:Publish', Resource: ref(topicId) });
    expect(statements.find((statement) => statement.Effect === 'Allow')).toMatchObject({
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: 'sns:Publish',
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    });
  });

  it('has no email subscription unless alarmEmail is set', () => {
    expect(ofType(synth.resources, 'AWS::SNS::Subscription')).toEqual([]);
  });
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
        ...(name === 'register' || name === 'deliver' ? { UV_THREADPOOL_SIZE: '64' } : {}),
      });
    }
  });
});

describe('Stack: event bus', () => {
  let ruleId: string;

  beforeAll(() => {
    ruleId = synth.id(synth.stack.ingestion.rule);
  });

  it('routes tenant events from the bus to the fan-out queue, with the defined retries and its own DLQ', () => {
    const { stack, id } = synth;
    expect(props(synth.resources, ruleId)).toMatchObject({
      EventBusName: ref(id(stack.ingestion.bus)),
      EventPattern: def.eventRule.pattern,
      Targets: [
        {
          Arn: arnOf(id(stack.fanoutQueue.queue)),
          DeadLetterConfig: { Arn: arnOf(id(stack.ingestion.deadLetterQueue.queue)) },
          RetryPolicy: {
            MaximumEventAgeInSeconds: def.eventRule.maxEventAgeSeconds,
            MaximumRetryAttempts: def.eventRule.retryAttempts,
          },
        },
      ],
    });
  });

  it('lets EventBridge send to the fan-out queue and the rule DLQ only on behalf of this rule', () => {
    const { stack, id } = synth;
    for (const queue of [stack.fanoutQueue.queue, stack.ingestion.deadLetterQueue.queue]) {
      const fromEventBridge = queuePolicyStatements(synth.resources, id(queue)).filter(
        (statement) => statement.Effect === 'Allow',
      );
      expect(fromEventBridge.length).toBeGreaterThan(0);
      for (const statement of fromEventBridge) {
        expect(statement).toMatchObject({
          Principal: { Service: 'events.amazonaws.com' },
          Condition: { ArnEquals: { 'aws:SourceArn': arnOf(ruleId) } },
        });
        expect(actionsOf(statement)).toContain('sqs:SendMessage');
      }
    }
  });

  it('allows PutEvents on the bus to this account only', () => {
    const busId = synth.id(synth.stack.ingestion.bus);
    const policies = ofType(synth.resources, 'AWS::Events::EventBusPolicy').filter(
      ([, policy]) => policy.EventBusName?.Ref === busId,
    );
    expect(policies.map(([, policy]) => policy.Statement)).toEqual([
      {
        Sid: expect.any(String),
        Effect: 'Allow',
        Action: 'events:PutEvents',
        Principal: {
          AWS: {
            'Fn::Join': [
              '',
              ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root'],
            ],
          },
        },
        Resource: arnOf(busId),
      },
    ]);
  });
});

describe('Stack: HTTP API', () => {
  let routes: Properties[];
  let authorizerId: string;

  beforeAll(() => {
    routes = ofType(synth.resources, 'AWS::ApiGatewayV2::Route').map(([, route]) => route);
    const authorizers = ofType(synth.resources, 'AWS::ApiGatewayV2::Authorizer');
    expect(authorizers).toHaveLength(1);
    authorizerId = authorizers[0]?.[0] ?? '';
  });

  it('has exactly one route per API route, a HEAD route per GET route, plus $default', () => {
    const expected = [...GATEWAY_ROUTES.map(routeKeyOf), '$default'];
    expect(routes.map((route) => route.RouteKey).sort()).toEqual(expected.sort());
  });

  it('routes HEAD wherever GET is routed, to the same function (API Gateway matches methods exactly)', () => {
    const keys = new Map(routes.map((route) => [route.RouteKey as string, route.Target]));
    const gets = API_ROUTES.filter((route) => route.method === 'GET');
    expect(gets.length).toBeGreaterThan(0);
    for (const route of gets) {
      expect(keys.get(`HEAD ${route.path}`), route.path).toEqual(keys.get(`GET ${route.path}`));
    }
    expect([...keys.keys()].filter((key) => key.startsWith('HEAD ')).length).toBe(gets.length);
  });

  it('puts the authorizer on every route, $default included', () => {
    for (const route of routes) {
      expect(route, route.RouteKey).toMatchObject({
        AuthorizationType: 'CUSTOM',
        AuthorizerId: ref(authorizerId),
      });
    }
  });

  it('integrates each route with the function its handler names, payload format 2.0', () => {
    const handlerOf = new Map<string, FunctionName>([
      ...GATEWAY_ROUTES.map((route) => [routeKeyOf(route), route.handler] as const),
      ['$default', DEFAULT_ROUTE_HANDLER],
    ]);
    for (const route of routes) {
      const [integrationId] = [...referencedIds(route.Target)];
      const integration = props(synth.resources, integrationId ?? '');
      const handler = handlerOf.get(route.RouteKey) as FunctionName;
      expect(integration, route.RouteKey).toMatchObject({
        IntegrationType: 'AWS_PROXY',
        IntegrationUri: arnOf(synth.id(synth.stack.functions[handler])),
        PayloadFormatVersion: '2.0',
      });
    }
  });

  it('runs the authorizer on every request: simple responses, no identity source, no cache', () => {
    const authorizer = props(synth.resources, authorizerId);
    expect(authorizer).toMatchObject({
      AuthorizerType: 'REQUEST',
      EnableSimpleResponses: true,
      AuthorizerPayloadFormatVersion: '2.0',
      AuthorizerResultTtlInSeconds: 0,
    });
    expect(authorizer.IdentitySource ?? []).toEqual([]);
    expect(referencedIds(authorizer.AuthorizerUri)).toContain(synth.id(synth.stack.functions.authorizer));
  });

  it('serves the $default stage with throttling and JSON access logs', () => {
    const { stack, id } = synth;
    const stage = props(synth.resources, id(stack.api.stage));
    expect(stage).toMatchObject({
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingBurstLimit: 2_000, ThrottlingRateLimit: 1_000 },
      AccessLogSettings: { DestinationArn: arnOf(id(stack.api.accessLogGroup)) },
    });
    expect(JSON.parse(stage.AccessLogSettings.Format)).toMatchObject({ requestId: '$context.requestId' });
  });

  it('does not configure CORS', () => {
    expect(props(synth.resources, synth.id(synth.stack.api.api)).CorsConfiguration).toBeUndefined();
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

  it('lets the register function manage subscriptions and their count, read events and attempts, queue replay jobs and count requests', () => {
    expect(grants.register).toEqual({
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

  it('lets the deliver function update subscriptions, read events, log attempts and put operational events', () => {
    expect(grants.deliver).toEqual({
      subscriptions: [
        'dynamodb:BatchGetItem',
        'dynamodb:BatchWriteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
      ],
      events: ['dynamodb:GetItem'],
      attempts: ['dynamodb:BatchWriteItem'],
      bus: ['events:PutEvents'],
      deliveryQueue: CONSUMER,
      logs: LOGS,
    });
  });

  it('grants queries on the indexes the code names, which exist in the definitions', () => {
    const indexNames = (table: TableDefinition) => (table.indexes ?? []).map((index) => index.name);
    expect(indexNames(def.tables.events)).toContain(EVENTS_BY_TIME_INDEX);
    expect(indexNames(def.tables.attempts)).toContain(ATTEMPTS_BY_EVENT_INDEX);
  });

  it('keeps the issue’s boundaries: register cannot send deliveries, deliver cannot read tenants, fan-out only reads them, ingest touches only the bus and the request counters, only fan-out sends to a DLQ', () => {
    expect(Object.keys(grants.register)).not.toContain('deliveryQueue');
    expect(Object.keys(grants.deliver)).not.toContain('tenants');
    expect(grants.fanout.tenants).toEqual(['dynamodb:GetItem']);
    expect(grants.ingest.tenants).toEqual(['dynamodb:UpdateItem']);
    expect(Object.keys(grants.ingest).sort()).toEqual(['bus', 'logs', 'tenants']);
    expect(Object.keys(grants.authorizer).sort()).toEqual(['logs', 'tenants']);
    // Only fan-out touches a DLQ, its own, and only to send a message that can never succeed; reading from
    // a DLQ and redriving run with an operator's rights.
    for (const name of FUNCTION_NAMES) {
      expect(
        Object.fromEntries(Object.entries(grants[name]).filter(([resource]) => resource.endsWith('Dlq'))),
        name,
      ).toEqual(name === 'fanout' ? { fanoutDlq: ['sqs:SendMessage'] } : {});
    }
  });

  it('grants the same whether or not policies are minimized (cdk.json minimizes them for deployments)', () => {
    expect(CDK_JSON_CONTEXT['@aws-cdk/aws-iam:minimizePolicies']).toBe(true);
    expect(grantsOf(synthesize({ '@aws-cdk/aws-iam:minimizePolicies': false }))).toEqual(grants);
  });
});

describe('Stack: outputs', () => {
  it('outputs the queue ARNs the redrive command takes', () => {
    const { stack, id } = synth;
    const outputs = Template.fromStack(stack).toJSON().Outputs as Record<string, { Value: unknown }>;
    expect({
      DeliveryDeadLetterQueueArn: outputs.DeliveryDeadLetterQueueArn?.Value,
      FanoutDeadLetterQueueArn: outputs.FanoutDeadLetterQueueArn?.Value,
      FanoutQueueArn: outputs.FanoutQueueArn?.Value,
    }).toEqual({
      DeliveryDeadLetterQueueArn: arnOf(id(stack.deliveryQueue.deadLetterQueue.queue)),
      FanoutDeadLetterQueueArn: arnOf(id(stack.fanoutQueue.deadLetterQueue.queue)),
      FanoutQueueArn: arnOf(id(stack.fanoutQueue.queue)),
    });
  });
});

describe('Stack: physical names', () => {
  const NAME_PROPERTY: Record<string, string> = {
    'AWS::DynamoDB::Table': 'TableName',
    'AWS::SQS::Queue': 'QueueName',
    'AWS::Lambda::Function': 'FunctionName',
    'AWS::SNS::Topic': 'TopicName',
    'AWS::Logs::LogGroup': 'LogGroupName',
    'AWS::IAM::Role': 'RoleName',
    'AWS::CloudWatch::Alarm': 'AlarmName',
    'AWS::Events::Rule': 'Name',
  };

  it('leaves every name to CloudFormation', () => {
    for (const [type, property] of Object.entries(NAME_PROPERTY)) {
      for (const [id, resource] of ofType(synth.resources, type)) {
        expect(resource[property], `${property} of ${id}`).toBeUndefined();
      }
    }
  });

  it('names the event bus with the id CDK generates (the property is required)', () => {
    const bus = synth.stack.ingestion.bus;
    expect(props(synth.resources, synth.id(bus)).Name).toBe(Names.uniqueId(bus));
  });
});
