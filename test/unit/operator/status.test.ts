import { expect } from 'chai';
import type { ModelDeployment, ModelDeploymentStatus } from '../../../operator/api/types.ts';
import { planModelDeployment, revisionDeploymentName, revisionOf, type Plan } from '../../../operator/desired/index.ts';
import { computeStatus, findCondition, plannedStableReplicas, statusEqual, transitionEvents, type ObservedChildren } from '../../../operator/status/index.ts';
import { podSummary } from '../../../operator/controller/runtime-pods.ts';
import { retiredPods } from '../../../operator/status/retired-pods.ts';
import { runtimeFailure } from '../../../operator/status/runtime-failure.ts';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { evaluateSample, type AnalysisSample } from '../../../operator/analysis/evaluate.ts';
import { modelDeployment, observedDeployment, observedRevisionDeployment, OPTIONS, servedBy } from './fixtures.ts';

const T0 = new Date('2026-11-25T10:00:00.000Z');
const T1 = new Date('2026-11-25T10:05:00.000Z');
const T2 = new Date('2026-11-25T10:09:00.000Z');

function withStatus(md: ModelDeployment, status: ModelDeploymentStatus): ModelDeployment {
  return { ...md, status };
}

function condition(status: ModelDeploymentStatus, type: string) {
  const found = findCondition(status.conditions, type);
  if (!found) throw new Error(`no ${type} condition`);
  return found;
}

/** Runs the controller's status step the way it would: previous status in, next status out. */
function step(md: ModelDeployment, observed: ObservedChildren, now: Date): { md: ModelDeployment; status: ModelDeploymentStatus } {
  const status = computeStatus(md, observed, now);
  return { md: withStatus(md, status), status };
}

