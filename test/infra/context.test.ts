import { App } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_TENANT_REQUESTS_PER_SECOND } from '../../lambdas/contract/limits.js';
import { environmentVariable, type FunctionName } from '../../lambdas/contract/settings.js';
import {
  attemptLogFromContext,
  autoDisableAfterSecondsFromContext,
  ContextError,
  dataKeyFromContext,
  positiveIntegerFromContext,
  readStackContext,
  retryScheduleFromContext,
  stackPropsFromContext,
  tenantRequestsPerSecondFromContext,
} from '../../lib/context.js';
import { FUNCTION_NAMES, ofType, props, ref, type Synthesized, synthesize } from '../support/template.js';

const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

describe('Stack: bad context', () => {
  const values = {
    retrySchedule: '0,soon',
    attemptLog: 'verbose',
    tenantRequestsPerSecond: '2000',
    alarmEmail: 'oncall',
    kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:alias/fanout',
  };

  it('names every bad value in one error, each with what it accepts', () => {
    let error: unknown;
    try {
      readStackContext((key) => values[key as keyof typeof values]);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ContextError);
    const { problems, message } = error as ContextError;
    expect(problems.map((problem) => /^context "(\w+)"/.exec(problem)?.[1])).toEqual([
      'retrySchedule',
      'attemptLog',
      'tenantRequestsPerSecond',
      'alarmEmail',
      'kmsKeyArn',
    ]);
    expect(message).toBe(
      `Invalid CDK context (-c key=value or cdk.json):\n${problems.map((problem) => `  - ${problem}`).join('\n')}`,
    );
  });

  it('stops the synth with that error', () => {
    expect(() => synthesize(values)).toThrow(ContextError);
  });
});

