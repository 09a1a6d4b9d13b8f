import type { V1Deployment } from '@kubernetes/client-node';
import { ChildKinds, childKindOf } from '../desired/child-kinds.ts';
import type { Plan, TrafficRouting } from '../desired/plan.ts';
import type { RolloutDecision } from '../rollout/state-machine.ts';
import type { RetiredPods } from './retired-pods.ts';
import type { RuntimeFailure } from './runtime-failure.ts';
import type { ConditionState } from './conditions.ts';

/** What the controller saw of a ModelDeployment's children in this pass. */
export interface ObservedChildren {
  /** The Deployment serving the stable revision. */
  deployment?: V1Deployment;
  /** The replicas this pass asks of that Deployment (absent under autoscaling: the HPA decides). */
  plannedReplicas?: number;
  /** The rollout this pass decided on and the routing that carries it (absent: a plain rolling update). */
  rollout?: RolloutDecision;
  routing?: TrafficRouting;
  /** Where spec.slo alerts go: a PrometheusRule, nowhere because its CRD is missing, or no SLO at all. */
  alerting?: 'PrometheusRule' | 'NotInstalled';
  /** Which autoscaler scales the model on what, as the plan chose it (absent without spec.autoscaling). */
  autoscaling?: ConditionState;
  /** The model is scaled to zero (or starting from zero) and its Service leads to the activator, which holds requests. */
  heldByActivator?: boolean;
  /** Objects in the way that the ModelDeployment does not own (same name, other owner). */
  conflicts?: string[];
  /** Whether a models:/ URI was resolved in its registry in this pass, and why not (absent for other URIs). */
  modelResolved?: ConditionState;
  /** Why applying a child failed (e.g. the apiserver refused it), when it did. */
  applyError?: string;
  /** What a runtime pod that cannot serve the model reports (e.g. a signature that does not verify). */
  runtimeFailure?: RuntimeFailure;
  /** Pods of retired revisions still behind a Service that selects every revision (no mesh): they still answer. */
  retiredPods?: RetiredPods[];
  /** Child kinds the operator may not list/watch (RBAC), each with the apiserver's message. */
  watchForbidden?: string[];
}

/** The replicas a plan asks of the stable revision's Deployment; undefined under autoscaling. */
export function plannedStableReplicas(plan: Pick<Plan, 'objects' | 'stableDeploymentName'>): number | undefined {
  const stable = plan.objects.find((object) => childKindOf(object) === ChildKinds.deployment && object.metadata?.name === plan.stableDeploymentName);
  return (stable as V1Deployment | undefined)?.spec?.replicas;
}