describe('ModelDeployment status', () => {
  const md = modelDeployment({ replicas: 2 });
  const revision = revisionOf(md);

  it('is Pending and Progressing before the Deployment exists', () => {
    const status = computeStatus(md, {}, T0);
    expect(status.phase).to.equal('Pending');
    expect(condition(status, 'Progressing')).to.include({ status: 'True', reason: 'Creating' });
    expect(condition(status, 'Ready')).to.include({ status: 'False' });
    expect(status).to.include({ ready: '0/2', revision, observedGeneration: 1 });
  });

  it('reports a rollout in progress, then StableServing with the printer-column view a user expects', () => {
    const rolling = computeStatus(md, { deployment: observedDeployment(md, { ready: 1, progressing: 'ReplicaSetUpdated' }) }, T0);
    expect(rolling.phase).to.equal('Progressing');
    expect(condition(rolling, 'Progressing')).to.include({ status: 'True', reason: 'RolloutInProgress' });
    expect(condition(rolling, 'Ready')).to.include({ status: 'True', reason: 'Serving' });
    expect(condition(rolling, 'Degraded').status).to.equal('False');

    const done = computeStatus(withStatus(md, rolling), { deployment: observedDeployment(md, { progressing: 'NewReplicaSetAvailable' }) }, T1);
    expect(done).to.include({
      phase: 'Ready',
      ready: '2/2',
      readyReplicas: 2,
      modelName: 'fraud-detector',
      endpoint: 'http://fraud-detector.payments.svc.cluster.local:8080/v2/models/fraud-detector',
      selector: 'modelship.io/model-deployment=fraud-detector',
    });
    expect(condition(done, 'Ready')).to.include({ status: 'True', reason: 'StableServing', message: `revision ${revision}: 2/2 replicas ready` });
    expect(condition(done, 'Progressing')).to.include({ status: 'False', reason: 'RolloutComplete' });
  });

  it('keeps lastTransitionTime when a condition keeps its status, moves it when the status flips', () => {
    const first = step(md, { deployment: observedDeployment(md, { ready: 1 }) }, T0);
    const second = step(first.md, { deployment: observedDeployment(md, { progressing: 'NewReplicaSetAvailable' }) }, T1);
    // Ready stayed True (1/2 -> 2/2): same transition time though reason and message changed.
    expect(condition(second.status, 'Ready').lastTransitionTime).to.equal('2026-11-25T10:00:00Z');
    expect(condition(second.status, 'Progressing').lastTransitionTime).to.equal('2026-11-25T10:05:00Z');
  });

  it('returns exactly the previous status at steady state, so the controller makes no write', () => {
    const observed = { deployment: observedDeployment(md, { progressing: 'NewReplicaSetAvailable' }) };
    const settled = step(step(md, observed, T0).md, observed, T1);
    const again = computeStatus(settled.md, observed, T2);
    expect(statusEqual(settled.status, again)).to.equal(true);
    expect(again).to.deep.equal(settled.status);
    expect(transitionEvents(settled.status, again)).to.deep.equal([]);
  });

  it('is Degraded with ReplicasUnavailable when a completed rollout loses pods, and recovers', () => {
    const stable = step(md, { deployment: observedDeployment(md, { progressing: 'NewReplicaSetAvailable' }) }, T0);
    const lost = step(stable.md, { deployment: observedDeployment(md, { ready: 1, available: 1, progressing: 'NewReplicaSetAvailable' }) }, T1);
    expect(lost.status.phase).to.equal('Degraded');
    expect(condition(lost.status, 'Degraded')).to.include({ status: 'True', reason: 'ReplicasUnavailable', message: `revision ${revision}: 1/2 replicas ready` });
    expect(condition(lost.status, 'Ready').status).to.equal('True');
    expect(transitionEvents(stable.status, lost.status)).to.deep.include({ type: 'Warning', reason: 'ReplicasUnavailable', message: `revision ${revision}: 1/2 replicas ready` });

    const back = step(lost.md, { deployment: observedDeployment(md, { progressing: 'NewReplicaSetAvailable' }) }, T2);
    expect(back.status.phase).to.equal('Ready');
    expect(transitionEvents(lost.status, back.status).map((e) => e.reason)).to.deep.equal(['Recovered']);
  });

  it('does not call pods that are still starting Degraded', () => {
    const starting = computeStatus(md, { deployment: observedDeployment(md, { ready: 0, available: 0, progressing: 'NewReplicaSetCreated' }) }, T0);
    expect(starting.phase).to.equal('Progressing');
    expect(condition(starting, 'Degraded').status).to.equal('False');
  });

  it('is Degraded when the Deployment passed its progress deadline (e.g. a model that never loads)', () => {
    const stuck = computeStatus(md, { deployment: observedDeployment(md, { ready: 0, available: 0, progressing: 'ProgressDeadlineExceeded' }) }, T0);
    expect(stuck.phase).to.equal('Degraded');
    expect(condition(stuck, 'Degraded')).to.include({ status: 'True', reason: 'ProgressDeadlineExceeded' });
    expect(condition(stuck, 'Degraded').message).to.contain('Deployment ProgressDeadlineExceeded');
  });

  describe('a runtime that cannot serve its model', () => {
    const message = 'ModelSignatureInvalid: cannot serve model: model signature rejected (digestMismatch): file:///mnt/models/fraud.onnx has sha256 aa, the signature says bb';
    const pod = (name: string, container: V1Pod['status']): V1Pod => ({ metadata: { name }, status: container });
    const crashLooping = pod('fraud-detector-7d9-x2', {
      containerStatuses: [{
        name: 'runtime', ready: false, restartCount: 3, image: 'i', imageID: '',
        state: { waiting: { reason: 'CrashLoopBackOff' } },
        lastState: { terminated: { exitCode: 1, reason: 'Error', message } },
      }],
    });

    it('reads the reason and message the runtime wrote as its termination message', () => {
      expect(runtimeFailure([crashLooping])).to.deep.equal({
        reason: 'ModelSignatureInvalid',
        message: 'pod fraud-detector-7d9-x2: cannot serve model: model signature rejected (digestMismatch): file:///mnt/models/fraud.onnx has sha256 aa, the signature says bb',
      });
    });

    it('ignores ready containers, other containers and messages the runtime did not write', () => {
      const recovered = pod('a', { containerStatuses: [{ ...crashLooping.status!.containerStatuses![0]!, ready: true }] });
      const sidecar = pod('b', { containerStatuses: [{ ...crashLooping.status!.containerStatuses![0]!, name: 'istio-proxy' }] });
      const oom = pod('c', { containerStatuses: [{ ...crashLooping.status!.containerStatuses![0]!, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } } }] });
      const foreign = pod('d', { containerStatuses: [{ ...crashLooping.status!.containerStatuses![0]!, lastState: { terminated: { exitCode: 1, message: 'Something: else' } } }] });
      expect(runtimeFailure([recovered, sidecar, oom, foreign, pod('e', {})])).to.equal(undefined);
    });

    it('is Degraded and Stalled with the runtime\'s reason, and a Warning event says why', () => {
      const observed = { deployment: observedDeployment(md, { ready: 0, available: 0, progressing: 'ReplicaSetUpdated' }) };
      const before = step(md, observed, T0);
      const failing = step(before.md, { ...observed, runtimeFailure: runtimeFailure([crashLooping])! }, T1);
      expect(failing.status.phase).to.equal('Degraded');
      expect(condition(failing.status, 'Degraded')).to.include({ status: 'True', reason: 'ModelSignatureInvalid' });
      expect(condition(failing.status, 'Degraded').message).to.contain('digestMismatch');
      expect(condition(failing.status, 'Stalled'), 'kstatus: no progress until someone fixes the model, signature or key').to.include({ status: 'True', reason: 'ModelSignatureInvalid' });
      expect(transitionEvents(before.status, failing.status, md)).to.deep.include({ type: 'Warning', reason: 'ModelSignatureInvalid', message: condition(failing.status, 'Degraded').message });
    });
  });

  describe('pods of a retired revision behind a Service that selects every revision', () => {
    const pod = (name: string, revision: string): V1Pod => ({ metadata: { name, labels: { 'modelship.io/revision': revision } } });

    it('counts them by revision, leaving the live ones out', () => {
      expect(retiredPods([pod('a', 'old'), pod('b', 'new'), pod('c', 'old'), pod('d', 'older')], ['new', undefined]))
        .to.deep.equal([{ revision: 'old', pods: 2 }, { revision: 'older', pods: 1 }]);
    });

    it('keeps the ModelDeployment Progressing and Reconciling until they are gone: they still answer', () => {
      const observed = { deployment: observedDeployment(md, { progressing: 'NewReplicaSetAvailable' }) };
      const stopping = computeStatus(md, { ...observed, retiredPods: [{ revision: 'abc1234', pods: 2 }] }, T0);
      expect(condition(stopping, 'Progressing')).to.include({ status: 'True', reason: 'RetiredPodsStopping', message: 'revision abc1234: 2 pods still running, answering what reaches them (through the Service, or on connections opened before it switched) until they exit' });
      expect(condition(stopping, 'Reconciling')).to.include({ status: 'True', reason: 'RetiredPodsStopping' });
      expect(condition(stopping, 'Ready').status).to.equal('True');
      const settled = computeStatus(md, observed, T0);
      expect(condition(settled, 'Progressing')).to.include({ status: 'False', reason: 'RolloutComplete' });
      expect(condition(settled, 'Reconciling').status).to.equal('False');
    });
  });

  describe('a pod that fits no node', () => {
    const schedulerSays = '0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.';
    const pending: V1Pod = { metadata: { name: 'fraud-gpu-5c4-q8' }, status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: schedulerSays }] } };

    it('is Degraded with the scheduler\'s words, but not Stalled: a node may still come', () => {
      const observed = { deployment: observedDeployment(md, { ready: 0, available: 0, progressing: 'ReplicaSetUpdated' }) };
      const failure = runtimeFailure([pending]);
      expect(failure).to.deep.equal({ reason: 'Unschedulable', message: `pod fraud-gpu-5c4-q8 fits no node: ${schedulerSays}`, waitsForNode: true });
      const status = computeStatus(md, { ...observed, runtimeFailure: failure! }, T0);
      expect(condition(status, 'Degraded')).to.include({ status: 'True', reason: 'Unschedulable' });
      expect(condition(status, 'Degraded').message).to.contain('Insufficient nvidia.com/gpu');
      expect(condition(status, 'Stalled').status).to.equal('False');
      expect(condition(status, 'Ready').status).to.equal('False');
    });

    it('says nothing of a pod being deleted, and a runtime\'s own failure comes first', () => {
      expect(runtimeFailure([{ ...pending, metadata: { ...pending.metadata, deletionTimestamp: T0 } }])).to.equal(undefined);
    });
  });

  it('reads the same from the summary the pod cache keeps as from the whole pod (the spec, most of a pod, is dropped)', () => {
    const whole: V1Pod = {
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name: 'fraud-detector-abc1234-x2', namespace: 'payments', uid: 'u', resourceVersion: '7', labels: { 'modelship.io/revision': 'abc1234' }, annotations: { a: 'b' } },
      spec: { containers: [{ name: 'runtime', image: 'runtime:1', env: Array.from({ length: 30 }, (_, i) => ({ name: `E${i}`, value: 'x'.repeat(40) })) }] },
      status: {
        phase: 'Pending',
        conditions: [{ type: 'Ready', status: 'False' }, { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: 'no node' }],
        containerStatuses: [{
          name: 'runtime', ready: false, restartCount: 3, image: 'i', imageID: '', state: { waiting: { reason: 'CrashLoopBackOff' } },
          lastState: { terminated: { exitCode: 1, reason: 'Error', message: 'ModelSignatureInvalid: cannot serve model: rejected' } },
        }],
      },
    };
    const summary = podSummary(whole);
    expect(summary).to.not.have.property('spec');
    expect(JSON.stringify(summary).length).to.be.below(JSON.stringify(whole).length / 3);
    expect(runtimeFailure([summary])).to.deep.equal(runtimeFailure([whole]));
    const unscheduled = { ...whole, status: { ...whole.status, containerStatuses: [] } };
    expect(runtimeFailure([podSummary(unscheduled)])).to.deep.equal(runtimeFailure([unscheduled])).and.to.include({ reason: 'Unschedulable' });
    expect(retiredPods([summary], ['other'])).to.deep.equal(retiredPods([whole], ['other']));
  });

  it('is Progressing while the Deployment still runs the previous revision', () => {
    const v3 = modelDeployment({ replicas: 2, model: { ...md.spec.model, version: '3', sha256: 'd'.repeat(64) } });
    const status = computeStatus(v3, { deployment: observedDeployment(md, { progressing: 'NewReplicaSetAvailable' }) }, T0);
    expect(status.phase).to.equal('Progressing');
    expect(condition(status, 'Ready').message).to.contain(`rolling out from revision ${revision}`);
  });

  it('reports the HPA-chosen replica count, not the spec minimum', () => {
    const scaled = modelDeployment({ autoscaling: { minReplicas: 2, maxReplicas: 10, targetCPUUtilization: 70 } });
    const status = computeStatus(scaled, { deployment: observedDeployment(scaled, { replicas: 5, progressing: 'NewReplicaSetAvailable' }) }, T0);
    expect(status.ready).to.equal('5/5');
  });

  it('is Degraded when a child name is taken by an object the ModelDeployment does not own', () => {
    const status = computeStatus(md, { conflicts: ['Service fraud-detector exists and is not owned by this ModelDeployment'] }, T0);
    expect(status.phase).to.equal('Degraded');
    expect(condition(status, 'Degraded')).to.include({ reason: 'ChildConflict' });
  });

  it('is Degraded with WatchForbidden, naming the kind and the apiserver\'s words, while a child kind may not be watched', () => {
    const forbidden = 'poddisruptionbudgets.policy is forbidden: User "system:serviceaccount:ops:modelship" cannot list resource "poddisruptionbudgets"';
    const status = computeStatus(md, { deployment: observedDeployment(md, { ready: 2 }), watchForbidden: [`PodDisruptionBudget: ${forbidden}`] }, T0);
    expect(status.phase).to.equal('Degraded');
    expect(condition(status, 'Degraded')).to.include({ status: 'True', reason: 'WatchForbidden' });
    expect(condition(status, 'Degraded').message).to.contain(`PodDisruptionBudget: ${forbidden}`);
    expect(condition(status, 'Ready').status, 'the pods still serve').to.equal('True');
  });

  it('emits RevisionCreated and Ready on the way up, nothing for counter-only changes', () => {
    const created = step(md, {}, T0);
    expect(transitionEvents(undefined, created.status, md)).to.deep.equal([
      { type: 'Normal', reason: 'RevisionCreated', message: `revision ${revision} for model version 2` },
    ]);
    const half = step(created.md, { deployment: observedDeployment(md, { ready: 1 }) }, T1);
    expect(transitionEvents(created.status, half.status).map((e) => e.reason)).to.deep.equal(['Ready']);
    const more = step(half.md, { deployment: observedDeployment({ ...md, spec: { ...md.spec, replicas: 3 } }, { ready: 2 }) }, T2);
    expect(statusEqual(half.status, more.status)).to.equal(false);
    expect(transitionEvents(half.status, more.status)).to.deep.equal([]);
  });
});

