import { App, Duration } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { environmentVariable } from '../../lambdas/contract/settings.js';
import { FanoutStack, type FanoutStackProps } from '../../lib/fanout-stack.js';
import { ofType, props, ref, synthesized } from '../support/template.js';

/** A stack built from props in an app with none of the stack's context (only the switch that skips bundling). */
function build(stackProps: FanoutStackProps) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return synthesized(app, new FanoutStack(app, 'Test', stackProps));
}

describe('Stack: built from props alone', () => {
  const { stack, id, resources } = build({
    retrySchedule: [0, 30, 600].map((seconds) => Duration.seconds(seconds)),
    attemptLog: 'failures',
    autoDisableAfter: Duration.hours(2),
    maxSubscriptionsPerTenant: 25,
    tenantRequestsPerSecond: 7,
    alarmEmail: 'ops@example.com',
    dataKey: { kind: 'create' },
  });
  const variables = (name: keyof typeof stack.functions) =>
    props(resources, id(stack.functions[name])).Environment.Variables;

  it('passes the settings from props to the functions that read them', () => {
    expect(variables('deliver')).toMatchObject({
      [environmentVariable('retryScheduleSeconds')]: '0,30,600',
      [environmentVariable('attemptLog')]: 'failures',
      [environmentVariable('autoDisableAfterSeconds')]: '7200',
    });
    expect(variables('api')).toMatchObject({
      [environmentVariable('maxSubscriptionsPerTenant')]: '25',
      [environmentVariable('tenantRequestsPerSecond')]: '7',
    });
  });

  it('gives the delivery queue one receive per attempt of the retrySchedule prop', () => {
    expect(props(resources, id(stack.deliveryQueue.queue)).RedrivePolicy.maxReceiveCount).toBe(3);
  });

  it('subscribes the alarmEmail prop and creates the data key the dataKey prop asks for', () => {
    expect(ofType(resources, 'AWS::SNS::Subscription').map(([, subscription]) => subscription)).toEqual([
      { Protocol: 'email', Endpoint: 'ops@example.com', TopicArn: ref(id(stack.alarms.topic)) },
    ]);
    expect(stack.dataKey).toBeDefined();
    expect(props(resources, id(stack.storage.tenants)).SSESpecification.KMSMasterKeyId).toBeDefined();
  });

  it('refuses a tenant request rate that the counter cannot enforce', () => {
    expect(() => build({ tenantRequestsPerSecond: 501 })).toThrow(
      'tenantRequestsPerSecond must be at most 500 (each request',
    );
  });
});

describe('Stack: defaults without props', () => {
  it('uses the defaults and AWS-managed keys, whatever the context says (bin/app.ts reads it)', () => {
    const app = new App({
      context: { 'aws:cdk:bundling-stacks': [], kmsKey: 'create', alarmEmail: 'ops@example.com' },
    });
    const { stack, resources } = synthesized(app, new FanoutStack(app, 'Test'));
    expect(stack.dataKey).toBeUndefined();
    expect(ofType(resources, 'AWS::SNS::Subscription')).toEqual([]);
  });
});
