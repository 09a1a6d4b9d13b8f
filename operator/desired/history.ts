import type { V1ControllerRevision } from '@kubernetes/client-node';
import { SpecDefaults } from '../api/schema.ts';
import type { ModelDeployment } from '../api/types.ts';
import { ChildKinds, typeMeta } from './child-kinds.ts';
import { childLabels, MODEL_VERSION_LABEL, REVISION_LABEL } from './labels.ts';
import { childMetadata, nameOf } from './metadata.ts';
import { revisionHash, revisionSpecOf, type RevisionSpec } from './revision.ts';

/** A revision as recorded in its ControllerRevision: the hash, its sequence number, and what it was made from. */
export interface RecordedRevision {
  hash: string;
  number: number;
  spec: RevisionSpec;
}

/** The model version a recorded revision serves: the spec's, else the registry version it resolved to. */
export const recordedModelVersion = (spec: RevisionSpec): string | undefined => spec.model.version ?? spec.resolvedModel?.version;

export const controllerRevisionName = (md: ModelDeployment, hash: string): string => `${nameOf(md)}-${hash}`;

function isRevisionSpec(data: unknown): data is RevisionSpec {
  return !!data && typeof data === 'object' && 'model' in data && 'runtime' in data && 'authSecret' in data;
}

/** The recorded revisions among observed ControllerRevisions, oldest first; unreadable ones are skipped. */
export function recordedRevisions(objects: readonly V1ControllerRevision[]): RecordedRevision[] {
  return objects
    .flatMap((object) => {
      const hash = object.metadata?.labels?.[REVISION_LABEL];
      return hash && isRevisionSpec(object.data) && revisionHash(object.data) === hash ? [{ hash, number: Number(object.revision), spec: object.data }] : [];
    })
    .sort((a, b) => a.number - b.number);
}

/**
 * The revisions to keep: the one the spec asks for (numbered after the newest, as StatefulSets
 * number theirs), every live one (stable, candidate, retiring), then the newest others up to
 * spec.revisionHistoryLimit. The rest are pruned with the children no longer wanted.
 */
export function revisionHistory(md: ModelDeployment, recorded: readonly RecordedRevision[], live: readonly string[]): RecordedRevision[] {
  const spec = revisionSpecOf(md);
  const hash = revisionHash(spec);
  const newest = recorded.reduce((max, revision) => Math.max(max, revision.number), 0);
  const found = recorded.find((revision) => revision.hash === hash);
  // A revision the spec goes back to is renumbered, keeping its recorded data (immutable in the API).
  const current = found && found.number === newest ? found : { hash, number: newest + 1, spec: found?.spec ?? spec };
  const others = recorded.filter((revision) => revision.hash !== hash);
  const limit = md.spec.revisionHistoryLimit ?? SpecDefaults.revisionHistoryLimit;
  const kept = new Set([hash, ...live]);
  for (const revision of [...others].reverse()) {
    if (kept.size >= limit) break;
    kept.add(revision.hash);
  }
  return [...others, current].filter((revision) => kept.has(revision.hash)).sort((a, b) => a.number - b.number);
}

export function desiredControllerRevision(md: ModelDeployment, revision: RecordedRevision): V1ControllerRevision {
  const version = recordedModelVersion(revision.spec);
  return {
    ...typeMeta(ChildKinds.controllerRevision),
    metadata: childMetadata(md, { ...childLabels(md), [REVISION_LABEL]: revision.hash, ...(version && { [MODEL_VERSION_LABEL]: version }) }, controllerRevisionName(md, revision.hash)),
    data: revision.spec,
    revision: revision.number,
  };
}
