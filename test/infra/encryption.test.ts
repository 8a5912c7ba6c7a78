import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import type { Key } from 'aws-cdk-lib/aws-kms';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../lib/constructs/fanout-function.js';
import {
  actionsOf,
  arnOf,
  FUNCTION_NAMES,
  type Grants,
  grantsOf,
  ofType,
  type Properties,
  props,
  queuePolicyStatements,
  type Statement,
  type Synthesized,
  synthesize,
} from '../support/template.js';

const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

/** Everything but the data key: the grants a customer-managed key must not change. */
function withoutDataKey(grants: Grants): Grants {
  return Object.fromEntries(
    Object.entries(grants).map(([name, byResource]) => [
      name,
      Object.fromEntries(Object.entries(byResource).filter(([resource]) => resource !== 'dataKey')),
    ]),
  ) as Grants;
}

function keyPolicy(synth: Synthesized): Statement[] {
  const key = synth.stack.dataKey;
  if (!key) throw new Error('no data key');
  return props(synth.resources, synth.id(key)).KeyPolicy.Statement;
}

let aws: Synthesized;
let awsGrants: Grants;

beforeAll(() => {
  aws = synthesize();
  awsGrants = grantsOf(aws);
});

describe('Stack: encryption at rest with AWS-managed keys (the default)', () => {
  it('encrypts tables with the AWS-managed DynamoDB key, queues with SQS-managed keys, the bus with EventBridge’s', () => {
    for (const [id, table] of ofType(aws.resources, 'AWS::DynamoDB::Table')) {
      expect(table.SSESpecification, id).toEqual({ SSEEnabled: true });
    }
    for (const [id, queue] of ofType(aws.resources, 'AWS::SQS::Queue')) {
      expect(queue, id).toMatchObject({ SqsManagedSseEnabled: true });
      expect(queue.KmsMasterKeyId, id).toBeUndefined();
    }
    expect(props(aws.resources, aws.id(aws.stack.ingestion.bus)).KmsKeyIdentifier).toBeUndefined();
  });

  it('creates no key but the alarm topic’s, and grants no function any key', () => {
    expect(aws.stack.dataKey).toBeUndefined();
    expect(ofType(aws.resources, 'AWS::KMS::Key').map(([id]) => id)).toEqual([aws.id(aws.stack.alarms.key)]);
    for (const name of FUNCTION_NAMES) {
      const actions = Object.values(awsGrants[name]).flat();
      expect(
        actions.filter((action) => action.startsWith('kms:')),
        name,
      ).toEqual([]);
    }
  });
});

describe.each([
  { label: 'a key the stack creates (kmsKey=create)', context: { kmsKey: 'create' } },
  { label: 'an existing key (kmsKeyArn)', context: { kmsKeyArn: KEY_ARN } },
])('Stack: encryption at rest with $label', ({ context }) => {
  let synth: Synthesized;
  let grants: Grants;
  let keyArn: unknown;

  beforeAll(() => {
    synth = synthesize(context);
    grants = grantsOf(synth);
    const key = synth.stack.dataKey;
    keyArn = context.kmsKeyArn ?? (key && arnOf(synth.id(key)));
  });

  it('encrypts every table with the key', () => {
    const tables = ofType(synth.resources, 'AWS::DynamoDB::Table');
    expect(tables).toHaveLength(4);
    for (const [id, table] of tables) {
      expect(table.SSESpecification, id).toEqual({
        SSEEnabled: true,
        SSEType: 'KMS',
        KMSMasterKeyId: keyArn,
      });
    }
  });

  it('encrypts every queue, dead-letter queues included, and the bus with the key', () => {
    const queues = ofType(synth.resources, 'AWS::SQS::Queue');
    expect(queues).toHaveLength(5);
    for (const [id, queue] of queues) {
      expect(queue.KmsMasterKeyId, id).toEqual(keyArn);
      expect(queue.SqsManagedSseEnabled, id).toBeUndefined();
    }
    expect(props(synth.resources, synth.id(synth.stack.ingestion.bus)).KmsKeyIdentifier).toEqual(keyArn);
  });

  it('lets each function use the key only as its calls need: the authorizer decrypts, the others also store', () => {
    expect(grants.authorizer.dataKey).toEqual(['kms:Decrypt']);
    for (const name of ['api', 'ingest', 'fanout', 'deliver'] as const) {
      expect(grants[name].dataKey, name).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    }
  });

  it('grants nothing else than with AWS-managed keys', () => {
    expect(withoutDataKey(grants)).toEqual(awsGrants);
  });

  it('lets EventBridge send to the fan-out queue only on behalf of the tenant events rule', () => {
    const { stack, id } = synth;
    const statements = queuePolicyStatements(synth.resources, id(stack.fanoutQueue.queue));
    expect(statements.find((statement) => statement.Sid === 'DenyEventBridgeExceptTenantEventsRule')).toEqual(
      {
        Sid: 'DenyEventBridgeExceptTenantEventsRule',
        Effect: 'Deny',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: arnOf(id(stack.fanoutQueue.queue)),
        Condition: { ArnNotEquals: { 'aws:SourceArn': arnOf(id(stack.ingestion.rule)) } },
      },
    );
  });

  it('outputs the key ARN that operators need to redrive dead letters', () => {
    const outputs = Template.fromStack(synth.stack).toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.DataKeyArn?.Value).toEqual(keyArn);
  });
});

