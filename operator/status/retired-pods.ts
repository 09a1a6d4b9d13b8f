import type { V1Pod } from '@kubernetes/client-node';
import { REVISION_LABEL } from '../desired/labels.ts';

/** Pods of a revision that no longer serves by design but still exist (stopping, or not yet told to). */
export interface RetiredPods {
  revision: string;
  pods: number;
}

/**
 * The runtime pods of revisions other than `live`, by revision. Where one Service selects every
 * revision's pods (no mesh), such pods take requests until they are gone: traffic has not settled.
 */
export function retiredPods(pods: readonly V1Pod[], live: readonly (string | undefined)[]): RetiredPods[] {
  const counts = new Map<string, number>();
  for (const pod of pods) {
    const revision = pod.metadata?.labels?.[REVISION_LABEL];
    if (revision && !live.includes(revision)) counts.set(revision, (counts.get(revision) ?? 0) + 1);
  }
  return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([revision, count]) => ({ revision, pods: count }));
}
