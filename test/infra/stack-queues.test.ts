import { beforeAll, describe, expect, it } from 'vitest';
import { type ServiceDefinition, serviceDefinition } from '../../lib/definitions.js';
import {
  actionsOf,
  arnOf,
  isTlsOnlyDenial,
  ofType,
  props,
  queuePolicyStatements,
  ref,
  referencedIds,
  type Statement,
  type Synthesized,
  synthesize,
} from '../support/template.js';

/** The stack's queues, the alarms on their dead letters, and the event bus rule that feeds the fan-out queue. */

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
      const { consumer, batchSize, maxBatchingWindowSeconds, maxConcurrency } = def.queues[name];
      const mapping = mappings.find((candidate) => candidate.EventSourceArn['Fn::GetAtt'][0] === queueId);
      expect(mapping, `event source mapping for the ${name} queue`).toEqual({
        EventSourceArn: arnOf(queueId),
        FunctionName: ref(synth.id(synth.stack.functions[consumer])),
        BatchSize: batchSize,
        MaximumBatchingWindowInSeconds: maxBatchingWindowSeconds,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: maxConcurrency },
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
