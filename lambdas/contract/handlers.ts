import type {
  APIGatewayProxyEventV2WithLambdaAuthorizer,
  APIGatewayProxyStructuredResultV2,
  Context,
  SQSBatchResponse,
  SQSEvent,
} from 'aws-lambda';

/**
 * The shapes the platform calls the functions with: API Gateway on AWS, local mode's gateway and event source
 * mapping on one machine. Types only.
 */

/** What the authorizer passes on: the caller's tenant, or why there is none. */
export interface AuthorizerContext {
  tenantId?: string;
  authError?: 'missing_api_key' | 'invalid_api_key';
}

export type ApiEvent = APIGatewayProxyEventV2WithLambdaAuthorizer<AuthorizerContext>;
export type ApiResponse = APIGatewayProxyStructuredResultV2;

/** An SQS-triggered handler that reports partial batch failures. */
export type QueueHandler = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;
