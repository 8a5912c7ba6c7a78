import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../lib/constructs/fanout-function.js';

const BIOME = join(REPO_ROOT, 'node_modules', '.bin', 'biome');
const run = promisify(execFile);

/** [where the importing module is, an import the rule refuses there, one it takes] */
const CASES = [
  ['lambdas/storage', '../../lib/definitions.js', '../contract/tables.js'],
  ['lambdas/api', '../../local/wait.js', '../platform/errors.js'],
  ['lambdas/delivery', '../../scripts/command-line.js', '../storage/attempts.js'],
  ['lambdas/fanout', '../../bench/report.js', '../contract/bus-events.js'],
  ['lambdas/platform', '../../chaos/checks.js', './errors.js'],
  ['lambdas/contract', '../storage/dynamo.js', '../platform/errors.js'],
  ['lambdas/contract', '../api/handler.js', './tables.js'],
  ['lib', '../lambdas/storage/attempts.js', '../lambdas/contract/tables.js'],
  ['lib/constructs', '../../lambdas/wiring.js', '../../lambdas/contract/settings.js'],
  ['lib', '../local/wait.js', './definitions.js'],
  ['bin', '../scripts/command-line.js', '../lib/context.js'],
  ['local', '../lambdas/delivery/deliver.js', '../lambdas/wiring.js'],
  ['local', '../lambdas/api/handler.js', '../lambdas/contract/handlers.js'],
  ['local', '../chaos/checks.js', './wait.js'],
  ['local', '../scripts/dead-letters.js', './emulators/message-move.js'],
  ['chaos', '../bench/report.js', '../local/machine-info.js'],
  ['bench', '../chaos/checks.js', '../local/emulators/engines-thread.js'],
] as const;

/**
 * The repository's biome.jsonc, run on modules written into a scratch copy of the tree's folders (never into
 * the tree itself): the files each import one module and nothing else, so any noRestrictedImports diagnostic
 * is about that import.
 */
describe('The linter keeps imports running one way (biome.jsonc overrides)', () => {
  let scratch: string;
  let refusedFiles: Set<string>;
  const fileOf = (index: number, kind: 'refused' | 'allowed') =>
    `${CASES[index]?.[0]}/case-${index}-${kind}.ts`;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'import-rules-'));
    await copyFile(join(REPO_ROOT, 'biome.jsonc'), join(scratch, 'biome.jsonc'));
    for (const [index, [, refused, allowed]] of CASES.entries()) {
      for (const [kind, specifier] of [
        ['refused', refused],
        ['allowed', allowed],
      ] as const) {
        const file = join(scratch, fileOf(index, kind));
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, `import { value } from '${specifier}';\n\nexport const copy = value;\n`);
      }
    }
    // Biome exits 1 when it reports errors, which the refused cases are meant to produce.
    const output = await run(BIOME, ['lint', '--reporter=github', '.'], { cwd: scratch }).catch(
      (error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }),
    );
    refusedFiles = new Set(
      [...output.stdout.matchAll(/^::error title=lint\/style\/noRestrictedImports,file=([^,]+),/gm)].map(
        (match) => relative(scratch, match[1] ?? ''),
      ),
    );
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it.each(CASES.map((entry, index) => [...entry, index] as const))(
    'in %s/ refuses %s and takes %s',
    (_folder, _refused, _allowed, index) => {
      expect(refusedFiles.has(fileOf(index, 'refused'))).toBe(true);
      expect(refusedFiles.has(fileOf(index, 'allowed'))).toBe(false);
    },
  );
});
