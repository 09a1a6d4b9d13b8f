import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../scripts/repo-root.ts';

const run = promisify(execFile);

/**
 * Runs one of test/tools/*.sh, which builds or fetches a tool into the cache on first use (minutes),
 * and returns the path it prints on its last line.
 */
export async function toolPath(script: 'build-istioctl.sh' | 'fetch-optional-crds.sh' | 'build-helm.sh' | 'build-gitops-health.sh'): Promise<string> {
  const { stdout } = await run('bash', [join(REPO_ROOT, 'test/tools', script)], { timeout: 30 * 60_000, maxBuffer: 16 * 1024 * 1024 });
  const path = stdout.trim().split('\n').at(-1);
  if (!path) throw new Error(`test/tools/${script} printed no path`);
  return path;
}
