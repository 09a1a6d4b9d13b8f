import { expect } from 'chai';
import { istioAnalyze } from '../support/istioctl.ts';
import { installOptionalCrds, optionalCrdNames, uninstallOptionalCrds } from '../support/optional-crds.ts';
import { promtoolCheckRules, promtoolTestRules } from '../support/promtool.ts';
import { stderrOf } from '../support/kubectl-error.ts';
import { plane } from './context.ts';

/** Pods of one version of the model server (KWOK runs them on its simulated nodes). */
function versionDeployment(namespace: string, version: string): object {
  const labels = { app: 'fraud', version };
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: `fraud-v${version}`, namespace },
    spec: {
      replicas: 1, selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: 'runtime', image: 'registry.invalid/modelship-runtime:1', ports: [{ containerPort: 8080 }] }] } },
    },
  };
}

/** A Service with two versions behind it, split 90/10 by a VirtualService over a DestinationRule's subsets. */
function canaryRouting(namespace: string, canarySubset: string): string {
  const host = `fraud.${namespace}.svc.cluster.local`;
  return JSON.stringify({
    apiVersion: 'v1', kind: 'List', items: [
      versionDeployment(namespace, '1'),
      versionDeployment(namespace, '2'),
      {
        apiVersion: 'v1', kind: 'Service', metadata: { name: 'fraud', namespace },
        spec: { selector: { app: 'fraud' }, ports: [{ name: 'http', port: 8080, targetPort: 8080 }] },
      },
      {
        apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'fraud', namespace },
        spec: { host, subsets: [{ name: 'stable', labels: { version: '1' } }, { name: 'canary', labels: { version: '2' } }] },
      },
      {
        apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'fraud', namespace },
        spec: {
          hosts: [host],
          http: [{ route: [
            { destination: { host, subset: 'stable', port: { number: 8080 } }, weight: 90 },
            { destination: { host, subset: canarySubset, port: { number: 8080 } }, weight: 10 },
          ] }],
        },
      },
    ],
  });
}

/** Applies the objects; istioctl's IST0173 counts a subset that selects no pod an error, so wait for them. */
async function applyAndWaitForPods(namespace: string, objects: string): Promise<void> {
  await plane().running.kubectl(['apply', '-f', '-'], objects);
  await plane().running.kubectl(['wait', '--for=condition=Available', '--timeout=120s', '-n', namespace, 'deployment', '--all']);
}

const ALERT_RULES = `groups:
  - name: modelship
    rules:
      - alert: ModelDeploymentHighLatency
        expr: histogram_quantile(0.99, sum by (le, model) (rate(prediction_latency_seconds_bucket[5m]))) > 0.5
        for: 10m
        labels: { severity: warning }
        annotations: { summary: "p99 latency of {{ $labels.model }} above 500ms" }
`;

/**
 * The test tooling for Istio routing and alert rules: Istio's and the Prometheus Operator's published
 * CRDs on the real apiserver, the real istioctl analyzers (no istiod runs here) and Debian's promtool.
 */
