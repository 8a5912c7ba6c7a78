import type { Context } from 'aws-lambda';

/** Powertools wants the Lambda context when there is one, and no key at all when there is not. */
export function withContext(context: Context | undefined): { context?: Context } {
  return context ? { context } : {};
}
