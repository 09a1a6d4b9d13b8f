import type { V2HorizontalPodAutoscaler, V2MetricSpec } from '@kubernetes/client-node';
import { SpecDefaults } from '../api/schema.ts';
import type { ModelDeployment } from '../api/types.ts';
import { childLabels, type RevisionSlot } from './labels.ts';
import { childMetadata, nameOf } from './metadata.ts';

/** Per-pod metric the runtime's latency is exposed under to the HPA (through a custom-metrics adapter). */
export const PREDICTION_LATENCY_METRIC = 'prediction_latency';

/**
 * HPA target for the latency metric. The adapter serves prediction_latency in seconds, the
 * Prometheus base unit; a quantity with the milli suffix is thousandths of that unit, so a
 * target of N ms is written "Nm" (200 ms -> "200m" = 0.2 s).
 */
export function latencyTarget(ms: number): string {
  return `${ms}m`;
}

function metrics(autoscaling: NonNullable<ModelDeployment['spec']['autoscaling']>): V2MetricSpec[] {
  const specs: V2MetricSpec[] = [];
  if (autoscaling.targetCPUUtilization !== undefined) {
    specs.push({ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: autoscaling.targetCPUUtilization } } });
  }
  if (autoscaling.targetPredictionLatencyMs !== undefined) {
    specs.push({
      type: 'Pods',
      pods: { metric: { name: PREDICTION_LATENCY_METRIC }, target: { type: 'AverageValue', averageValue: latencyTarget(autoscaling.targetPredictionLatencyMs) } },
    });
  }
  return specs;
}

/** The HPA when spec.autoscaling asks for one, else undefined. */
export function desiredAutoscaler(md: ModelDeployment, slot?: RevisionSlot): V2HorizontalPodAutoscaler | undefined {
  const autoscaling = md.spec.autoscaling;
  if (!autoscaling) return undefined;
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: childMetadata(md, childLabels(md), slot?.name),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: slot?.name ?? nameOf(md) },
      minReplicas: autoscaling.minReplicas ?? SpecDefaults.minReplicas,
      maxReplicas: autoscaling.maxReplicas,
      metrics: metrics(autoscaling),
      ...(autoscaling.behavior && { behavior: autoscaling.behavior }),
    },
  };
}
