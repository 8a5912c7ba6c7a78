import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { REPO_ROOT } from '../../lib/constructs/fanout-function.js';
import type { LocalResourceNames } from '../../local/emulators/provision.js';
import { peekAll, queueDepth } from '../../local/emulators/queue-metrics.js';
import { waitFor } from '../../local/wait.js';
import { startReceiver } from '../support/receiver.js';
import { bearer, startTestService } from '../support/service.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

const TSX = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const execute = promisify(execFile);

/** Runs `npm run <script>` the way npm does (tsx on scripts/<script>.ts), as a child process. */
async function command(script: string, args: string[], env: Record<string, string | undefined> = {}) {
  try {
    const { stdout, stderr } = await execute(TSX, [`scripts/${script}.ts`, ...args], {
      cwd: REPO_ROOT,
      timeout: 30_000,
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

const printed = (text: string, label: string) => new RegExp(`${label}: +(\\S+)`).exec(text)?.[1] ?? '';
/** A stack trace's frames, which no answer of an operator command may contain. */
const STACK_FRAME = /^\s+at /m;

describe('Operator commands: every option the README gives, as child processes against the test engines', () => {
  let service: Service;
  let table: string;
  const dynamo = () => inject('dynamoEndpoint');
  const sqsEndpoint = () => inject('sqsEndpoint');
  const status = async (apiKey: string) =>
    (await service.api({ method: 'GET', path: '/subscriptions', headers: bearer(apiKey) })).statusCode;

  beforeAll(async () => {
    service = await startTestService();
    table = service.resources.tables.tenants;
  });
  afterAll(() => service.close());

  it('create-tenant with --name, --table, --region and --endpoint makes a tenant whose key works', async () => {
    const created = await command('create-tenant', [
      '--name',
      'acme',
      '--table',
      table,
      '--region',
      'us-east-1',
      '--endpoint',
      dynamo(),
    ]);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    expect(await status(printed(created.stdout, 'api key'))).toBe(200);
  });

  it('tenant-keys list, create-key, revoke and rotate with --tenant, --key, --table, --region and --endpoint', async () => {
    const tenant = await service.createTenant('keys-co');
    const target = ['--table', table, '--region', 'us-east-1', '--endpoint', dynamo()];
    const added = await command('tenant-keys', ['create-key', '--tenant', tenant.tenantId, ...target]);
    expect(added).toMatchObject({ code: 0, stderr: '' });
    const [listed, revoked, rotated] = await Promise.all([
      command('tenant-keys', ['list', '--tenant', tenant.tenantId, ...target]),
      command('tenant-keys', ['revoke', '--tenant', tenant.tenantId, '--key', tenant.keyId, ...target]),
      command('tenant-keys', [
        'rotate',
        ...['--tenant', tenant.tenantId, '--key', printed(added.stdout, 'key id'), ...target],
      ]),
    ]);
    expect(listed).toMatchObject({ code: 0, stderr: '' });
    // Run beside rotate, so it may or may not see the rotated key too.
    for (const keyId of [tenant.keyId, printed(added.stdout, 'key id')])
      expect(listed.stdout).toContain(keyId);
    expect(revoked).toMatchObject({ code: 0, stderr: '' });
    expect(await status(tenant.apiKey)).toBe(401);
    expect(rotated).toMatchObject({ code: 0, stderr: '' });
    expect(await status(printed(added.stdout, 'api key'))).toBe(401);
    expect(await status(printed(rotated.stdout, 'api key'))).toBe(200);
  });

  it('redrive with --dlq, --destination, --region and --endpoint moves the dead letters', async () => {
    const { fanout, delivery } = service.resources.queues;
    const { sqs } = service.clients;
    await sqs.send(new SendMessageCommand({ QueueUrl: delivery.deadLetterUrl, MessageBody: '{"n":1}' }));
    const moved = await command('redrive', [
      ...['--dlq', delivery.deadLetterArn, '--destination', fanout.deadLetterArn],
      ...['--region', 'us-east-1', '--endpoint', sqsEndpoint()],
    ]);
    expect(moved).toMatchObject({ code: 0, stderr: '' });
    expect(moved.stdout).toContain('Moved 1 message');
    expect((await peekAll(sqs, fanout.deadLetterUrl)).map((message) => message.body)).toEqual(['{"n":1}']);
    expect(await queueDepth(sqs, delivery.deadLetterUrl)).toEqual({ visible: 0, inFlight: 0 });
  });

  it.concurrent.each([
    ['create-tenant', ['--name', 'acme', '--table', 't', '--bogus'], "unknown option '--bogus'"],
    ['create-tenant', ['--name', 'acme', '--endpoint'], "option '--endpoint <value>' argument missing"],
    ['create-tenant', ['--table', 't'], 'missing --name'],
    ['create-tenant', ['--name', 'acme'], 'missing --table'],
    ['tenant-keys', ['list', '--table', 't', '--tenant', 'ten_1', '-x'], "unknown option '-x'"],
    ['tenant-keys', ['revoke', '--table', 't', '--tenant'], "option '--tenant <value>' argument missing"],
    ['tenant-keys', ['revoke', '--table', 't', '--tenant', 'ten_1'], 'missing --key'],
    ['tenant-keys', ['explode', '--table', 't'], "unknown command 'explode'"],
    ['tenant-keys', ['list', 'extra', '--local'], "unexpected argument 'extra'"],
    ['redrive', ['--dlq', 'q', '--bogus'], "unknown option '--bogus'"],
    ['redrive', ['--dlq'], "option '--dlq <value>' argument missing"],
    ['redrive', ['--region', 'eu-west-1'], 'missing --dlq'],
    ['redrive', ['--dlq', 'q', '--local', '--endpoint', 'http://x'], '--local finds the endpoint itself'],
  ])(
    '%s %j: one line with the problem and the usage on stderr, exit code 2',
    async (script, args, problem) => {
      const result = await command(script, args);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).not.toMatch(STACK_FRAME);
      const [line, ...rest] = result.stderr.split('\n');
      expect(rest).toEqual(['']);
      expect(line?.slice(0, problem.length)).toBe(problem);
      expect(line).toContain(`. usage: npm run ${script} -- `);
    },
  );

  it('prints the whole help with --help on stdout, exit code 0', async () => {
    for (const script of ['create-tenant', 'tenant-keys', 'redrive']) {
      const help = await command(script, ['--help']);
      expect(help).toMatchObject({ code: 0, stderr: '' });
      expect(help.stdout).toMatch(new RegExp(`^usage: npm run ${script} -- `));
    }
  });

  it('ends a missing table or queue in one line, exit code 1', async () => {
    const target = ['--region', 'us-east-1', '--endpoint', dynamo()];
    const noTable = await command('create-tenant', ['--name', 'acme', '--table', 'no-such-table', ...target]);
    expect(noTable).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'create-tenant failed: the table no-such-table does not exist in us-east-1: check --table (the TenantsTableName output) and the region\n',
    });
    const noQueue = await command('redrive', [
      '--dlq',
      `${sqsEndpoint()}/000000000000/nothing`,
      '--endpoint',
      sqsEndpoint(),
    ]);
    expect(noQueue.code).toBe(1);
    expect(noQueue.stderr).toMatch(/^redrive failed: \S+: .*queue.*\n$/i);
  });

  it('ends missing AWS credentials in one line naming what to set, exit code 1', async () => {
    const noCredentials = {
      AWS_PROFILE: undefined,
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_SESSION_TOKEN: undefined,
      AWS_REGION: 'eu-west-1',
      AWS_CONFIG_FILE: join(REPO_ROOT, 'no-such-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(REPO_ROOT, 'no-such-aws-credentials'),
      // No instance metadata service to wait for on a developer machine.
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    for (const [script, args] of [
      ['create-tenant', ['--name', 'acme', '--table', 'WebhookFanout-Tenants']],
      ['redrive', ['--dlq', 'arn:aws:sqs:eu-west-1:123456789012:dlq']],
    ] as const) {
      const result = await command(script, [...args], noCredentials);
      expect(result.code).toBe(1);
      expect(result.stderr).not.toMatch(STACK_FRAME);
      expect(result.stderr).toMatch(/^\S+ failed: no AWS credentials \(.*\): set AWS_PROFILE .*--local.*\n$/);
    }
  });
});

/**
 * `npm start` itself, as a child process: its banner and /_local/status name what the operator commands need,
 * and with --local the commands find it all by themselves.
 */
describe('Local mode: the banner and /_local/status name the resources, and --local finds them', () => {
  let child: ChildProcess;
  let banner = '';
  let url: string;
  let port: string;
  let resources: LocalResourceNames;

  beforeAll(async () => {
    // One attempt, so that a failed delivery is a dead letter at once.
    // `npm start` itself, not its command line: how npm runs the script decides whether a signal reaches it.
    child = spawn('npm', ['start'], {
      cwd: REPO_ROOT,
      env: { ...process.env, PORT: '0', FANOUT_RETRY_SCHEDULE: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      banner += chunk.toString();
    });
    await waitFor(() => (banner.includes('Press Ctrl-C to stop.') ? true : undefined), {
      timeoutMs: 30_000,
      what: 'the banner of npm start',
    });
    url = /API +(http:\S+)/.exec(banner)?.[1] ?? '';
    port = new URL(url).port;
    resources = ((await (await fetch(`${url}/_local/status`)).json()) as { resources: LocalResourceNames })
      .resources;
  });
  afterAll(() => {
    // Its own process group, so that whatever the SIGTERM test below left running is ended here.
    try {
      process.kill(-(child.pid ?? 0), 'SIGKILL');
    } catch {
      // The group is gone: everything in it has ended.
    }
  });

  it('prints the tenants table and each DLQ by URL and ARN, as /_local/status serves them', () => {
    expect(resources).toMatchObject({
      region: 'us-east-1',
      endpoints: {
        dynamodb: /DynamoDB +(\S+)/.exec(banner)?.[1],
        sqs: /SQS +(\S+)/.exec(banner)?.[1],
        eventBridge: /EventBridge +(\S+)/.exec(banner)?.[1],
      },
      eventBusName: 'fanout-local-bus',
      tables: { tenants: 'fanout-local-tenants' },
    });
    expect(banner).toContain(`tenants      ${resources.tables.tenants}`);
    for (const [name, queue] of Object.entries(resources.queues)) {
      expect(banner).toContain(`${`${name} DLQ`.padEnd(12)} ${queue.deadLetterUrl}\n`);
      expect(banner).toContain(`               ${queue.deadLetterArn}\n`);
      expect(queue.deadLetterArn).toMatch(
        new RegExp(`^arn:aws:sqs:us-east-1:\\d{12}:fanout-local-${name}-dlq$`),
      );
    }
  });

  it('create-tenant --local makes a tenant whose key works against the local API; tenant-keys --local lists it', async () => {
    const created = await command('create-tenant', ['--name', 'acme', '--local'], { PORT: port });
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const response = await fetch(`${url}/subscriptions`, {
      headers: bearer(printed(created.stdout, 'api key')),
    });
    expect(response.status).toBe(200);

    const tenantId = printed(created.stdout, 'tenant');
    const listed = await command('tenant-keys', ['list', '--local', '--tenant', tenantId], { PORT: port });
    expect(listed).toMatchObject({ code: 0, stderr: '' });
    expect(listed.stdout).toMatch(new RegExp(`^${printed(created.stdout, 'key id')} +active `));
  });

  it('redrive --local moves the delivery DLQ, named as /_local/status names it, and the event is delivered', async () => {
    const receiver = await startReceiver({ status: 500 });
    try {
      const apiKey = /API key +(fk_\S+)/.exec(banner)?.[1] ?? '';
      const post = (path: string, body: unknown) =>
        fetch(`${url}${path}`, { method: 'POST', headers: bearer(apiKey), body: JSON.stringify(body) });
      const created = await post('/subscriptions', { url: receiver.url, eventTypes: ['order.*'] });
      receiver.useSecret(((await created.json()) as { secret: string }).secret);
      const { id } = (await (await post('/events', { type: 'order.created', data: {} })).json()) as {
        id: string;
      };
      const deadLetters = async () =>
        (
          (await (await fetch(`${url}/_local/status`)).json()) as {
            queues: Record<string, { visible: number }>;
          }
        ).queues['delivery-dlq']?.visible;
      await waitFor(async () => ((await deadLetters()) === 1 ? true : undefined), {
        what: 'the dead letter',
      });

      receiver.respondWith(204);
      const moved = await command('redrive', ['--local', '--dlq', 'delivery-dlq'], { PORT: port });
      expect(moved).toMatchObject({ code: 0, stderr: '' });
      expect(moved.stdout).toBe(
        `Moved 1 message from ${resources.queues.delivery.deadLetterUrl} to ${resources.queues.delivery.url}, message by message (receive, send, delete).\n`,
      );
      const delivered = await waitFor(
        () =>
          receiver.received.find((attempt) => attempt.status === 204 && attempt.headers['webhook-id'] === id),
        { what: 'the redriven delivery' },
      );
      expect(delivered.verificationError).toBeUndefined();
    } finally {
      await receiver.close();
    }
  });

  it('says in one line that local mode is not running when nothing answers on PORT', async () => {
    const result = await command('create-tenant', ['--name', 'acme', '--local'], { PORT: '1' });
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: expect.stringMatching(
        /^local mode is not running at http:\/\/127\.0\.0\.1:1\/_local\/status .*npm start.*\n$/,
      ),
    });
  });

  // Runs last: it stops the local mode the tests above use.
  it('SIGTERM to npm start stops local mode itself: npm exits and nothing answers on its port any more', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    // npm waits for the script's process, so once npm is gone, so is local mode (and its port with it).
    expect(await exited).toBe(0);
    expect(banner).toContain('SIGTERM: stopping');
    await expect(fetch(`${url}/_local/status`)).rejects.toThrow(TypeError);
  });
});
