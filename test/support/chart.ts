import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { REPO_ROOT } from '../../operator/api/generate-crds.ts';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

export const CHART = join(REPO_ROOT, 'charts', 'modelship');

/** The rules: block of a chart template; it holds no template expressions, so it parses as YAML. */
export async function templateRules(template: string): Promise<PolicyRule[]> {
  const text = await readFile(join(CHART, 'templates', template), 'utf8');
  const block = text.slice(text.indexOf('\nrules:') + 1).split('\n---')[0] ?? '';
  if (block.includes('{{')) throw new Error(`${template}: the rules block must be plain YAML`);
  return (load(block) as { rules: PolicyRule[] }).rules;
}
