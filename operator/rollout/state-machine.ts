import { PROGRESSIVE_STRATEGIES, SpecDefaults } from '../api/schema.ts';
import type { ModelDeploymentSpec, ModelDeploymentStatus } from '../api/types.ts';
import { kubernetesTime } from '../status/conditions.ts';
import type { ModelDeploymentEvent } from '../status/events.ts';
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

/** The rollout record as status holds it: what a restarted operator resumes from. */
export function recordIn(status: ModelDeploymentStatus | undefined): Partial<RolloutRecord> {
  const held = status ?? {};
  return {
    ...(held.stableRevision && { stableRevision: held.stableRevision }),
    ...(held.candidateRevision && { candidateRevision: held.candidateRevision }),
    ...(held.rollout && { rollout: held.rollout }),
    ...(held.retiring && { retiring: held.retiring }),
    ...(held.analysis && { analysis: held.analysis }),
  };
}

/** The record's fields as status writes them: empty ones left out, as recordIn reads them back. */
export function recordFields(record: RolloutRecord): Pick<ModelDeploymentStatus, 'stableRevision' | 'candidateRevision' | 'rollout' | 'retiring' | 'analysis'> {
  return {
    stableRevision: record.stableRevision,
    ...(record.candidateRevision && { candidateRevision: record.candidateRevision }),
    rollout: record.rollout,
    ...(record.analysis && { analysis: record.analysis }),
    ...(record.retiring.length > 0 && { retiring: record.retiring }),
  };
}

