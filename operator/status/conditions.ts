import type { CONDITION_TYPES } from '../api/schema.ts';
import type { Condition, ConditionStatus } from '../api/types.ts';

export type ConditionType = (typeof CONDITION_TYPES)[number];

export interface ConditionState {
  status: ConditionStatus;
  reason: string;
  message: string;
}

/** metav1.Time precision: whole seconds, so a value written and read back compares equal. */
export function kubernetesTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((condition) => condition.type === type);
}

/**
 * A condition as of now: lastTransitionTime moves only when the status flips, so an unchanged
 * world yields an unchanged condition (and no status write).
 */
export function nextCondition(
  previous: readonly Condition[] | undefined,
  type: ConditionType,
  state: ConditionState,
  observedGeneration: number | undefined,
  now: Date,
): Condition {
  const before = findCondition(previous, type);
  const lastTransitionTime = before && before.status === state.status ? before.lastTransitionTime : kubernetesTime(now);
  return { type, ...state, lastTransitionTime, ...(observedGeneration !== undefined && { observedGeneration }) };
}
