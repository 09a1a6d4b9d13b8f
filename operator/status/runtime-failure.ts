import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { RuntimeFailureReasons } from '../../runtime/contract.ts';
import { RUNTIME_CONTAINER } from '../desired/deployment.ts';

/** Why a ModelDeployment's runtime could not serve its model, as its pods report it. */
export interface RuntimeFailure {
  reason: string;
  message: string;
  /** A pod no node can take yet: a node may still come (an autoscaler's), so it does not stall the ModelDeployment. */
  waitsForNode?: true;
}

const REASONS: readonly string[] = Object.values(RuntimeFailureReasons);

function failureOf(status: V1ContainerStatus): Omit<RuntimeFailure, 'message'> & { detail: string } | undefined {
  if (status.ready) return undefined;
  const text = (status.state?.terminated ?? status.lastState?.terminated)?.message?.trim();
  const separator = text?.indexOf(': ') ?? -1;
  if (!text || separator < 0) return undefined;
  const reason = text.slice(0, separator);
  return REASONS.includes(reason) ? { reason, detail: text.slice(separator + 2) } : undefined;
}

/**
 * The first runtime pod (by name, so the choice is stable) whose runtime container is not ready
 * and last exited with a termination message the runtime wrote ("<reason>: <message>"), e.g. a
 * model whose signature does not verify. A ready container has recovered and reports nothing.
 * Failing that, the first pod that fits no node.
 */
export function runtimeFailure(pods: readonly V1Pod[]): RuntimeFailure | undefined {
  const sorted = [...pods].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  for (const pod of sorted) {
    const status = pod.status?.containerStatuses?.find((container) => container.name === RUNTIME_CONTAINER);
    const failure = status && failureOf(status);
    if (failure) return { reason: failure.reason, message: `pod ${pod.metadata?.name ?? ''}: ${failure.detail}` };
  }
  return unschedulable(sorted);
}

/** The first pod the scheduler could place on no node, with the scheduler's own words (e.g. no node has the GPU it asks for). */
function unschedulable(pods: readonly V1Pod[]): RuntimeFailure | undefined {
  for (const pod of pods) {
    if (pod.metadata?.deletionTimestamp) continue;
    const scheduled = pod.status?.conditions?.find((condition) => condition.type === 'PodScheduled');
    if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
      return { reason: 'Unschedulable', message: `pod ${pod.metadata?.name ?? ''} fits no node: ${scheduled.message ?? 'no reason given'}`, waitsForNode: true };
    }
  }
  return undefined;
}
