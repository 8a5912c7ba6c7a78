import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { synthesize } from '../support/template.js';

/**
 * cfn-lint (CloudFormation's linter, with the registry's resource schemas) on the synthesized template, in
 * the default and the kmsKey=create configurations: no error and no warning, but these, each for its reason.
 */
const IGNORED_CHECKS: Record<string, string> = {
  // CDK makes each function depend on its role's default policy and on the role, which the function's GetAtt
  // of the role already orders: redundant, harmless, and written by CDK, not by this stack.
  W3005: 'redundant DependsOn, emitted by CDK',
};
const REGION = 'us-east-1';

const run = promisify(execFile);

interface Finding {
  Filename: string;
  Level: string;
  Message: string;
  Rule: { Id: string };
}

/** cfn-lint's version, or undefined when it is not installed (a pyenv shim without it fails too). */
async function cfnLintVersion(): Promise<string | undefined> {
  try {
    const { stdout } = await run('cfn-lint', ['--version'], { timeout: 30_000 });
    return stdout.trim();
  } catch {
    return undefined;
  }
}

const version = await cfnLintVersion();
const required = process.env.CI === 'true';
if (!version && !required) {
  console.warn('cfn-lint is not installed: the template lint test is skipped (with CI=true it fails)');
}

describe('Stack: cfn-lint', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fanout-cfn-lint-'));

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(!version && !required)(
    'finds nothing in the default and kmsKey=create templates, and does find a bad property',
    async () => {
      expect(
        version,
        'cfn-lint is not installed, and CI=true requires it (pip install cfn-lint)',
      ).toBeDefined();
      const templates = {
        default: Template.fromStack(synthesize().stack).toJSON(),
        kmsKeyCreate: Template.fromStack(synthesize({ kmsKey: 'create' }).stack).toJSON(),
      };
      // A copy with a property no resource type has, so the run shows that the linter checks the schemas.
      const broken = structuredClone(templates.default);
      const [queueId] = Object.entries(broken.Resources as Record<string, { Type: string }>).find(
        ([, resource]) => resource.Type === 'AWS::SQS::Queue',
      ) ?? [''];
      broken.Resources[queueId].Properties.NotAQueueProperty = true;
      const files = Object.entries({ ...templates, broken }).map(([name, template]) => {
        const file = join(dir, `${name}.template.json`);
        writeFileSync(file, JSON.stringify(template, null, 1));
        return file;
      });

      // One run over every file: it exits non-zero on findings, which are read from its output either way.
      const args = [
        '--format',
        'json',
        '--regions',
        REGION,
        '--ignore-checks',
        ...Object.keys(IGNORED_CHECKS),
      ];
      const stdout = await run('cfn-lint', [...args, '--', ...files], { timeout: 120_000 }).then(
        (result) => result.stdout,
        (error: { stdout?: string; stderr?: string }) => {
          if (!error.stdout) throw new Error(`cfn-lint failed: ${error.stderr ?? String(error)}`);
          return error.stdout;
        },
      );
      const findings = (JSON.parse(stdout) as Finding[]).map(
        ({ Filename, Level, Rule, Message }) =>
          `${Filename.slice(dir.length + 1)}: ${Level} ${Rule.Id} ${Message}`,
      );
      expect(findings).toEqual([
        `broken.template.json: Error E3002 Additional properties are not allowed ('NotAQueueProperty' was unexpected)`,
      ]);
    },
    180_000,
  );
});
