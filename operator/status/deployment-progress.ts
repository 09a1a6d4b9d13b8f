import type { V1Deployment } from '@kubernetes/client-node';
import { REVISION_LABEL } from '../desired/labels.ts';

/** A Deployment's rollout reduced to what the ModelDeployment's status needs. */
export interface DeploymentProgress {
  /** Replicas wanted: the Deployment's count (the HPA's decision under autoscaling). */
  desired: number;
  /** All pods, old revisions included. */
  total: number;
  updated: number;
  ready: number;
  available: number;
  /** Revision label of the Deployment's pod template. */
  revision: string | undefined;
  /** The Deployment controller has seen the latest spec. */
  observedLatest: boolean;
  /** Message of the Deployment's ProgressDeadlineExceeded condition, when it has given up. */
  stalled: string | undefined;
  /** The Deployment controller saw this rollout become fully available at some point. */
  onceAvailable: boolean;
}

/**
 * Where the rollout of a revision stands:
 * - RollingOut: pods of the revision are being created or are starting;
 * - Complete: every replica runs the revision and is available;
 * - ReplicasLost: the rollout had completed, and since then replicas stopped being ready;
 * - Stalled: the Deployment passed its progress deadline.
 */
export type DeploymentState = 'RollingOut' | 'Complete' | 'ReplicasLost' | 'Stalled';

export function deploymentProgress(deployment: V1Deployment, fallbackDesired: number): DeploymentProgress {
  const status = deployment.status ?? {};
  const generation = deployment.metadata?.generation;
  const progressingCondition = status.conditions?.find((c) => c.type === 'Progressing');
  const deadline = progressingCondition?.status === 'False' && progressingCondition.reason === 'ProgressDeadlineExceeded' ? progressingCondition : undefined;
  return {
    desired: deployment.spec?.replicas ?? fallbackDesired,
    total: status.replicas ?? 0,
    updated: status.updatedReplicas ?? 0,
    ready: status.readyReplicas ?? 0,
    available: status.availableReplicas ?? 0,
    revision: deployment.spec?.template?.metadata?.labels?.[REVISION_LABEL],
    observedLatest: generation === undefined || (status.observedGeneration ?? 0) >= generation,
    stalled: deadline ? (deadline.message ?? 'progress deadline exceeded') : undefined,
    onceAvailable: progressingCondition?.reason === 'NewReplicaSetAvailable',
  };
}

export function deploymentState(progress: DeploymentProgress, revision: string): DeploymentState {
  if (progress.stalled) return 'Stalled';
  const settled = progress.observedLatest && progress.revision === revision && progress.updated >= progress.desired && progress.total === progress.updated;
  if (!settled) return 'RollingOut';
  if (progress.available >= progress.desired && progress.ready >= progress.desired) return 'Complete';
  // Pods that never became ready belong to a rollout still in progress (until its deadline);
  // pods that were ready and are not any more are lost capacity.
  return progress.onceAvailable ? 'ReplicasLost' : 'RollingOut';
}