describe('statusEqual', () => {
  const status = computeStatus(modelDeployment(), {}, T0);

  it('ignores condition order, key order and timestamp spelling', () => {
    const reordered: ModelDeploymentStatus = {
      ...status,
      conditions: [...(status.conditions ?? [])].reverse().map((c) => ({ ...c, lastTransitionTime: c.lastTransitionTime.replace('Z', '.000Z') })),
    };
    expect(statusEqual(status, reordered)).to.equal(true);
    expect(statusEqual(status, JSON.parse(JSON.stringify({ ...status, canaryWeight: undefined })) as ModelDeploymentStatus)).to.equal(true);
  });

  it('sees a changed count or condition', () => {
    expect(statusEqual(status, { ...status, readyReplicas: 1 })).to.equal(false);
    expect(statusEqual(undefined, status)).to.equal(false);
  });
});

describe('ModelDeployment status during a progressive rollout', () => {
  const v1 = modelDeployment({ replicas: 4, rollout: { strategy: 'Canary', canary: { steps: [{ weight: 10, pause: '2m' }, { weight: 50 }] } } });
  const A = revisionOf(v1);
  const v2Spec = { ...v1.spec, model: { ...v1.spec.model, version: '3', sha256: 'b'.repeat(64) } };
  const v2 = withStatus({ ...v1, spec: v2Spec }, { stableRevision: A, rollout: { phase: 'Stable' } });
  const B = revisionOf(v2);
  const stableDeployment = observedRevisionDeployment(v1, { progressing: 'NewReplicaSetAvailable' });
  const candidateDeployment = observedRevisionDeployment(v2, { progressing: 'NewReplicaSetAvailable' });

  function planned(md: ModelDeployment, istio: boolean, now = T0, annotations: Record<string, string> = {}): Plan {
    return planModelDeployment({
      md: { ...md, metadata: { ...md.metadata, annotations } },
      options: OPTIONS,
      controllerRevisions: [],
      deployments: [candidateDeployment],
      served: istio ? servedBy('Istio') : servedBy(),
      now,
    });
  }
  const statusOf = (md: ModelDeployment, plan: Plan, now = T0, observed: Partial<ObservedChildren> = {}) =>
    computeStatus(md, { deployment: stableDeployment, rollout: plan.rollout, routing: plan.routing, ...observed }, now);

  it('says TrafficRouting is degraded (IstioNotInstalled) with the reason when Istio is missing', () => {
    const plan = planned(v2, false);
    expect(condition(statusOf(v2, plan), 'TrafficRouting')).to.include({
      status: 'False',
      reason: 'IstioNotInstalled',
      message: 'Istio is not installed: the canary weight is approximated by replica counts (1 candidate, 3 stable), and kube-proxy balances connections, not requests',
    });
  });

  it('says TrafficRouting is done by Istio with the weights it routes', () => {
    expect(condition(statusOf(v2, planned(v2, true)), 'TrafficRouting')).to.include({
      status: 'True',
      reason: 'IstioRouting',
      message: 'VirtualService routes 90% stable, 10% candidate',
    });
    expect(condition(computeStatus(v1, { deployment: stableDeployment }, T0), 'TrafficRouting')).to.include({ status: 'True', reason: 'ServiceRouting' });
  });

  it('reports stable and candidate revisions, the weights as routed, and the rollout', () => {
    const status = statusOf(v2, planned(v2, false));
    expect(status).to.deep.include({
      revision: B,
      stableRevision: A,
      candidateRevision: B,
      // What the replica counts make of the 10% step, not the step's weight.
      weights: { stable: 75, candidate: 25 },
      rollout: { phase: 'Progressing', step: 0, stepStartedAt: '2026-11-25T10:00:00Z', message: `step 1/2: 10% on revision ${B} for 2m` },
    });
    expect(status).to.not.have.property('retiring');
    expect(status.phase).to.equal('Progressing');
    expect(condition(status, 'Progressing')).to.include({ status: 'True', reason: 'RolloutInProgress', message: `step 1/2: 10% on revision ${B} for 2m` });
    // Readiness is the stable revision's, which serves the traffic.
    expect(condition(status, 'Ready')).to.include({ status: 'True', reason: 'StableServing', message: `revision ${A}: 4/4 replicas ready` });
    expect(statusOf(v2, planned(v2, true)).weights).to.deep.equal({ stable: 90, candidate: 10 });
  });

  it('says WaitingForPromotion on a step without pause, and RolloutPaused while paused', () => {
    const first = planned(v2, true);
    const atStep0 = withStatus(v2, statusOf(v2, first));
    const waiting = statusOf(atStep0, planned(atStep0, true, T1), T1);
    expect(waiting.phase).to.equal('Progressing');
    expect(condition(waiting, 'Progressing')).to.include({ status: 'True', reason: 'WaitingForPromotion' });
    expect(condition(waiting, 'Progressing').message).to.match(/annotate modelship.io\/promote=true to go on$/);

    const paused = statusOf(atStep0, planned(atStep0, true, T1, { 'modelship.io/paused': 'true' }), T1);
    expect(condition(paused, 'Progressing')).to.include({ status: 'True', reason: 'RolloutPaused', message: 'paused by modelship.io/paused' });
    expect(paused.rollout).to.include({ phase: 'Paused', step: 0 });
    expect(paused.phase).to.equal('Progressing');
  });

  it('is Degraded with RolloutAborted after an abort, and says how to go on', () => {
    const aborted = statusOf(v2, planned(v2, true, T0, { 'modelship.io/abort': 'true' }));
    const message = `revision ${B} was aborted; change the spec or annotate modelship.io/retry=true to roll out again`;
    expect(aborted.phase).to.equal('Degraded');
    expect(condition(aborted, 'Progressing')).to.include({ status: 'False', reason: 'RolloutAborted', message });
    expect(condition(aborted, 'Degraded')).to.include({ status: 'True', reason: 'RolloutAborted', message });
    expect(aborted).to.deep.include({ stableRevision: A, weights: { stable: 100, candidate: 0 }, rollout: { phase: 'Aborted', abortedRevision: B, abortReason: 'Requested', message } });
    expect(aborted).to.not.have.property('candidateRevision');
    expect(transitionEvents(v2.status, aborted, v2).map((event) => event.reason)).to.include('RolloutAborted');
  });

  it('lets a worse problem of the stable Deployment show over an aborted rollout', () => {
    const stalled = observedRevisionDeployment(v1, { ready: 0, available: 0, progressing: 'ProgressDeadlineExceeded' });
    const status = statusOf(v2, planned(v2, true, T0, { 'modelship.io/abort': 'true' }), T0, { deployment: stalled });
    expect(condition(status, 'Degraded')).to.include({ status: 'True', reason: 'ProgressDeadlineExceeded' });
  });

  it('without Istio reports the split the ready pods make, through a promotion that first grows the candidate', () => {
    const pass = (md: ModelDeployment, deployments: V1Deployment[], annotations: Record<string, string> = {}) => {
      const plan = planModelDeployment({ md: { ...md, metadata: { ...md.metadata, annotations } }, options: OPTIONS, controllerRevisions: [], deployments, served: servedBy(), now: T0 });
      return computeStatus(md, { deployment: stableDeployment, rollout: plan.rollout, routing: plan.routing }, T0);
    };
    const starting = pass(v2, []);
    expect(starting.weights).to.deep.equal({ stable: 100, candidate: 0 });
    expect(condition(starting, 'TrafficRouting').message).to.equal('Istio is not installed: the canary weight is approximated by replica counts (0 candidate, 4 stable), and kube-proxy balances connections, not requests');

    // Fully promoted from the first step with one candidate pod of four: it grows before it takes over.
    const onePod = { ...candidateDeployment, spec: { ...candidateDeployment.spec!, replicas: 1 }, status: { ...candidateDeployment.status, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 } };
    const growing = pass(withStatus(v2, starting), [onePod], { 'modelship.io/promote': 'full' });
    expect(growing).to.deep.include({ stableRevision: A, candidateRevision: B, weights: { stable: 75, candidate: 25 } });
    expect(condition(growing, 'Progressing')).to.include({ status: 'True', reason: 'RolloutInProgress', message: `promoting revision ${B}: it grows to full size while revision ${A} keeps serving, then takes all traffic` });

    // All four ready: promoted, and the old revision is not left retiring with pods behind the Service.
    const promoted = pass(withStatus(v2, growing), [candidateDeployment]);
    expect(promoted).to.deep.include({ stableRevision: B, weights: { stable: 100, candidate: 0 } });
    expect(promoted).to.not.have.property('retiring');
  });

  it('promote --full under Istio: the candidate first grows to full size, each ready pod of it taking a stable pod\'s share, then takes all traffic with every pod ready; no Warning, RolloutComplete once', () => {
    // Mid-canary under Istio: 4 stable pods, 1 candidate pod, all ready.
    const candidate = (status: Parameters<typeof observedRevisionDeployment>[1]) => observedRevisionDeployment(v2, { revision: B, progressing: 'NewReplicaSetAvailable', ...status });
    const midCanary = withStatus(v2, statusOf(v2, planned(v2, true)));
    // What the candidate's Deployment reports, pass after pass: sized for the 10% step (1 pod), then growing to 4.
    const passes = [
      observedRevisionDeployment({ ...v2, spec: { ...v2.spec, replicas: 1 } }, { revision: B, progressing: 'NewReplicaSetAvailable' }),
      candidate({ generation: 2, observedGeneration: 2, ready: 1, available: 1 }),
      candidate({ generation: 2, observedGeneration: 2, ready: 3, available: 3 }),
      candidate({ generation: 2, observedGeneration: 2 }),
      candidate({ generation: 2, observedGeneration: 2 }),
    ];
    let md: ModelDeployment = { ...midCanary, metadata: { ...midCanary.metadata, annotations: { 'modelship.io/promote': 'full' } } };
    const events: { type: string; reason: string; message: string }[] = [];
    const seen: { stable?: string; weights?: unknown; candidateReplicas?: number; ready?: string }[] = [];
    for (const deployment of passes) {
      const plan = planModelDeployment({ md, options: OPTIONS, controllerRevisions: [], deployments: [deployment], served: servedBy('Istio'), now: T1 });
      const promoted = plan.rollout.stableRevision === B;
      const next = computeStatus(md, { deployment: promoted ? deployment : stableDeployment, rollout: plan.rollout, routing: plan.routing, plannedReplicas: plannedStableReplicas(plan) }, T1);
      events.push(...plan.rollout.events, ...transitionEvents(md.status, next, md));
      const candidateSlot = plan.objects.find((o) => o.kind === 'Deployment' && o.metadata?.name === revisionDeploymentName(v2, B)) as V1Deployment | undefined;
      seen.push({ stable: next.stableRevision, weights: next.weights, candidateReplicas: candidateSlot?.spec?.replicas, ready: next.ready });
      md = withStatus(md, next);
    }
    // Growing: each ready candidate pod takes a stable pod's share (25%), never more; then 100% on four ready pods.
    expect(seen).to.deep.equal([
      { stable: A, weights: { stable: 75, candidate: 25 }, candidateReplicas: 4, ready: '4/4' },
      { stable: A, weights: { stable: 75, candidate: 25 }, candidateReplicas: 4, ready: '4/4' },
      { stable: A, weights: { stable: 25, candidate: 75 }, candidateReplicas: 4, ready: '4/4' },
      { stable: B, weights: { stable: 100, candidate: 0 }, candidateReplicas: 4, ready: '4/4' },
      { stable: B, weights: { stable: 100, candidate: 0 }, candidateReplicas: 4, ready: '4/4' },
    ]);
    expect(events.filter((event) => event.type === 'Warning'), JSON.stringify(events)).to.deep.equal([]);
    expect(events.map((event) => event.reason)).to.deep.equal(['RolloutPromoted', 'RolloutComplete']);
    expect(condition(md.status ?? {}, 'Ready')).to.include({ reason: 'StableServing', message: `revision ${B}: 4/4 replicas ready` });
  });

  it('after promotion reports the new stable revision and the old one retiring until its scale-down', () => {
    const plan = planned(v2, true, T0, { 'modelship.io/promote': 'full' });
    const status = computeStatus(v2, { deployment: candidateDeployment, rollout: plan.rollout, routing: plan.routing }, T0);
    expect(status).to.deep.include({ revision: B, stableRevision: B, rollout: { phase: 'Stable' }, retiring: [{ revision: A, scaleDownAt: '2026-11-25T10:00:30Z' }] });
    expect(status).to.not.have.property('candidateRevision');
    expect(status.phase).to.equal('Ready');
    expect(condition(status, 'Progressing')).to.include({ status: 'False', reason: 'RolloutComplete', message: `revision ${B} rolled out` });
    expect(condition(status, 'Ready').message).to.equal(`revision ${B}: 4/4 replicas ready`);
  });
});

