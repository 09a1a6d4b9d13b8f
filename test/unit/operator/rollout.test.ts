import { expect } from 'chai';
import type { ModelDeploymentSpec } from '../../../operator/api/types.ts';
import { RolloutAnnotations, rolloutCommands, type RolloutCommands } from '../../../operator/rollout/commands.ts';
import { durationMs } from '../../../operator/rollout/duration.ts';
import { nextRollout, type RolloutDecision, type RolloutInput, type RolloutRecord } from '../../../operator/rollout/state-machine.ts';

const A = 'aaaaaaa';
const B = 'bbbbbbb';
const C = 'ccccccc';
const T0 = Date.parse('2026-11-25T10:00:00Z');
/** The instant `seconds` after T0. */
const at = (seconds: number) => new Date(T0 + seconds * 1000);
/** The same instant as status records it. */
const stamp = (seconds: number) => at(seconds).toISOString().replace('.000Z', 'Z');

const MODEL: ModelDeploymentSpec['model'] = { uri: 'https://models.example.com/m.onnx', sha256: 'a'.repeat(64) };
/** 10% for 2m, then 50% until promoted (no pause), then 80% for 1m30s, then promotion. */
const canary: ModelDeploymentSpec = {
  model: MODEL,
  rollout: { strategy: 'Canary', canary: { steps: [{ weight: 10, pause: '2m' }, { weight: 50 }, { weight: 80, pause: '1m30s' }] } },
};
const blueGreen = (blueGreen: NonNullable<NonNullable<ModelDeploymentSpec['rollout']>['blueGreen']> = {}): ModelDeploymentSpec => ({
  model: MODEL,
  rollout: { strategy: 'BlueGreen', blueGreen },
});
const abTest: ModelDeploymentSpec = { model: MODEL, rollout: { strategy: 'ABTest', abTest: { header: { name: 'x-variant', value: 'b' } } } };
const mirror: ModelDeploymentSpec = { model: MODEL, rollout: { strategy: 'Mirror', mirror: { percent: 20 } } };
const rollingUpdate: ModelDeploymentSpec = { model: MODEL };

/** A canary of B over stable A, at `step`, its clock started `startedAt` seconds after T0. */
const atStep = (step: number, startedAt = 0, phase: RolloutRecord['rollout']['phase'] = 'Progressing'): Partial<RolloutRecord> => ({
  stableRevision: A,
  candidateRevision: B,
  rollout: { phase, step, stepStartedAt: stamp(startedAt) },
});

interface Row {
  name: string;
  spec: ModelDeploymentSpec;
  desired?: string;
  previous: Partial<RolloutRecord>;
  ready?: boolean;
  /** Absent: a router (Istio) weights traffic. */
  promotion?: RolloutInput['promotion'];
  commands?: RolloutCommands;
  /** Seconds after T0. */
  now: number;
  expect: {
    stable: string;
    candidate?: string;
    /** The rollout status without its message (compared exactly). */
    rollout: Omit<RolloutRecord['rollout'], 'message'>;
    message?: RegExp;
    weights: [stable: number, candidate: number];
    retiring?: RolloutRecord['retiring'];
    requeueAfterMs?: number;
    consumed?: (keyof RolloutCommands)[];
    events?: string[];
    eventMessage?: RegExp;
  };
}

