import type { ModelDeployment } from '../api/types.ts';
import { API_GROUP } from '../api/crd.ts';
import { nameOf } from './metadata.ts';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'modelship';
/** Names the ModelDeployment a child belongs to; the pod selector, so it never changes. */
export const INSTANCE_LABEL = `${API_GROUP}/model-deployment`;
export const REVISION_LABEL = `${API_GROUP}/revision`;
export const MODEL_VERSION_LABEL = `${API_GROUP}/model-version`;

/** Labels that select a ModelDeployment's runtime pods; immutable in a Deployment, so kept minimal. */
export function selectorLabels(md: ModelDeployment): Record<string, string> {
  return { [INSTANCE_LABEL]: nameOf(md) };
}

/**
 * One revision's own pods, for strategies that run revisions side by side: its objects are named
 * <name>-<revision> and select only that revision's pods.
 */
export interface RevisionSlot {
  name: string;
  revision: string;
  /** Replicas for this revision when no HPA decides (a canary's share, for instance). */
  replicas?: number;
}

/** The pods a slot's Deployment, HPA and PDB select: one revision's, or all of the ModelDeployment's. */
export function slotSelector(md: ModelDeployment, slot: RevisionSlot | undefined): Record<string, string> {
  return slot ? { ...selectorLabels(md), [REVISION_LABEL]: slot.revision } : selectorLabels(md);
}

/** Labels every child carries: the selector plus the well-known app.kubernetes.io set. */
export function childLabels(md: ModelDeployment): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'modelship-runtime',
    'app.kubernetes.io/instance': nameOf(md),
    'app.kubernetes.io/component': 'model-server',
    [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
    ...selectorLabels(md),
  };
}