describe('Stack: context', () => {
  let custom: Synthesized;

  beforeAll(() => {
    custom = synthesize({
      retrySchedule: '0,1,2',
      attemptLog: 'failures',
      autoDisableAfterHours: '2',
      alarmEmail: 'ops@example.com',
      maxSubscriptionsPerTenant: '25',
      tenantRequestsPerSecond: 7,
    });
  });

  it('passes maxSubscriptionsPerTenant and tenantRequestsPerSecond from context to the functions that read them', () => {
    const { stack, id, resources } = custom;
    const variables = (name: FunctionName) =>
      props(resources, id(stack.functions[name])).Environment.Variables;
    const max = environmentVariable('maxSubscriptionsPerTenant');
    const rate = environmentVariable('tenantRequestsPerSecond');
    expect(variables('api')).toMatchObject({ [max]: '25', [rate]: '7' });
    expect(variables('ingest')).toMatchObject({ [rate]: '7' });
    expect(Object.keys(variables('ingest'))).not.toContain(max);
    for (const name of ['authorizer', 'fanout', 'deliver'] as const) {
      expect(Object.keys(variables(name)), name).not.toEqual(expect.arrayContaining([max]));
      expect(Object.keys(variables(name)), name).not.toEqual(expect.arrayContaining([rate]));
    }
  });

  it('reads maxSubscriptionsPerTenant and tenantRequestsPerSecond as positive whole numbers', () => {
    expect(positiveIntegerFromContext('maxSubscriptionsPerTenant', ' 500 ', 10_000)).toBe(500);
    expect(positiveIntegerFromContext('maxSubscriptionsPerTenant', 500, 10_000)).toBe(500);
    expect(positiveIntegerFromContext('maxSubscriptionsPerTenant', undefined, 10_000)).toBeUndefined();
    for (const bad of ['0', '-5', '1.5', '1e3', 'many', '', 0, 2.5, Number.MAX_VALUE, [5]]) {
      expect(() => tenantRequestsPerSecondFromContext(bad), JSON.stringify(bad)).toThrow(
        `context "tenantRequestsPerSecond" must be a positive whole number (e.g. 50), got ${JSON.stringify(bad)}`,
      );
    }
    expect(() => synthesize({ maxSubscriptionsPerTenant: 'unlimited' })).toThrow(
      'context "maxSubscriptionsPerTenant" must be a positive whole number (e.g. 10000), got "unlimited"',
    );
    expect(() => synthesize({ tenantRequestsPerSecond: '0' })).toThrow(/context "tenantRequestsPerSecond"/);
  });

  it('bounds tenantRequestsPerSecond to what one counter item can take, and says why', () => {
    expect(tenantRequestsPerSecondFromContext('500')).toBe(MAX_TENANT_REQUESTS_PER_SECOND);
    for (const bad of ['501', 1_000, '100000']) {
      expect(() => tenantRequestsPerSecondFromContext(bad), String(bad)).toThrow(
        `context "tenantRequestsPerSecond" must be at most 500 (each request, refused or not, writes the tenant's counter for that second: one DynamoDB item, which takes at most 1,000 writes a second), got ${JSON.stringify(bad)}`,
      );
    }
    expect(() => synthesize({ tenantRequestsPerSecond: 1_000 })).toThrow(/at most 500/);
  });

  it('gives the delivery queue one receive per attempt of a retrySchedule from context', () => {
    const { stack, id, resources } = custom;
    expect(props(resources, id(stack.deliveryQueue.queue)).RedrivePolicy.maxReceiveCount).toBe(3);
  });

  it('passes the retrySchedule from context to the deliver function', () => {
    const { stack, id, resources } = custom;
    const variables = props(resources, id(stack.functions.deliver)).Environment.Variables;
    expect(variables[environmentVariable('retryScheduleSeconds')]).toBe('0,1,2');
  });

  it('passes attemptLog and autoDisableAfterHours from context to the deliver function only', () => {
    const { stack, id, resources } = custom;
    const variables = (name: FunctionName) =>
      props(resources, id(stack.functions[name])).Environment.Variables;
    expect(variables('deliver')).toMatchObject({
      [environmentVariable('attemptLog')]: 'failures',
      [environmentVariable('autoDisableAfterSeconds')]: '7200',
    });
    for (const name of FUNCTION_NAMES.filter((name) => name !== 'deliver')) {
      expect(Object.keys(variables(name)), name).not.toContain(environmentVariable('attemptLog'));
      expect(Object.keys(variables(name)), name).not.toContain(
        environmentVariable('autoDisableAfterSeconds'),
      );
    }
  });

  it('reads attemptLog as all, failures or off, and autoDisableAfterHours as hours from the CLI or cdk.json', () => {
    expect(attemptLogFromContext(' off ')).toBe('off');
    expect(attemptLogFromContext(undefined)).toBeUndefined();
    expect(autoDisableAfterSecondsFromContext('120')).toBe(432_000);
    expect(autoDisableAfterSecondsFromContext(0.5)).toBe(1_800);
    expect(autoDisableAfterSecondsFromContext(undefined)).toBeUndefined();
  });

  it('refuses a bad attemptLog or autoDisableAfterHours with a message naming the key and what it accepts', () => {
    expect(() => attemptLogFromContext('some')).toThrow(
      'context "attemptLog" must be one of all, failures, off, got "some"',
    );
    expect(() => attemptLogFromContext(true)).toThrow(/context "attemptLog" must be one of/);
    for (const bad of ['0', '-1', 'five days', '', 0.0001, [120]]) {
      expect(() => autoDisableAfterSecondsFromContext(bad), JSON.stringify(bad)).toThrow(
        /context "autoDisableAfterHours" must be a positive number of hours \(e\.g\. 120 for 5 days\)/,
      );
    }
    expect(() => synthesize({ attemptLog: 'verbose' })).toThrow(/context "attemptLog"/);
    expect(() => synthesize({ autoDisableAfterHours: 'never' })).toThrow(/context "autoDisableAfterHours"/);
  });

  it('reads the retrySchedule as comma-separated seconds, a JSON array string or an array', () => {
    expect(retryScheduleFromContext('0, 60,600')).toEqual([0, 60, 600]);
    expect(retryScheduleFromContext('[0, 60, 600]')).toEqual([0, 60, 600]);
    expect(retryScheduleFromContext([0, 60, 600])).toEqual([0, 60, 600]);
    expect(retryScheduleFromContext(undefined)).toBeUndefined();
  });

  it('refuses a malformed retrySchedule with a message naming the problem', () => {
    expect(() => retryScheduleFromContext('0,soon')).toThrow(/retry schedule/);
    expect(() => retryScheduleFromContext('[0, 1.5]')).toThrow(/retry schedule/);
    expect(() => retryScheduleFromContext({ delays: [0] })).toThrow(/retrySchedule/);
    // Each delay is allowed, but not the whole: reported as the context value's, not as a stack trace.
    expect(() => retryScheduleFromContext(Array(20).fill(36_000))).toThrow(
      'context "retrySchedule": the retry schedule, with jitter, must finish within 7 days',
    );
  });

  it('subscribes the alarmEmail address to the alarm topic', () => {
    const { stack, id, resources } = custom;
    const subscriptions = ofType(resources, 'AWS::SNS::Subscription').map(([, subscription]) => subscription);
    expect(subscriptions).toEqual([
      { Protocol: 'email', Endpoint: 'ops@example.com', TopicArn: ref(id(stack.alarms.topic)) },
    ]);
  });
});

