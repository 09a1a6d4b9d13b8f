import type { ModelDeploymentStatus } from '../api/types.ts';
import { findCondition } from './conditions.ts';
import { deploymentState, type DeploymentProgress, type DeploymentState } from './deployment-progress.ts';

/**
 * Where the stable revision's Deployment stands, given what status said in the previous pass.
 * The Deployment alone cannot tell a scale-up from lost pods: its Progressing condition stays
 * NewReplicaSetAvailable through both. So a revision that has not completed yet is still rolling
 * out (a promoted canary growing to full size), and a completed one short of ready replicas has
 * lost them only when fewer are ready than before (or it had already); otherwise it is scaling up
 * (the HPA, spec.replicas, a canary's stable side growing back) and stays Complete.
 */
export function stableDeploymentState(progress: DeploymentProgress, revision: string, previous: ModelDeploymentStatus | undefined): DeploymentState {
  const state = deploymentState(progress, revision);
  if (state === 'Complete' || state === 'Stalled') return state;
  const sameRevision = previous !== undefined && (previous.stableRevision ?? previous.revision) === revision && progress.revision === revision;
  const wasLost = findCondition(previous?.conditions, 'Degraded')?.reason === 'ReplicasUnavailable';
  const wasComplete = wasLost || findCondition(previous?.conditions, 'Ready')?.reason === 'StableServing';
  if (!sameRevision || !wasComplete) return 'RollingOut';
  const fewerReady = progress.ready < (previous.readyReplicas ?? 0);
  return state === 'ReplicasLost' && (wasLost || fewerReady) ? 'ReplicasLost' : 'Complete';
}
