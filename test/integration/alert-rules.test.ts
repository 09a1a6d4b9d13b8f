import type { KubernetesObject } from '@kubernetes/client-node';
import { expect } from 'chai';
import { dump } from 'js-yaml';
import { eventually } from '../support/eventually.ts';
import { installOptionalCrds, uninstallOptionalCrds } from '../support/optional-crds.ts';
import { startOperator, type OperatorProcess } from '../support/operator-process.ts';
import { promtoolCheckRules } from '../support/promtool.ts';
import { plane } from './context.ts';

interface MdObject extends KubernetesObject { status?: { conditions?: { type: string; status: string; reason: string; message: string }[] } }
interface PrometheusRule extends KubernetesObject { spec: { groups: { name: string; rules: { alert: string; expr: string }[] }[] } }

const namespace = `alerts-${Date.now().toString(36)}`;
const kubectl = (args: string[], stdin?: string) => plane().running.kubectl(args, stdin);
const alertRules = async () => (JSON.parse(await kubectl(['get', 'md', 'fraud', '-n', namespace, '-o', 'json'])) as MdObject).status?.conditions?.find((c) => c.type === 'AlertRules');

describe('SLO alert rules (PrometheusRule with the Prometheus Operator CRDs, checked by promtool)', function () {
  this.timeout(600_000);
  let operator: OperatorProcess;

  before(async () => {
    await kubectl(['apply', '--server-side', '-f', 'crds/']);
    await kubectl(['wait', '--for=condition=Established', 'crd/modeldeployments.modelship.io', '--timeout=60s']);
    await kubectl(['create', 'namespace', namespace]);
    operator = await startOperator(plane().kubeconfigPath, 'operator-alerts', { MODELSHIP_WATCH_NAMESPACE: namespace, MODELSHIP_DISCOVERY_INTERVAL_SECONDS: '2' });
  });

  after(async function () {
    this.timeout(420_000);
    await operator?.stop();
    await kubectl(['delete', 'namespace', namespace, '--wait=false']);
    await uninstallOptionalCrds(kubectl, 'prometheus-operator');
  });

  it('without the Prometheus Operator writes nothing and says so; once its CRDs appear, writes a PrometheusRule the apiserver and promtool accept', async () => {
    const md = {
      apiVersion: 'modelship.io/v1alpha1', kind: 'ModelDeployment', metadata: { name: 'fraud', namespace },
      spec: {
        model: { uri: 'https://models.example.com/fraud/model.onnx', sha256: 'c'.repeat(64), version: '1' },
        slo: { p99LatencyMs: 250, errorRate: 0.01, availability: 0.999 },
      },
    };
    await kubectl(['apply', '--server-side', '--field-manager=test-user', '-f', '-'], JSON.stringify(md));
    await eventually(async () => expect(await alertRules()).to.include({ status: 'False', reason: 'PrometheusOperatorNotInstalled' }));

    await installOptionalCrds(kubectl, 'prometheus-operator');
    await eventually(async () => expect(await alertRules()).to.include({ status: 'True', reason: 'PrometheusRuleWritten' }), { timeoutMs: 60_000 });
    const rule = JSON.parse(await kubectl(['get', 'prometheusrules.monitoring.coreos.com', 'fraud', '-n', namespace, '-o', 'json'])) as PrometheusRule;
    expect(rule.metadata?.ownerReferences?.[0]).to.include({ kind: 'ModelDeployment', name: 'fraud', controller: true });
    expect(rule.spec.groups[0]?.rules.map((r) => r.alert)).to.deep.equal(['ModelshipPredictionLatencyHigh', 'ModelshipErrorRateHigh', 'ModelshipErrorBudgetBurn']);
    const check = await promtoolCheckRules(dump(rule.spec));
    expect(check.ok, check.output).to.equal(true);
    expect(check.output).to.match(/SUCCESS: 3 rules found/);
  });
});
