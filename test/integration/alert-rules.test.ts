import type { KubernetesObject } from '@kubernetes/client-node';
import { expect } from 'chai';
import { dump } from 'js-yaml';
import { eventually } from '../support/eventually.ts';
import { installOptionalCrds, uninstallOptionalCrds } from '../support/optional-crds.ts';
import { startOperator, type OperatorProcess } from '../support/operator-process.ts';
import { promtoolCheckRules, promtoolTestRules } from '../support/promtool.ts';
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
    written = dump(rule.spec);
  });

  let written = '';

  /**
   * The runtime's series as a pod scrape gives them (model and namespace labels), per minute for
   * 90 minutes: 1,000 predictions a minute, `slowShare` of them between 0.25 and 0.5 s (the rest
   * under 50 ms), `errorShare` answered 500. `model` lets another model's series in beside them.
   */
  const series = (model: string, slowShare: number, errorShare: number) => {
    const labels = `namespace="${namespace}",model="${model}",revision="abc1234"`;
    const perMinute = 1000;
    const slow = perMinute * slowShare;
    const cumulative = (le: string, count: number) => `      - series: 'prediction_latency_seconds_bucket{${labels},le="${le}"}'\n        values: '0+${count}x90'`;
    return [
      cumulative('0.05', perMinute - slow), cumulative('0.1', perMinute - slow), cumulative('0.25', perMinute - slow), cumulative('0.5', perMinute), cumulative('+Inf', perMinute),
      `      - series: 'prediction_requests_total{${labels},code="200"}'\n        values: '0+${perMinute * (1 - errorShare)}x90'`,
      `      - series: 'prediction_requests_total{${labels},code="500"}'\n        values: '0+${perMinute * errorShare}x90'`,
    ].join('\n');
  };
  const expect3 = (alertname: string, at: string, alerts: string) => `      - eval_time: ${at}\n        alertname: ${alertname}\n        exp_alerts:${alerts}`;
  const firing = (summary: string, description: string) =>
    `\n          - exp_labels: { severity: page, modeldeployment: fraud }\n            exp_annotations:\n              summary: ${JSON.stringify(summary)}\n              description: ${JSON.stringify(description)}`;
  const tests = (inputs: string, checks: string[]) => `evaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n${inputs}\n    alert_rule_test:\n${checks.join('\n')}\n`;
  const who = `${namespace}/fraud`;

  it('the rules it wrote fire on series over the SLO (after their for:), stay silent under it, and never for another model\'s series', async () => {
    expect(written, 'the PrometheusRule of the test before').to.not.equal('');
    // 2% of predictions slow (p99 between 0.25 and 0.5 s against 250 ms) and 5% failing (against 1%, and 14.4 x 0.1% of budget).
    const over = await promtoolTestRules(written, tests(series('fraud', 0.02, 0.05), [
      expect3('ModelshipPredictionLatencyHigh', '3m', ' []'),
      expect3('ModelshipPredictionLatencyHigh', '10m', firing(`${who}: p99 prediction latency above 250 ms`, `The p99 prediction_latency of ${who} has been above its SLO of 250 ms for 5 minutes: 375ms.`)),
      expect3('ModelshipErrorRateHigh', '10m', firing(`${who}: more than 1% of predictions fail`, `The share of 5xx answers of ${who} has been above 0.01 for 5 minutes: 5%.`)),
      expect3('ModelshipErrorBudgetBurn', '70m', firing(`${who}: burning its 99.9% availability budget 14.4x too fast`, `At the last hour's error rate, ${who} spends its 30-day error budget in about two days.`)),
    ]));
    expect(over.ok, over.output).to.equal(true);

    // Under the SLO (0.5% slow: p99 under 250 ms; 0.5% failing: under 1% and under 1.44%), and another model of the namespace far over it.
    const under = await promtoolTestRules(written, tests(`${series('fraud', 0.005, 0.005)}\n${series('churn', 0.5, 0.5)}`, [
      expect3('ModelshipPredictionLatencyHigh', '30m', ' []'),
      expect3('ModelshipErrorRateHigh', '30m', ' []'),
      expect3('ModelshipErrorBudgetBurn', '80m', ' []'),
    ]));
    expect(under.ok, under.output).to.equal(true);
  });

  it('spec.slo.alertAfter shortens the alerts\' window and wait: the rewritten rules fire after 2 minutes over the SLO, not 5', async () => {
    await kubectl(['patch', 'md', 'fraud', '-n', namespace, '--type=merge', '-p', JSON.stringify({ spec: { slo: { alertAfter: '2m' } } })]);
    const rewritten = await eventually(async () => {
      const rule = JSON.parse(await kubectl(['get', 'prometheusrules.monitoring.coreos.com', 'fraud', '-n', namespace, '-o', 'json'])) as PrometheusRule & { spec: { groups: { rules: { for?: string }[] }[] } };
      expect(rule.spec.groups[0]?.rules[0]?.for).to.equal('120s');
      return dump(rule.spec);
    }, { timeoutMs: 60_000 });
    const result = await promtoolTestRules(rewritten, tests(series('fraud', 0.02, 0.05), [
      expect3('ModelshipPredictionLatencyHigh', '1m', ' []'),
      expect3('ModelshipPredictionLatencyHigh', '4m', firing(`${who}: p99 prediction latency above 250 ms`, `The p99 prediction_latency of ${who} has been above its SLO of 250 ms for 2m: 375ms.`)),
      expect3('ModelshipErrorRateHigh', '4m', firing(`${who}: more than 1% of predictions fail`, `The share of 5xx answers of ${who} has been above 0.01 for 2m: 5%.`)),
    ]));
    expect(result.ok, result.output).to.equal(true);
  });
});
