import type { LocalResourceNames } from '../local/emulators/provision.js';
import { CommandError, UsageError } from './command-line.js';

/**
 * `--local`: the operator commands ask the running local mode (`npm start`, on 127.0.0.1 and PORT, 3000 by
 * default, as it reads PORT itself) for its endpoints and resource names, so nothing has to be copied from
 * the banner.
 */
async function localModeResources(
  env: Record<string, string | undefined> = process.env,
): Promise<LocalResourceNames> {
  const url = `http://127.0.0.1:${env.PORT || 3000}/_local/status`;
  const hint = 'start it with npm start, or set PORT to the port it prints';
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new CommandError(`local mode is not running at ${url} (${cause}): ${hint}`);
  }
  const body = (await response.json().catch(() => undefined)) as
    | { resources?: LocalResourceNames }
    | undefined;
  if (!response.ok || !body?.resources) {
    throw new CommandError(`${url} answered ${response.status} without local mode's resources: ${hint}`);
  }
  return body.resources;
}

/** Local mode's resources when the command line says --local (which finds the endpoint itself). */
export async function localModeOf(
  values: { local?: boolean; endpoint?: string },
  env?: Record<string, string | undefined>,
): Promise<LocalResourceNames | undefined> {
  if (!values.local) return undefined;
  if (values.endpoint) throw new UsageError('--local finds the endpoint itself: drop --endpoint');
  return await localModeResources(env);
}
