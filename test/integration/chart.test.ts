import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadAll } from 'js-yaml';
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import { CHART } from '../support/chart.ts';
import { eventually } from '../support/eventually.ts';
import { toolPath } from '../support/test-tools.ts';
import { plane } from './context.ts';

const run = promisify(execFile);

/** The Helm chart rendered by the real helm CLI and installed, as rendered, on the real apiserver. */
describe('Helm chart (helm lint, helm template, installed on the real apiserver)', function () {
  this.timeout(600_000);
  const namespace = `modelship-chart-${Date.now().toString(36)}`;
  let helm: string;
  let rendered: KubernetesObject[];

  before(async () => {
    helm = await toolPath('build-helm.sh');
  });

  after(async () => {
    await plane().running.kubectl(['delete', 'namespace', namespace, '--wait=false', '--ignore-not-found']).catch(() => undefined);
    const clusterScoped = rendered?.filter((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding') ?? [];
    for (const object of clusterScoped) {
      await plane().running.kubectl(['delete', object.kind ?? '', object.metadata?.name ?? '', '--ignore-not-found']).catch(() => undefined);
    }
  });

  it('passes helm lint', async () => {
    const { stdout } = await run(helm, ['lint', CHART]);
    expect(stdout).to.match(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('installs: RBAC, ServiceAccount and two operator replicas admitted under the restricted Pod Security Standard', async () => {
    // A helm built with `go install` lacks the release ldflags that set its default Kubernetes version: name the plane's.
    const serverVersion = (JSON.parse(await plane().running.kubectl(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion;
    const { stdout } = await run(helm, ['template', 'modelship', CHART, '--namespace', namespace, '--kube-version', serverVersion, '--set', 'image.tag=test'], { maxBuffer: 16 * 1024 * 1024 });
    rendered = (loadAll(stdout) as (KubernetesObject | null)[]).filter((o): o is KubernetesObject => !!o);
    expect(rendered.map((o) => o.kind)).to.include.members(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'Deployment']);

    await plane().running.kubectl(['create', 'namespace', namespace]);
    await plane().running.kubectl(['label', 'namespace', namespace, 'pod-security.kubernetes.io/enforce=restricted']);
    await plane().running.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=helm-test', '-f', `${CHART}/crds/`]);
    await plane().running.kubectl(['apply', '--server-side', '--field-manager=helm-test', '-n', namespace, '-f', '-'], stdout);

    await eventually(async () => {
      const deployment = JSON.parse(await plane().running.kubectl(['get', 'deployment', '-n', namespace, '-o', 'json'])) as { items: V1Deployment[] };
      const operator = deployment.items[0];
      expect(operator?.spec?.template.spec?.containers[0]?.image).to.equal('ghcr.io/modelship/operator:test');
      expect(operator?.status?.readyReplicas, JSON.stringify(operator?.status?.conditions)).to.equal(2);
    }, { timeoutMs: 60_000 });
    const can = async (...args: string[]) => (await plane().running.kubectl(['auth', 'can-i', ...args, `--as=system:serviceaccount:${namespace}:modelship`]).catch(() => 'no')).trim();
    expect(await can('watch', 'modeldeployments.modelship.io', '-A')).to.equal('yes');
    expect(await can('update', 'leases', '-n', namespace)).to.equal('yes');
  });
});
