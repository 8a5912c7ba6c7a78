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
