import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import { SpecDefaults } from '../api/schema.ts';
import type { ModelDeployment } from '../api/types.ts';
import { childLabels, slotSelector, type RevisionSlot } from './labels.ts';
import { childMetadata } from './metadata.ts';

/** The fewest replicas the spec ever runs: the fixed count, or the autoscaler's floor. */
export function minimumReplicas(md: ModelDeployment): number {
  return md.spec.autoscaling ? (md.spec.autoscaling.minReplicas ?? SpecDefaults.minReplicas) : (md.spec.replicas ?? SpecDefaults.replicas);
}

/**
 * With more than one replica, node drains evict one pod at a time. maxUnavailable (rather than
 * minAvailable) keeps working as the HPA changes the count; unhealthy pods may always be evicted,
 * so a crash-looping pod cannot block a drain.
 */
export function desiredDisruptionBudget(md: ModelDeployment, slot?: RevisionSlot): V1PodDisruptionBudget | undefined {
  if (minimumReplicas(md) <= 1) return undefined;
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: childMetadata(md, childLabels(md), slot?.name),
    spec: { maxUnavailable: 1, selector: { matchLabels: slotSelector(md, slot) }, unhealthyPodEvictionPolicy: 'AlwaysAllow' },
  };
}
