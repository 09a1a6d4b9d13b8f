import { InconclusiveReasons } from '../analysis/evaluate.ts';
import type { ModelDeployment, ModelDeploymentStatus } from '../api/types.ts';
import { modelVersionOf } from '../desired/model-source.ts';
import { findCondition } from './conditions.ts';

const INCONCLUSIVE: ReadonlySet<string> = new Set(Object.values(InconclusiveReasons));

/** What the operator tells about a ModelDeployment as a Kubernetes Event: from a status change, or from the rollout's decision. */
export interface ModelDeploymentEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

function conditionOf(status: ModelDeploymentStatus | undefined, type: string) {
  return findCondition(status?.conditions, type);
}

/**
 * Events worth telling a user about between two statuses: a new revision, becoming ready,
 * degrading, recovering, losing readiness, a canary analysis that cannot sample. Nothing for a status that only moved counters.
 */
export function transitionEvents(
  previous: ModelDeploymentStatus | undefined,
  next: ModelDeploymentStatus,
  md?: ModelDeployment,
): ModelDeploymentEvent[] {
  const events: ModelDeploymentEvent[] = [];
  if (next.revision && next.revision !== previous?.revision) {
    const version = md && modelVersionOf(md);
    events.push({ type: 'Normal', reason: 'RevisionCreated', message: `revision ${next.revision}${version ? ` for model version ${version}` : ''}` });
  }
  if (next.model && next.model.version !== previous?.model?.version) {
    events.push({ type: 'Normal', reason: 'ModelVersionResolved', message: `${next.model.reference} is version ${next.model.version}` });
  }
  const [wasResolved, isResolved] = [conditionOf(previous, 'ModelResolved'), conditionOf(next, 'ModelResolved')];
  if (isResolved?.status === 'False' && (wasResolved?.status !== 'False' || wasResolved.reason !== isResolved.reason)) {
    events.push({ type: 'Warning', reason: isResolved.reason, message: isResolved.message });
  }
  const [wasDegraded, isDegraded] = [conditionOf(previous, 'Degraded'), conditionOf(next, 'Degraded')];
  if (isDegraded?.status === 'True' && (wasDegraded?.status !== 'True' || wasDegraded.reason !== isDegraded.reason)) {
    events.push({ type: 'Warning', reason: isDegraded.reason, message: isDegraded.message });
  }
  if (wasDegraded?.status === 'True' && isDegraded?.status !== 'True') {
    events.push({ type: 'Normal', reason: 'Recovered', message: `no longer degraded (was ${wasDegraded.reason}: ${wasDegraded.message})` });
  }
  const [wasReady, isReady] = [conditionOf(previous, 'Ready'), conditionOf(next, 'Ready')];
  if (isReady?.status === 'True' && wasReady?.status !== 'True') {
    events.push({ type: 'Normal', reason: 'Ready', message: isReady.message });
  }
  if (wasReady?.status === 'True' && isReady?.status !== 'True' && isReady?.reason !== 'ScaledToZero') {
    events.push({ type: 'Warning', reason: 'NotReady', message: isReady?.message ?? 'no longer ready' });
  }
  const [wasProgressing, isProgressing] = [conditionOf(previous, 'Progressing'), conditionOf(next, 'Progressing')];
  if (isProgressing && INCONCLUSIVE.has(isProgressing.reason) && wasProgressing?.reason !== isProgressing.reason) {
    events.push({ type: 'Warning', reason: isProgressing.reason, message: isProgressing.message });
  }
  if (isProgressing?.reason === 'RolloutComplete' && wasProgressing?.reason !== 'RolloutComplete') {
    events.push({ type: 'Normal', reason: 'RolloutComplete', message: isProgressing.message });
  }
  return events;
}
