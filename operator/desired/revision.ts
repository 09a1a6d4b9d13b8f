import { createHash } from 'node:crypto';
import type { ModelDeployment, ModelDeploymentSpec, ResolvedModel } from '../api/types.ts';
import { nameOf, namespaceOf } from './metadata.ts';
import { resolvedModelOf } from './model-source.ts';

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
 * What a revision is: the model (file, digest, version, variant; for a models:/ URI the version
 * and file it resolved to) and everything about the runtime pods. Replica counts, autoscaling, the
 * Service, the rollout strategy and how often the registry is polled are left out: changing them
 * must not start a new rollout. A ControllerRevision records exactly this.
 */
export interface RevisionSpec {
  /**
   * namespace/name of the ModelDeployment, so two of them serving the same model (staging and
   * production) never share a revision label: analysis selects series by revision, and one
   * canary's verdict must not count the other's requests. Absent in revisions recorded before it
   * was added, which still verify against their hash.
   */
  modelDeployment?: string;
  model: ModelDeploymentSpec['model'];
  runtime: NonNullable<ModelDeploymentSpec['runtime']> | Record<string, never>;
  authSecret: NonNullable<NonNullable<ModelDeploymentSpec['security']>['authSecret']> | null;
  /** Only for a models:/ URI, so that the revisions of other models keep their hashes. */
  resolvedModel?: ResolvedModel;
}

export function revisionSpecOf(md: ModelDeployment): RevisionSpec {
  const { runtime, security } = md.spec;
  let model = md.spec.model;
  if (model.mlflow?.pollIntervalSeconds !== undefined) {
    const mlflow = { ...model.mlflow };
    delete mlflow.pollIntervalSeconds;
    model = { ...model, mlflow };
  }
  const resolvedModel = resolvedModelOf(md);
  return {
    modelDeployment: `${namespaceOf(md)}/${nameOf(md)}`,
    model,
    runtime: runtime ?? {},
    authSecret: security?.authSecret ?? null,
    ...(resolvedModel && { resolvedModel }),
  };
}

export function revisionHash(spec: RevisionSpec): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex').slice(0, REVISION_LENGTH);
}

/** Short hash naming the revision the current spec asks for. */
export function revisionOf(md: ModelDeployment): string {
  return revisionHash(revisionSpecOf(md));
}

/** The ModelDeployment as it was when a recorded revision was made: builders then rebuild its pods exactly. */
export function atRevision(md: ModelDeployment, spec: RevisionSpec): ModelDeployment {
  const security = { ...md.spec.security };
  delete security.authSecret;
  if (spec.authSecret) security.authSecret = spec.authSecret;
  const rest = { ...md.spec };
  delete rest.runtime;
  return {
    ...md,
    spec: { ...rest, model: spec.model, ...(Object.keys(spec.runtime).length > 0 && { runtime: spec.runtime }), security },
    ...(spec.resolvedModel && { status: { ...md.status, model: spec.resolvedModel } }),
  };
}