/** Whether status already holds this rollout record (canonical JSON: the apiserver hands objects back with sorted keys). */
export function sameRolloutRecord(status: ModelDeploymentStatus, record: RolloutRecord): boolean {
  const normal = (held: Partial<RolloutRecord>) => canonicalJson({ ...held, retiring: held.retiring ?? [] });
  return normal(recordIn(status)) === normal(recordIn(recordFields(record)));
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

export interface RolloutDecision extends RolloutRecord {
  /** Traffic intent: percent per revision (the canary weight, 0 while the candidate is previewed or starting). */
  weights: Weights;
  /** Come back after this long even if nothing changes (a pause ends, a retiring revision is due). */
  requeueAfterMs?: number;
  /** One-shot commands acted on in this pass: the controller removes their annotations. */
  consumed: (keyof RolloutCommands)[];
  events: ModelDeploymentEvent[];
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

type Command = keyof RolloutCommands;

/**
 * What one branch of the state machine decides: the next record, the traffic intent, and the
 * Events and one-shot commands that go with it. settle() turns it into the decision.
 */
interface Transition {
  stableRevision: string;
  rollout: RolloutStatus;
  retiring: readonly Retiring[];
  candidateRevision?: string;
  /** ALL_STABLE when unset. */
  weights?: Weights;
  analysis?: AnalysisStatus;
  requeueAfterMs?: number;
  consumed?: readonly Command[];
  events?: readonly ModelDeploymentEvent[];
}

/** What every branch of a rollout in progress reads, worked out once. */
interface InProgress {
  input: RolloutInput;
  strategy: Strategy;
  stable: string;
  candidate: string;
  /** The rollout as recorded for this candidate; undefined for a candidate new in this pass. */
  prior: RolloutStatus | undefined;
  retiring: readonly Retiring[];
  /** The candidate's analysis record, when the spec asks for analysis. */
  analysis: AnalysisStatus | undefined;
  steps: CanaryStepSpec[];
  /** Past the last canary step, the candidate growing to full size before its promotion. */
  growing: boolean;
}

type CanaryStepSpec = NonNullable<NonNullable<NonNullable<ModelDeploymentSpec['rollout']>['canary']>['steps']>[number];

/**
 * The rollout as a pure function of (spec, what was recorded, what the candidate's pods report,
 * the user's commands, now). It never reads the clock or the cluster itself, so every row of its
 * table is a unit test, and a restarted operator that reads the same status decides the same.
 * Each branch below returns a Transition; this picks the first that applies.
 */
export function nextRollout(input: RolloutInput): RolloutDecision {
  const { spec, desiredRevision, previous } = input;
  const strategy = strategyOf(spec);
  const stable = previous.stableRevision;
  // A first revision, or a strategy that replaces pods in place: nothing to split traffic between.
  if (!stable || !isProgressive(strategy)) return settle(input, { stableRevision: desiredRevision, rollout: { phase: 'Stable' }, retiring: previous.retiring ?? [] });
  if (desiredRevision === stable) return settle(input, backAtStable(input, stable));
  const aborted = previous.rollout?.abortedRevision === desiredRevision;
  if (aborted && !input.commands.retry) return settle(input, stayAborted(input, stable));

  const at = rolloutAt(input, strategy, stable);
  const transition = abortRequested(at) ?? candidateNotReady(at) ?? fullPromotion(at) ?? pausedHold(at) ?? (strategy === 'Canary' ? canary(at) : untimed(at));
  return settle(input, { ...transition, ...opening(at, aborted, transition) });
}

/** The rollout's record and retirements as of now: retirements whose time came go, and the decision says when to come back. */
function settle(input: RolloutInput, transition: Transition): RolloutDecision {
  const pending = pendingRetirements(transition.retiring, [transition.stableRevision, transition.candidateRevision], input.now);
  return {
    stableRevision: transition.stableRevision,
    ...(transition.candidateRevision !== undefined && { candidateRevision: transition.candidateRevision }),
    rollout: transition.rollout,
    retiring: pending.retiring,
    ...(transition.analysis && { analysis: transition.analysis }),
    weights: transition.weights ?? ALL_STABLE,
    consumed: [...(transition.consumed ?? [])],
    events: [...(transition.events ?? [])],
    requeueAfterMs: earliest(transition.requeueAfterMs, pending.nextDueMs),
  };
}

function backAtStable(input: RolloutInput, stable: string): Transition {
  const { previous } = input;
  const events: ModelDeploymentEvent[] = previous.candidateRevision
    ? [{ type: 'Normal', reason: 'RolloutCancelled', message: `spec is back at stable revision ${stable}; candidate ${previous.candidateRevision} removed` }]
    : [];
  return { stableRevision: stable, rollout: { phase: 'Stable' }, retiring: previous.retiring ?? [], events };
}

/** The spec still asks for a revision that was aborted: it stays aborted until the spec changes or a retry. */
function stayAborted(input: RolloutInput, stable: string): Transition {
  const { previous } = input;
  return {
    stableRevision: stable,
    rollout: { ...previous.rollout, phase: 'Aborted', abortedRevision: input.desiredRevision },
    retiring: previous.retiring ?? [],
    ...(previous.analysis && { analysis: previous.analysis }),
  };
}

function rolloutAt(input: RolloutInput, strategy: Strategy, stable: string): InProgress {
  const { spec, previous } = input;
  const fresh = previous.candidateRevision !== input.desiredRevision;
  const prior = fresh ? undefined : previous.rollout;
  const steps = spec.rollout?.canary?.steps ?? [];
  return {
    input,
    strategy,
    stable,
    candidate: input.desiredRevision,
    prior,
    retiring: previous.retiring ?? [],
    analysis: spec.rollout?.analysis ? (fresh ? { failures: 0 } : (previous.analysis ?? { failures: 0 })) : undefined,
    steps,
    growing: input.promotion !== undefined && strategy === 'Canary' && prior !== undefined && (prior.step ?? 0) >= steps.length,
  };
}

/**
 * What comes before whichever branch is taken: a retry consumed (acted on, or a no-op whose removal
 * keeps it from firing on a later abort), and the Event that says a rollout (re)starts.
 */
function opening(at: InProgress, aborted: boolean, transition: Transition): Pick<Transition, 'consumed' | 'events'> {
  const { input, candidate, stable, strategy } = at;
  const events: ModelDeploymentEvent[] = [];
  if (aborted) {
    events.push({ type: 'Normal', reason: 'RolloutRetried', message: `retrying aborted revision ${candidate} from the first step` });
  }
  if (input.previous.candidateRevision !== candidate) {
    events.push({
      type: 'Normal',
      reason: 'RolloutStarted',
      message: input.previous.candidateRevision
        ? `spec changed mid-rollout: candidate ${candidate} replaces ${input.previous.candidateRevision}, from the first step`
        : `${strategy} rollout of revision ${candidate} started (stable ${stable})`,
    });
  }
  return {
    consumed: [...(input.commands.retry ? ['retry' as const] : []), ...(transition.consumed ?? [])],
    events: [...events, ...(transition.events ?? [])],
  };
}

/** The candidate's record while it runs: the stable side unchanged, the candidate named, its analysis kept. */
function running(at: InProgress, rollout: RolloutStatus, weights: Weights, requeueAfterMs?: number, analysis = at.analysis): Transition {
  return {
    stableRevision: at.stable,
    rollout,
    retiring: at.retiring,
    candidateRevision: at.candidate,
    weights,
    ...(requeueAfterMs !== undefined && { requeueAfterMs }),
    ...(analysis && { analysis }),
  };
}

/** The traffic intent at a canary step; while growing without a mesh, all of it on the candidate, whose pods are all it has. */
function canaryIntent(at: InProgress, step: number): Weights {
  return at.growing && at.input.promotion?.sharedService ? ALL_CANDIDATE : canaryWeights(at.input.spec, step);
}

function abortRequested(at: InProgress): Transition | undefined {
  if (!at.input.commands.abort) return undefined;
  const { candidate, stable } = at;
  return {
    stableRevision: stable,
    rollout: { phase: 'Aborted', abortedRevision: candidate, abortReason: 'Requested', message: `revision ${candidate} was aborted; change the spec or annotate modelship.io/retry=true to roll out again` },
    retiring: at.retiring,
    consumed: ['abort'],
    events: [{ type: 'Warning', reason: 'RolloutAborted', message: `revision ${candidate} aborted by request: all traffic back on stable revision ${stable}` }],
  };
}

/**
 * Keep the step the rollout had reached: a candidate pod restarting must not reset progress. But the
 * candidate gets no traffic until it can take it (a router would send the step's share to pods that
 * are not there: a real gateway answered those requests 503), except while it grows to full size
 * for a promotion, which only pods that are ready take part in. The step's clock is dropped, so the
 * candidate, once ready again, is watched for the step's whole pause.
 */
function candidateNotReady(at: InProgress): Transition | undefined {
  if (at.input.candidateReady) return undefined;
  const { prior, strategy, candidate } = at;
  const held: RolloutStatus = {
    ...(prior ?? {}),
    ...(strategy === 'Canary' && { step: prior?.step ?? 0 }),
    phase: 'Progressing',
    message: at.growing ? growingMessage(candidate, at.stable) : `waiting for revision ${candidate} to become ready`,
  };
  delete held.stepStartedAt;
  return running(at, held, prior && strategy === 'Canary' && at.growing ? canaryIntent(at, prior.step ?? 0) : ALL_STABLE);
}

function fullPromotion(at: InProgress): Transition | undefined {
  if (at.input.commands.promote !== 'full') return undefined;
  return withCommand(promotion(at, 'full promotion requested', at.analysis), 'promote');
}

function pausedHold(at: InProgress): Transition | undefined {
  if (!at.input.commands.paused) return undefined;
  const { prior, strategy } = at;
  const step = prior?.step ?? 0;
  const weights = strategy === 'Canary' ? canaryIntent(at, step) : ALL_STABLE;
  return running(at, { ...(prior ?? {}), ...(strategy === 'Canary' && { step }), phase: 'Paused', message: 'paused by modelship.io/paused' }, weights);
}

/** BlueGreen, ABTest and Mirror have no timed steps: the candidate is previewed, matched or mirrored until promoted (BlueGreen promotes itself with autoPromote). */
function untimed(at: InProgress): Transition {
  const { input, strategy, candidate, prior } = at;
  const autoPromote = strategy === 'BlueGreen' && (input.spec.rollout?.blueGreen?.autoPromote ?? SpecDefaults.blueGreenAutoPromote);
  if (autoPromote) return promotion(at, 'ready, autoPromote', at.analysis);
  if (input.commands.promote) return withCommand(promotion(at, 'promotion requested', at.analysis), 'promote');
  return running(at, { phase: 'WaitingForPromotion', stepStartedAt: prior?.stepStartedAt ?? time(input.now), message: waitingMessage(strategy, candidate) }, ALL_STABLE);
}

const withCommand = (transition: Transition, command: Command): Transition => ({ ...transition, consumed: [...(transition.consumed ?? []), command] });

/**
 * The candidate becomes stable. A canary's candidate, sized for its step, first grows to full size
 * (promoting it then would leave its few pods all the traffic). Without a traffic router the old
 * revision stops serving at once (its running pods would take a share); with one it retires after
 * the scale-down delay.
 */
function promotion(at: InProgress, reason: string, analysis: AnalysisStatus | undefined): Transition {
  const { input, strategy, candidate, stable } = at;
  const promoting = strategy === 'Canary' ? input.promotion : undefined;
  if (promoting && !promoting.candidateAtFullSize) {
    const weights = promoting.sharedService ? ALL_CANDIDATE : canaryWeights(input.spec, at.steps.length);
    return running(at, { phase: 'Progressing', step: at.steps.length, message: growingMessage(candidate, stable) }, weights, undefined, analysis);
  }
  const stillRetiring = at.retiring.filter((entry) => entry.revision !== stable);
  const promoted = `revision ${candidate} promoted (${reason}); revision ${stable}`;
  if (promoting?.sharedService) {
    return {
      stableRevision: candidate, rollout: { phase: 'Stable' }, retiring: stillRetiring,
      events: [{ type: 'Normal', reason: 'RolloutPromoted', message: `${promoted} stops serving now (no traffic router could keep it from taking traffic)` }],
    };
  }
  const delayMs = scaleDownDelayMs(input.spec);
  return {
    stableRevision: candidate,
    rollout: { phase: 'Stable' },
    retiring: [...stillRetiring, { revision: stable, scaleDownAt: time(new Date(input.now.getTime() + delayMs)) }],
    events: [{ type: 'Normal', reason: 'RolloutPromoted', message: `${promoted} scales down in ${delayMs / 1000}s` }],
  };
}

/** A canary: this pass's analysis sample judged (failureLimit failures roll it back), then its steps. */
function canary(at: InProgress): Transition {
  const { input, candidate, stable } = at;
  const sample = input.sample;
  if (!at.analysis || !sample) return canarySteps(at, at.analysis);
  const judged = judge(input.spec, at.analysis, sample, at.prior?.step ?? 0, input.now);
  if (judged.failures < (input.spec.rollout?.analysis?.failureLimit ?? SpecDefaults.failureLimit)) return canarySteps(at, judged);
  const why = describeFailures(sample);
  return {
    stableRevision: stable,
    rollout: { phase: 'Aborted', abortedRevision: candidate, abortReason: 'AnalysisFailed', message: `revision ${candidate} rolled back: analysis failed ${judged.failures} time(s): ${why}` },
    retiring: at.retiring,
    analysis: judged,
    events: [{ type: 'Warning', reason: 'AnalysisFailed', message: `revision ${candidate} rolled back after ${judged.failures} failed analysis sample(s): ${why}` }],
  };
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

/** Walks the canary's steps from where it stands: each passed step (its pause over and, with analysis, a passing sample taken during it, or a promote) moves on; the first that holds is the decision. */
function canarySteps(at: InProgress, analysis: AnalysisStatus | undefined): Transition {
  const { input, candidate, steps } = at;
  const { spec, now } = input;
  let step = at.prior?.step ?? 0;
  const growingBeforePromotion = input.promotion !== undefined && step >= steps.length;
  // A resumed or freshly ready rollout starts the step's clock now.
  let startedAt = at.prior?.stepStartedAt && at.prior.phase !== 'Paused' ? Date.parse(at.prior.stepStartedAt) : now.getTime();
  let promoteUsed = false;
  const events: ModelDeploymentEvent[] = [];
  const consumedSoFar = (): Command[] => (promoteUsed ? ['promote'] : []);

  for (;;) {
    const current = steps[step];
    if (!current) {
      // A promote asked for past the last step asks for what is under way; left, it would fire on the next rollout.
      if (input.commands.promote) promoteUsed = true;
      const promoted = promotion(at, growingBeforePromotion ? 'running at full size' : `all ${steps.length} steps passed`, analysis);
      return { ...promoted, consumed: consumedSoFar(), events: [...events, ...(promoted.events ?? [])] };
    }
    const pauseMs = current.pause ? durationMs(current.pause) : undefined;
    const promoted = !!input.commands.promote && !promoteUsed;
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
        .filter((due): due is number => due !== undefined)
        .map((due) => due - now.getTime());
      const requeue = timers.length > 0 ? Math.max(1000, Math.min(...timers)) : undefined;
      return { ...running(at, rollout, canaryWeights(spec, step), requeue, analysis), consumed: consumedSoFar(), events };
    }
    if (promoted) promoteUsed = true;
    step += 1;
    startedAt = now.getTime();
    if (steps[step]) events.push({ type: 'Normal', reason: 'CanaryStep', message: `step ${step + 1}/${steps.length}: ${steps[step]?.weight}% on revision ${candidate}` });
  }
}
