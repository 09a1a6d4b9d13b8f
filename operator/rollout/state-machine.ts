import { PROGRESSIVE_STRATEGIES, SpecDefaults } from '../api/schema.ts';
import type { ModelDeploymentSpec, ModelDeploymentStatus } from '../api/types.ts';
import { kubernetesTime } from '../status/conditions.ts';
import { describeFailures, type AnalysisSample, type AnalysisStatus } from '../analysis/evaluate.ts';
import { durationMs, earliest } from './duration.ts';
import { canonicalJson } from '../desired/revision.ts';
import type { RolloutCommands } from './commands.ts';

export type RolloutStatus = NonNullable<ModelDeploymentStatus['rollout']>;
export type RolloutPhase = RolloutStatus['phase'];
export type Strategy = NonNullable<NonNullable<ModelDeploymentSpec['rollout']>['strategy']>;
export type Retiring = NonNullable<ModelDeploymentStatus['retiring']>[number];

export interface Weights {
  stable: number;
  candidate: number;
}

/** The part of status the rollout owns; persisted so that a restarted operator resumes exactly here. */
export interface RolloutRecord {
  stableRevision: string;
  candidateRevision?: string;
  rollout: RolloutStatus;
  retiring: Retiring[];
  /** The analysis of the running canary (and, after a rollback, the sample that caused it). */
  analysis?: AnalysisStatus;
}

/** Whether status already holds this rollout record (canonical JSON: the apiserver hands objects back with sorted keys). */
export function sameRolloutRecord(before: Partial<RolloutRecord>, after: RolloutRecord): boolean {
  const same = (a: unknown, b: unknown) => canonicalJson(a ?? null) === canonicalJson(b ?? null);
  return before.stableRevision === after.stableRevision
    && before.candidateRevision === after.candidateRevision
    && same(before.rollout, after.rollout)
    && same(before.retiring ?? [], after.retiring)
    && same(before.analysis, after.analysis);
}

export interface RolloutInput {
  spec: ModelDeploymentSpec;
  /** Revision the current spec asks for. */
  desiredRevision: string;
  previous: Partial<RolloutRecord>;
  /** The candidate's Deployment has every replica it wants ready and available. */
  candidateReady: boolean;
  /**
   * Set for a canary, whose candidate runs only its step's share of pods: a promotion first grows it
   * to full size (`candidateAtFullSize` says when it is there), so it never takes all traffic with a
   * step's pods. `sharedService`: nothing weights traffic, the revisions share one Service (no mesh)
   * and each takes traffic in proportion to its ready pods; the candidate then grows with all intent
   * on it, and the old stable revision stops serving at once on promotion, since running pods of it
   * would still take their share. Under a mesh the traffic stays at the last step's weights while
   * the candidate grows.
   */
  promotion?: { candidateAtFullSize: boolean; sharedService: boolean };
  commands: RolloutCommands;
  /** An analysis sample of the candidate taken in this pass (the controller takes one when analysisDue says so). */
  sample?: AnalysisSample;
  now: Date;
}

export interface RolloutEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface RolloutDecision extends RolloutRecord {
  /** Traffic intent: percent per revision (the canary weight, 0 while the candidate is previewed or starting). */
  weights: Weights;
  /** Come back after this long even if nothing changes (a pause ends, a retiring revision is due). */
  requeueAfterMs?: number;
  /** One-shot commands acted on in this pass: the controller removes their annotations. */
  consumed: (keyof RolloutCommands)[];
  events: RolloutEvent[];
}

export const isProgressive = (strategy: Strategy): boolean => (PROGRESSIVE_STRATEGIES as readonly string[]).includes(strategy);

export function strategyOf(spec: ModelDeploymentSpec): Strategy {
  return spec.rollout?.strategy ?? SpecDefaults.strategy;
}

function scaleDownDelayMs(spec: ModelDeploymentSpec): number {
  return 1000 * (spec.rollout?.blueGreen?.scaleDownDelaySeconds ?? SpecDefaults.scaleDownDelaySeconds);
}

const time = (date: Date) => kubernetesTime(date);
const ALL_STABLE: Weights = { stable: 100, candidate: 0 };
const ALL_CANDIDATE: Weights = { stable: 0, candidate: 100 };

/** Retiring revisions still due to run, without the ones that serve again; and when the next is due. */
function pendingRetirements(retiring: readonly Retiring[], live: readonly (string | undefined)[], now: Date): { retiring: Retiring[]; nextDueMs?: number } {
  const pending = retiring.filter((entry) => !live.includes(entry.revision) && Date.parse(entry.scaleDownAt) > now.getTime());
  const due = pending.map((entry) => Date.parse(entry.scaleDownAt) - now.getTime());
  return { retiring: pending, ...(due.length > 0 && { nextDueMs: Math.max(1000, Math.min(...due)) }) };
}

