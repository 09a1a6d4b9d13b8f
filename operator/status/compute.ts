import { inconclusiveCause } from '../analysis/evaluate.ts';
import { CONDITION_TYPES } from '../api/schema.ts';
import type { Condition, ModelDeployment, ModelDeploymentStatus, Phase } from '../api/types.ts';
import { minimumReplicas } from '../desired/disruption-budget.ts';
import { INSTANCE_LABEL } from '../desired/labels.ts';
import { nameOf } from '../desired/metadata.ts';
import type { OperatorOptions } from '../desired/options.ts';
import { revisionOf } from '../desired/revision.ts';
import { resolvedModelOf } from '../desired/model-source.ts';
import { modelVersionOf } from '../desired/model-source.ts';
import { modelNameOf } from '../desired/runtime-env.ts';
import { endpointUrl } from '../desired/service.ts';
import { nextCondition, type ConditionState, type ConditionType } from './conditions.ts';
import { deploymentProgress, type DeploymentProgress, type DeploymentState } from './deployment-progress.ts';
import { stableDeploymentState } from './stable-state.ts';
import type { ObservedChildren } from './observed.ts';
import type { TrafficRouting } from '../desired/plan.ts';
import { recordFields, type RolloutDecision, type RolloutStatus } from '../rollout/state-machine.ts';
import { kstatusConditions, type Problem } from './kstatus.ts';

const NO_PROBLEM: ConditionState = { status: 'False', reason: 'AsExpected', message: '' };

/** The stable revision's Deployment as status sees it: how far it has rolled out, and what that means. */
interface StableDeployment {
  revision: string;
  progress: DeploymentProgress;
  state: DeploymentState;
}

/** A Deployment the plan is about to resize is measured against its new size: until it has it, it has not rolled out. */
function desiredProgress(progress: DeploymentProgress, plannedReplicas: number | undefined): DeploymentProgress {
  return plannedReplicas === undefined ? progress : { ...progress, desired: plannedReplicas };
}

function readyCounts({ progress }: StableDeployment): string {
  return `${progress.ready}/${progress.desired} replicas ready`;
}

function problemOf(observed: ObservedChildren, stableSide: StableDeployment | undefined, aborted: RolloutStatus | undefined): Problem | undefined {
  if (observed.conflicts?.length) return { stalls: true, state: { status: 'True', reason: 'ChildConflict', message: observed.conflicts.join('; ') } };
  if (observed.applyError) return { stalls: true, state: { status: 'True', reason: 'ApplyFailed', message: observed.applyError } };
  if (observed.watchForbidden?.length) {
    const message = `the operator may not list/watch these children, so it neither writes nor prunes them: ${observed.watchForbidden.join('; ')}`;
    return { stalls: true, state: { status: 'True', reason: 'WatchForbidden', message } };
  }
  // A model that does not verify or load stays that way until someone fixes the model, its signature or the key.
  if (observed.runtimeFailure) {
    const { reason, message, waitsForNode } = observed.runtimeFailure;
    return { stalls: !waitsForNode, state: { status: 'True', reason, message } };
  }
  if (stableSide?.state === 'Stalled') {
    return { stalls: true, state: { status: 'True', reason: 'ProgressDeadlineExceeded', message: `revision ${stableSide.revision}: ${stableSide.progress.stalled}` } };
  }
  if (aborted) {
    return {
      stalls: true,
      state: { status: 'True', reason: aborted.abortReason === 'AnalysisFailed' ? 'AnalysisFailed' : 'RolloutAborted', message: aborted.message ?? 'rollout aborted' },
    };
  }
  if (stableSide?.state === 'ReplicasLost') {
    return { stalls: false, state: { status: 'True', reason: 'ReplicasUnavailable', message: `revision ${stableSide.revision}: ${readyCounts(stableSide)}` } };
  }
  return undefined;
}

function progressing(stableSide: StableDeployment | undefined, revision: string): ConditionState {
  if (!stableSide) return { status: 'True', reason: 'Creating', message: `creating revision ${revision}` };
  const { progress, state } = stableSide;
  if (state === 'Stalled') return { status: 'False', reason: 'ProgressDeadlineExceeded', message: `revision ${revision} stopped making progress` };
  if (state === 'RollingOut') {
    return {
      status: 'True',
      reason: 'RolloutInProgress',
      message: `revision ${revision}: ${progress.updated}/${progress.desired} replicas updated, ${progress.ready} ready`,
    };
  }
  return { status: 'False', reason: 'RolloutComplete', message: `revision ${revision} rolled out` };
}

function ready(stableSide: StableDeployment | undefined, revision: string, heldByActivator: boolean): ConditionState {
  if (!stableSide) return { status: 'False', reason: 'DeploymentPending', message: `waiting for the Deployment of revision ${revision}` };
  const { progress, state } = stableSide;
  // Scaled to zero by design: requests are answered, the first ones after a cold start.
  if (heldByActivator && progress.ready === 0) {
    return { status: 'True', reason: 'ScaledToZero', message: `revision ${revision}: ${readyCounts(stableSide)}; the activator holds requests until a pod is ready` };
  }
  if (progress.desired === 0) return { status: 'False', reason: 'ScaledToZero', message: 'no replicas requested' };
  if (progress.ready === 0) return { status: 'False', reason: 'NoReplicasReady', message: `revision ${revision}: ${readyCounts(stableSide)}` };
  if (state === 'Complete') return { status: 'True', reason: 'StableServing', message: `revision ${revision}: ${readyCounts(stableSide)}` };
  const serving = progress.revision && progress.revision !== revision ? ` (rolling out from revision ${progress.revision})` : '';
  return { status: 'True', reason: 'Serving', message: `revision ${revision}: ${readyCounts(stableSide)}${serving}` };
}