const rows: Row[] = [
  // First revisions and in-place strategies: nothing to split.
  {
    name: 'a first revision is stable at once, whatever the strategy',
    spec: canary, previous: {}, ready: false, now: 0,
    expect: { stable: B, rollout: { phase: 'Stable' }, weights: [100, 0] },
  },
  {
    name: 'RollingUpdate makes the new revision stable at once (the Deployment replaces pods in place)',
    spec: rollingUpdate, previous: { stableRevision: A, rollout: { phase: 'Stable' } }, ready: false, now: 0,
    expect: { stable: B, rollout: { phase: 'Stable' }, weights: [100, 0] },
  },
  {
    name: 'RollingUpdate still keeps a revision retiring from an earlier canary until it is due',
    spec: rollingUpdate, previous: { stableRevision: A, rollout: { phase: 'Stable' }, retiring: [{ revision: C, scaleDownAt: stamp(30) }] }, now: 10,
    expect: { stable: B, rollout: { phase: 'Stable' }, weights: [100, 0], retiring: [{ revision: C, scaleDownAt: stamp(30) }], requeueAfterMs: 20_000 },
  },

  // Canary: steps with pause timers.
  {
    name: 'Canary: a new candidate that is not ready yet gets no traffic',
    spec: canary, previous: { stableRevision: A, rollout: { phase: 'Stable' } }, ready: false, now: 0,
    expect: { stable: A, candidate: B, rollout: { phase: 'Progressing', step: 0 }, message: /waiting for revision bbbbbbb to become ready/, weights: [100, 0], events: ['RolloutStarted'], eventMessage: /Canary rollout of revision bbbbbbb started \(stable aaaaaaa\)/ },
  },
  {
    name: 'Canary: a new candidate that is ready starts step 1 and its clock at once',
    spec: canary, previous: { stableRevision: A, rollout: { phase: 'Stable' } }, now: 0,
    expect: { stable: A, candidate: B, rollout: { phase: 'Progressing', step: 0, stepStartedAt: stamp(0) }, message: /step 1\/3: 10% on revision bbbbbbb for 2m/, weights: [90, 10], requeueAfterMs: 120_000, events: ['RolloutStarted'] },
  },
  {
    name: 'Canary: a candidate that became ready starts the step clock when it is ready, not when the rollout began',
    spec: canary, previous: { stableRevision: A, candidateRevision: B, rollout: { phase: 'Progressing' } }, now: 300,
    expect: { stable: A, candidate: B, rollout: { phase: 'Progressing', step: 0, stepStartedAt: stamp(300) }, weights: [90, 10], requeueAfterMs: 120_000 },
  },
  {
    name: 'Canary: mid-pause it holds the weight and comes back when the pause ends',
    spec: canary, previous: atStep(0), now: 45,
    expect: { stable: A, candidate: B, rollout: { phase: 'Progressing', step: 0, stepStartedAt: stamp(0) }, weights: [90, 10], requeueAfterMs: 75_000 },
  },
  {
    name: 'Canary: when the pause ends it moves to the next step, which has no pause and waits for promote',
    spec: canary, previous: atStep(0), now: 120,
    expect: { stable: A, candidate: B, rollout: { phase: 'WaitingForPromotion', step: 1, stepStartedAt: stamp(120) }, message: /step 2\/3: 50% .*modelship.io\/promote=true to go on/, weights: [50, 50], events: ['CanaryStep'], eventMessage: /step 2\/3: 50% on revision bbbbbbb/ },
  },
  {
    name: 'Canary: a step without pause does not move on by itself, however long it waits',
    spec: canary, previous: atStep(1, 120, 'WaitingForPromotion'), now: 86_400,
    expect: { stable: A, candidate: B, rollout: { phase: 'WaitingForPromotion', step: 1, stepStartedAt: stamp(120) }, weights: [50, 50] },
  },
  {
    name: 'Canary: promote=true finishes the step without pause; the next step starts its own clock',
    spec: canary, previous: atStep(1, 120, 'WaitingForPromotion'), commands: { promote: true }, now: 600,
    expect: { stable: A, candidate: B, rollout: { phase: 'Progressing', step: 2, stepStartedAt: stamp(600) }, weights: [20, 80], requeueAfterMs: 90_000, consumed: ['promote'], events: ['CanaryStep'] },
  },
  {
    name: 'Canary: promote=true during a pause moves exactly one step, not to the end',
    spec: canary, previous: atStep(0), commands: { promote: true }, now: 10,
    expect: { stable: A, candidate: B, rollout: { phase: 'WaitingForPromotion', step: 1, stepStartedAt: stamp(10) }, weights: [50, 50], consumed: ['promote'], events: ['CanaryStep'] },
  },
  {
    name: 'Canary: when the last pause ends the candidate is promoted and the old stable retires after the scale-down delay',
    spec: canary, previous: atStep(2, 600), now: 690,
    expect: { stable: B, rollout: { phase: 'Stable' }, weights: [100, 0], retiring: [{ revision: A, scaleDownAt: stamp(720) }], requeueAfterMs: 30_000, events: ['RolloutPromoted'], eventMessage: /revision bbbbbbb promoted \(all 3 steps passed\); revision aaaaaaa scales down in 30s/ },
  },
  {
    name: "Canary: promote=full promotes from any step at once",
    spec: canary, previous: atStep(0), commands: { promote: 'full' }, now: 5,
    expect: { stable: B, rollout: { phase: 'Stable' }, weights: [100, 0], retiring: [{ revision: A, scaleDownAt: stamp(35) }], requeueAfterMs: 30_000, consumed: ['promote'], events: ['RolloutPromoted'], eventMessage: /full promotion requested/ },
  },

  // Canary without a traffic router: traffic follows the pods, so promotion hands the pods over first.
  {
    name: 'Canary by replica ratio: when the last pause ends the candidate first grows to full size, the old stable still serving',
    spec: canary, previous: atStep(2, 600), promotion: { candidateAtFullSize: false, sharedService: true }, now: 690,
    expect: { stable: A, candidate: B, rollout: { phase: 'Progressing', step: 3 }, message: /promoting revision bbbbbbb: it grows to full size while revision aaaaaaa keeps serving/, weights: [0, 100] },
  },
  {
    name: 'Canary by replica ratio: promote=full grows the candidate first too, and the command is spent',
    spec: canary, previous: atStep(0), promotion: { candidateAtFullSize: false, sharedService: true }, commands: { promote: 'full' }, now: 5,
    expect: { stable: A, candidate: B, rollout: { phase: 'Progressing', step: 3 }, weights: [0, 100], consumed: ['promote'] },
  },
  {
    name: 'Canary by replica ratio: while the candidate grows (not all ready) it stays past the last step, all traffic meant for it',
    spec: canary, previous: { stableRevision: A, candidateRevision: B, rollout: { phase: 'Progressing', step: 3 } }, ready: false, promotion: { candidateAtFullSize: false, sharedService: true }, now: 700,
    expect: { stable: A, candidate: B, rollout: { phase: 'Progressing', step: 3 }, message: /promoting revision bbbbbbb/, weights: [0, 100] },
  },
  {
    name: 'Canary by replica ratio: promote=true while the candidate grows is spent, so it cannot fire on a later rollout',
    spec: canary, previous: { stableRevision: A, candidateRevision: B, rollout: { phase: 'Progressing', step: 3 } }, promotion: { candidateAtFullSize: false, sharedService: true }, commands: { promote: true }, now: 700,
    expect: { stable: A, candidate: B, rollout: { phase: 'Progressing', step: 3 }, weights: [0, 100], consumed: ['promote'] },
  },
  {
    name: 'Canary by replica ratio: paused while the candidate grows keeps growing it',
    spec: canary, previous: { stableRevision: A, candidateRevision: B, rollout: { phase: 'Progressing', step: 3 } }, promotion: { candidateAtFullSize: false, sharedService: true }, commands: { paused: true }, now: 700,
    expect: { stable: A, candidate: B, rollout: { phase: 'Paused', step: 3 }, weights: [0, 100] },
  },
  {
    name: 'Canary by replica ratio: at full size the candidate is promoted and the old stable stops serving at once (nothing retires: running, it would take traffic)',
    spec: canary, previous: { stableRevision: A, candidateRevision: B, rollout: { phase: 'Progressing', step: 3 }, retiring: [{ revision: C, scaleDownAt: stamp(720) }] }, promotion: { candidateAtFullSize: true, sharedService: true }, now: 710,
    expect: { stable: B, rollout: { phase: 'Stable' }, weights: [100, 0], retiring: [{ revision: C, scaleDownAt: stamp(720) }], requeueAfterMs: 10_000, events: ['RolloutPromoted'], eventMessage: /revision bbbbbbb promoted \(running at full size\); revision aaaaaaa stops serving now/ },
  },
  {
    name: 'Canary by replica ratio: a candidate already at full size (a 100% step) is promoted when the last pause ends',
    spec: canary, previous: atStep(2, 600), promotion: { candidateAtFullSize: true, sharedService: true }, now: 690,
    expect: { stable: B, rollout: { phase: 'Stable' }, weights: [100, 0], events: ['RolloutPromoted'], eventMessage: /\(all 3 steps passed\); revision aaaaaaa stops serving now/ },
  },

  // Abort.
  {
    name: 'abort sends all traffic back to stable and records the candidate as aborted',
    spec: canary, previous: atStep(2, 600), commands: { abort: true }, now: 610,
    expect: { stable: A, rollout: { phase: 'Aborted', abortedRevision: B, abortReason: 'Requested' }, message: /revision bbbbbbb was aborted; change the spec or annotate modelship.io\/retry=true to roll out again/, weights: [100, 0], consumed: ['abort'], events: ['RolloutAborted'] },
  },
  {
    name: 'abort works while the candidate is not ready (a model that never loads)',
    spec: canary, previous: { stableRevision: A, candidateRevision: B, rollout: { phase: 'Progressing' } }, ready: false, commands: { abort: true }, now: 10,
    expect: { stable: A, rollout: { phase: 'Aborted', abortedRevision: B, abortReason: 'Requested' }, weights: [100, 0], consumed: ['abort'], events: ['RolloutAborted'] },
  },
  {
    name: 'an aborted revision is not retried while the spec still asks for it',
    spec: canary, previous: { stableRevision: A, rollout: { phase: 'Aborted', abortedRevision: B, message: 'x' } }, now: 3600,
    expect: { stable: A, rollout: { phase: 'Aborted', abortedRevision: B }, weights: [100, 0] },
  },
  {
    name: 'retry rolls an aborted revision out again from the first step',
    spec: canary, previous: { stableRevision: A, rollout: { phase: 'Aborted', abortedRevision: B, message: 'x' } }, commands: { retry: true }, now: 3600,
    expect: { stable: A, candidate: B, rollout: { phase: 'Progressing', step: 0, stepStartedAt: stamp(3600) }, weights: [90, 10], requeueAfterMs: 120_000, consumed: ['retry'], events: ['RolloutRetried', 'RolloutStarted'], eventMessage: /retrying aborted revision bbbbbbb from the first step/ },
  },
  {
    name: 'retry of an aborted revision whose candidate is not ready yet starts it without traffic',
    spec: canary, previous: { stableRevision: A, rollout: { phase: 'Aborted', abortedRevision: B, message: 'x' } }, ready: false, commands: { retry: true }, now: 3600,
    expect: { stable: A, candidate: B, rollout: { phase: 'Progressing', step: 0 }, weights: [100, 0], consumed: ['retry'], events: ['RolloutRetried', 'RolloutStarted'] },
  },
  {
    name: 'retry with nothing aborted is removed and changes nothing (so it cannot fire on a later abort)',
    spec: canary, previous: atStep(0), commands: { retry: true }, now: 45,
    expect: { stable: A, candidate: B, rollout: { phase: 'Progressing', step: 0, stepStartedAt: stamp(0) }, weights: [90, 10], requeueAfterMs: 75_000, consumed: ['retry'] },
  },
  {
    name: 'a spec change after an abort rolls the new revision out from the first step',
    spec: canary, desired: C, previous: { stableRevision: A, rollout: { phase: 'Aborted', abortedRevision: B, message: 'x' } }, now: 3600,
    expect: { stable: A, candidate: C, rollout: { phase: 'Progressing', step: 0, stepStartedAt: stamp(3600) }, weights: [90, 10], requeueAfterMs: 120_000, events: ['RolloutStarted'], eventMessage: /Canary rollout of revision ccccccc started/ },
  },

  // Pause.
  {
    name: 'paused: the timer stops and the weight stays',
    spec: canary, previous: atStep(0), commands: { paused: true }, now: 600,
    expect: { stable: A, candidate: B, rollout: { phase: 'Paused', step: 0, stepStartedAt: stamp(0) }, message: /paused by modelship.io\/paused/, weights: [90, 10] },
  },
  {
    name: 'paused: promote=true waits until the rollout is resumed',
    spec: canary, previous: atStep(1, 120, 'WaitingForPromotion'), commands: { paused: true, promote: true }, now: 600,
    expect: { stable: A, candidate: B, rollout: { phase: 'Paused', step: 1, stepStartedAt: stamp(120) }, weights: [50, 50] },
  },
  {
    name: 'resumed: the step starts its whole pause again',
    spec: canary, previous: atStep(0, 0, 'Paused'), now: 600,
    expect: { stable: A, candidate: B, rollout: { phase: 'Progressing', step: 0, stepStartedAt: stamp(600) }, weights: [90, 10], requeueAfterMs: 120_000 },
  },

  // Candidate not ready mid-rollout.
  {
    name: 'a candidate that stops being ready keeps the reached step, and its traffic goes back to stable until it is ready again',
    spec: canary, previous: atStep(2, 600), ready: false, now: 700,
    expect: { stable: A, candidate: B, rollout: { phase: 'Progressing', step: 2 }, message: /waiting for revision bbbbbbb to become ready/, weights: [100, 0] },
  },
  {
    name: 'a candidate not yet ready gets no traffic on the passes after the first either (its step is recorded, not reached)',
    spec: canary, previous: { stableRevision: A, candidateRevision: B, rollout: { phase: 'Progressing', step: 0, message: 'waiting for revision bbbbbbb to become ready' } }, ready: false, now: 5,
    expect: { stable: A, candidate: B, rollout: { phase: 'Progressing', step: 0 }, message: /waiting for revision bbbbbbb to become ready/, weights: [100, 0] },
  },
  // Spec changes mid-rollout.
  {
    name: 'a spec change mid-rollout replaces the candidate and starts again from the first step',
    spec: canary, desired: C, previous: atStep(2, 600), now: 650,
    expect: { stable: A, candidate: C, rollout: { phase: 'Progressing', step: 0, stepStartedAt: stamp(650) }, weights: [90, 10], requeueAfterMs: 120_000, events: ['RolloutStarted'], eventMessage: /spec changed mid-rollout: candidate ccccccc replaces bbbbbbb, from the first step/ },
  },
  {
    name: 'a spec set back to the stable revision drops the candidate',
    spec: canary, desired: A, previous: atStep(1, 120, 'WaitingForPromotion'), now: 650,
    expect: { stable: A, rollout: { phase: 'Stable' }, weights: [100, 0], events: ['RolloutCancelled'], eventMessage: /spec is back at stable revision aaaaaaa; candidate bbbbbbb removed/ },
  },
  {
    name: 'a spec set back to a revision still retiring brings it back as the candidate (no longer retiring)',
    spec: canary, desired: A, previous: { stableRevision: B, rollout: { phase: 'Stable' }, retiring: [{ revision: A, scaleDownAt: stamp(30) }] }, now: 10,
    expect: { stable: B, candidate: A, rollout: { phase: 'Progressing', step: 0, stepStartedAt: stamp(10) }, weights: [90, 10], requeueAfterMs: 120_000, events: ['RolloutStarted'] },
  },

  // BlueGreen.
  {
    name: 'BlueGreen: a candidate not ready yet is previewed, all traffic on stable',
    spec: blueGreen(), previous: { stableRevision: A, rollout: { phase: 'Stable' } }, ready: false, now: 0,
    expect: { stable: A, candidate: B, rollout: { phase: 'Progressing' }, weights: [100, 0], events: ['RolloutStarted'] },
  },
  {
    name: 'BlueGreen with autoPromote (the default) switches as soon as the candidate is ready',
    spec: blueGreen(), previous: { stableRevision: A, candidateRevision: B, rollout: { phase: 'Progressing' } }, now: 60,
    expect: { stable: B, rollout: { phase: 'Stable' }, weights: [100, 0], retiring: [{ revision: A, scaleDownAt: stamp(90) }], requeueAfterMs: 30_000, events: ['RolloutPromoted'], eventMessage: /ready, autoPromote/ },
  },
  {
    name: 'BlueGreen without autoPromote waits on the preview for promotion',
    spec: blueGreen({ autoPromote: false }), previous: { stableRevision: A, candidateRevision: B, rollout: { phase: 'Progressing' } }, now: 60,
    expect: { stable: A, candidate: B, rollout: { phase: 'WaitingForPromotion', stepStartedAt: stamp(60) }, message: /ready on the preview Service; annotate modelship.io\/promote=true to promote/, weights: [100, 0] },
  },
  {
    name: 'BlueGreen without autoPromote keeps waiting, from when it started to wait',
    spec: blueGreen({ autoPromote: false }), previous: { stableRevision: A, candidateRevision: B, rollout: { phase: 'WaitingForPromotion', stepStartedAt: stamp(60) } }, now: 7200,
    expect: { stable: A, candidate: B, rollout: { phase: 'WaitingForPromotion', stepStartedAt: stamp(60) }, weights: [100, 0] },
  },
  {
    name: 'BlueGreen promote=true switches and keeps the old revision for scaleDownDelaySeconds',
    spec: blueGreen({ autoPromote: false, scaleDownDelaySeconds: 600 }), previous: { stableRevision: A, candidateRevision: B, rollout: { phase: 'WaitingForPromotion', stepStartedAt: stamp(60) } }, commands: { promote: true }, now: 100,
    expect: { stable: B, rollout: { phase: 'Stable' }, weights: [100, 0], retiring: [{ revision: A, scaleDownAt: stamp(700) }], requeueAfterMs: 600_000, consumed: ['promote'], events: ['RolloutPromoted'], eventMessage: /scales down in 600s/ },
  },
  {
    name: 'BlueGreen paused does not auto-promote',
    spec: blueGreen(), previous: { stableRevision: A, candidateRevision: B, rollout: { phase: 'Progressing' } }, commands: { paused: true }, now: 60,
    expect: { stable: A, candidate: B, rollout: { phase: 'Paused' }, weights: [100, 0] },
  },

  // ABTest and Mirror.
  {
    name: 'ABTest waits for promotion with all unmatched traffic on stable',
    spec: abTest, previous: { stableRevision: A, candidateRevision: B, rollout: { phase: 'Progressing' } }, now: 60,
    expect: { stable: A, candidate: B, rollout: { phase: 'WaitingForPromotion', stepStartedAt: stamp(60) }, message: /matching requests go to revision bbbbbbb/, weights: [100, 0] },
  },
  {
    name: 'ABTest promote=true makes the candidate stable',
    spec: abTest, previous: { stableRevision: A, candidateRevision: B, rollout: { phase: 'WaitingForPromotion', stepStartedAt: stamp(60) } }, commands: { promote: true }, now: 120,
    expect: { stable: B, rollout: { phase: 'Stable' }, weights: [100, 0], retiring: [{ revision: A, scaleDownAt: stamp(150) }], requeueAfterMs: 30_000, consumed: ['promote'], events: ['RolloutPromoted'] },
  },
  {
    name: 'Mirror waits for promotion while live traffic is mirrored',
    spec: mirror, previous: { stableRevision: A, candidateRevision: B, rollout: { phase: 'Progressing' } }, now: 60,
    expect: { stable: A, candidate: B, rollout: { phase: 'WaitingForPromotion', stepStartedAt: stamp(60) }, message: /live traffic is mirrored to revision bbbbbbb/, weights: [100, 0] },
  },
  {
    name: 'Mirror abort keeps the stable revision',
    spec: mirror, previous: { stableRevision: A, candidateRevision: B, rollout: { phase: 'WaitingForPromotion', stepStartedAt: stamp(60) } }, commands: { abort: true }, now: 120,
    expect: { stable: A, rollout: { phase: 'Aborted', abortedRevision: B, abortReason: 'Requested' }, weights: [100, 0], consumed: ['abort'], events: ['RolloutAborted'] },
  },

  // Retiring revisions and requeue.
  {
    name: 'a retiring revision is kept until its scaleDownAt, with a requeue for then',
    spec: canary, desired: B, previous: { stableRevision: B, rollout: { phase: 'Stable' }, retiring: [{ revision: A, scaleDownAt: stamp(30) }] }, now: 12,
    expect: { stable: B, rollout: { phase: 'Stable' }, weights: [100, 0], retiring: [{ revision: A, scaleDownAt: stamp(30) }], requeueAfterMs: 18_000 },
  },
  {
    name: 'a retiring revision is dropped at its scaleDownAt',
    spec: canary, desired: B, previous: { stableRevision: B, rollout: { phase: 'Stable' }, retiring: [{ revision: A, scaleDownAt: stamp(30) }] }, now: 30,
    expect: { stable: B, rollout: { phase: 'Stable' }, weights: [100, 0] },
  },
  {
    name: 'the requeue is the sooner of the remaining pause and the next scale-down',
    spec: canary, previous: { ...atStep(0), retiring: [{ revision: C, scaleDownAt: stamp(50) }, { revision: 'ddddddd', scaleDownAt: stamp(40) }] }, now: 30,
    expect: { stable: A, candidate: B, rollout: { phase: 'Progressing', step: 0, stepStartedAt: stamp(0) }, weights: [90, 10], retiring: [{ revision: C, scaleDownAt: stamp(50) }, { revision: 'ddddddd', scaleDownAt: stamp(40) }], requeueAfterMs: 10_000 },
  },
  {
    name: 'a promotion while another revision still retires replaces nothing but adds the old stable',
    spec: canary, previous: { ...atStep(2, 600), retiring: [{ revision: C, scaleDownAt: stamp(700) }] }, now: 690,
    expect: { stable: B, rollout: { phase: 'Stable' }, weights: [100, 0], retiring: [{ revision: C, scaleDownAt: stamp(700) }, { revision: A, scaleDownAt: stamp(720) }], requeueAfterMs: 10_000, events: ['RolloutPromoted'] },
  },
];

