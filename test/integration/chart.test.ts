import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadAll } from 'js-yaml';
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import { RuntimeProbePaths } from '../../runtime/contract.ts';
import { childLabels, HTTP_PORT_NAME } from '../../operator/desired/index.ts';
import { loadActivatorConfig } from '../../operator/activator/settings.ts';
import { loadOperatorConfig } from '../../operator/config.ts';
import { modelDeployment } from '../unit/operator/fixtures.ts';
import { CHART } from '../support/chart.ts';
import { eventually } from '../support/eventually.ts';
import { installOptionalCrds, uninstallOptionalCrds } from '../support/optional-crds.ts';
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
    const clusterScoped = rendered?.filter((o) => ['ClusterRole', 'ClusterRoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'].includes(o.kind ?? '')) ?? [];
    for (const object of clusterScoped) {
      await plane().running.kubectl(['delete', object.kind ?? '', object.metadata?.name ?? '', '--ignore-not-found']).catch(() => undefined);
    }
  });

  it('passes helm lint --strict (values.yaml against values.schema.json), with the monitors on too', async () => {
    const { stdout } = await run(helm, ['lint', '--strict', CHART]);
    expect(stdout).to.match(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    const withMonitors = await run(helm, ['lint', '--strict', CHART, '--set', 'serviceMonitor.enabled=true,podMonitor.enabled=true,grafanaDashboard.enabled=false']);
    expect(withMonitors.stdout).to.match(/0 chart\(s\) failed/);
  });

  /** helm's error output for values it refuses; an accepted value fails the test. */
  const refused = async (args: string[]): Promise<string> => {
    const outcome = await run(helm, args, { maxBuffer: 16 * 1024 * 1024 }).then(() => undefined, (error: { stdout?: string; stderr?: string }) => `${error.stdout}${error.stderr}`);
    if (outcome === undefined) throw new Error(`helm ${args.join(' ')} accepted the values`);
    return outcome;
  };

  it('refuses bad values in helm template and helm lint --strict, naming the value and what is wrong', async () => {
    const template = (...set: string[]) => refused(['template', 'modelship', CHART, '--kube-version', 'v1.33.0', ...set.flatMap((value) => ['--set', value])]);
    const schemaError = /values don't meet the specifications of the schema\(s\) in the following chart\(s\):\nmodelship:/;
    expect(await template('workers=-1')).to.match(schemaError).and.to.include("at '/workers': minimum: got -1, want 1");
    expect(await template('workers=eight')).to.include("at '/workers': got string, want integer");
    expect(await template('leaderElection.enabled=maybe')).to.include("at '/leaderElection/enabled': got string, want boolean");
    expect(await template('logLevel=loud')).to.include("at '/logLevel': value must be one of 'fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'");
    expect(await template('replicas=3')).to.include("additional properties 'replicas' not allowed");
    expect(await template('metrics.prot=9090')).to.include("at '/metrics': additional properties 'prot' not allowed");
    expect(await template('serviceMonitor.interval=soon')).to.include("at '/serviceMonitor/interval': 'soon' does not match pattern");
    const lint = await refused(['lint', '--strict', CHART, '--set', 'workers=0']);
    expect(lint).to.include("at '/workers': minimum: got 0, want 1").and.to.match(/1 chart\(s\) failed/);
  });

  it('installs: RBAC, ServiceAccount and two operator replicas admitted under the restricted Pod Security Standard', async () => {
    // A helm built with `go install` lacks the release ldflags that set its default Kubernetes version: name the plane's.
    const serverVersion = (JSON.parse(await plane().running.kubectl(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion;
    const { stdout } = await run(helm, ['template', 'modelship', CHART, '--namespace', namespace, '--kube-version', serverVersion, '--set', 'image.tag=test'], { maxBuffer: 16 * 1024 * 1024 });
    rendered = (loadAll(stdout) as (KubernetesObject | null)[]).filter((o): o is KubernetesObject => !!o);
    expect(rendered.map((o) => o.kind)).to.include.members(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'Deployment', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);

    await plane().running.kubectl(['create', 'namespace', namespace]);
    await plane().running.kubectl(['label', 'namespace', namespace, 'pod-security.kubernetes.io/enforce=restricted']);
    await plane().running.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=helm-test', '-f', `${CHART}/crds/`]);
    await plane().running.kubectl(['apply', '--server-side', '--field-manager=helm-test', '-n', namespace, '-f', '-'], stdout);

    await eventually(async () => {
      const deployment = JSON.parse(await plane().running.kubectl(['get', 'deployment', '-n', namespace, '-o', 'json'])) as { items: V1Deployment[] };
      const operator = deployment.items.find((item) => item.metadata?.name === 'modelship');
      const env = (name: string) => operator?.spec?.template.spec?.containers[0]?.env?.find((entry) => entry.name === name)?.value;
      expect(operator?.spec?.template.spec?.containers[0]?.image).to.equal('ghcr.io/modelship/operator:test');
      // Node sizes its heap by the node's memory: the chart sizes it by the container's limit (256Mi) less 96Mi.
      expect(env('NODE_OPTIONS')).to.equal('--max-old-space-size=160');
      expect(env('MODELSHIP_ACTIVATOR_SERVICE'), 'the operator is told of the chart\'s activator').to.equal(`${namespace}/modelship-activator`);
      expect(operator?.status?.readyReplicas, JSON.stringify(operator?.status?.conditions)).to.equal(2);
      // The activator: the operator's image running its own entry point, two replicas.
      const activator = deployment.items.find((item) => item.metadata?.name === 'modelship-activator');
      expect(activator?.spec?.template.spec?.containers[0]).to.deep.include({ image: 'ghcr.io/modelship/operator:test', args: ['dist/operator/activator/main.js'] });
      expect(activator?.status?.readyReplicas, JSON.stringify(activator?.status?.conditions)).to.equal(2);
      // KWOK's pods run nothing: the activator's settings as rendered must pass its own parser (Helm
      // once wrote 64 MiB as 6.7108864e+07, which the pod refused at start).
      const activatorEnv = Object.fromEntries((activator?.spec?.template.spec?.containers[0]?.env ?? []).map((entry) => [entry.name, entry.value]));
      const operatorEnv = Object.fromEntries((operator?.spec?.template.spec?.containers[0]?.env ?? []).flatMap((entry) => (entry.value === undefined ? [] : [[entry.name, entry.value]])));
      expect(loadOperatorConfig(operatorEnv).options.activator).to.deep.equal({ namespace, name: 'modelship-activator' });
      expect(loadActivatorConfig(activatorEnv)).to.include({ port: 8012, metricsPort: 9090, holdMs: 120_000, maxBodyBytes: 64 * 1024 * 1024 });
    }, { timeoutMs: 60_000 });
    const can = async (account: string, ...args: string[]) => (await plane().running.kubectl(['auth', 'can-i', ...args, `--as=system:serviceaccount:${namespace}:${account}`]).catch(() => 'no')).trim();
    expect(await can('modelship', 'watch', 'modeldeployments.modelship.io', '-A')).to.equal('yes');
    expect(await can('modelship', 'update', 'leases', '-n', namespace)).to.equal('yes');
    // The activator reads Services and EndpointSlices, and nothing else.
    expect(await can('modelship-activator', 'watch', 'endpointslices.discovery.k8s.io', '-A')).to.equal('yes');
    expect(await can('modelship-activator', 'list', 'services', '-A')).to.equal('yes');
    for (const denied of [['get', 'secrets', '-A'], ['create', 'endpointslices.discovery.k8s.io', '-A'], ['list', 'pods', '-A'], ['watch', 'modeldeployments.modelship.io', '-A']]) {
      expect(await can('modelship-activator', ...denied), denied.join(' ')).to.equal('no');
    }
  });

  it("serves the operator's metrics through its Service: both replicas are its endpoints", async () => {
    const service = rendered.find((o) => o.kind === 'Service' && o.metadata?.name === 'modelship-metrics');
    expect(service, 'the metrics Service').to.not.equal(undefined);
    await eventually(async () => {
      const slices = JSON.parse(await plane().running.kubectl(['get', 'endpointslices', '-n', namespace, '-l', 'kubernetes.io/service-name=modelship-metrics', '-o', 'json'])) as { items: { endpoints?: { conditions?: { ready?: boolean } }[]; ports?: { name: string; port: number }[] }[] };
      const ready = slices.items.flatMap((slice) => slice.endpoints ?? []).filter((endpoint) => endpoint.conditions?.ready);
      expect(ready).to.have.length(2);
      expect(slices.items[0]?.ports).to.deep.equal([{ name: 'metrics', port: 8081, protocol: 'TCP' }]);
    }, { timeoutMs: 60_000 });
  });

  it("renders a ServiceMonitor and a PodMonitor the real apiserver admits under the Prometheus Operator's CRDs, selecting the operator's metrics Service and the runtime pods", async () => {
    const crdsWereThere = (await plane().running.kubectl(['get', 'crd', '-o', 'name'])).includes('servicemonitors.monitoring.coreos.com');
    await installOptionalCrds(plane().running.kubectl, 'prometheus-operator');
    try {
      const { stdout } = await run(helm, [
        'template', 'modelship', CHART, '--namespace', namespace, '--kube-version', 'v1.33.0',
        '--set', 'serviceMonitor.enabled=true,podMonitor.enabled=true,serviceMonitor.labels.release=kube-prometheus-stack',
        '--show-only', 'templates/servicemonitor.yaml', '--show-only', 'templates/podmonitor.yaml',
      ]);
      // Server-side apply validates every field against the CRDs' schemas and refuses unknown ones.
      await plane().running.kubectl(['apply', '--server-side', '--field-manager=helm-test', '-n', namespace, '-f', '-'], stdout);
      const get = async <T>(kind: string, name: string) => JSON.parse(await plane().running.kubectl(['get', kind, name, '-n', namespace, '-o', 'json'])) as T;

      const monitor = await get<{ metadata: { labels: Record<string, string> }; spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; honorLabels: boolean }[] } }>('servicemonitors.monitoring.coreos.com', 'modelship');
      const service = rendered.find((o) => o.kind === 'Service' && o.metadata?.name === 'modelship-metrics') as { metadata: { labels: Record<string, string> }; spec: { ports: { name: string }[] } };
      expect(service.metadata.labels).to.include(monitor.spec.selector.matchLabels);
      expect(monitor.spec.endpoints.map((e) => e.port)).to.deep.equal(service.spec.ports.map((p) => p.name));
      expect(monitor.spec.endpoints[0]?.honorLabels, "modelship_rollout_weight keeps its ModelDeployment's namespace label").to.equal(true);
      expect(monitor.metadata.labels).to.include({ release: 'kube-prometheus-stack' });

      const pods = await get<{ spec: { namespaceSelector: { any: boolean }; selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: { port: string; path: string }[] } }>('podmonitors.monitoring.coreos.com', 'modelship-runtimes');
      expect(pods.spec.namespaceSelector).to.deep.equal({ any: true });
      expect(childLabels(modelDeployment()), "the runtime pods' labels").to.include(pods.spec.selector.matchLabels);
      expect(pods.spec.podMetricsEndpoints).to.deep.equal([{
        port: HTTP_PORT_NAME, path: RuntimeProbePaths.metrics, interval: '15s',
        // spec.security.tls pods say https in their scrape annotation; the scheme follows it.
        relabelings: [{ action: 'replace', regex: '(https?)', sourceLabels: ['__meta_kubernetes_pod_annotation_prometheus_io_scheme'], targetLabel: '__scheme__' }],
        tlsConfig: { insecureSkipVerify: true },
      }]);
    } finally {
      if (!crdsWereThere) await uninstallOptionalCrds(plane().running.kubectl, 'prometheus-operator');
    }
  });
});
