import { en } from 'zod/locales';
import type * as z from 'zod/mini';

/**
 * Every schema is zod/mini (a fraction of the classic API's bytes in each bundle), which loads no locale: its
 * built-in messages would all read "Invalid input". Each parse passes the English messages the classic API
 * uses, per call rather than through `z.config`, so no import-time side effect has to survive tree shaking.
 */
const englishMessages = en().localeError;

export function safeParse<T extends z.ZodMiniType>(schema: T, input: unknown) {
  return schema.safeParse(input, { error: englishMessages });
}

/** A parse's issues in one line, each naming its field ("url: …; eventTypes[0]: …"), the first five only. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], where: string): string {
  return issues
    .slice(0, 5)
    .map((issue) => `${fieldName(where, issue.path)}: ${issue.message}`)
    .join('; ');
}

function fieldName(where: string, path: readonly PropertyKey[]): string {
  if (path.length === 0) return where;
  return path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`))
    .join('');
}