describe('Optional CRDs (Istio, Prometheus Operator) with istioctl analyze and promtool', function () {
  this.timeout(30 * 60_000);
  const suffix = Date.now().toString(36);
  const validNamespace = `modelship-istio-ok-${suffix}`;
  const brokenNamespace = `modelship-istio-broken-${suffix}`;
  const monitoringNamespace = `modelship-rules-${suffix}`;
  const namespaces = [validNamespace, brokenNamespace, monitoringNamespace];

  before(async () => {
    for (const namespace of namespaces) await plane().running.kubectl(['create', 'namespace', namespace]);
  });

  after(async () => {
    for (const namespace of namespaces) {
      await plane().running.kubectl(['delete', 'namespace', namespace, '--wait=false', '--ignore-not-found']).catch(() => undefined);
    }
    await uninstallOptionalCrds(plane().running.kubectl, 'istio').catch(() => undefined);
    await uninstallOptionalCrds(plane().running.kubectl, 'prometheus-operator').catch(() => undefined);
  });

  it('installs the published Istio and Prometheus Operator CRDs, Established and served', async () => {
    const istio = await installOptionalCrds(plane().running.kubectl, 'istio');
    const monitoring = await installOptionalCrds(plane().running.kubectl, 'prometheus-operator');
    expect(istio).to.include.members(['virtualservices.networking.istio.io', 'destinationrules.networking.istio.io']);
    expect(monitoring).to.have.members(['prometheusrules.monitoring.coreos.com', 'servicemonitors.monitoring.coreos.com', 'podmonitors.monitoring.coreos.com']);
    const served = await plane().running.kubectl(['api-resources', '--api-group=networking.istio.io', '-o', 'name']);
    expect(served.split('\n')).to.include.members(['virtualservices.networking.istio.io', 'destinationrules.networking.istio.io']);
    const versions = await plane().running.kubectl(['get', 'crd', 'virtualservices.networking.istio.io', '-o', 'jsonpath={.spec.versions[?(@.served==true)].name}']);
    expect(versions.split(' ')).to.include('v1');
  });

  it('accepts a 90/10 canary VirtualService over DestinationRule subsets, and istioctl analyze finds nothing wrong', async () => {
    await applyAndWaitForPods(validNamespace, canaryRouting(validNamespace, 'canary'));
    const findings = await istioAnalyze(plane().kubeconfigPath, validNamespace);
    expect(findings.filter((f) => f.level === 'Error' || f.level === 'Warning'), JSON.stringify(findings)).to.deep.equal([]);
    // It did analyze this namespace: its one Info is that the namespace has no sidecar injection label.
    expect(findings.map((f) => `${f.code} ${f.origin}`)).to.deep.equal([`IST0102 Namespace ${validNamespace}`]);
  });

  it('istioctl analyze reports IST0101 (ReferencedResourceNotFound) for a route to an undefined subset', async () => {
    await applyAndWaitForPods(brokenNamespace, canaryRouting(brokenNamespace, 'blue'));
    const findings = await istioAnalyze(plane().kubeconfigPath, brokenNamespace);
    const problems = findings.filter((f) => f.level === 'Error' || f.level === 'Warning');
    expect(problems.map((f) => f.code), JSON.stringify(findings)).to.deep.equal(['IST0101']);
    expect(problems[0]).to.include({ level: 'Error', origin: `VirtualService ${brokenNamespace}/fraud` });
    expect(problems[0]?.message).to.include(`fraud.${brokenNamespace}.svc.cluster.local+blue`);
  });

  it('accepts a PrometheusRule, and the apiserver refuses one whose rule lacks its expression', async () => {
    const rule = (rules: unknown[]) => JSON.stringify({
      apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: { name: 'modelship', namespace: monitoringNamespace },
      spec: { groups: [{ name: 'modelship', rules }] },
    });
    await plane().running.kubectl(['apply', '-f', '-'], rule([{ alert: 'ModelDeploymentDown', expr: 'up{job="modelship"} == 0', for: '5m' }]));
    const stored = await plane().running.kubectl(['get', 'prometheusrule', 'modelship', '-n', monitoringNamespace, '-o', 'jsonpath={.spec.groups[0].rules[0].alert}']);
    expect(stored).to.equal('ModelDeploymentDown');
    const refused = await plane().running.kubectl(['apply', '-f', '-'], rule([{ alert: 'NoExpression' }])).then(() => '', stderrOf);
    expect(refused).to.include('expr').and.to.include('Required value');
  });

  it('promtool check rules passes valid alert rules and fails an invalid PromQL expression', async () => {
    const valid = await promtoolCheckRules(ALERT_RULES);
    expect(valid.ok, valid.output).to.equal(true);
    expect(valid.output).to.include('SUCCESS: 1 rules found');
    const invalid = await promtoolCheckRules(ALERT_RULES.replace('[5m]))) > 0.5', '[5m]) > 0.5'));
    expect(invalid.ok, invalid.output).to.equal(false);
    expect(invalid.output).to.include('ModelDeploymentHighLatency').and.to.match(/parse error/);
  });

  it('promtool test rules fires an alert only once its condition has held for its `for:` duration', async () => {
    const rules = `groups:
  - name: modelship
    rules:
      - alert: ModelDeploymentDown
        expr: up{job="modelship"} == 0
        for: 5m
        labels: { severity: critical }
`;
    // The target goes down after 2 minutes: pending at minute 4, firing at minute 10.
    const firingAt = (minute: number) => `evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{job="modelship", instance="runtime-0"}'
        values: '1 1 0x15'
    alert_rule_test:
      - eval_time: ${minute}m
        alertname: ModelDeploymentDown
        exp_alerts:
          - exp_labels: { severity: critical, job: modelship, instance: runtime-0 }
`;
    const fired = await promtoolTestRules(rules, firingAt(10));
    expect(fired.ok, fired.output).to.equal(true);
    const early = await promtoolTestRules(rules, firingAt(4));
    expect(early.ok, early.output).to.equal(false);
    expect(early.output).to.include('alertname: ModelDeploymentDown, time: 4m').and.to.include('got:[]');
  });

  it('uninstalls the CRDs: the apiserver no longer serves their kinds', async () => {
    await uninstallOptionalCrds(plane().running.kubectl, 'istio');
    await uninstallOptionalCrds(plane().running.kubectl, 'prometheus-operator');
    const removed = [...await optionalCrdNames('istio'), ...await optionalCrdNames('prometheus-operator')];
    const remaining = (await plane().running.kubectl(['get', 'crd', '-o', 'jsonpath={.items[*].metadata.name}'])).split(' ');
    expect(remaining.filter((name) => removed.includes(name))).to.deep.equal([]);
    const served = await plane().running.kubectl(['api-resources', '--api-group=networking.istio.io', '-o', 'name']);
    expect(served.trim()).to.equal('');
  });
});
