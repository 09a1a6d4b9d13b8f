import type { KubernetesObject } from '@kubernetes/client-node';
import type { AutoscalerName } from '../../api/schema.ts';
import type { ModelDeployment } from '../../api/types.ts';
import type { ChildKind } from '../child-kind.ts';
import type { RevisionSlot } from '../labels.ts';
import type { OperatorOptions } from '../options.ts';

export type Autoscaling = NonNullable<ModelDeployment['spec']['autoscaling']>;

/** What the planner asks of an autoscaler: the objects that scale one of the model's Deployments. */
export interface ScaleRequest {
  md: ModelDeployment;
  autoscaling: Autoscaling;
  /** The revision's Deployment under a progressive rollout; absent: the model's one Deployment. */
  slot?: RevisionSlot;
  options: OperatorOptions;
  /** The model may go to zero replicas (minReplicas 0, an autoscaler that can, an activator to hold requests). */
  scaleToZero?: ScaleToZero;
}

export interface ScaleToZero {
  /** Seconds without requests before the last replica goes. */
  afterSeconds: number;
}

/**
 * One implementation of autoscaling (a plain HorizontalPodAutoscaler, KEDA). The planner asks the
 * autoscaler of a ModelDeployment (registry.ts) and names none.
 */
export interface Autoscaler {
  readonly name: AutoscalerName;
  /** What status calls what it writes. */
  readonly product: string;
  /** The kinds of objects it writes; an optional kind is found by discovery. */
  readonly kinds: readonly ChildKind[];
  /** Whether it is installed, given which optional kinds the cluster serves. */
  readonly installed: (served: (kind: ChildKind) => boolean) => boolean;
  /** Why it cannot scale this model although it is installed (a setting it needs); undefined: it can. */
  readonly unable: (request: Omit<ScaleRequest, 'slot'>) => string | undefined;
  /** Whether it scales a model to zero replicas and back (minReplicas 0). */
  readonly scalesToZero: boolean;
  /** What the condition says when it is not installed. */
  readonly missing: string;
  scale(request: ScaleRequest): KubernetesObject[];
}

/** "2-20 replicas on mean prediction latency (200 ms) and CPU (70% of the request)", for status. */
export function describeTargets(autoscaling: Autoscaling, minReplicas: number): string {
  const on = [
    ...(autoscaling.targetPredictionLatencyMs !== undefined ? [`mean prediction latency (${autoscaling.targetPredictionLatencyMs} ms)`] : []),
    ...(autoscaling.targetCPUUtilization !== undefined ? [`CPU (${autoscaling.targetCPUUtilization}% of the request)`] : []),
  ];
  return `${minReplicas}-${autoscaling.maxReplicas} replicas on ${on.join(' and ')}`;
}
