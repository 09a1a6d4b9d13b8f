import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../scripts/repo-root.ts';
import { toolPath } from './test-tools.ts';

export interface Verdict {
  status: string;
  message: string;
}

/** How Flux/cli-utils (kstatus) and Argo CD (the chart's Lua health script) judge one object. */
export interface GitopsVerdicts {
  kstatus: Verdict;
  argocd: Verdict;
}

/** The Argo CD health check the chart ships. */
export const ARGOCD_HEALTH_SCRIPT = join(REPO_ROOT, 'charts/modelship/files/argocd-health.lua');

let built: Promise<string> | undefined;

/** Runs test/tools/gitops-health (built by build-gitops-health.sh) on an object as read from the apiserver. */
export async function gitopsHealth(object: unknown): Promise<GitopsVerdicts> {
  const binary = await (built ??= toolPath('build-gitops-health.sh'));
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['--lua', ARGOCD_HEALTH_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`gitops-health exited ${code}: ${stderr}`));
      else resolve(JSON.parse(stdout) as GitopsVerdicts);
    });
    child.stdin.end(JSON.stringify(object));
  });
}
