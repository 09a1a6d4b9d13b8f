import type { V1ControllerRevision } from '@kubernetes/client-node';
import type { AnalysisStatus } from '../operator/analysis/evaluate.ts';
import type { Condition, ModelDeployment } from '../operator/api/types.ts';
import { recordedModelVersion, recordedRevisions, type RecordedRevision } from '../operator/desired/history.ts';
import type { RevisionSpec } from '../operator/desired/revision.ts';
import { rolloutCommands, type RolloutCommands } from '../operator/rollout/commands.ts';
import { strategyOf, type RolloutPhase, type Strategy, type Weights } from '../operator/rollout/state-machine.ts';

export type RevisionRole = 'stable' | 'candidate' | 'retiring' | 'aborted';

/** A revision as status names it (its hash), with what its ControllerRevision says about it. */
export interface RevisionSummary {
  hash: string;
  /** Sequence number of its ControllerRevision; null when none is recorded. */
  revision: number | null;
  modelVersion: string | null;
}

export interface HistoryEntry {
  revision: number;
  hash: string;
  role: RevisionRole | null;
  model: RevisionSpec['model'];
}

export interface RolloutProgress {
  phase: RolloutPhase;
  /** Canary step in force, counted from 1, of the spec's steps. */
  step: { number: number; of: number } | null;
  stepStartedAt: string | null;
  message: string | null;
}

/** What `status` shows, and prints with -o json|yaml. */
export interface StatusView {
  name: string;
  namespace: string;
  strategy: Strategy;
  phase: string | null;
  ready: string | null;
  /** Whether the operator has acted on the latest spec (status.observedGeneration is metadata.generation). */
  observed: boolean;
  rollout: RolloutProgress | null;
  weights: Weights | null;
  stable: RevisionSummary | null;
  candidate: RevisionSummary | null;
  /** The revision last aborted and why (by request, or failed analysis). */
  aborted: (RevisionSummary & { reason: string | null }) | null;
  retiring: (RevisionSummary & { scaleDownAt: string })[];
  /** Command annotations present, not yet acted on (paused stays while held). */
  commands: RolloutCommands;
  conditions: Condition[];
  /** The last metric-analysis sample of the rollout (or the one that rolled it back). */
  analysis: AnalysisStatus | null;
}

/** The ControllerRevisions of this ModelDeployment (owned by it, not by an earlier one of the same name), oldest first. */
export function revisionsOf(md: ModelDeployment, objects: readonly V1ControllerRevision[]): RecordedRevision[] {
  const uid = md.metadata.uid;
  return recordedRevisions(objects.filter((object) => object.metadata?.ownerReferences?.some((owner) => owner.uid === uid)));
}

function summary(hash: string | undefined, recorded: readonly RecordedRevision[]): RevisionSummary | null {
  if (!hash) return null;
  const revision = recorded.find((candidate) => candidate.hash === hash);
  return { hash, revision: revision?.number ?? null, modelVersion: revision ? recordedModelVersion(revision.spec) ?? null : null };
}

export function roleOf(md: ModelDeployment, hash: string): RevisionRole | null {
  const status = md.status;
  if (status?.stableRevision === hash) return 'stable';
  if (status?.candidateRevision === hash) return 'candidate';
  if (status?.retiring?.some((entry) => entry.revision === hash)) return 'retiring';
  if (status?.rollout?.abortedRevision === hash) return 'aborted';
  return null;
}

export function historyOf(md: ModelDeployment, recorded: readonly RecordedRevision[]): HistoryEntry[] {
  return recorded.map((revision) => {
    const { model, resolvedModel } = revision.spec;
    // A models:/ revision shows the registry version and digest it resolved to.
    // The INT8 variant's revision shows the digest of the file it serves.
    const served = model.variant === 'int8' && model.int8 ? { ...model, sha256: model.int8.sha256 } : model;
    const shown = resolvedModel ? { ...model, version: model.version ?? resolvedModel.version, sha256: resolvedModel.sha256 } : served;
    return { revision: revision.number, hash: revision.hash, role: roleOf(md, revision.hash), model: shown };
  });
}

function progressOf(md: ModelDeployment, strategy: Strategy): RolloutProgress | null {
  const rollout = md.status?.rollout;
  if (!rollout) return null;
  const steps = md.spec.rollout?.canary?.steps ?? [];
  const onStep = strategy === 'Canary' && rollout.step !== undefined && steps.length > 0;
  return {
    phase: rollout.phase,
    step: onStep ? { number: Math.min((rollout.step ?? 0) + 1, steps.length), of: steps.length } : null,
    stepStartedAt: rollout.stepStartedAt ?? null,
    message: rollout.message ?? null,
  };
}

function abortedOf(md: ModelDeployment, recorded: readonly RecordedRevision[]): StatusView['aborted'] {
  const revision = summary(md.status?.rollout?.abortedRevision, recorded);
  return revision && { ...revision, reason: md.status?.rollout?.abortReason ?? null };
}

export function statusOf(md: ModelDeployment, recorded: readonly RecordedRevision[]): StatusView {
  const status = md.status ?? {};
  const strategy = strategyOf(md.spec);
  return {
    name: md.metadata.name ?? '',
    namespace: md.metadata.namespace ?? '',
    strategy,
    phase: status.phase ?? null,
    ready: status.ready ?? null,
    observed: status.observedGeneration !== undefined && status.observedGeneration === md.metadata.generation,
    rollout: progressOf(md, strategy),
    weights: status.weights ?? null,
    stable: summary(status.stableRevision, recorded),
    candidate: summary(status.candidateRevision, recorded),
    aborted: abortedOf(md, recorded),
    retiring: (status.retiring ?? []).flatMap((entry) => {
      const revision = summary(entry.revision, recorded);
      return revision ? [{ ...revision, scaleDownAt: entry.scaleDownAt }] : [];
    }),
    commands: rolloutCommands(md.metadata.annotations),
    conditions: status.conditions ?? [],
    analysis: status.analysis ?? null,
  };
}
