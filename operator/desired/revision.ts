import { createHash } from 'node:crypto';
import type { ModelDeployment } from '../api/types.ts';

export const REVISION_LENGTH = 7;

/** JSON with object keys sorted at every level, so equal values always serialize identically. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * Short hash naming what a revision is: the model (file, digest, version, variant) and everything
 * about the runtime pods. Replica counts, autoscaling, the Service and the rollout strategy are
 * left out: changing them must not start a new rollout.
 */
export function revisionOf(md: ModelDeployment): string {
  const { model, runtime, security } = md.spec;
  const identity = { model, runtime: runtime ?? {}, authSecret: security?.authSecret ?? null };
  return createHash('sha256').update(canonicalJson(identity)).digest('hex').slice(0, REVISION_LENGTH);
}