function run(row: Row): RolloutDecision {
  const input: RolloutInput = {
    spec: row.spec,
    desiredRevision: row.desired ?? B,
    previous: row.previous,
    candidateReady: row.ready ?? true,
    ...(row.promotion && { promotion: row.promotion }),
    commands: row.commands ?? {},
    now: at(row.now),
  };
  return nextRollout(input);
}

describe('rollout state machine (nextRollout)', () => {
  for (const row of rows) {
    it(row.name, () => {
      const decision = run(row);
      const { expect: want } = row;
      expect({ stable: decision.stableRevision, candidate: decision.candidateRevision }).to.deep.equal({ stable: want.stable, candidate: want.candidate });
      const { message, ...rollout } = decision.rollout;
      expect(rollout).to.deep.equal(want.rollout);
      if (want.message) expect(message).to.match(want.message);
      expect([decision.weights.stable, decision.weights.candidate]).to.deep.equal(want.weights);
      expect(decision.retiring).to.deep.equal(want.retiring ?? []);
      expect(decision.requeueAfterMs).to.equal(want.requeueAfterMs);
      expect(decision.consumed).to.deep.equal(want.consumed ?? []);
      expect(decision.events.map((event) => event.reason)).to.deep.equal(want.events ?? []);
      if (want.eventMessage) expect(decision.events.map((event) => event.message).join('\n')).to.match(want.eventMessage);
    });
  }

  it('marks an abort as a Warning event and everything else as Normal', () => {
    const aborted = nextRollout({ spec: canary, desiredRevision: B, previous: atStep(0), candidateReady: true, commands: { abort: true }, now: at(1) });
    expect(aborted.events.map((event) => event.type)).to.deep.equal(['Warning']);
    const promoted = nextRollout({ spec: canary, desiredRevision: B, previous: atStep(0), candidateReady: true, commands: { promote: 'full' }, now: at(1) });
    expect(promoted.events.map((event) => event.type)).to.deep.equal(['Normal']);
  });

  it('restarts the step clock when a candidate is ready again after an outage, so it is watched for the whole pause', () => {
    // Step 1 (10% for 2m) began at T0; the candidate lost its pods at 30s and is back at 5m.
    const down = nextRollout({ spec: canary, desiredRevision: B, previous: atStep(0), candidateReady: false, commands: {}, now: at(30) });
    expect(down.rollout).to.include({ phase: 'Progressing', step: 0 });
    const back = nextRollout({ spec: canary, desiredRevision: B, previous: down, candidateReady: true, commands: {}, now: at(300) });
    expect(back.rollout).to.include({ phase: 'Progressing', step: 0, stepStartedAt: stamp(300) });
    expect(back.weights).to.deep.equal({ stable: 90, candidate: 10 });
    expect(back.requeueAfterMs).to.equal(120_000);
  });

  it('is decided by its inputs alone: the same inputs give the same decision', () => {
    for (const row of rows) expect(run(row), row.name).to.deep.equal(run(row));
  });

  it('walks a whole canary from start to the old revision gone when the operator comes back as asked', () => {
    let previous: Partial<RolloutRecord> = { stableRevision: A, rollout: { phase: 'Stable' } };
    let now = 0;
    const seen: string[] = [];
    // Bounded: the rollout takes a handful of passes.
    for (let pass = 0; pass < 12; pass++) {
      const commands: RolloutCommands = previous.rollout?.phase === 'WaitingForPromotion' ? { promote: true } : {};
      const decision = nextRollout({ spec: canary, desiredRevision: B, previous, candidateReady: true, commands, now: at(now) });
      seen.push(`${decision.rollout.phase}${decision.rollout.step ?? ''}:${decision.weights.candidate}`);
      previous = { stableRevision: decision.stableRevision, ...(decision.candidateRevision && { candidateRevision: decision.candidateRevision }), rollout: decision.rollout, retiring: decision.retiring };
      if (decision.requeueAfterMs === undefined && commands.promote === undefined && decision.rollout.phase === 'Stable') break;
      now += (decision.requeueAfterMs ?? 5000) / 1000;
    }
    expect(seen).to.deep.equal(['Progressing0:10', 'WaitingForPromotion1:50', 'Progressing2:80', 'Stable:0', 'Stable:0']);
    expect(previous).to.deep.equal({ stableRevision: B, rollout: { phase: 'Stable' }, retiring: [] });
    expect(now).to.equal(120 + 5 + 90 + 30);
  });
});

