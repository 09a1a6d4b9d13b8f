export { findCondition, kubernetesTime, nextCondition, type ConditionState, type ConditionType } from './conditions.ts';
export { computeStatus } from './compute.ts';
export { deploymentProgress, deploymentState, type DeploymentProgress, type DeploymentState } from './deployment-progress.ts';
export { statusEqual } from './equality.ts';
export { transitionEvents, type ModelDeploymentEvent } from './events.ts';
export { plannedStableReplicas, type ObservedChildren } from './observed.ts';
