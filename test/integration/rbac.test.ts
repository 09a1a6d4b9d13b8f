import { expect } from 'chai';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { dump, load } from 'js-yaml';
import { plane } from './context.ts';
import { eventually } from '../support/eventually.ts';
import { chartRbac } from '../support/chart.ts';
import { startOperator, type OperatorProcess } from '../support/operator-process.ts';

interface KubeconfigFile { users: { name: string; user: Record<string, unknown> }[] }

/**
 * The operator runs as a ServiceAccount holding exactly the Helm chart's ClusterRole and
 * leader-election Role (the rules are read from the chart's templates), not as cluster-admin.
 */
describe('operator with only the Helm chart RBAC (real apiserver authorization)', () => {
  const suffix = Date.now().toString(36);
  const system = `modelship-system-${suffix}`;
  const apps = `rbac-apps-${suffix}`;
  const clusterRole = `modelship-operator-${suffix}`;
  const account = `system:serviceaccount:${system}:modelship-operator`;
  let operator: OperatorProcess | undefined;
  const kubectl = (args: string[], input?: string) => plane().running.kubectl(args, input);

  before(async function () {
    this.timeout(120_000);
    await kubectl(['apply', '--server-side', '-f', 'crds/']);
    await kubectl(['wait', '--for=condition=Established', 'crd/modeldeployments.modelship.io', '--timeout=60s']);
    for (const ns of [system, apps]) await kubectl(['create', 'namespace', ns]);
    await kubectl(['create', 'serviceaccount', 'modelship-operator', '-n', system]);
    await kubectl(['apply', '-f', '-'], JSON.stringify(await chartRbac(clusterRole, system)));

    const token = (await kubectl(['create', 'token', 'modelship-operator', '-n', system, '--duration=1h'])).trim();
    const kubeconfig = load(await readFile(plane().kubeconfigPath, 'utf8')) as KubeconfigFile;
    for (const user of kubeconfig.users) user.user = { token };
    const path = join(dirname(plane().kubeconfigPath), `operator-${suffix}.kubeconfig`);
    await writeFile(path, dump(kubeconfig), { mode: 0o600 });
    // Watching only its own namespace keeps other suites' ModelDeployments out of this log: an Event for
    // one in a namespace being deleted is refused with "forbidden ... being terminated", which is no RBAC gap.
    operator = await startOperator(path, `rbac-${suffix}`, { MODELSHIP_LEADER_ELECTION_NAMESPACE: system, MODELSHIP_WATCH_NAMESPACE: apps });
  });

  after(async () => {
    await operator?.stop();
    await kubectl(['delete', 'clusterrolebinding,clusterrole', clusterRole, '--ignore-not-found']).catch(() => undefined);
  });

  it('reconciles a ModelDeployment to Ready, writes its status and events, and is never forbidden', async () => {
    const md = {
      apiVersion: 'modelship.io/v1alpha1', kind: 'ModelDeployment', metadata: { name: 'scoped', namespace: apps },
      spec: {
        model: { uri: 'https://models.example.com/fraud/model.onnx', sha256: 'b'.repeat(64), version: '1' },
        runtime: { resources: { requests: { cpu: '250m', memory: '256Mi' } } },
        autoscaling: { minReplicas: 2, maxReplicas: 3, targetCPUUtilization: 80 },
      },
    };
    await kubectl(['apply', '--server-side', '--field-manager=test-user', '-f', '-'], JSON.stringify(md));
    await eventually(async () => {
      const out = await kubectl(['get', 'md', 'scoped', '-n', apps, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.ready}']);
      expect(out).to.equal('True 2/2');
    }, { timeoutMs: 60_000 });
    for (const kind of ['deployment', 'service', 'horizontalpodautoscaler', 'poddisruptionbudget']) {
      expect(await kubectl(['get', kind, 'scoped', '-n', apps, '-o', 'name']), kind).to.contain('scoped');
    }
    await eventually(async () => expect(await kubectl(['get', 'events', '-n', apps, '--field-selector', 'involvedObject.name=scoped'])).to.match(/RevisionCreated/));
    const forbidden = operator?.logs.filter((entry) => JSON.stringify(entry).toLowerCase().includes('forbidden')) ?? [];
    expect(forbidden, JSON.stringify(forbidden.slice(0, 3))).to.deep.equal([]);
  });

  it('holds no access beyond the chart: no Secrets, no Lease outside its namespace, no ModelDeployment updates (patch only, to clear rollout commands)', async () => {
    const can = async (...args: string[]) => (await kubectl(['auth', 'can-i', ...args, `--as=${account}`]).catch(() => 'no')).trim();
    expect(await can('list', 'secrets', '-A')).to.equal('no');
    expect(await can('create', 'leases', '-n', 'default')).to.equal('no');
    expect(await can('update', 'modeldeployments.modelship.io', '-n', apps)).to.equal('no');
    expect(await can('patch', 'modeldeployments.modelship.io', '--subresource=status', '-n', apps)).to.equal('yes');
  });
});
