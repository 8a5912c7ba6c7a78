import { Names } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  API_ROUTES,
  DEFAULT_ROUTE_HANDLER,
  GATEWAY_ROUTES,
  routeKeyOf,
} from '../../lambdas/contract/api-routes.js';
import type { FunctionName } from '../../lambdas/contract/settings.js';
import {
  arnOf,
  ofType,
  type Properties,
  props,
  ref,
  referencedIds,
  type Synthesized,
  synthesize,
} from '../support/template.js';

/**
 * What the stack shows the outside: the HTTP API (routes, authorizer, integrations, stage), the outputs the
 * tools take, and resource names left to CloudFormation.
 */

/** The stack with default context, synthesized once for the whole file. */
let synth: Synthesized;

beforeAll(() => {
  synth = synthesize();
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