describe('Stack: the customer-managed key kmsKey=create makes', () => {
  let synth: Synthesized;
  let statements: Statement[];

  beforeAll(() => {
    synth = synthesize({ kmsKey: 'create' });
    statements = keyPolicy(synth);
  });

  it('rotates yearly and outlives the stack, like the tables it keeps readable', () => {
    const key = synth.stack.dataKey;
    if (!key) throw new Error('no data key');
    const id = synth.id(key);
    expect(props(synth.resources, id).EnableKeyRotation).toBe(true);
    expect(synth.resources[id]?.DeletionPolicy).toBe('Retain');
    expect(ofType(synth.resources, 'AWS::KMS::Key')).toHaveLength(2);
  });

  it('lets EventBridge use it only for this account, and for the bus only with the bus’s encryption context', () => {
    const forEventBridge = statements.filter(
      (statement) => (statement.Principal as Properties | undefined)?.Service === 'events.amazonaws.com',
    );
    expect(forEventBridge.length).toBeGreaterThan(0);
    for (const statement of forEventBridge) {
      expect(statement.Effect).toBe('Allow');
      expect(statement.Condition?.StringEquals?.['aws:SourceAccount']).toEqual({ Ref: 'AWS::AccountId' });
    }
    const forBus = forEventBridge.find(
      (statement) => statement.Condition?.StringEquals?.['kms:EncryptionContext:aws:events:event-bus:arn'],
    );
    expect(actionsOf(forBus as Statement)).toEqual(
      expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey']),
    );
  });

  it('allows no other service, and IAM in this account only through its root', () => {
    for (const statement of statements) {
      const principal = statement.Principal as Properties;
      if (principal.Service !== undefined) expect(principal.Service).toBe('events.amazonaws.com');
      else expect(JSON.stringify(principal.AWS)).toContain(':root');
    }
  });
});

/** The key policy README.md (Security) asks of a kmsKeyArn key: the JSON block after its marker comment. */
function documentedKeyPolicy(): { Version: string; Statement: Statement[] } {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const block = /<!-- kms-key-policy:[^>]*-->\s*```json\n([\s\S]*?)```/.exec(readme)?.[1];
  if (block === undefined) throw new Error('README.md has no kms-key-policy JSON block');
  return JSON.parse(block);
}

/** A template value with the stack's account, region and partition as the README's placeholders. */
function withPlaceholders(value: unknown): unknown {
  const pseudo: Record<string, string> = {
    'AWS::AccountId': '<account>',
    'AWS::Region': '<region>',
    'AWS::Partition': 'aws',
  };
  if (typeof value === 'string' || value === undefined) return value;
  if (Array.isArray(value)) return value.map(withPlaceholders);
  const node = value as Properties;
  if (typeof node.Ref === 'string') {
    const placeholder = pseudo[node.Ref];
    if (placeholder === undefined) throw new Error(`the key policy refers to ${node.Ref}: document it`);
    return placeholder;
  }
  const join = node['Fn::Join'];
  if (Array.isArray(join)) return (join[1] as unknown[]).map(withPlaceholders).join(join[0]);
  return Object.fromEntries(Object.entries(node).map(([key, child]) => [key, withPlaceholders(child)]));
}

describe('Stack: the key policy a kmsKeyArn key must have', () => {
  it('is documented in the README as exactly what kmsKey=create gives the stack’s own key', () => {
    const synth = synthesize({ kmsKey: 'create' });
    const created = props(synth.resources, synth.id(synth.stack.dataKey as Key)).KeyPolicy;
    const { Version, Statement } = documentedKeyPolicy();
    expect({ Version, Statement: Statement.map(({ Sid, ...statement }) => statement) }).toEqual(
      withPlaceholders(created),
    );
  });

  it('needs nothing for CloudWatch: the alarm topic keeps its own key whatever the data key', () => {
    const synth = synthesize({ kmsKeyArn: KEY_ARN });
    const [[, topic]] = ofType(synth.resources, 'AWS::SNS::Topic') as [[string, Properties]];
    expect(topic.KmsMasterKeyId).toEqual(arnOf(synth.id(synth.stack.alarms.key)));
  });
});
