import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, LoggingFormat, type RecursiveLoop, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { type CfnLogGroup, LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import {
  type Config,
  environmentVariable,
  FUNCTION_SETTINGS,
  type FunctionName,
  type SettingName,
} from '../../lambdas/contract/settings.js';
import type { FunctionDefinition } from '../definitions.js';

/** The functions that look up subscribers' host names (registration and delivery). */
const RESOLVES_SUBSCRIBER_HOSTS: ReadonlySet<FunctionName> = new Set(['api', 'deliver']);

/** The repository root: entries in the service definition are relative to it. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The bundle is ESM, but some dependencies are CommonJS and call `require`; esbuild's ESM output has no
 * `require`, so the banner provides one.
 */
export const CREATE_REQUIRE_BANNER =
  "import { createRequire as __fanoutCreateRequire } from 'node:module'; const require = __fanoutCreateRequire(import.meta.url);";

export interface FanoutFunctionProps {
  /** Which function this is: selects the settings it is given (FUNCTION_SETTINGS). */
  readonly name: FunctionName;
  /** Entry, description, timeout, memory and reserved concurrency. */
  readonly definition: FunctionDefinition;
  /**
   * The value of every setting a function may read. Only those in FUNCTION_SETTINGS[name] become
   * environment variables of this function.
   */
  readonly settings: Readonly<Config>;
  /**
   * How long the function's logs are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * The log group's logical id, for a stack that already has the group under another id: it is retained, so
   * a new id would leave the old group and its logs behind and start an empty one.
   * @default - the id CDK derives from the construct path
   */
  readonly logGroupLogicalId?: string;
  /**
   * What Lambda does when the function is invoked by the same chain of events more than 16 times.
   * @default RecursiveLoop.TERMINATE (Lambda's default)
   */
  readonly recursiveLoop?: RecursiveLoop;
}

/**
 * A service function: Node.js 24 on arm64, bundled by esbuild as minified ESM with source maps, JSON logs in
 * its own log group, and exactly the environment variables its code reads.
 *
 * Its role starts with nothing but writing to that log group: the AWS-managed AWSLambdaBasicExecutionRole that
 * Lambda would attach lets a function create log groups and write to every one in the account.
 *
 * The function is the child `Default`, which CDK leaves out of logical ids: it keeps the id it had when this
 * construct was the function itself. The log group and the role are children too, so nothing is created in
 * the caller's scope.
 */
export class FanoutFunction extends Construct {
  readonly function: NodejsFunction;
  readonly logGroup: LogGroup;
  readonly role: Role;

  constructor(scope: Construct, id: string, props: FanoutFunctionProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
    });
    if (props.logGroupLogicalId) {
      (this.logGroup.node.defaultChild as CfnLogGroup).overrideLogicalId(props.logGroupLogicalId);
    }
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs the ${props.name} function`,
    });
    // CreateLogStream and PutLogEvents on this group only.
    this.logGroup.grantWrite(this.role);
    this.function = new NodejsFunction(this, 'Default', {
      role: this.role,
      entry: join(REPO_ROOT, props.definition.entry),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      description: props.definition.description,
      timeout: Duration.seconds(props.definition.timeoutSeconds),
      memorySize: props.definition.memoryMb,
      loggingFormat: LoggingFormat.JSON,
      logGroup: this.logGroup,
      ...(props.recursiveLoop ? { recursiveLoop: props.recursiveLoop } : {}),
      ...(props.definition.reservedConcurrency !== undefined
        ? { reservedConcurrentExecutions: props.definition.reservedConcurrency }
        : {}),
      environment: {
        ...environmentFor(props.name, props.settings),
        // Not a service setting: makes Node translate stack traces through the bundled source maps.
        NODE_OPTIONS: '--enable-source-maps',
        // Not a service setting either: the SSRF guard resolves subscribers' host names with getaddrinfo on
        // libuv's thread pool (4 threads by default), where one tenant's unanswering name server could hold
        // every thread and stall other tenants' lookups.
        ...(RESOLVES_SUBSCRIBER_HOSTS.has(props.name) ? { UV_THREADPOOL_SIZE: '64' } : {}),
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node24',
        minify: true,
        sourceMap: true,
        mainFields: ['module', 'main'],
        banner: CREATE_REQUIRE_BANNER,
        // The default keeps `@aws-sdk/*` external: the Node.js 24 runtime ships SDK v3. package.json declares
        // `"sideEffects": false`, so each bundle keeps only the modules its own entry reaches.
      },
    });
  }
}

/** The environment variables for exactly the settings the function reads. */
function environmentFor(name: FunctionName, settings: Readonly<Config>): Record<string, string> {
  return Object.fromEntries(
    FUNCTION_SETTINGS[name].map((setting: SettingName) => [
      environmentVariable(setting),
      variableValue(settings[setting]),
    ]),
  );
}

/** A setting as its environment variable holds it: the retry schedule comma-separated, numbers in decimal. */
function variableValue(value: Config[SettingName]): string {
  return Array.isArray(value) ? value.join(',') : String(value);
}
