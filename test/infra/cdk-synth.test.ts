import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_SETTINGS, type FunctionName } from '../../lambdas/contract/settings.js';
import { REPO_ROOT } from '../../lib/constructs/fanout-function.js';
import { serviceDefinition } from '../../lib/definitions.js';

const run = promisify(execFile);
const STACK_NAME = 'WebhookFanout';
const BIN = join(REPO_ROOT, 'node_modules', '.bin');

/** The environment of a machine without AWS credentials or a default account. */
function environmentWithoutAws(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_') && !name.startsWith('CDK_')),
  );
  return {
    ...env,
    PATH: `${BIN}:${process.env.PATH ?? ''}`,
    // Do not wait for an instance metadata service that is not there.
    AWS_EC2_METADATA_DISABLED: 'true',
    CDK_DISABLE_CLI_TELEMETRY: 'true',
  };
}

interface LambdaResource {
  Type: string;
  Properties: { Description?: string; Handler?: string };
  Metadata?: Record<string, string>;
}

describe('Stack: cdk synth', () => {
  const def = serviceDefinition();
  let outDir: string;
  let result: { exitCode: number; stderr: string };

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'fanout-synth-'));
    try {
      const { stderr } = await run(
        join(BIN, 'cdk'),
        ['synth', '--quiet', '--no-notices', '--no-version-reporting', '-o', outDir],
        { cwd: REPO_ROOT, env: environmentWithoutAws(), timeout: 170_000, maxBuffer: 16 * 1024 * 1024 },
      );
      result = { exitCode: 0, stderr };
    } catch (error) {
      const failure = error as { code?: number; stderr?: string };
      result = {
        exitCode: typeof failure.code === 'number' ? failure.code : 1,
        stderr: failure.stderr ?? String(error),
      };
    }
  }, 180_000);

  afterAll(() => {
    rmSync(outDir, { recursive: true, force: true });
  });

  it('synthesizes without AWS credentials', () => {
    expect(result.exitCode, result.stderr).toBe(0);
    expect(existsSync(join(outDir, `${STACK_NAME}.template.json`))).toBe(true);
  });

  it('bundles every function into a non-empty ESM file with a source map', () => {
    const template = JSON.parse(readFileSync(join(outDir, `${STACK_NAME}.template.json`), 'utf8'));
    const functions = Object.values(template.Resources as Record<string, LambdaResource>).filter(
      (resource) => resource.Type === 'AWS::Lambda::Function',
    );
    for (const name of Object.keys(FUNCTION_SETTINGS) as FunctionName[]) {
      const fn = functions.find(
        (candidate) => candidate.Properties.Description === def.functions[name].description,
      );
      const assetPath = fn?.Metadata?.['aws:asset:path'];
      expect(assetPath, `asset of the ${name} function`).toBeDefined();
      const bundle = join(outDir, assetPath ?? '', 'index.mjs');
      expect(statSync(bundle).size, `${name} bundle`).toBeGreaterThan(0);
      expect(readFileSync(bundle, 'utf8')).toContain('createRequire');
      expect(statSync(`${bundle}.map`).size, `${name} source map`).toBeGreaterThan(0);
    }
  });
});

describe('Stack: cdk synth with bad context', () => {
  it('exits 1 naming every bad value, without a stack trace', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'fanout-bad-context-'));
    try {
      // What `cdk synth -c …` runs (cdk.json's "app"), with the context the CLI hands it.
      const failure = await run(join(BIN, 'tsx'), ['bin/app.ts'], {
        cwd: REPO_ROOT,
        env: {
          ...environmentWithoutAws(),
          CDK_OUTDIR: outDir,
          CDK_CONTEXT_JSON: JSON.stringify({ retrySchedule: '0,soon', tenantRequestsPerSecond: '2000' }),
        },
        timeout: 60_000,
      }).then(
        () => ({ code: 0, stderr: '' }),
        (error: { code?: number; stderr?: string }) => ({ code: error.code, stderr: error.stderr ?? '' }),
      );
      expect(failure.code, failure.stderr).toBe(1);
      expect(failure.stderr).toContain('Invalid CDK context (-c key=value or cdk.json):');
      expect(failure.stderr).toContain('context "retrySchedule": retry schedule must be comma-separated');
      expect(failure.stderr).toContain('context "tenantRequestsPerSecond" must be at most 500');
      expect(failure.stderr).not.toMatch(/^\s+at /m);
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  }, 70_000);
});