describe('Stack: kmsKey and kmsKeyArn context', () => {
  const context = (values: Record<string, unknown>) => (key: string) => values[key];

  it('chooses AWS-managed keys, a new key or an existing one', () => {
    expect(dataKeyFromContext(context({}))).toEqual({ kind: 'aws-managed' });
    expect(dataKeyFromContext(context({ kmsKey: 'create' }))).toEqual({ kind: 'create' });
    expect(dataKeyFromContext(context({ kmsKeyArn: ` ${KEY_ARN} ` }))).toEqual({
      kind: 'existing',
      keyArn: KEY_ARN,
    });
    const multiRegion = 'arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab';
    expect(dataKeyFromContext(context({ kmsKeyArn: multiRegion }))).toEqual({
      kind: 'existing',
      keyArn: multiRegion,
    });
  });

  it('refuses anything else with a message naming the key and what it accepts', () => {
    expect(() => dataKeyFromContext(context({ kmsKey: 'true' }))).toThrow(
      'context "kmsKey" accepts only "create" (use "kmsKeyArn" for an existing key), got "true"',
    );
    expect(() => dataKeyFromContext(context({ kmsKey: 'create', kmsKeyArn: KEY_ARN }))).toThrow(
      'context "kmsKey" and "kmsKeyArn" cannot both be set',
    );
    for (const bad of ['1234abcd-12ab-34cd-56ef-1234567890ab', 'arn:aws:s3:::bucket', '', 42]) {
      expect(() => dataKeyFromContext(context({ kmsKeyArn: bad })), String(bad)).toThrow(
        `context "kmsKeyArn" must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>), got ${JSON.stringify(bad)}`,
      );
    }
    expect(() => synthesize({ kmsKey: 'yes' })).toThrow(/context "kmsKey" accepts only "create"/);
  });

  it('refuses an alias ARN, saying how to find the key’s own ARN', () => {
    const alias = 'arn:aws:kms:us-east-1:111122223333:alias/fanout';
    expect(() => dataKeyFromContext(context({ kmsKeyArn: alias }))).toThrow(
      `context "kmsKeyArn" must name a key, not an alias (a key policy belongs to the key, and IAM grants name it): give the ARN that \`aws kms describe-key --key-id ${alias} --query KeyMetadata.Arn\` prints`,
    );
  });

  it('refuses a key in another region or account than the stack’s, where the stack’s are known', () => {
    const here = { account: '111122223333', region: 'us-east-1' };
    expect(dataKeyFromContext(context({ kmsKeyArn: KEY_ARN }), here).kind).toBe('existing');
    expect(dataKeyFromContext(context({ kmsKeyArn: KEY_ARN }), {}).kind).toBe('existing');
    expect(() => dataKeyFromContext(context({ kmsKeyArn: KEY_ARN }), { region: 'eu-west-1' })).toThrow(
      'context "kmsKeyArn": the key is in us-east-1 but the stack deploys to eu-west-1; the event bus and the queues can only use a key in their own region, so use a key (or a multi-Region replica) in eu-west-1',
    );
    expect(() => dataKeyFromContext(context({ kmsKeyArn: KEY_ARN }), { account: '444455556666' })).toThrow(
      'context "kmsKeyArn": the key belongs to account 111122223333 but the stack deploys to 444455556666; use a key of account 444455556666, whose key policy lets that account\'s IAM policies grant its use (README, Security)',
    );
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [], kmsKeyArn: KEY_ARN } });
    expect(() => stackPropsFromContext(app, { account: '444455556666', region: 'eu-west-1' })).toThrow(
      /the key is in us-east-1 but the stack deploys to eu-west-1/,
    );
  });
});
