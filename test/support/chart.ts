import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { REPO_ROOT } from '../../scripts/repo-root.ts';

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

/**
 * One env entry of a chart template: set from a value (`asInteger`: through `int64`, without which
 * Helm writes a number of a million or more as 1e+06), from a pod field, or from a named template.
 */
export type TemplateEnvVar = { name: string; value: string; asInteger: boolean } | { name: string; fieldRef: string } | { name: string; template: string };

/**
 * The env entries of the first container of a chart template. Every entry must be of one of the
 * two forms the chart uses; anything else is an error, so a new form cannot slip past the tests.
 */
export async function templateEnv(template: string): Promise<TemplateEnvVar[]> {
  const text = await readFile(join(CHART, 'templates', template), 'utf8');
  // Node's own heap limit, from the container's memory limit (checked where the chart is rendered: test/integration/chart.test.ts).
  const withoutHeap = text.replace(/\n\s+\{\{- with include "modelship.heapMegabytes" \. \}\}\n\s+- name: NODE_OPTIONS\n.*\n\s+\{\{- end \}\}/, '');
  const block = /\n(\s+)env:\n([\s\S]*?)\n\1\S/.exec(withoutHeap)?.[2];
  if (!block) throw new Error(`${template}: no env block`);
  return block.split(/\n(?=\s+- name: )/).map((entry) => {
    const value = /^\s+- name: (\w+)\n\s+value: \{\{ \.Values\.([\w.]+) (\| int64 )?\| quote \}\}$/.exec(entry);
    if (value) return { name: value[1]!, value: value[2]!, asInteger: value[3] !== undefined };
    const field = /^\s+- name: (\w+)\n\s+valueFrom: \{ fieldRef: \{ fieldPath: ([\w.]+) \} \}$/.exec(entry);
    if (field) return { name: field[1]!, fieldRef: field[2]! };
    const derived = /^\s+- name: (\w+)\n\s+value: \{\{ include "([\w.]+)" \. \| quote \}\}$/.exec(entry);
    if (derived) return { name: derived[1]!, template: derived[2]! };
    throw new Error(`${template}: env entry not of the form "value: {{ .Values.x | quote }}" (integers "| int64 | quote"), "value: {{ include "t" . | quote }}" or a fieldRef:\n${entry}`);
  });
}

/** A chart value by its dotted path. */
export function valueAt(values: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), values);
}

/**
 * The chart's RBAC for the operator's ServiceAccount in `namespace`, as the chart installs it: the
 * ClusterRole named `clusterRole` (with `clusterRules`, by default the chart's own) and its binding,
 * and the leader-election Role and binding. A List to apply with kubectl.
 */
export async function chartRbac(clusterRole: string, namespace: string, clusterRules?: PolicyRule[]): Promise<object> {
  const subjects = [{ kind: 'ServiceAccount', name: 'modelship-operator', namespace }];
  const rbac = 'rbac.authorization.k8s.io';
  return {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: `${rbac}/v1`, kind: 'ClusterRole', metadata: { name: clusterRole }, rules: clusterRules ?? await templateRules('clusterrole.yaml') },
      { apiVersion: `${rbac}/v1`, kind: 'ClusterRoleBinding', metadata: { name: clusterRole }, roleRef: { apiGroup: rbac, kind: 'ClusterRole', name: clusterRole }, subjects },
      { apiVersion: `${rbac}/v1`, kind: 'Role', metadata: { name: 'leader-election', namespace }, rules: await templateRules('leader-election.yaml') },
      { apiVersion: `${rbac}/v1`, kind: 'RoleBinding', metadata: { name: 'leader-election', namespace }, roleRef: { apiGroup: rbac, kind: 'Role', name: 'leader-election' }, subjects },
    ],
  };
}
