import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IConstruct } from 'constructs';
import { expect } from 'vitest';
import { FUNCTION_SETTINGS, type FunctionName } from '../../lambdas/contract/settings.js';
import { REPO_ROOT } from '../../lib/constructs/fanout-function.js';
import { stackPropsFromContext } from '../../lib/context.js';
import { FanoutStack } from '../../lib/fanout-stack.js';

/** Reading and naming the parts of a synthesized FanoutStack template, for the infra tests. */

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation properties are untyped JSON
export type Properties = Record<string, any>;
interface Resource {
  Type: string;
  Properties?: Properties;
  DeletionPolicy?: string;
}
export interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource?: unknown;
  Principal?: unknown;
  Condition?: Properties;
  Sid?: string;
}
export type Resources = Record<string, Resource>;

export const FUNCTION_NAMES = Object.keys(FUNCTION_SETTINGS) as FunctionName[];

/** The context of cdk.json (feature flags), which `cdk synth` and `cdk deploy` apply. */
export const CDK_JSON_CONTEXT: Record<string, unknown> = JSON.parse(
  readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8'),
).context;

export interface Synthesized {
  app: App;
  stack: FanoutStack;
  resources: Resources;
  /** The logical id of a construct's CloudFormation resource. */
  id: (construct: IConstruct) => string;
}

/**
 * Synthesizes the stack as `cdk synth` would (cdk.json's context, then `context`, read as bin/app.ts reads it),
 * without bundling the functions (the CLI synth test bundles them).
 */
export function synthesize(context: Record<string, unknown> = {}): Synthesized {
  const app = new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [], ...context } });
  return synthesized(app, new FanoutStack(app, 'WebhookFanout', stackPropsFromContext(app, {})));
}

/** The template of a stack built in `app`. */
export function synthesized(app: App, stack: FanoutStack): Synthesized {
  const resources = Template.fromStack(stack).toJSON().Resources as Resources;
  // Resolved rather than allocated (getLogicalId), so that an overridden id counts.
  const id = (construct: IConstruct) =>
    stack.resolve((construct.node.defaultChild as CfnElement).logicalId) as string;
  return { app, stack, resources, id };
}

export const ref = (id: string) => ({ Ref: id });
export const arnOf = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });

export function ofType(resources: Resources, type: string): [string, Properties][] {
  return Object.entries(resources)
    .filter(([, resource]) => resource.Type === type)
    .map(([id, resource]) => [id, resource.Properties ?? {}]);
}

export function props(resources: Resources, id: string): Properties {
  const resource = resources[id];
  if (!resource) throw new Error(`no resource ${id} in the template`);
  return resource.Properties ?? {};
}

export function keySchema(partitionKey: string, sortKey?: string) {
  return [
    { AttributeName: partitionKey, KeyType: 'HASH' },
    ...(sortKey ? [{ AttributeName: sortKey, KeyType: 'RANGE' }] : []),
  ];
}

export function actionsOf(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

/** Logical ids referenced (Ref or Fn::GetAtt) anywhere inside a value. */
export function referencedIds(value: unknown): Set<string> {
  const ids = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object') {
      for (const [key, child] of Object.entries(node)) {
        if (key === 'Ref' && typeof child === 'string') ids.add(child);
        else if (key === 'Fn::GetAtt' && Array.isArray(child)) ids.add(String(child[0]));
        else visit(child);
      }
    }
  };
  visit(value);
  return ids;
}

/** The function's role: its logical id and its properties. */
export function roleOf(resources: Resources, functionId: string): [string, Properties] {
  const [roleId] = props(resources, functionId).Role['Fn::GetAtt'];
  return [roleId, props(resources, roleId)];
}

/** Statements of every IAM policy attached to the function's role. */
function roleStatements(resources: Resources, functionId: string): Statement[] {
  const [roleId] = roleOf(resources, functionId);
  return ofType(resources, 'AWS::IAM::Policy')
    .filter(([, policy]) => referencedIds(policy.Roles).has(roleId))
    .flatMap(([, policy]) => policy.PolicyDocument.Statement as Statement[]);
}

