import type { KubernetesObject } from '@kubernetes/client-node';
import { isDeepStrictEqual } from 'node:util';
import type { InformerEvent } from '../kube/informer.ts';

/**
 * Whether an update changed only status: the same generation (the apiserver bumps it on every spec
 * change), annotations (rollout commands live there), labels, deletionTimestamp and finalizers.
 * Like controller-runtime's GenerationChanged/AnnotationChanged predicates together. An object
 * without a generation says nothing about its spec, so it never counts as status-only.
 */
export function changesOnlyStatus(previous: KubernetesObject, current: KubernetesObject): boolean {
  const before = previous.metadata ?? {};
  const after = current.metadata ?? {};
  return before.generation !== undefined
    && before.generation === after.generation
    && isDeepStrictEqual(before.annotations ?? {}, after.annotations ?? {})
    && isDeepStrictEqual(before.labels ?? {}, after.labels ?? {})
    && isDeepStrictEqual(before.deletionTimestamp, after.deletionTimestamp)
    && isDeepStrictEqual(before.finalizers ?? [], after.finalizers ?? []);
}

/**
 * Whether a ModelDeployment watch event needs a reconcile. Status-only updates are mostly the
 * operator's own status writes, which would each cost one more pass that changes nothing: every
 * decision a pass makes is complete, and what must happen later comes back through requeue-after
 * timers. A status edited by someone else is put right at the next resync.
 */
export function needsReconcile<T extends KubernetesObject>(event: InformerEvent, current: T, previous?: T): boolean {
  return event !== 'update' || previous === undefined || !changesOnlyStatus(previous, current);
}
