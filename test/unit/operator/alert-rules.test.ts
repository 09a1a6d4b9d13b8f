import { expect } from 'chai';
import { alertRules, desiredPrometheusRule } from '../../../operator/desired/alert-rules.ts';
import { desiredChildren, modelDeployment } from './fixtures.ts';

describe('unit: SLO alert rules', () => {
  it('writes no PrometheusRule without spec.slo', () => {
    expect(desiredPrometheusRule(modelDeployment())).to.equal(undefined);
    expect(desiredChildren(modelDeployment()).map((o) => o.kind)).to.not.include('PrometheusRule');
  });

  it('alerts on p99 latency (seconds, the metric unit), 5xx share and a fast error-budget burn, for every revision of the model', () => {
    const md = modelDeployment({ slo: { p99LatencyMs: 250, errorRate: 0.01, availability: 0.999 } });
    const rules = alertRules(md);
    expect(rules.map((r) => [r.alert, r.for])).to.deep.equal([
      ['ModelshipPredictionLatencyHigh', '5m'], ['ModelshipErrorRateHigh', '5m'], ['ModelshipErrorBudgetBurn', '2m'],
    ]);
    expect(rules[0]?.expr).to.equal('histogram_quantile(0.99, sum by (le) (rate(prediction_latency_seconds_bucket{namespace="payments",model="fraud-detector"}[5m]))) > 0.25');
    expect(rules[1]?.expr).to.contain('code=~"5.."').and.to.match(/ > 0.01$/);
    expect(rules[2]?.expr).to.contain('[1h]').and.to.contain('[5m]').and.to.contain('14.4 * 0.001');
    expect(rules[0]?.expr, 'no revision label: alerts hold across rollouts').to.not.contain('revision');
    for (const rule of rules) expect(rule.labels).to.deep.equal({ severity: 'page', modeldeployment: 'fraud-detector' });
  });

  it('looks back and waits alertAfter instead of 5 minutes, in whole seconds as Prometheus reads durations; the budget burn keeps its windows', () => {
    const rules = alertRules(modelDeployment({ slo: { p99LatencyMs: 50, errorRate: 0.01, availability: 0.999, alertAfter: '1.5m' } }));
    expect(rules.map((r) => r.for)).to.deep.equal(['90s', '90s', '2m']);
    expect(rules[0]?.expr).to.contain('[90s]');
    expect(rules[1]?.expr).to.contain('[90s]');
    expect(rules[2]?.expr).to.contain('[1h]').and.to.contain('[5m]');
    expect(rules[0]?.annotations.description).to.contain('for 1.5m');
  });

  it('owns the PrometheusRule like every other child', () => {
    const rule = desiredPrometheusRule(modelDeployment({ slo: { errorRate: 0.05 } }));
    expect(rule).to.include({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule' });
    expect(rule?.metadata?.ownerReferences?.[0]).to.include({ kind: 'ModelDeployment', controller: true });
    expect(rule?.spec.groups[0]?.rules).to.have.length(1);
  });
});
