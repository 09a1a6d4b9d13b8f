import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PromtoolResult {
  ok: boolean;
  /** promtool's stdout and stderr: what passed, or each rule's error. */
  output: string;
}

/** Runs promtool on files written into a fresh temporary directory; exit 1 is the checked input failing. */
async function promtool(args: (dir: string) => string[], files: Record<string, string>): Promise<PromtoolResult> {
  const dir = await mkdtemp(join(tmpdir(), 'modelship-promtool-'));
  try {
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
    try {
      const { stdout, stderr } = await run('promtool', args(dir), { cwd: dir });
      return { ok: true, output: `${stdout}${stderr}` };
    } catch (error) {
      const failed = error as { code?: unknown; stdout?: string; stderr?: string };
      if (failed.code === 'ENOENT') throw new Error("promtool not found: install Debian's prometheus package (.ci/run does)", { cause: error });
      if (failed.code !== 1) throw error;
      return { ok: false, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `promtool check rules` (Debian's prometheus package) on a Prometheus rules file: the `groups:`
 * document that is also a PrometheusRule's spec. Checks the YAML shape and parses every PromQL expression.
 */
export function promtoolCheckRules(rulesYaml: string): Promise<PromtoolResult> {
  return promtool((dir) => ['check', 'rules', join(dir, 'rules.yaml')], { 'rules.yaml': rulesYaml });
}

/**
 * `promtool test rules`: evaluates the rules over synthetic series and compares the alerts that fire
 * with the expected ones. `testsYaml` is a promtool unit-test file without `rule_files` (the rules
 * given here are loaded as rules.yaml).
 */
export function promtoolTestRules(rulesYaml: string, testsYaml: string): Promise<PromtoolResult> {
  return promtool((dir) => ['test', 'rules', join(dir, 'tests.yaml')], {
    'rules.yaml': rulesYaml,
    'tests.yaml': `rule_files: [rules.yaml]\n${testsYaml}`,
  });
}