/**
 * The rollout as a pure function of (spec, what was recorded, what the candidate's pods report,
 * the user's commands, now). It never reads the clock or the cluster itself, so every row of its
 * table is a unit test, and a restarted operator that reads the same status decides the same.
 */
export function nextRollout(input: RolloutInput): RolloutDecision {
  const { spec, desiredRevision, previous, now } = input;
  const strategy = strategyOf(spec);
  const consumed: (keyof RolloutCommands)[] = [];
  const events: RolloutEvent[] = [];
  const stable = previous.stableRevision;

  const settle = (stableRevision: string, rollout: RolloutStatus, retiring: readonly Retiring[], extra: Partial<RolloutDecision> = {}): RolloutDecision => {
    const pending = pendingRetirements(retiring, [stableRevision, extra.candidateRevision], now);
    return {
      stableRevision,
      rollout,
      retiring: pending.retiring,
      weights: ALL_STABLE,
      consumed,
      events,
      ...extra,
      requeueAfterMs: earliest(extra.requeueAfterMs, pending.nextDueMs),
    };
  };

  // A first revision, or a strategy that replaces pods in place: nothing to split traffic between.
  if (!stable || !isProgressive(strategy)) {
    return settle(desiredRevision, { phase: 'Stable' }, previous.retiring ?? []);
  }
  const retiring = [...(previous.retiring ?? [])];
  const abortedRevision = previous.rollout?.abortedRevision;

  if (desiredRevision === stable) {
    if (previous.candidateRevision) {
      events.push({ type: 'Normal', reason: 'RolloutCancelled', message: `spec is back at stable revision ${stable}; candidate ${previous.candidateRevision} removed` });
    }
    return settle(stable, { phase: 'Stable' }, retiring);
  }
  if (abortedRevision === desiredRevision && input.commands.retry) {
    consumed.push('retry');
    events.push({ type: 'Normal', reason: 'RolloutRetried', message: `retrying aborted revision ${desiredRevision} from the first step` });
  } else if (abortedRevision === desiredRevision) {
    const rollout = previous.rollout;
    return settle(stable, { ...rollout, phase: 'Aborted', abortedRevision }, retiring, previous.analysis ? { analysis: previous.analysis } : {});
  }

  // A retry with nothing aborted is a no-op; removing it keeps it from firing on a later abort.
  if (input.commands.retry && !consumed.includes('retry')) consumed.push('retry');

  const fresh = previous.candidateRevision !== desiredRevision;
  if (fresh) {
    events.push({
      type: 'Normal',
      reason: 'RolloutStarted',
      message: previous.candidateRevision
        ? `spec changed mid-rollout: candidate ${desiredRevision} replaces ${previous.candidateRevision}, from the first step`
        : `${strategy} rollout of revision ${desiredRevision} started (stable ${stable})`,
    });
  }
  const candidate = desiredRevision;
  const prior = fresh ? undefined : previous.rollout;
  const canarySteps = spec.rollout?.canary?.steps ?? [];
  // Past the last step under a replica ratio: the candidate grows to full size before it is promoted.
  const growing = input.promotion !== undefined && strategy === 'Canary' && prior !== undefined && (prior.step ?? 0) >= canarySteps.length;
  const canaryIntent = (step: number): Weights => (growing && input.promotion?.sharedService ? ALL_CANDIDATE : canaryWeights(spec, step));

  if (input.commands.abort) {
    consumed.push('abort');
    events.push({ type: 'Warning', reason: 'RolloutAborted', message: `revision ${candidate} aborted by request: all traffic back on stable revision ${stable}` });
    return settle(stable, { phase: 'Aborted', abortedRevision: candidate, abortReason: 'Requested', message: `revision ${candidate} was aborted; change the spec or annotate modelship.io/retry=true to roll out again` }, retiring);
  }

  const analysis: AnalysisStatus | undefined = spec.rollout?.analysis ? (fresh ? { failures: 0 } : (previous.analysis ?? { failures: 0 })) : undefined;
  const inProgress = (rollout: RolloutStatus, weights: Weights, requeueAfterMs?: number, analysisNow = analysis): RolloutDecision =>
    settle(stable, rollout, retiring, {
      candidateRevision: candidate,
      weights,
      ...(requeueAfterMs !== undefined && { requeueAfterMs }),
      ...(analysisNow && { analysis: analysisNow }),
    });
  const promote = (reason: string, analysisNow = analysis): RolloutDecision => {
    const promotion = strategy === 'Canary' ? input.promotion : undefined;
    if (promotion && !promotion.candidateAtFullSize) {
      // Promoting now would leave the candidate's share of the pods to carry all the traffic.
      const weights = promotion.sharedService ? ALL_CANDIDATE : canaryWeights(spec, canarySteps.length);
      return inProgress({ phase: 'Progressing', step: canarySteps.length, message: growingMessage(candidate, stable) }, weights, undefined, analysisNow);
    }
    const stillRetiring = retiring.filter((entry) => entry.revision !== stable);
    const promoted = `revision ${candidate} promoted (${reason}); revision ${stable}`;
    if (promotion?.sharedService) {
      events.push({ type: 'Normal', reason: 'RolloutPromoted', message: `${promoted} stops serving now (no traffic router could keep it from taking traffic)` });
      return settle(candidate, { phase: 'Stable' }, stillRetiring);
    }
    events.push({ type: 'Normal', reason: 'RolloutPromoted', message: `${promoted} scales down in ${scaleDownDelayMs(spec) / 1000}s` });
    const due = new Date(now.getTime() + scaleDownDelayMs(spec));
    return settle(candidate, { phase: 'Stable' }, [...stillRetiring, { revision: stable, scaleDownAt: time(due) }]);
  };
  const rollBack = (failed: AnalysisStatus, sample: AnalysisSample): RolloutDecision => {
    const why = describeFailures(sample);
    events.push({ type: 'Warning', reason: 'AnalysisFailed', message: `revision ${candidate} rolled back after ${failed.failures} failed analysis sample(s): ${why}` });
    const message = `revision ${candidate} rolled back: analysis failed ${failed.failures} time(s): ${why}`;
    return settle(stable, { phase: 'Aborted', abortedRevision: candidate, abortReason: 'AnalysisFailed', message }, retiring, { analysis: failed });
  };

  if (!input.candidateReady) {
    // Keep the step the rollout had reached: a candidate pod restarting must not reset progress,
    // but no traffic moves until the candidate can take it. The step's clock is dropped, so the
    // candidate, once ready again, is watched for the step's whole pause.
    const held: RolloutStatus = {
      ...(prior ?? {}),
      ...(strategy === 'Canary' && { step: prior?.step ?? 0 }),
      phase: 'Progressing',
      message: growing ? growingMessage(candidate, stable) : `waiting for revision ${candidate} to become ready`,
    };
    delete held.stepStartedAt;
    return inProgress(held, prior && strategy === 'Canary' ? canaryIntent(prior.step ?? 0) : ALL_STABLE);
  }

  if (input.commands.promote === 'full') {
    consumed.push('promote');
    return promote('full promotion requested');
  }

  if (input.commands.paused) {
    const step = prior?.step ?? 0;
    const weights = strategy === 'Canary' ? canaryIntent(step) : ALL_STABLE;
    return inProgress({ ...(prior ?? {}), ...(strategy === 'Canary' && { step }), phase: 'Paused', message: 'paused by modelship.io/paused' }, weights);
  }

  if (strategy === 'Canary') {
    let judged = analysis;
    if (analysis && input.sample) {
      judged = judge(spec, analysis, input.sample, prior?.step ?? 0, now);
      if (judged.failures >= (spec.rollout?.analysis?.failureLimit ?? SpecDefaults.failureLimit)) return rollBack(judged, input.sample);
    }
    return canaryStep(input, prior, candidate, consumed, events, (reason) => promote(reason, judged), (rollout, weights, requeue) => inProgress(rollout, weights, requeue, judged), judged);
  }

  // BlueGreen, ABTest and Mirror have no timed steps: the candidate is previewed, matched or
  // mirrored until promoted (BlueGreen promotes itself when autoPromote is on).
  const autoPromote = strategy === 'BlueGreen' && (spec.rollout?.blueGreen?.autoPromote ?? SpecDefaults.blueGreenAutoPromote);
  if (autoPromote) return promote('ready, autoPromote');
  if (input.commands.promote) {
    consumed.push('promote');
    return promote('promotion requested');
  }
  return inProgress({ phase: 'WaitingForPromotion', stepStartedAt: prior?.stepStartedAt ?? time(now), message: waitingMessage(strategy, candidate) }, ALL_STABLE);
}

