import { expect } from 'chai';
import type { ModelDeployment, ModelDeploymentStatus } from '../../../operator/api/types.ts';
import { planModelDeployment, revisionOf } from '../../../operator/desired/index.ts';
import type { RolloutDecision } from '../../../operator/rollout/state-machine.ts';
import { computeStatus, findCondition, type ObservedChildren } from '../../../operator/status/index.ts';
import { modelDeployment, observedDeployment, observedRevisionDeployment, OPTIONS, servedBy } from './fixtures.ts';

const T0 = new Date('2026-11-25T10:00:00.000Z');
const T1 = new Date('2026-11-25T10:05:00.000Z');

/** What kstatus reads of a status: each of its two conditions as status/reason. */
function kstatusView(status: ModelDeploymentStatus) {
  const view = (type: string) => {
    const found = findCondition(status.conditions, type);
    if (!found) throw new Error(`no ${type} condition in ${JSON.stringify(status.conditions)}`);
    return `${found.status}/${found.reason}`;
  };
  return { Reconciling: view('Reconciling'), Stalled: view('Stalled'), Ready: view('Ready') };
}

describe("kstatus conditions (Reconciling, Stalled) in each phase of a ModelDeployment", () => {
  const md = modelDeployment({ replicas: 2 });
  const at = (observed: ObservedChildren, target: ModelDeployment = md) => computeStatus(target, observed, T0);

  it('just created (no Deployment yet): Reconciling=True Creating', () => {
    expect(kstatusView(at({}))).to.deep.equal({ Reconciling: 'True/Creating', Stalled: 'False/AsExpected', Ready: 'False/DeploymentPending' });
  });

  it('pods starting or being replaced: Reconciling=True RolloutInProgress, with the counts', () => {
    const status = at({ deployment: observedDeployment(md, { ready: 1, progressing: 'ReplicaSetUpdated' }) });
    expect(kstatusView(status).Reconciling).to.equal('True/RolloutInProgress');
    expect(findCondition(status.conditions, 'Reconciling')?.message).to.equal(`revision ${revisionOf(md)}: 2/2 replicas updated, 1 ready`);
  });

  it('the Deployment controller has not seen the new template yet: Reconciling=True', () => {
    const status = at({ deployment: observedDeployment(md, { generation: 3, observedGeneration: 2, progressing: 'NewReplicaSetAvailable' }) });
    expect(kstatusView(status).Reconciling).to.equal('True/RolloutInProgress');
  });

  it('fully serving the desired revision: Reconciling and Stalled False, Ready True, and every condition at the observed generation', () => {
    const bumped: ModelDeployment = { ...md, metadata: { ...md.metadata, generation: 7 } };
    const status = at({ deployment: observedDeployment(bumped, { progressing: 'NewReplicaSetAvailable' }) }, bumped);
    expect(kstatusView(status)).to.deep.equal({ Reconciling: 'False/Reconciled', Stalled: 'False/AsExpected', Ready: 'True/StableServing' });
    expect(status.observedGeneration).to.equal(7);
    expect(status.conditions?.map((condition) => condition.observedGeneration)).to.satisfy((generations: number[]) => generations.every((g) => g === 7));
  });

  it('replicas lost after the rollout completed: Reconciling=True ReplicasUnavailable (the Deployment replaces them), not Stalled', () => {
    const complete = at({ deployment: observedDeployment(md, { progressing: 'NewReplicaSetAvailable' }) });
    const status = computeStatus({ ...md, status: complete }, { deployment: observedDeployment(md, { ready: 1, available: 1, progressing: 'NewReplicaSetAvailable' }) }, T1);
    expect(kstatusView(status)).to.include({ Reconciling: 'True/ReplicasUnavailable', Stalled: 'False/AsExpected' });
  });

  it('a completed revision scaled up (the HPA, spec.replicas): still Current, Ready, no Reconciling while the new pods start', () => {
    const complete = at({ deployment: observedDeployment(md, { progressing: 'NewReplicaSetAvailable' }) });
    const bigger: ModelDeployment = { ...md, spec: { ...md.spec, replicas: 4 }, status: complete };
    const status = computeStatus(bigger, { deployment: observedDeployment(bigger, { ready: 2, available: 2, progressing: 'NewReplicaSetAvailable' }) }, T1);
    expect(kstatusView(status)).to.deep.equal({ Reconciling: 'False/Reconciled', Stalled: 'False/AsExpected', Ready: 'True/StableServing' });
    expect(status).to.include({ phase: 'Ready', ready: '2/4' });
    expect(findCondition(status.conditions, 'Degraded')?.status).to.equal('False');
  });

  it('progress deadline passed (e.g. a model that never loads): Stalled=True, Reconciling False', () => {
    const status = at({ deployment: observedDeployment(md, { ready: 0, available: 0, progressing: 'ProgressDeadlineExceeded' }) });
    expect(kstatusView(status)).to.include({ Reconciling: 'False/ProgressDeadlineExceeded', Stalled: 'True/ProgressDeadlineExceeded' });
  });

  it('a child the apiserver refused: Stalled=True ApplyFailed with the apiserver message', () => {
    const status = at({ applyError: 'applying Deployment fraud-detector: exceeded quota: no-deployments' });
    expect(kstatusView(status).Stalled).to.equal('True/ApplyFailed');
    expect(findCondition(status.conditions, 'Stalled')?.message).to.contain('exceeded quota');
  });

  it('a child name taken by an object it does not own: Stalled=True ChildConflict', () => {
    expect(kstatusView(at({ conflicts: ['Service fraud-detector exists and is not owned by this ModelDeployment'] })).Stalled).to.equal('True/ChildConflict');
  });

  it('scaled to zero: neither Reconciling nor Stalled; Ready stays False (ScaledToZero), which kstatus reads as InProgress', () => {
    const idle = modelDeployment({ replicas: 0 });
    expect(kstatusView(at({ deployment: observedDeployment(idle, { progressing: 'NewReplicaSetAvailable' }) }, idle)))
      .to.deep.equal({ Reconciling: 'False/Reconciled', Stalled: 'False/AsExpected', Ready: 'False/ScaledToZero' });
  });
});

