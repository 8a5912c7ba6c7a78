import { Duration, Stack } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  HttpApi,
  HttpMethod,
  HttpRoute,
  HttpRouteKey,
  type HttpStage,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import {
  DEFAULT_ROUTE_HANDLER,
  GATEWAY_ROUTES,
  type GatewayRoute,
} from '../../lambdas/contract/api-routes.js';

type RouteHandlerName = GatewayRoute['handler'] | typeof DEFAULT_ROUTE_HANDLER;

export interface FanoutApiProps {
  /** Resolves the caller's API key; runs before every route. */
  readonly authorizer: IFunction;
  /** The function behind each handler named in API_ROUTES and DEFAULT_ROUTE_HANDLER. */
  readonly handlers: Readonly<Record<RouteHandlerName, IFunction>>;
  /**
   * Requests per second allowed to the whole API, sustained.
   * @default 1000
   */
  readonly throttleRateLimit?: number;
  /**
   * Requests allowed in a burst above the rate.
   * @default 2000
   */
  readonly throttleBurstLimit?: number;
  /**
   * How long access logs are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly accessLogRetention?: RetentionDays;
}

/** One JSON line per request, without headers or bodies (they may hold API keys or payloads). */
const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    requestTime: '$context.requestTime',
    sourceIp: '$context.identity.sourceIp',
    routeKey: '$context.routeKey',
    status: '$context.status',
    responseLength: '$context.responseLength',
    responseLatency: '$context.responseLatency',
    integrationLatency: '$context.integrationLatency',
    integrationError: '$context.integrationErrorMessage',
    authorizerError: '$context.authorizer.error',
    tenantId: '$context.authorizer.tenantId',
  }),
);

/**
 * The HTTP API: one route per entry of GATEWAY_ROUTES (API_ROUTES and a HEAD twin of each GET route) plus
 * `$default`, every one behind the Lambda authorizer.
 *
 * The authorizer has no identity source and no result cache. With an identity source, API Gateway would answer
 * a request without the header with its own 401 and never call the authorizer; the API promises a JSON 401
 * instead, so the authorizer runs on every request, always allows it, and tells the integration who the caller
 * is or why not (lambdas/security/authorizer.ts). API Gateway can only cache when an identity source exists, so the
 * authorizer function caches key lookups in memory itself (AUTH_CACHE_TTL_SECONDS).
 */
export class FanoutApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogGroup: LogGroup;

  constructor(scope: Construct, id: string, props: FanoutApiProps) {
    super(scope, id);
    const authorizer = new HttpLambdaAuthorizer('ApiKeyAuthorizer', props.authorizer, {
      responseTypes: [HttpLambdaResponseType.SIMPLE],
      identitySource: [],
      resultsCacheTtl: Duration.seconds(0),
    });
    const integrations = new Map<RouteHandlerName, HttpLambdaIntegration>();
    const integrationFor = (name: RouteHandlerName): HttpLambdaIntegration => {
      let integration = integrations.get(name);
      if (!integration) {
        integration = new HttpLambdaIntegration(`${capitalize(name)}Integration`, props.handlers[name]);
        integrations.set(name, integration);
      }
      return integration;
    };

    this.api = new HttpApi(this, 'Api', {
      // Not an identifier (API ids are generated); only what the console shows.
      apiName: `${Stack.of(this).stackName}-api`,
      description: 'Webhook fan-out API',
      createDefaultStage: false,
      defaultAuthorizer: authorizer,
      defaultIntegration: integrationFor(DEFAULT_ROUTE_HANDLER),
    });
    for (const route of GATEWAY_ROUTES) {
      new HttpRoute(this, routeId(route), {
        httpApi: this.api,
        routeKey: HttpRouteKey.with(route.path, HttpMethod[route.method]),
        integration: integrationFor(route.handler),
        authorizer,
      });
    }

    this.accessLogGroup = new LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? RetentionDays.ONE_MONTH,
    });
    // Created here rather than by HttpApi so that it can have throttling and access logs.
    this.stage = this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      // A ceiling for the whole API, well above one tenant's own limit (tenantRequestsPerSecond), so that one
      // busy tenant cannot use up every other tenant's share.
      // It also keeps the writes to one tenant's rate counter near what one DynamoDB item takes, which
      // MAX_TENANT_REQUESTS_PER_SECOND (rate-limit.ts) relies on: raised far, the counter would need shards.
      throttle: {
        rateLimit: props.throttleRateLimit ?? 1_000,
        burstLimit: props.throttleBurstLimit ?? 2_000,
      },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogGroup),
        format: ACCESS_LOG_FORMAT,
      },
    });
  }

  /** The API's base URL, ending with "/". */
  get url(): string {
    return this.stage.url;
  }
}

/** A stable construct id for a route, e.g. "GET /subscriptions/{id}" → "GetSubscriptionsIdRoute". */
function routeId(route: GatewayRoute): string {
  const words = [
    route.method.toLowerCase(),
    ...route.path.split('/').map((part) => part.replace(/[{}]/g, '')),
  ];
  return `${words.map(capitalize).join('')}Route`;
}

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