/** Statements of the resource policies that apply to a queue. */
export function queuePolicyStatements(resources: Resources, queueId: string): Statement[] {
  return ofType(resources, 'AWS::SQS::QueuePolicy')
    .filter(([, policy]) => referencedIds(policy.Queues).has(queueId))
    .flatMap(([, policy]) => policy.PolicyDocument.Statement as Statement[]);
}

export function isTlsOnlyDenial(statement: Statement): boolean {
  return statement.Effect === 'Deny' && statement.Condition?.Bool?.['aws:SecureTransport'] === 'false';
}

/** Resource → actions, per function. */
export type Grants = Record<FunctionName, Record<string, string[]>>;

/**
 * What each function's role may do, as { resource: sorted actions }. Resources are named: tables, queues,
 * DLQs, the bus, `<table>/index/<index>`, `logs` (the function's own log group) and `dataKey` (the
 * customer-managed key, created or imported); anything else by its JSON, so that an unexpected grant shows in
 * a failure.
 */
export function grantsOf({ stack, id, resources }: Synthesized): Grants {
  const names = new Map<string, string>([
    [id(stack.storage.tenants), 'tenants'],
    [id(stack.storage.subscriptions), 'subscriptions'],
    [id(stack.storage.events), 'events'],
    [id(stack.storage.attempts), 'attempts'],
    [id(stack.fanoutQueue.queue), 'fanoutQueue'],
    [id(stack.fanoutQueue.deadLetterQueue.queue), 'fanoutDlq'],
    [id(stack.deliveryQueue.queue), 'deliveryQueue'],
    [id(stack.deliveryQueue.deadLetterQueue.queue), 'deliveryDlq'],
    [id(stack.ingestion.deadLetterQueue.queue), 'ruleDlq'],
    [id(stack.ingestion.bus), 'bus'],
  ]);
  const key = stack.dataKey;
  if (key instanceof Key) names.set(id(key), 'dataKey');
  const literals = new Map<string, string>(key && !(key instanceof Key) ? [[key.keyArn, 'dataKey']] : []);
  return Object.fromEntries(
    FUNCTION_NAMES.map((name) => {
      const fn = stack.functions[name];
      const own = new Map([...names, [id(fn.logGroup), 'logs']]);
      return [name, grantsByResource(roleStatements(resources, id(fn)), own, literals)];
    }),
  ) as Grants;
}

function grantsByResource(
  statements: Statement[],
  names: Map<string, string>,
  literals: Map<string, string>,
): Record<string, string[]> {
  const nameOf = (node: unknown): string | undefined => {
    if (typeof node === 'string') return literals.get(node);
    const getAtt = (node as Properties | undefined)?.['Fn::GetAtt'];
    return Array.isArray(getAtt) && getAtt[1] === 'Arn' ? names.get(String(getAtt[0])) : undefined;
  };
  const label = (resource: unknown): string => {
    const direct = nameOf(resource);
    if (direct) return direct;
    const [separator, parts] = (resource as Properties | undefined)?.['Fn::Join'] ?? [];
    if (separator === '' && Array.isArray(parts) && parts.length === 2 && typeof parts[1] === 'string') {
      const table = nameOf(parts[0]);
      if (table && parts[1].startsWith('/index/')) return `${table}${parts[1]}`;
    }
    return JSON.stringify(resource);
  };
  const grants: Record<string, Set<string>> = {};
  for (const statement of statements) {
    expect(statement.Effect).toBe('Allow');
    expect(statement.Condition, 'no conditional grants').toBeUndefined();
    const resources = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
    for (const resource of resources) {
      const key = label(resource);
      grants[key] = new Set([...(grants[key] ?? []), ...actionsOf(statement)]);
    }
  }
  return Object.fromEntries(
    Object.entries(grants).map(([resource, actions]) => [resource, [...actions].sort()]),
  );
}
