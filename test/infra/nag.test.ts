import { App, CfnResource, Validations } from 'aws-cdk-lib';
import { ManagedPolicy } from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks, NagRuleCompliance, type NagRuleResult, rules } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { FanoutStack } from '../../lib/fanout-stack.js';
import { CDK_JSON_CONTEXT, synthesize } from '../support/template.js';

const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

/**
 * Every finding the stack accepts, by rule id and construct path (below the stack). Anything new that the
 * AwsSolutions checks find must be fixed, or acknowledged in lib/nag-acknowledgements.ts and listed here.
 */
const ACKNOWLEDGED = {
  'AwsSolutions-DDB3': ['Storage/Attempts', 'Storage/Events'],
  'AwsSolutions-SQS3': ['Ingestion/RuleDeadLetterQueue/Queue'],
};

/** The cdk-nag rule behind each acknowledged id, to show that it still fires where it is acknowledged. */
const RULES: Record<keyof typeof ACKNOWLEDGED, (node: CfnResource) => NagRuleResult> = {
  'AwsSolutions-DDB3': rules.dynamodb.DynamoDBPITREnabled,
  'AwsSolutions-SQS3': rules.sqs.SQSQueueDLQ,
};

interface Acknowledgement {
  id: string;
  path: string;
  reason: string;
  construct: IConstruct;
}

/** The acknowledgements recorded on the stack's constructs (the metadata cdk-nag reads). */
function acknowledgementsOf(stack: FanoutStack): Acknowledgement[] {
  return stack.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([qualifiedId, reason]) => ({
          id: qualifiedId.replace(/^annotation::/i, ''),
          path: construct.node.path.slice(stack.node.path.length + 1),
          reason,
          construct,
        })),
      ),
  );
}

function byRule(acknowledgements: Acknowledgement[]): Record<string, string[]> {
  const grouped: Record<string, string[]> = {};
  for (const { id, path } of acknowledgements) grouped[id] = [...(grouped[id] ?? []), path].sort();
  return grouped;
}

describe.each([
  { label: 'AWS-managed keys', context: {} },
  { label: 'a key the stack creates', context: { kmsKey: 'create' } },
  { label: 'an existing key', context: { kmsKeyArn: KEY_ARN } },
  {
    label: 'every setting from context',
    context: { retrySchedule: '0,1', attemptLog: 'off', alarmEmail: 'a@b.co' },
  },
])('Stack: cdk-nag AwsSolutions checks ($label)', ({ context }) => {
  it('reports no unacknowledged error or warning', () => {
    const { app } = synthesize(context);
    const report = new AwsSolutionsChecks(app).validateScope(app);
    const findings = report.violations.map(
      (violation) =>
        `${violation.severity} ${violation.ruleName} on ${violation.violatingResources
          .map((resource) => resource.constructPath)
          .join(', ')}: ${violation.description}`,
    );
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });
});

describe('Stack: cdk-nag acknowledgements', () => {
  const { stack } = synthesize();
  const acknowledgements = acknowledgementsOf(stack);

  it('acknowledges exactly the listed findings, each on its own construct', () => {
    expect(byRule(acknowledgements)).toEqual(ACKNOWLEDGED);
  });

  it('gives every acknowledgement a reason of its own that says why it is acceptable here', () => {
    const reasons = acknowledgements.map(({ reason }) => reason);
    expect(new Set(reasons).size).toBe(reasons.length);
    for (const { id, path, reason } of acknowledgements) {
      expect(reason.length, `${id} on ${path}`).toBeGreaterThanOrEqual(80);
      expect(reason, `${id} on ${path}`).not.toMatch(/\b(todo|tbd|n\/a|suppress(ed)?|ignore(d)?)\b/i);
    }
  });

  it('acknowledges only findings that the rule still reports on that construct', () => {
    for (const { id, path, construct } of acknowledgements) {
      const resources = construct.node.findAll().filter(CfnResource.isCfnResource);
      const rule = RULES[id as keyof typeof RULES];
      expect(rule, `a rule for ${id}`).toBeDefined();
      expect(
        resources.map((resource) => rule(resource)),
        `${id} on ${path}`,
      ).toContain(NagRuleCompliance.NON_COMPLIANT);
    }
  });

  it('stops synthesis on a new finding, as bin/app.ts registers the checks', () => {
    const app = new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
    const unchecked = new FanoutStack(app, 'WebhookFanout');
    // Bring the AWS-managed basic execution policy back on one role, as Lambda's default role would have it.
    unchecked.functions.ingest.role?.addManagedPolicy(
      ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaBasicExecutionRole'),
    );
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-IAM4/);
  });

  it('lets a compliant stack synthesize with the checks registered', () => {
    const app = new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
    new FanoutStack(app, 'WebhookFanout');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });
});
