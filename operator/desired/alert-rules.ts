import type { KubernetesObject } from '@kubernetes/client-node';
import type { ModelDeployment } from '../api/types.ts';
import { ChildKinds, typeMeta } from './child-kinds.ts';
import { childLabels } from './labels.ts';
import { childMetadata, nameOf, namespaceOf } from './metadata.ts';
import { durationMs } from '../rollout/duration.ts';
import { modelNameOf } from './runtime-env.ts';

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface PrometheusRule extends KubernetesObject {
  spec: { groups: { name: string; rules: AlertRule[] }[] };
}

/** Burn rate that spends a 30-day error budget in about two days: the usual fast-burn page. */
const FAST_BURN = 14.4;

/**
 * Alerts for spec.slo on the runtime's own series, for every revision of the ModelDeployment (the
 * runtime labels them with its model name; the pod scrape adds the namespace). They page during
 * rollouts and outside them.
 */
export function alertRules(md: ModelDeployment): AlertRule[] {
  const slo = md.spec.slo;
  if (!slo) return [];
  const selector = `namespace="${namespaceOf(md)}",model="${modelNameOf(md)}"`;
  const who = `${namespaceOf(md)}/${nameOf(md)}`;
  const labels = { severity: 'page', modeldeployment: nameOf(md) };
  // Prometheus durations have no fractions: the spec's is given in whole seconds.
  const after = slo.alertAfter ? `${Math.max(1, Math.round(durationMs(slo.alertAfter) / 1000))}s` : '5m';
  const lasting = slo.alertAfter ? slo.alertAfter : '5 minutes';
  const errors = (window: string) =>
    `(sum(rate(prediction_requests_total{${selector},code=~"5.."}[${window}])) or vector(0)) / sum(rate(prediction_requests_total{${selector}}[${window}]))`;
  const rules: AlertRule[] = [];
  if (slo.p99LatencyMs !== undefined) {
    rules.push({
      alert: 'ModelshipPredictionLatencyHigh',
      expr: `histogram_quantile(0.99, sum by (le) (rate(prediction_latency_seconds_bucket{${selector}}[${after}]))) > ${slo.p99LatencyMs / 1000}`,
      for: after,
      labels,
      annotations: {
        summary: `${who}: p99 prediction latency above ${slo.p99LatencyMs} ms`,
        description: `The p99 prediction_latency of ${who} has been above its SLO of ${slo.p99LatencyMs} ms for ${lasting}: {{ $value | humanizeDuration }}.`,
      },
    });
  }
  if (slo.errorRate !== undefined) {
    rules.push({
      alert: 'ModelshipErrorRateHigh',
      expr: `${errors(after)} > ${slo.errorRate}`,
      for: after,
      labels,
      annotations: {
        summary: `${who}: more than ${slo.errorRate * 100}% of predictions fail`,
        description: `The share of 5xx answers of ${who} has been above ${slo.errorRate} for ${lasting}: {{ $value | humanizePercentage }}.`,
      },
    });
  }
  if (slo.availability !== undefined) {
    const budget = Number((1 - slo.availability).toPrecision(6));
    rules.push({
      alert: 'ModelshipErrorBudgetBurn',
      expr: `${errors('1h')} > ${FAST_BURN} * ${budget} and ${errors('5m')} > ${FAST_BURN} * ${budget}`,
      for: '2m',
      labels,
      annotations: {
        summary: `${who}: burning its ${slo.availability * 100}% availability budget ${FAST_BURN}x too fast`,
        description: `At the last hour's error rate, ${who} spends its 30-day error budget in about two days.`,
      },
    });
  }
  return rules;
}

export function desiredPrometheusRule(md: ModelDeployment): PrometheusRule | undefined {
  const rules = alertRules(md);
  if (rules.length === 0) return undefined;
  return {
    ...typeMeta(ChildKinds.prometheusRule),
    metadata: childMetadata(md, childLabels(md)),
    spec: { groups: [{ name: `modelship.${namespaceOf(md)}.${nameOf(md)}`, rules }] },
  };
}