describe('rollout commands (annotations)', () => {
  it('reads promote, promote=full, abort and paused', () => {
    expect(rolloutCommands(undefined)).to.deep.equal({});
    expect(rolloutCommands({})).to.deep.equal({});
    expect(rolloutCommands({ [RolloutAnnotations.promote]: 'true' })).to.deep.equal({ promote: true });
    expect(rolloutCommands({ [RolloutAnnotations.promote]: 'full' })).to.deep.equal({ promote: 'full' });
    expect(rolloutCommands({ [RolloutAnnotations.abort]: 'true' })).to.deep.equal({ abort: true });
    expect(rolloutCommands({ [RolloutAnnotations.paused]: 'true' })).to.deep.equal({ paused: true });
    expect(rolloutCommands({ [RolloutAnnotations.retry]: 'true' })).to.deep.equal({ retry: true });
    expect(rolloutCommands({ [RolloutAnnotations.promote]: 'true', [RolloutAnnotations.abort]: 'true', [RolloutAnnotations.paused]: 'true' }))
      .to.deep.equal({ promote: true, abort: true, paused: true });
  });

  it('treats "false" as absent, and any other value (even empty) as set', () => {
    expect(rolloutCommands({ [RolloutAnnotations.promote]: 'false', [RolloutAnnotations.abort]: 'false', [RolloutAnnotations.paused]: 'false' })).to.deep.equal({});
    expect(rolloutCommands({ [RolloutAnnotations.paused]: '' })).to.deep.equal({ paused: true });
    expect(rolloutCommands({ [RolloutAnnotations.promote]: 'yes' })).to.deep.equal({ promote: true });
  });

  it('uses the modelship.io annotation names the docs show, and ignores others', () => {
    expect(RolloutAnnotations).to.deep.equal({ promote: 'modelship.io/promote', abort: 'modelship.io/abort', paused: 'modelship.io/paused', retry: 'modelship.io/retry' });
    expect(rolloutCommands({ 'example.com/promote': 'true', 'modelship.io/other': 'true' })).to.deep.equal({});
  });
});

describe('durationMs', () => {
  const cases: [string, number][] = [
    ['30s', 30_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['1m30s', 90_000],
    ['500ms', 500],
    ['1.5s', 1500],
    ['0.5m', 30_000],
    ['1h0m0s250ms', 3_600_250],
    ['0s', 0],
  ];
  for (const [duration, ms] of cases) {
    it(`reads ${duration} as ${ms} ms`, () => expect(durationMs(duration)).to.equal(ms));
  }
});