describe('kstatus conditions during a progressive rollout', () => {
  const v1 = modelDeployment({ replicas: 4, rollout: { strategy: 'Canary', canary: { steps: [{ weight: 10, pause: '2m' }, { weight: 50 }] } } });
  const A = revisionOf(v1);
  const v2Base: ModelDeployment = { ...v1, metadata: { ...v1.metadata, generation: 2 }, spec: { ...v1.spec, model: { ...v1.spec.model, version: '3', sha256: 'b'.repeat(64) } } };
  const v2: ModelDeployment = { ...v2Base, status: { stableRevision: A, rollout: { phase: 'Stable' } } };
  const B = revisionOf(v2);
  const stableDeployment = observedRevisionDeployment(v1, { progressing: 'NewReplicaSetAvailable' });
  const candidateDeployment = observedRevisionDeployment(v2, { progressing: 'NewReplicaSetAvailable' });

  const statusAt = (md: ModelDeployment, now: Date, annotations: Record<string, string> = {}) => {
    const plan = planModelDeployment({ md: { ...md, metadata: { ...md.metadata, annotations } }, options: OPTIONS, controllerRevisions: [], deployments: [candidateDeployment], served: servedBy('Istio'), now });
    return computeStatus(md, { deployment: stableDeployment, rollout: plan.rollout, routing: plan.routing }, now);
  };

  it('a canary holding a timed step: Reconciling=True RolloutInProgress, though the stable revision is Ready', () => {
    const status = statusAt(v2, T0);
    expect(status.rollout?.phase).to.equal('Progressing');
    expect(kstatusView(status)).to.deep.equal({ Reconciling: 'True/RolloutInProgress', Stalled: 'False/AsExpected', Ready: 'True/StableServing' });
  });

  it('a canary step waiting for promotion, and a paused canary: Reconciling=True with the rollout reason', () => {
    const atStep0: ModelDeployment = { ...v2, status: statusAt(v2, T0) };
    expect(kstatusView(statusAt(atStep0, T1)).Reconciling).to.equal('True/WaitingForPromotion');
    expect(kstatusView(statusAt(atStep0, T1, { 'modelship.io/paused': 'true' })).Reconciling).to.equal('True/RolloutPaused');
  });

  it('after an abort: Stalled=True RolloutAborted until the spec changes or a retry', () => {
    const status = statusAt(v2, T0, { 'modelship.io/abort': 'true' });
    expect(kstatusView(status)).to.include({ Reconciling: 'False/RolloutAborted', Stalled: 'True/RolloutAborted' });
    expect(findCondition(status.conditions, 'Stalled')?.message).to.contain('annotate modelship.io/retry=true');
  });

  it('after an analysis rollback: Stalled=True AnalysisFailed with what was measured', () => {
    const rolledBack: RolloutDecision = {
      stableRevision: A,
      rollout: { phase: 'Aborted', abortedRevision: B, abortReason: 'AnalysisFailed', message: `revision ${B} rolled back: analysis failed 1 time(s): p99 412ms > 250ms` },
      retiring: [],
      weights: { stable: 100, candidate: 0 },
      consumed: [],
      events: [],
    };
    const status = computeStatus(v2, { deployment: stableDeployment, rollout: rolledBack }, T0);
    expect(kstatusView(status).Stalled).to.equal('True/AnalysisFailed');
    expect(findCondition(status.conditions, 'Stalled')?.message).to.contain('p99 412ms > 250ms');
  });

  it('a stall ends when the rollout is retried: Stalled flips to False with a new transition time', () => {
    const aborted: ModelDeployment = { ...v2, status: statusAt(v2, T0, { 'modelship.io/abort': 'true' }) };
    const retried = statusAt(aborted, T1, { 'modelship.io/retry': 'true' });
    expect(kstatusView(retried)).to.include({ Reconciling: 'True/RolloutInProgress', Stalled: 'False/AsExpected' });
    expect(findCondition(retried.conditions, 'Stalled')?.lastTransitionTime).to.equal('2026-11-25T10:05:00Z');
  });

  it('promoted: Current again (Reconciling False) while the old revision waits out its scale-down delay', () => {
    const plan = planModelDeployment({ md: { ...v2, metadata: { ...v2.metadata, annotations: { 'modelship.io/promote': 'full' } } }, options: OPTIONS, controllerRevisions: [], deployments: [candidateDeployment], served: servedBy('Istio'), now: T0 });
    const status = computeStatus(v2, { deployment: candidateDeployment, rollout: plan.rollout, routing: plan.routing }, T0);
    expect(status.retiring).to.have.length(1);
    expect(kstatusView(status)).to.deep.equal({ Reconciling: 'False/Reconciled', Stalled: 'False/AsExpected', Ready: 'True/StableServing' });
  });
});