describe('ModelDeployment status while canary analysis cannot sample', () => {
  const analysed = (version: string, sha: string) => modelDeployment({
    replicas: 4,
    model: { uri: 'https://models.example.com/fraud/model.onnx', sha256: sha, version },
    rollout: {
      strategy: 'Canary',
      canary: { steps: [{ weight: 10 }, { weight: 50 }] },
      analysis: { prometheus: 'http://prometheus.monitoring:9090', interval: '1m', minRequests: 20, maxErrorRate: 0.05 },
    },
  });
  const v1 = analysed('2', 'a'.repeat(64));
  const A = revisionOf(v1);
  const v2 = withStatus(analysed('3', 'b'.repeat(64)), { stableRevision: A, rollout: { phase: 'Stable' } });
  const stable = observedRevisionDeployment(v1, { progressing: 'NewReplicaSetAvailable' });
  const candidate = observedRevisionDeployment(v2, { progressing: 'NewReplicaSetAvailable' });
  const analysisSpec = v2.spec.rollout?.analysis ?? {};
  const unreachable = evaluateSample(analysisSpec, { requests: undefined, custom: new Map(), unavailable: 'Prometheus at http://prometheus.monitoring:9090 did not answer: fetch failed' });
  const quiet = evaluateSample(analysisSpec, { requests: 3, errorRate: 0, custom: new Map() });

  /** One reconcile's status step: plan with the sample taken in this pass (if any), then status and its events. */
  function pass(md: ModelDeployment, now: Date, sample?: AnalysisSample) {
    const plan = planModelDeployment({ md, options: OPTIONS, controllerRevisions: [], deployments: [candidate], served: servedBy('Istio'), now, ...(sample && { sample }) });
    const status = computeStatus(md, { deployment: stable, rollout: plan.rollout, routing: plan.routing }, now);
    return { md: withStatus(md, status), status, events: [...plan.rollout.events, ...transitionEvents(md.status, status, md)] };
  }

  it('Prometheus not answering: Progressing (and Reconciling) say PrometheusUnavailable with the error, and one Warning Event says it after the first sample', () => {
    const started = pass(v2, T0);
    expect(condition(started.status, 'Progressing').reason).to.equal('RolloutInProgress');
    const first = pass(started.md, T1, unreachable);
    const progressing = condition(first.status, 'Progressing');
    expect(progressing).to.include({ status: 'True', reason: 'PrometheusUnavailable' });
    expect(progressing.message).to.equal(
      `step 1/2: 10% on revision ${revisionOf(v2)}, until an analysis sample passes; analysis sample at 2026-11-25T10:05:00Z was inconclusive: Prometheus at http://prometheus.monitoring:9090 did not answer: fetch failed`,
    );
    expect(condition(first.status, 'Reconciling')).to.include({ reason: 'PrometheusUnavailable', message: progressing.message });
    expect(first.events.filter((event) => event.type === 'Warning')).to.deep.equal([{ type: 'Warning', reason: 'PrometheusUnavailable', message: progressing.message }]);

    const second = pass(first.md, T2, unreachable);
    expect(condition(second.status, 'Progressing').reason).to.equal('PrometheusUnavailable');
    expect(second.events.filter((event) => event.type === 'Warning'), 'not again for every sample').to.deep.equal([]);
  });

  it('too few requests: Progressing says TooFewRequests with the count and the minimum, and a Warning Event says it', () => {
    const first = pass(pass(v2, T0).md, T1, quiet);
    const progressing = condition(first.status, 'Progressing');
    expect(progressing).to.include({ status: 'True', reason: 'TooFewRequests' });
    expect(progressing.message).to.match(/was inconclusive: requests 3: fewer than 20 candidate requests in the interval$/);
    expect(first.events.map((event) => `${event.type}/${event.reason}`)).to.deep.equal(['Warning/TooFewRequests']);
  });

  it('a passing sample after that clears the reason', () => {
    const blind = pass(pass(v2, T0).md, T1, unreachable);
    const passing = evaluateSample(analysisSpec, { requests: 100, errorRate: 0, custom: new Map() });
    const after = pass(blind.md, T2, passing);
    expect(condition(after.status, 'Progressing').reason).to.equal('RolloutInProgress');
  });
});