function growingMessage(candidate: string, stable: string): string {
  return `promoting revision ${candidate}: it grows to full size while revision ${stable} keeps serving, then takes all traffic`;
}

function waitingMessage(strategy: Strategy, candidate: string): string {
  const what: Partial<Record<Strategy, string>> = {
    BlueGreen: `revision ${candidate} is ready on the preview Service`,
    ABTest: `matching requests go to revision ${candidate}`,
    Mirror: `live traffic is mirrored to revision ${candidate}`,
  };
  return `${what[strategy] ?? `revision ${candidate} is ready`}; annotate modelship.io/promote=true to promote or modelship.io/abort=true to abort`;
}

/** The analysis record after one more sample: failures counted as onInconclusive says, a pass marks the step. */
function judge(spec: ModelDeploymentSpec, before: AnalysisStatus, sample: AnalysisSample, step: number, now: Date): AnalysisStatus {
  const inconclusiveFails = (spec.rollout?.analysis?.onInconclusive ?? SpecDefaults.onInconclusive) === 'Fail';
  const failed = sample.verdict === 'Fail' || (sample.verdict === 'Inconclusive' && inconclusiveFails);
  return {
    failures: before.failures + (failed ? 1 : 0),
    ...(sample.verdict === 'Pass' ? { passedStep: step } : before.passedStep !== undefined ? { passedStep: before.passedStep } : {}),
    lastSampleAt: kubernetesTime(now),
    verdict: sample.verdict,
    checks: sample.checks,
  };
}

