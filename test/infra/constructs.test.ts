import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { FanoutFunction } from '../../lib/constructs/fanout-function.js';
import { SecureQueue } from '../../lib/constructs/secure-queue.js';
import { Storage } from '../../lib/constructs/storage.js';
import { serviceDefinition, serviceSettings } from '../../lib/definitions.js';
import { ofType, type Resources } from '../support/template.js';

const def = serviceDefinition();

/** A bare stack (functions are not bundled), and its template once `build` has added constructs to it. */
function inStack(build: (stack: Stack) => void): { stack: Stack; resources: Resources } {
  const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test');
  build(stack);
  return { stack, resources: Template.fromStack(stack).toJSON().Resources as Resources };
}

const deletionPolicies = (resources: Resources, type: string) =>
  Object.values(resources)
    .filter((resource) => resource.Type === type)
    .map((resource) => resource.DeletionPolicy);

describe('Constructs: FanoutFunction', () => {
  it('creates its role and log group inside itself, nothing beside it in the caller’s scope', () => {
    const settings = serviceSettings(def, {
      tenantsTable: 'tenants',
      subscriptionsTable: 'subscriptions',
      eventsTable: 'events',
      attemptsTable: 'attempts',
      eventBusName: 'bus',
      fanoutQueueUrl: 'https://sqs.example/fanout',
      deliveryQueueUrl: 'https://sqs.example/delivery',
      fanoutDeadLetterQueueUrl: 'https://sqs.example/fanout-dlq',
      deliveryDeadLetterQueueUrl: 'https://sqs.example/delivery-dlq',
    });
    const { resources } = inStack((scope) => {
      new FanoutFunction(scope, 'Fn', { name: 'ingest', definition: def.functions.ingest, settings });
      expect(scope.node.children.map((child) => child.node.id)).toEqual(['Fn']);
    });
    expect(ofType(resources, 'AWS::Logs::LogGroup')).toHaveLength(1);
    expect(ofType(resources, 'AWS::IAM::Role')).toHaveLength(1);
  });
});

describe('Constructs: removal policies of the stateful ones', () => {
  it('keeps tenants and subscriptions and destroys events and attempts by default, or as the props say', () => {
    const byDefault = inStack((scope) => new Storage(scope, 'Storage', { tables: def.tables }));
    expect(deletionPolicies(byDefault.resources, 'AWS::DynamoDB::Table').sort()).toEqual([
      'Delete',
      'Delete',
      'Retain',
      'Retain',
    ]);
    const retained = inStack(
      (scope) =>
        new Storage(scope, 'Storage', {
          tables: def.tables,
          removalPolicies: { events: RemovalPolicy.RETAIN, attempts: RemovalPolicy.RETAIN },
        }),
    );
    expect(deletionPolicies(retained.resources, 'AWS::DynamoDB::Table')).toEqual(Array(4).fill('Retain'));
  });

  it('destroys a queue and its DLQ by default, or applies the removalPolicy prop to both', () => {
    const queue = (removalPolicy?: RemovalPolicy) =>
      inStack((scope) => {
        new SecureQueue(scope, 'Queue', {
          visibilityTimeout: Duration.minutes(1),
          retentionPeriod: Duration.days(4),
          maxReceiveCount: 5,
          maxMessageSizeBytes: def.maxMessageSizeBytes,
          deadLetterRetentionPeriod: Duration.days(14),
          alarmThreshold: 0,
          alarmPeriod: Duration.minutes(1),
          alarmTopic: new Topic(scope, 'Topic'),
          ...(removalPolicy ? { removalPolicy } : {}),
        });
      }).resources;
    expect(deletionPolicies(queue(), 'AWS::SQS::Queue')).toEqual(['Delete', 'Delete']);
    expect(deletionPolicies(queue(RemovalPolicy.RETAIN), 'AWS::SQS::Queue')).toEqual(['Retain', 'Retain']);
  });
});
