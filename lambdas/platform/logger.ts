import { Logger } from '@aws-lambda-powertools/logger';

/** One structured logger. Nothing secret is ever passed to it: no signing secrets, API keys or payloads. */
export const logger = new Logger({ serviceName: 'webhook-fanout' });
