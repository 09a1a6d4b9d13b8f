import type { KubernetesObject } from '@kubernetes/client-node';
import { SpecDefaults } from '../../api/schema.ts';
import { childKind } from '../child-kind.ts';
import { childLabels } from '../labels.ts';
import { childMetadata, nameOf, namespaceOf } from '../metadata.ts';
import type { Autoscaler, Autoscaling, ScaleRequest } from './engine.ts';
import { ACTIVATOR_PENDING_METRIC } from '../../activator/metric-names.ts';
import { meanLatencyQuery } from './latency.ts';

export const ScaledObjectKind = childKind('keda.sh', 'v1alpha1', 'ScaledObject', 'scaledobjects', { provider: 'KEDA' });

interface Trigger {
  type: string;
  name: string;
  metricType: 'Value' | 'AverageValue' | 'Utilization';
  metadata: Record<string, string>;
}

/**
 * The runtime series of the pods one Deployment runs: the model's in its namespace (series carry
 * the pod's namespace from the scrape, the model's name and revision from the runtime), one
 * revision's under a progressive rollout.
 */
function seriesMatchers({ md, slot }: ScaleRequest): string {
  return [`namespace="${namespaceOf(md)}"`, `model="${nameOf(md)}"`, ...(slot ? [`revision="${slot.revision}"`] : [])].join(',');
}

function triggers(request: ScaleRequest, autoscaling: Autoscaling): Trigger[] {
  const found: Trigger[] = [];
  if (autoscaling.targetPredictionLatencyMs !== undefined) {
    // metricType Value: the HPA scales by the query's value against the threshold times the current
    // replicas, as it does with the per-pod mean of a Pods metric (the query is already a mean).
    found.push({
      type: 'prometheus',
      name: 'prediction-latency',
      metricType: 'Value',
      metadata: {
        serverAddress: request.options.prometheusUrl ?? '',
        query: meanLatencyQuery(seriesMatchers(request)),
        threshold: String(autoscaling.targetPredictionLatencyMs / 1000),
        // No pods, no series: the HPA sees 0 rather than an error.
        ignoreNullValues: 'true',
      },
    });
  }
  if (autoscaling.targetCPUUtilization !== undefined) {
    found.push({ type: 'cpu', name: 'cpu', metricType: 'Utilization', metadata: { value: String(autoscaling.targetCPUUtilization) } });
  }
  if (request.scaleToZero) {
    // Whether the model is wanted at all: requests the activator holds for it at zero, or requests
    // its pods served in the last minute. KEDA scales from zero while it is above 0 and to zero once
    // it has been 0 for the cooldown; CPU triggers never count as activity. The threshold is out of
    // reach, so that this trigger never asks for more than one replica.
    found.push({
      type: 'prometheus',
      name: 'activity',
      metricType: 'AverageValue',
      metadata: {
        serverAddress: request.options.prometheusUrl ?? '',
        query: activityQuery(request),
        threshold: '1000000',
        activationThreshold: '0',
        ignoreNullValues: 'true',
      },
    });
  }
  return found;
}

/** Requests held by the activator for the model's Service plus the pods' request rate over the last minute. */
export function activityQuery(request: ScaleRequest): string {
  const { md } = request;
  return `(sum(${ACTIVATOR_PENDING_METRIC}{model_namespace="${namespaceOf(md)}",model_service="${nameOf(md)}"}) or vector(0)) + (sum(rate(prediction_requests_total{${seriesMatchers(request)}}[1m])) or vector(0))`;
}

/** The ScaledObject that scales one Deployment of the model; KEDA makes and drives its HPA. */
export function desiredScaledObject(request: ScaleRequest): KubernetesObject & { spec: object } {
  const { md, autoscaling, slot } = request;
  return {
    apiVersion: ScaledObjectKind.apiVersion,
    kind: ScaledObjectKind.kind,
    metadata: childMetadata(md, childLabels(md), slot?.name),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: slot?.name ?? nameOf(md) },
      minReplicaCount: request.scaleToZero ? 0 : autoscaling.minReplicas ?? SpecDefaults.minReplicas,
      maxReplicaCount: autoscaling.maxReplicas,
      // At zero KEDA asks the activity trigger every pollingInterval: that wait is part of a cold start.
      ...(request.scaleToZero && { pollingInterval: 1, cooldownPeriod: request.scaleToZero.afterSeconds }),
      ...(autoscaling.behavior && { advanced: { horizontalPodAutoscalerConfig: { behavior: autoscaling.behavior } } }),
      triggers: triggers(request, autoscaling),
    },
  };
}

/** KEDA (keda.sh): a ScaledObject per Deployment, its latency trigger asked of the operator's Prometheus. */
export const kedaAutoscaler: Autoscaler = {
  name: 'KEDA',
  product: 'KEDA ScaledObject',
  kinds: [ScaledObjectKind],
  installed: (served) => served(ScaledObjectKind),
  // The latency trigger and, at minReplicas 0, the activity trigger ask Prometheus.
  unable: ({ autoscaling, options }) => (autoscaling.targetPredictionLatencyMs !== undefined || autoscaling.minReplicas === 0) && !options.prometheusUrl
    ? "KEDA's Prometheus trigger needs the Prometheus that scrapes the runtimes, and the operator names none (MODELSHIP_PROMETHEUS_URL, chart value analysis.prometheusUrl)"
    : undefined,
  scalesToZero: true,
  missing: 'KEDA is not installed (no ScaledObject CRD, scaledobjects.keda.sh)',
  scale: (request) => [desiredScaledObject(request)],
};
