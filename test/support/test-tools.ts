import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../scripts/repo-root.ts';

const run = promisify(execFile);

/** Runs a build script that caches what it builds, and returns the path it prints on its last line. */
async function builtPath(script: string): Promise<string> {
  const { stdout } = await run('bash', [join(REPO_ROOT, script)], { timeout: 30 * 60_000, maxBuffer: 16 * 1024 * 1024 });
  const path = stdout.trim().split('\n').at(-1);
  if (!path) throw new Error(`${script} printed no path`);
  return path;
}

/**
 * Runs one of test/tools/*.sh, which builds or fetches a tool into the cache on first use (minutes),
 * and returns the path it prints on its last line.
 */
export function toolPath(script: 'build-istioctl.sh' | 'fetch-optional-crds.sh' | 'build-helm.sh' | 'build-gitops-health.sh'): Promise<string> {
  return builtPath(`test/tools/${script}`);
}

/** Runs one of the test plane's build scripts for programs run beside it (test/plane/build-*.sh) and returns its bin directory. */
export function planeBinDir(script: 'build-traefik.sh' | 'build-metrics-server.sh' | 'build-keda.sh'): Promise<string> {
  return builtPath(`test/plane/${script}`);
}
