import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { load } from 'js-yaml';
import { REPO_ROOT } from '../../scripts/repo-root.ts';
import { CHART } from '../support/chart.ts';
import { eventually } from '../support/eventually.ts';
import { startOperator, type OperatorProcess } from '../support/operator-process.ts';
import { toolPath } from '../support/test-tools.ts';
import { plane } from './context.ts';

const run = promisify(execFile);

/**
 * The previous release as a chart repository serves it: `helm package` of charts/modelship at git
 * e23dfbe (0.1.0: no values schema, no metrics Service, no dashboard), committed so that the test
 * needs no git history.
 */
const PREVIOUS_CHART = join(REPO_ROOT, 'test', 'integration', 'fixtures', 'modelship-0.1.0.tgz');

interface Meta { uid: string; generation?: number; labels?: unknown; annotations?: unknown; finalizers?: unknown; ownerReferences?: unknown }
/** What a write by the upgrade would change; status is left out (the running operator may write it at any time). */
interface Identity { kind: string; uid: string; generation?: number; spec: string; metadata: string }

/**
 * `helm upgrade` from the previous chart release: ModelDeployments reconciled under the old release
 * and the children their operator made stay as they were, and the CRD keeps serving.
 */
describe('Helm chart upgrade from the previous release (real helm, real apiserver)', function () {
  this.timeout(300_000);
  const suffix = Date.now().toString(36);
  const namespace = `chart-upgrade-${suffix}`;
  const release = `upgrade-${suffix}`;
  const kubectl = (args: string[], input?: string) => plane().running.kubectl(args, input);
  let helm: (...args: string[]) => Promise<string>;
  let previousChart: string;
  let operator: OperatorProcess | undefined;

  before(async () => {
    const binary = await toolPath('build-helm.sh');
    helm = async (...args) => (await run(binary, [...args, '--kubeconfig', plane().kubeconfigPath], { maxBuffer: 16 * 1024 * 1024 })).stdout;
    previousChart = PREVIOUS_CHART;
    await kubectl(['create', 'namespace', namespace]);
  });

  after(async () => {
    await operator?.stop();
    await helm('uninstall', release, '--namespace', namespace).catch(() => undefined);
    await kubectl(['delete', 'namespace', namespace, '--wait=false', '--ignore-not-found']).catch(() => undefined);
  });

  const identities = async (): Promise<Identity[]> => {
    const list = JSON.parse(await kubectl(['get', 'modeldeployments.modelship.io,deployments,services,poddisruptionbudgets,horizontalpodautoscalers', '-n', namespace, '-l', 'modelship.io/model-deployment=fraud', '-o', 'json'])) as { items: { kind: string; metadata: Meta; spec: unknown }[] };
    const md = JSON.parse(await kubectl(['get', 'md', 'fraud', '-n', namespace, '-o', 'json'])) as { kind: string; metadata: Meta; spec: unknown };
    return [md, ...list.items].map((o) => ({
      kind: o.kind, uid: o.metadata.uid, generation: o.metadata.generation, spec: JSON.stringify(o.spec),
      metadata: JSON.stringify([o.metadata.labels, o.metadata.annotations, o.metadata.finalizers, o.metadata.ownerReferences]),
    }));
  };

  it('keeps a running ModelDeployment and its children untouched (same uid, generation, spec) and the CRD serving', async () => {
    const version = (chart: string) => (load(chart) as { version: string }).version;
    const installed = await helm('install', release, previousChart, '--namespace', namespace, '--set', `image.tag=test,watchNamespace=${namespace}`);
    expect(installed).to.include('STATUS: deployed');
    const crdUid = (await kubectl(['get', 'crd', 'modeldeployments.modelship.io', '-o', 'jsonpath={.metadata.uid}'])).trim();

    // KWOK runs no containers: the operator the release deploys runs here, as the chart configures it.
    operator = await startOperator(plane().kubeconfigPath, `upgrade-${suffix}`, { MODELSHIP_WATCH_NAMESPACE: namespace });
    await kubectl(['apply', '--server-side', '--field-manager=test-user', '-f', '-'], JSON.stringify({
      apiVersion: 'modelship.io/v1alpha1', kind: 'ModelDeployment', metadata: { name: 'fraud', namespace },
      spec: {
        model: { uri: 'https://models.example.com/fraud/model.onnx', sha256: 'c'.repeat(64), version: '1' },
        runtime: { resources: { requests: { cpu: '250m', memory: '256Mi' } } },
        autoscaling: { minReplicas: 2, maxReplicas: 4, targetCPUUtilization: 70 },
      },
    }));
    await eventually(async () => {
      expect(await kubectl(['get', 'md', 'fraud', '-n', namespace, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.ready}'])).to.equal('True 2/2');
    }, { timeoutMs: 60_000 });
    const before = await identities();
    expect(before.map((o) => o.kind)).to.include.members(['ModelDeployment', 'Deployment', 'Service', 'PodDisruptionBudget', 'HorizontalPodAutoscaler']);

    const upgraded = await helm('upgrade', release, CHART, '--namespace', namespace, '--set', `image.tag=test,watchNamespace=${namespace}`);
    expect(upgraded).to.include('STATUS: deployed').and.to.include('REVISION: 2');
    // NOTES.txt: what was installed and how to try it.
    expect(upgraded).to.include('kubectl get md').and.to.include('ServiceMonitor is off');
    const history = JSON.parse(await helm('history', release, '--namespace', namespace, '-o', 'json')) as { chart: string; status: string }[];
    expect(history.map((h) => `${h.chart} ${h.status}`)).to.deep.equal([
      'modelship-0.1.0 superseded',
      `modelship-${version(await readFile(join(CHART, 'Chart.yaml'), 'utf8'))} deployed`,
    ]);
    expect(await kubectl(['get', 'service,configmap', '-n', namespace, '-o', 'name'])).to.include(`service/${release}-modelship-metrics`).and.to.include(`configmap/${release}-modelship-dashboard`);

    // Not the resourceVersion: the operator, running through the upgrade, may still write status (a CI
    // run saw it change after Ready, with spec and metadata the same).
    expect(await identities(), 'the ModelDeployment and its children were not written').to.deep.equal(before);
    expect((await kubectl(['get', 'crd', 'modeldeployments.modelship.io', '-o', 'jsonpath={.metadata.uid}'])).trim(), 'the CRD was not replaced').to.equal(crdUid);
    await kubectl(['wait', '--for=condition=Established', 'crd/modeldeployments.modelship.io', '--timeout=10s']);
    expect(await kubectl(['get', 'md', '-n', namespace])).to.match(/^fraud\s/m);
  });
});
