import type { V1Deployment, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';

/** What the controller saw of a ModelDeployment's children in this pass. */
export interface ObservedChildren {
  deployment?: V1Deployment;
  hpa?: V2HorizontalPodAutoscaler;
  /** Objects in the way that the ModelDeployment does not own (same name, other owner). */
  conflicts?: string[];
  /** Why applying a child failed (e.g. the apiserver refused it), when it did. */
  applyError?: string;
}
