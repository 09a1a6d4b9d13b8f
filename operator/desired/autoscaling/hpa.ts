import type { V2HorizontalPodAutoscaler, V2MetricSpec } from '@kubernetes/client-node';
import { SpecDefaults } from '../../api/schema.ts';
import { childKind } from '../child-kind.ts';
import { childLabels } from '../labels.ts';
import { childMetadata, nameOf } from '../metadata.ts';
import type { Autoscaler, Autoscaling, ScaleRequest } from './engine.ts';
import { latencyTarget, PREDICTION_LATENCY_METRIC } from './latency.ts';

export const HorizontalPodAutoscalerKind = childKind('autoscaling', 'v2', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers');

function metrics(autoscaling: Autoscaling): V2MetricSpec[] {
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

/** The HPA that scales one Deployment of the model. */
export function desiredHorizontalPodAutoscaler({ md, autoscaling, slot }: ScaleRequest): V2HorizontalPodAutoscaler {
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

/** Kubernetes's own autoscaler: always there; its latency target needs a custom-metrics adapter. */
export const hpaAutoscaler: Autoscaler = {
  name: 'HPA',
  product: 'HorizontalPodAutoscaler',
  kinds: [HorizontalPodAutoscalerKind],
  installed: () => true,
  unable: () => undefined,
  // An HPA's minReplicas is at least 1 (0 only behind the HPAScaleToZero feature gate, alpha since 1.16).
  scalesToZero: false,
  missing: '',
  scale: (request) => [desiredHorizontalPodAutoscaler(request)],
};