/** When the next analysis sample is due: an interval after the step started or the last sample, whichever is later. */
export function nextSampleAt(spec: ModelDeploymentSpec, rollout: RolloutStatus | undefined, analysis: AnalysisStatus | undefined): number | undefined {
  const interval = spec.rollout?.analysis?.interval;
  if (!spec.rollout?.analysis || !rollout?.stepStartedAt || rollout.phase === 'Paused' || rollout.phase === 'Aborted' || rollout.phase === 'Stable') return undefined;
  const from = Math.max(Date.parse(rollout.stepStartedAt), analysis?.lastSampleAt ? Date.parse(analysis.lastSampleAt) : 0);
  return from + durationMs(interval ?? SpecDefaults.analysisInterval);
}

function canaryWeights(spec: ModelDeploymentSpec, step: number): Weights {
  const steps = spec.rollout?.canary?.steps ?? [];
  const weight = steps[Math.min(step, steps.length - 1)]?.weight ?? 0;
  return { stable: 100 - weight, candidate: weight };
}

function canaryStep(
  input: RolloutInput,
  prior: RolloutStatus | undefined,
  candidate: string,
  consumed: (keyof RolloutCommands)[],
  events: RolloutEvent[],
  promote: (reason: string) => RolloutDecision,
  inProgress: (rollout: RolloutStatus, weights: Weights, requeueAfterMs?: number) => RolloutDecision,
  analysis: AnalysisStatus | undefined,
): RolloutDecision {
  const { spec, now } = input;
  const steps = spec.rollout?.canary?.steps ?? [];
  let step = prior?.step ?? 0;
  const growingBeforePromotion = input.promotion !== undefined && step >= steps.length;
  // A resumed or freshly ready rollout starts the step's clock now.
  let startedAt = prior?.stepStartedAt && prior.phase !== 'Paused' ? Date.parse(prior.stepStartedAt) : now.getTime();

  for (;;) {
    const current = steps[step];
    if (!current) {
      // A promote asked for past the last step asks for what is under way; left, it would fire on the next rollout.
      if (input.commands.promote && !consumed.includes('promote')) consumed.push('promote');
      return promote(growingBeforePromotion ? 'running at full size' : `all ${steps.length} steps passed`);
    }
    const pauseMs = current.pause ? durationMs(current.pause) : undefined;
    const promoted = input.commands.promote && !consumed.includes('promote');
    // With analysis, a step also needs a passing sample taken during it; without a pause, that is all it needs.
    const passed = analysis ? analysis.passedStep === step && Date.parse(analysis.lastSampleAt ?? '') >= startedAt : undefined;
    const timerDone = pauseMs !== undefined ? now.getTime() - startedAt >= pauseMs : passed === true;
    if ((!timerDone || passed === false) && !promoted) {
      const waitingForPromote = pauseMs === undefined && !analysis;
      const rollout: RolloutStatus = {
        phase: waitingForPromote ? 'WaitingForPromotion' : 'Progressing',
        step,
        stepStartedAt: kubernetesTime(new Date(startedAt)),
        message: waitingForPromote
          ? `step ${step + 1}/${steps.length}: ${current.weight}% on revision ${candidate}; annotate modelship.io/promote=true to go on`
          : `step ${step + 1}/${steps.length}: ${current.weight}% on revision ${candidate}${current.pause ? ` for ${current.pause}` : ''}${analysis ? ', until an analysis sample passes' : ''}`,
      };
      const sampleAt = analysis ? nextSampleAt(spec, rollout, analysis) : undefined;
      const timers = [pauseMs === undefined ? undefined : startedAt + pauseMs, sampleAt]
        .filter((at): at is number => at !== undefined)
        .map((at) => at - now.getTime());
      const requeue = timers.length > 0 ? Math.max(1000, Math.min(...timers)) : undefined;
      return inProgress(rollout, canaryWeights(spec, step), requeue);
    }
    if (promoted) consumed.push('promote');
    step += 1;
    startedAt = now.getTime();
    if (steps[step]) events.push({ type: 'Normal', reason: 'CanaryStep', message: `step ${step + 1}/${steps.length}: ${steps[step]?.weight}% on revision ${candidate}` });
  }
}