function rolloutProgress(decision: RolloutDecision | undefined): ConditionState | undefined {
  if (!decision || decision.rollout.phase === 'Stable') return undefined;
  const message = decision.rollout.message ?? '';
  switch (decision.rollout.phase) {
    case 'Aborted': return { status: 'False', reason: 'RolloutAborted', message };
    case 'Paused': return { status: 'True', reason: 'RolloutPaused', message };
    case 'WaitingForPromotion': return { status: 'True', reason: 'WaitingForPromotion', message };
    default: {
      // A canary held because its analysis cannot sample says why where `kubectl describe` shows it.
      const inconclusive = inconclusiveCause(decision.analysis);
      if (inconclusive) return { status: 'True', reason: inconclusive.reason, message: `${message}; ${inconclusive.message}` };
      return { status: 'True', reason: 'RolloutInProgress', message };
    }
  }
}

/** Traffic has not settled while a retired revision's pods take requests (routing/router.ts, retiredPodsServe). */
function retiredPodsStopping(observed: ObservedChildren): ConditionState | undefined {
  if (!observed.retiredPods?.length) return undefined;
  const which = observed.retiredPods.map(({ revision, pods }) => `revision ${revision}: ${pods} ${pods === 1 ? 'pod' : 'pods'}`).join(', ');
  return { status: 'True', reason: 'RetiredPodsStopping', message: `${which} still running, answering what reaches them (through the Service, or on connections opened before it switched) until they exit` };
}

function trafficRouting(routing: TrafficRouting | undefined): ConditionState {
  return routing?.condition ?? { status: 'True', reason: 'ServiceRouting', message: 'the Service routes to every ready pod' };
}

/** Only a ModelDeployment with spec.slo has alert rules to speak of. */
function alertRulesCondition(alerting: ObservedChildren['alerting']): ConditionState | undefined {
  if (alerting === 'NotInstalled') {
    return { status: 'False', reason: 'PrometheusOperatorNotInstalled', message: 'spec.slo is not alerted on: the Prometheus Operator CRDs (PrometheusRule) are not installed' };
  }
  if (alerting === 'PrometheusRule') return { status: 'True', reason: 'PrometheusRuleWritten', message: 'spec.slo alerts are in the PrometheusRule of the same name' };
  return undefined;
}

function phaseOf(states: Record<'Ready' | 'Progressing' | 'Degraded', ConditionState>, stableSide: StableDeployment | undefined): Phase {
  if (states.Degraded.status === 'True') return 'Degraded';
  if (!stableSide) return 'Pending';
  if (states.Progressing.status === 'True') return 'Progressing';
  if (stableSide.progress.desired === 0) return 'Idle';
  return states.Ready.status === 'True' ? 'Ready' : 'Pending';
}

/**
 * The ModelDeployment's status from what its children report. Pure and stable: for the same
 * inputs and an unchanged world it returns exactly the previous status, so the controller
 * writes nothing at steady state.
 */
export function computeStatus(
  md: ModelDeployment,
  observed: ObservedChildren,
  now: Date,
  options: Pick<OperatorOptions, 'clusterDomain'> = {},
): ModelDeploymentStatus {
  const decision = observed.rollout;
  const resolved = resolvedModelOf(md);
  const revision = decision?.stableRevision ?? revisionOf(md);
  const generation = md.metadata.generation;
  const progress = observed.deployment ? desiredProgress(deploymentProgress(observed.deployment, minimumReplicas(md)), observed.plannedReplicas) : undefined;
  const stableSide = progress ? { revision, progress, state: stableDeploymentState(progress, revision, md.status) } : undefined;
  const aborted = decision?.rollout.phase === 'Aborted' ? decision.rollout : undefined;
  const problem = problemOf(observed, stableSide, aborted);
  const core: Record<'Ready' | 'Progressing' | 'Degraded', ConditionState> = {
    Ready: ready(stableSide, revision, observed.heldByActivator ?? false),
    Progressing: rolloutProgress(decision) ?? retiredPodsStopping(observed) ?? progressing(stableSide, revision),
    Degraded: problem?.state ?? NO_PROBLEM,
  };
  const states: Record<ConditionType, ConditionState | undefined> = {
    ...core,
    ...kstatusConditions({ progressing: core.Progressing, problem, ready: core.Ready }),
    TrafficRouting: trafficRouting(observed.routing),
    Autoscaling: observed.autoscaling,
    AlertRules: alertRulesCondition(observed.alerting),
    ModelResolved: observed.modelResolved,
    // Written only while a ModelDeployment is held for want of the admission policy (controller/reconciler.ts).
    Admitted: undefined,
  };
  const conditions: Condition[] = CONDITION_TYPES.flatMap((type) => {
    const state = states[type];
    return state ? [nextCondition(md.status?.conditions, type, state, generation, now)] : [];
  });
  return {
    ...(generation !== undefined && { observedGeneration: generation }),
    phase: phaseOf(core, stableSide),
    conditions,
    revision: revisionOf(md),
    ...(decision && { ...recordFields(decision), weights: observed.routing?.weights ?? decision.weights }),
    ...(resolved && { model: resolved }),
    modelName: modelNameOf(md),
    ...(modelVersionOf(md) !== undefined && { modelVersion: modelVersionOf(md) }),
    replicas: progress?.total ?? 0,
    readyReplicas: progress?.ready ?? 0,
    updatedReplicas: progress?.updated ?? 0,
    availableReplicas: progress?.available ?? 0,
    ready: `${progress?.ready ?? 0}/${progress?.desired ?? minimumReplicas(md)}`,
    selector: `${INSTANCE_LABEL}=${nameOf(md)}`,
    endpoint: endpointUrl(md, options),
  };
}
