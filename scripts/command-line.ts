import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';

/**
 * What every operator command (create-tenant, tenant-keys, redrive) shares: strict parsing of its options with
 * node's util.parseArgs, the answer to a bad command line (one line, the problem and the usage, exit code 2),
 * the answer to a failure (one line, exit code 1, never a stack trace), and the AWS client settings for
 * --region/--endpoint.
 */
export interface CommandIo {
  log: (line: string) => void;
  error: (line: string) => void;
}

export interface CommandSpec<Options extends ParseArgsOptionsConfig> {
  /** One line, `usage: npm run …`, printed after every bad command line. */
  usage: string;
  /** The whole help, printed by --help; the usage line when absent. */
  help?: string;
  options: Options;
  /** How many positional arguments the command takes (a subcommand); none by default. */
  positionals?: number;
}

/** A bad command line. Its message names the problem; the usage line is added when it is printed. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Stops the command with exit code `exitCode` and the message on one line, without the usage. */
export class CommandError extends Error {
  override name = 'CommandError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

const HELP = { help: { type: 'boolean', short: 'h' } } as const;

/** The parsed values, typed by the options (none of them `multiple`). */
export type OptionValues<Options extends ParseArgsOptionsConfig> = {
  [Name in keyof Options]?: Options[Name]['type'] extends 'boolean' ? boolean : string;
} & { help?: boolean };

export interface CommandLine<Options extends ParseArgsOptionsConfig> {
  values: OptionValues<Options>;
  positionals: string[];
}

function parseCommandLine<Options extends ParseArgsOptionsConfig>(
  spec: CommandSpec<Options>,
  argv: readonly string[],
): CommandLine<Options> {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { ...spec.options, ...HELP },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    // parseArgs goes on to explain how to pass a value starting with "-"; its first sentence is the problem,
    // lower-cased like the commands' own messages.
    const problem = (error as Error).message.split('. ')[0] || 'bad command line';
    throw new UsageError(problem.charAt(0).toLowerCase() + problem.slice(1));
  }
  const extra = parsed.positionals.slice(spec.positionals ?? 0);
  if (!parsed.values.help && extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  return { values: parsed.values as OptionValues<Options>, positionals: parsed.positionals };
}

/** Throws a UsageError naming every option of `names` that has no value. */
export function requireOptions(values: Record<string, unknown>, names: readonly string[]): void {
  const missing = names.filter((name) => values[name] === undefined || values[name] === '');
  if (missing.length > 0) throw new UsageError(`missing ${missing.map((name) => `--${name}`).join(', ')}`);
}

/**
 * Runs a command's body: --help prints the help (exit 0); a UsageError prints the problem and the usage on one
 * line (exit 2); any other error prints one line (exit 1, or a CommandError's code). Returns the exit code.
 */
export async function runCommand<Options extends ParseArgsOptionsConfig>(
  spec: CommandSpec<Options>,
  argv: readonly string[],
  io: CommandIo,
  body: (commandLine: CommandLine<Options>) => Promise<number | undefined>,
): Promise<number> {
  try {
    const parsed = parseCommandLine(spec, argv);
    if (parsed.values.help) {
      io.log(spec.help ?? spec.usage);
      return 0;
    }
    return (await body(parsed)) ?? 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.error(`${error.message}. ${spec.usage}`);
      return 2;
    }
    io.error(describeFailure(error));
    return error instanceof CommandError ? error.exitCode : 1;
  }
}

/** One line for a failed command, with what to do about the usual causes. */
export function describeFailure(error: unknown): string {
  const { name, message } = error instanceof Error ? error : new Error(String(error));
  const text = message.replace(/\s+/g, ' ').trim();
  if (name === 'CredentialsProviderError') {
    return `no AWS credentials (${text}): set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add --local for local mode`;
  }
  if (text === 'Region is missing')
    return 'no AWS region: set AWS_REGION (or use a profile with a region) or pass --region';
  if ((error as { code?: unknown }).code === 'ECONNREFUSED')
    return `${text}: is the endpoint right, and running?`;
  // An error AWS answered with: its name is its code (ResourceNotFoundException, AccessDeniedException, ...).
  return (error as { $metadata?: unknown }).$metadata ? `${name}: ${text}` : text;
}

/**
 * The AWS client settings for --region and --endpoint: the default credential chain and region on AWS;
 * placeholder credentials for a local engine (local mode's DynamoDB or SQS), which does not check them.
 */
export function awsClientConfig(region: string | undefined, endpoint: string | undefined) {
  if (!endpoint) return region ? { region } : {};
  return {
    endpoint,
    region: region ?? 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  };
}
