import type { Condition, ModelDeploymentStatus } from '../api/types.ts';
import { canonicalJson } from '../desired/revision.ts';

function normalizedCondition(condition: Condition): Condition {
  const time = Date.parse(condition.lastTransitionTime);
  return { ...condition, lastTransitionTime: Number.isNaN(time) ? condition.lastTransitionTime : new Date(time).toISOString() };
}

function normalized(status: ModelDeploymentStatus | undefined): unknown {
  if (!status) return {};
  const conditions = status.conditions
    ?.map(normalizedCondition)
    .sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  // A JSON round trip drops undefined fields, as the API would.
  return JSON.parse(JSON.stringify({ ...status, ...(conditions && { conditions }) })) as unknown;
}

/**
 * Whether two statuses mean the same: key order, condition order, absent vs undefined fields and
 * timestamp spelling do not count. The controller writes status only when this is false.
 */
export function statusEqual(a: ModelDeploymentStatus | undefined, b: ModelDeploymentStatus | undefined): boolean {
  return canonicalJson(normalized(a)) === canonicalJson(normalized(b));
}
