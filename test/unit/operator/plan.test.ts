import type { KubernetesObject, V1ControllerRevision, V1Deployment, V1PodDisruptionBudget, V1Service, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { ModelDeployment, ModelDeploymentSpec } from '../../../operator/api/types.ts';
import { INSTANCE_LABEL, MODEL_VERSION_LABEL, planModelDeployment, REVISION_LABEL, revisionOf, type Plan } from '../../../operator/desired/index.ts';
import { satisfies } from '../../../operator/controller/object-diff.ts';
import type { GatewayRoute, GatewaySupport } from '../../../operator/desired/routing/gateway-api.ts';
import { IstioKinds } from '../../../operator/desired/routing/istio.ts';
import { RuntimeEnv } from '../../../runtime/contract.ts';
import { modelDeployment, observedRevisionDeployment, OPTIONS, servedBy, SHA } from './fixtures.ts';

const NAME = 'fraud-detector';
const HOST = 'fraud-detector.payments.svc.cluster.local';
const NOW = new Date('2026-11-25T10:00:00Z');
const later = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);

type Rollout = NonNullable<ModelDeploymentSpec['rollout']>;
const CANARY: Rollout = { strategy: 'Canary', canary: { steps: [{ weight: 10, pause: '2m' }, { weight: 50 }, { weight: 100, pause: '1m' }] } };
/** The next model version: a new revision. */
const nextModel = (md: ModelDeployment): ModelDeploymentSpec['model'] => ({ ...md.spec.model, version: '3', sha256: 'b'.repeat(64) });

interface Pass {
  istio?: boolean;
  gatewayApi?: boolean;
  /** The routes as the cluster has them, with what their Gateways say. */
  routes?: KubernetesObject[];
  /** What the model's Gateways' classes say they support. */
  gateways?: Map<string, GatewaySupport>;
  /** The user's HTTPRoute of spec.traffic.httpRouteRef as read; null: not there. */
  sharedRoute?: GatewayRoute | null;
  deployments?: V1Deployment[];
  revisions?: V1ControllerRevision[];
  now?: Date;
}

function planOf(md: ModelDeployment, pass: Pass = {}): Plan {
  return planModelDeployment({
    md,
    options: OPTIONS,
    controllerRevisions: pass.revisions ?? [],
    deployments: pass.deployments ?? [],
    served: servedBy(...(pass.istio ? ['Istio'] : []), ...(pass.gatewayApi ? ['Gateway API'] : [])),
    observed: (kind) => (pass.routes ?? []).filter((object) => object.kind === kind.kind),
    ...(pass.gateways && { gateways: pass.gateways }),
    ...(pass.sharedRoute !== undefined && { sharedRoute: pass.sharedRoute }),
    now: pass.now ?? NOW,
  });
}

/** What a plan says of its routing, less which pods the Service's selection lets serve. */
const routed = (plan: Plan) => ({ router: plan.routing.router, weights: plan.routing.weights, condition: plan.routing.condition });

/** The ModelDeployment as the next pass reads it: the plan's rollout decision recorded in status. */
function recorded(md: ModelDeployment, plan: Plan): ModelDeployment {
  const { stableRevision, candidateRevision, rollout, retiring } = plan.rollout;
  return { ...md, status: { stableRevision, ...(candidateRevision && { candidateRevision }), rollout, ...(retiring.length > 0 && { retiring }) } };
}

const revisionsIn = (plan: Plan) => objectsOf<V1ControllerRevision>(plan, 'ControllerRevision');

function objectsOf<T extends KubernetesObject>(plan: Plan, kind: string): T[] {
  return plan.objects.filter((object) => object.kind === kind) as T[];
}

function one<T extends KubernetesObject>(plan: Plan, kind: string, name: string): T {
  const found = objectsOf<T>(plan, kind).find((object) => object.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in ${plan.objects.map((o) => `${o.kind}/${o.metadata?.name}`).join(', ')}`);
  return found;
}

const namesOf = (plan: Plan, kind: string) => objectsOf(plan, kind).map((object) => object.metadata?.name);
const replicasOf = (plan: Plan) => Object.fromEntries(objectsOf<V1Deployment>(plan, 'Deployment').map((d) => [d.metadata?.name, d.spec?.replicas]));
const selectorOf = (plan: Plan, name: string) => one<V1Service>(plan, 'Service', name).spec?.selector;
const istioSpec = (plan: Plan, kind: 'VirtualService' | 'DestinationRule') => (one(plan, kind, NAME) as KubernetesObject & { spec: Record<string, unknown> }).spec;
const pods = (revision?: string) => ({ [INSTANCE_LABEL]: NAME, ...(revision && { [REVISION_LABEL]: revision }) });
const destination = (subset: string) => ({ host: HOST, subset });
type Route = Record<string, unknown> & { name: string; match?: Record<string, unknown>[]; route: { destination: Record<string, unknown> }[]; mirror?: Record<string, unknown> };
/** The REST port's routes, without the port matching and destination ports every route carries (checked on their own below). */
function restRoutes(spec: Record<string, unknown>): Record<string, unknown>[] {
  const stripPort = ({ port: _port, ...rest }: Record<string, unknown>) => rest;
  return (spec.http as Route[]).filter((route) => route.name.endsWith('-http')).map(({ match: portMatch, ...route }) => {
    const match = (portMatch ?? []).map(stripPort).filter((condition) => Object.keys(condition).length > 0);
    return {
      ...route,
      name: route.name.replace(/-http$/, ''),
      ...(match.length > 0 && { match }),
      route: route.route.map((r) => ({ ...r, destination: stripPort(r.destination) })),
      ...(route.mirror && { mirror: stripPort(route.mirror) }),
    };
  });
}

/**
 * A ModelDeployment whose revision A is stable (first pass recorded), and whose spec now asks for
 * revision B: what a user sees right after changing the model.
 */
function newRevision(spec: Partial<ModelDeploymentSpec>, pass: Pass = {}) {
  const v1 = modelDeployment(spec);
  const first = planOf(v1, pass);
  const md: ModelDeployment = { ...recorded(v1, first), spec: { ...v1.spec, model: nextModel(v1) } };
  return { v1, md, A: revisionOf(v1), B: revisionOf(md), revisions: revisionsIn(first) };
}

/** The candidate's Deployment, ready. */
const ready = (md: ModelDeployment) => [observedRevisionDeployment(md)];

/** The candidate's Deployment as read back, asked for `wanted` pods of which `available` are ready and available. */
function candidateWith(md: ModelDeployment, wanted: number, available: number): V1Deployment {
  const deployment = observedRevisionDeployment(md, { ready: available, available });
  return { ...deployment, spec: { ...deployment.spec!, replicas: wanted }, status: { ...deployment.status, replicas: wanted, updatedReplicas: wanted } };
}

describe('plan: Canary without Istio (replica-ratio fallback)', () => {
  it('runs stable and candidate side by side as <name>-<revision>, each selecting only its own pods', () => {
    const { md, A, B, revisions } = newRevision({ replicas: 4, rollout: CANARY });
    const plan = planOf(md, { revisions });
    expect(namesOf(plan, 'Deployment')).to.deep.equal([`${NAME}-${A}`, `${NAME}-${B}`]);
    for (const revision of [A, B]) {
      const deployment = one<V1Deployment>(plan, 'Deployment', `${NAME}-${revision}`);
      expect(deployment.spec?.selector.matchLabels).to.deep.equal(pods(revision));
      expect(deployment.spec?.template.metadata?.labels?.[REVISION_LABEL]).to.equal(revision);
      expect(deployment.metadata?.labels?.[REVISION_LABEL]).to.equal(revision);
    }
    expect(plan).to.include({ stableDeploymentName: `${NAME}-${A}`, candidateDeploymentName: `${NAME}-${B}` });
    // The one Service spreads requests over both revisions' pods: the replica counts make the split.
    expect(selectorOf(plan, NAME)).to.deep.equal(pods());
    expect(namesOf(plan, 'Service')).to.deep.equal([NAME]);
    expect(objectsOf(plan, 'VirtualService')).to.deep.equal([]);
    expect(objectsOf(plan, 'DestinationRule')).to.deep.equal([]);
  });

  it('sizes the candidate for its first step while it starts, then by the weight of each step', () => {
    const { md, A, B, revisions } = newRevision({ replicas: 4, rollout: CANARY });
    const starting = planOf(md, { revisions });
    expect(starting.rollout.weights).to.deep.equal({ stable: 100, candidate: 0 });
    // The stable side keeps its pods until candidate pods are ready to take their share.
    expect(replicasOf(starting)).to.deep.equal({ [`${NAME}-${A}`]: 4, [`${NAME}-${B}`]: 1 });
    expect(routed(starting)).to.deep.equal({
      router: 'Service',
      weights: { stable: 100, candidate: 0 },
      condition: { status: 'False', reason: 'IstioNotInstalled', message: 'Istio is not installed: the canary weight is approximated by replica counts (0 candidate, 4 stable), and kube-proxy balances connections, not requests' },
    });

    const step1 = planOf(recorded(md, starting), { revisions, deployments: ready(md) });
    expect(step1.rollout.rollout).to.include({ phase: 'Progressing', step: 0 });
    expect(replicasOf(step1)).to.deep.equal({ [`${NAME}-${A}`]: 3, [`${NAME}-${B}`]: 1 });

    const step2 = planOf(recorded(md, step1), { revisions, deployments: ready(md), now: later(120) });
    expect(step2.rollout.rollout).to.include({ phase: 'WaitingForPromotion', step: 1 });
    expect(replicasOf(step2)).to.deep.equal({ [`${NAME}-${A}`]: 2, [`${NAME}-${B}`]: 2 });
    expect(step2.routing.weights).to.deep.equal({ stable: 50, candidate: 50 });

    const promoted = { ...recorded(md, step2), metadata: { ...md.metadata, annotations: { 'modelship.io/promote': 'true' } } };
    const step3 = planOf(promoted, { revisions, deployments: ready(md), now: later(130) });
    expect(step3.rollout.rollout).to.include({ phase: 'Progressing', step: 2 });
    expect(step3.rollout.consumed).to.deep.equal(['promote']);
    // 100% cannot be had by replica counts while the stable side keeps a pod.
    expect(replicasOf(step3)).to.deep.equal({ [`${NAME}-${A}`]: 1, [`${NAME}-${B}`]: 4 });
    expect(step3.routing.weights).to.deep.equal({ stable: 20, candidate: 80 });
  });

  it('gives up a stable pod only for each candidate pod that is ready, so capacity never dips', () => {
    const { md, A, B, revisions } = newRevision({ replicas: 4, rollout: CANARY });
    // At the 50% step the candidate is asked for 2 pods; none, then one, then both become ready.
    const halfway: ModelDeployment = { ...md, status: { ...md.status, candidateRevision: B, rollout: { phase: 'WaitingForPromotion', step: 1 } } };
    const counts = [0, 1, 2].map((available) => {
      const plan = planOf(halfway, { revisions, deployments: [candidateWith(md, 2, available)] });
      return [replicasOf(plan), plan.routing.weights];
    });
    expect(counts).to.deep.equal([
      [{ [`${NAME}-${A}`]: 4, [`${NAME}-${B}`]: 2 }, { stable: 100, candidate: 0 }],
      [{ [`${NAME}-${A}`]: 3, [`${NAME}-${B}`]: 2 }, { stable: 75, candidate: 25 }],
      [{ [`${NAME}-${A}`]: 2, [`${NAME}-${B}`]: 2 }, { stable: 50, candidate: 50 }],
    ]);
  });

  it('promotes only once the candidate runs at full size, then takes the old revision off the Service at once', () => {
    const { md, A, B, revisions } = newRevision({ replicas: 4, rollout: CANARY });
    const halfway: ModelDeployment = { ...md, status: { ...md.status, candidateRevision: B, rollout: { phase: 'WaitingForPromotion', step: 1, stepStartedAt: '2026-11-25T10:00:00Z' } } };
    const promoteFull = { ...halfway, metadata: { ...halfway.metadata, annotations: { 'modelship.io/promote': 'full' } } };

    // Promoted with 2 candidate pods of 4: the candidate grows first, the stable side serving meanwhile.
    const growing = planOf(promoteFull, { revisions, deployments: [candidateWith(md, 2, 2)], now: later(10) });
    expect(growing.rollout).to.deep.include({ stableRevision: A, candidateRevision: B, consumed: ['promote'], weights: { stable: 0, candidate: 100 } });
    expect(growing.rollout.rollout).to.include({ phase: 'Progressing', step: 3 });
    expect(replicasOf(growing)).to.deep.equal({ [`${NAME}-${A}`]: 2, [`${NAME}-${B}`]: 4 });
    expect(growing.routing.weights).to.deep.equal({ stable: 50, candidate: 50 });

    const grown3 = planOf(recorded(md, growing), { revisions, deployments: [candidateWith(md, 4, 3)], now: later(20) });
    expect(grown3.rollout.rollout).to.include({ phase: 'Progressing', step: 3 });
    expect(replicasOf(grown3)).to.deep.equal({ [`${NAME}-${A}`]: 1, [`${NAME}-${B}`]: 4 });
    expect(grown3.routing.weights).to.deep.equal({ stable: 25, candidate: 75 });

    // All 4 ready: promoted, and no pod of the old revision is left to take a share of the traffic.
    const promoted = planOf(recorded(md, grown3), { revisions, deployments: [candidateWith(md, 4, 4)], now: later(30) });
    expect(promoted.rollout).to.deep.include({ stableRevision: B, retiring: [], weights: { stable: 100, candidate: 0 } });
    expect(promoted.rollout.events.map((event) => event.message)).to.deep.equal([`revision ${B} promoted (running at full size); revision ${A} stops serving now (no traffic router could keep it from taking traffic)`]);
    expect(replicasOf(promoted)).to.deep.equal({ [`${NAME}-${B}`]: 4 });
    expect(selectorOf(promoted, NAME)).to.deep.equal(pods());
    expect(routed(promoted)).to.deep.equal({
      router: 'Service',
      weights: { stable: 100, candidate: 0 },
      condition: { status: 'False', reason: 'IstioNotInstalled', message: 'Istio is not installed: the canary weight is approximated by replica counts (no candidate), and kube-proxy balances connections, not requests' },
    });
  });

  it('promotes a candidate already at full size (a 100% step) at once, the old revision gone with it', () => {
    const { md, A, B, revisions } = newRevision({ replicas: 4, rollout: CANARY });
    const atFull: ModelDeployment = { ...md, status: { ...md.status, candidateRevision: B, rollout: { phase: 'Progressing', step: 2, stepStartedAt: '2026-11-25T10:00:00Z' } } };
    const before = planOf(atFull, { revisions, deployments: [candidateWith(md, 4, 4)], now: later(30) });
    expect(replicasOf(before)).to.deep.equal({ [`${NAME}-${A}`]: 1, [`${NAME}-${B}`]: 4 });
    const promoted = planOf(atFull, { revisions, deployments: [candidateWith(md, 4, 4)], now: later(60) });
    expect(promoted.rollout).to.deep.include({ stableRevision: B, retiring: [] });
    expect(replicasOf(promoted)).to.deep.equal({ [`${NAME}-${B}`]: 4 });
  });

  it('under autoscaling also takes the old revision off the Service at promotion (its HPA would keep pods serving)', () => {
    const autoscaling = { minReplicas: 2, maxReplicas: 6, targetCPUUtilization: 70 };
    const { md, B, revisions } = newRevision({ autoscaling, runtime: { resources: { requests: { cpu: '500m' } } }, rollout: CANARY });
    const promoted = planOf({ ...md, metadata: { ...md.metadata, annotations: { 'modelship.io/promote': 'full' } } }, { revisions, deployments: [candidateWith(md, 2, 2)] });
    expect(promoted.rollout).to.deep.include({ stableRevision: B, retiring: [] });
    expect(namesOf(promoted, 'Deployment')).to.deep.equal([`${NAME}-${B}`]);
    expect(namesOf(promoted, 'HorizontalPodAutoscaler')).to.deep.equal([`${NAME}-${B}`]);
  });

  it('keeps a model scaled to zero at zero replicas on both sides during a rollout', () => {
    const { md, A, B, revisions } = newRevision({ replicas: 0, rollout: CANARY });
    const plan = planOf(md, { revisions });
    expect(replicasOf(plan)).to.deep.equal({ [`${NAME}-${A}`]: 0, [`${NAME}-${B}`]: 0 });
    expect(plan.routing.weights).to.deep.equal({ stable: 100, candidate: 0 });
  });

  it('gives each revision its own PodDisruptionBudget when it runs more than one pod', () => {
    const { md, A, B, revisions } = newRevision({ replicas: 4, rollout: CANARY });
    const starting = planOf(md, { revisions });
    // Stable has 3 pods, the candidate 1: one pod gets no budget (a drain could never evict it).
    expect(namesOf(starting, 'PodDisruptionBudget')).to.deep.equal([`${NAME}-${A}`]);
    expect(one<V1PodDisruptionBudget>(starting, 'PodDisruptionBudget', `${NAME}-${A}`).spec?.selector?.matchLabels).to.deep.equal(pods(A));

    const halfway = planOf({ ...md, status: { ...md.status, candidateRevision: B, rollout: { phase: 'WaitingForPromotion', step: 1, stepStartedAt: '2026-11-25T10:00:00Z' } } }, { revisions, deployments: ready(md) });
    expect(namesOf(halfway, 'PodDisruptionBudget')).to.deep.equal([`${NAME}-${A}`, `${NAME}-${B}`]);
    expect(one<V1PodDisruptionBudget>(halfway, 'PodDisruptionBudget', `${NAME}-${B}`).spec?.selector?.matchLabels).to.deep.equal(pods(B));
  });

  it("keeps a canary step's traffic and clock while the candidate's autoscaler adds pods, down to its floor", () => {
    const autoscaling = { minReplicas: 2, maxReplicas: 6, targetCPUUtilization: 70 };
    const { md, revisions } = newRevision({ autoscaling, runtime: { resources: { requests: { cpu: '500m' } } }, rollout: CANARY });
    // As the Deployment controller reports it: progressing again (ReplicaSetUpdated) while added pods start.
    const candidate = (wanted: number, available: number, reason: string) => {
      const deployment = candidateWith(md, wanted, available);
      return { ...deployment, status: { ...deployment.status, conditions: [{ type: 'Progressing', status: 'True', reason }] } };
    };
    const started = planOf(md, { istio: true, revisions, deployments: [candidate(2, 2, 'NewReplicaSetAvailable')] });
    expect(started.rollout.weights).to.deep.equal({ stable: 90, candidate: 10 });
    const stepStartedAt = started.rollout.rollout.stepStartedAt;
    // Its autoscaler asks for 4; 2 are still starting.
    const scaling = planOf(recorded(md, started), { istio: true, revisions, deployments: [candidate(4, 2, 'ReplicaSetUpdated')], now: later(20) });
    expect(scaling.rollout.weights).to.deep.equal({ stable: 90, candidate: 10 });
    expect(scaling.rollout.rollout.stepStartedAt).to.equal(stepStartedAt);
    // Below its floor it is no candidate to send traffic to.
    const lost = planOf(recorded(md, scaling), { istio: true, revisions, deployments: [candidate(4, 1, 'ReplicaSetUpdated')], now: later(25) });
    expect(lost.rollout.weights).to.deep.equal({ stable: 100, candidate: 0 });
  });

  it('gives each revision its own HPA under autoscaling and says the split is left to them', () => {
    const autoscaling = { minReplicas: 2, maxReplicas: 6, targetCPUUtilization: 70 };
    const { md, A, B, revisions } = newRevision({ autoscaling, runtime: { resources: { requests: { cpu: '500m' } } }, rollout: CANARY });
    const plan = planOf(md, { revisions });
    expect(namesOf(plan, 'HorizontalPodAutoscaler')).to.deep.equal([`${NAME}-${A}`, `${NAME}-${B}`]);
    for (const revision of [A, B]) {
      const hpa = one<V2HorizontalPodAutoscaler>(plan, 'HorizontalPodAutoscaler', `${NAME}-${revision}`);
      expect(hpa.spec?.scaleTargetRef).to.deep.equal({ apiVersion: 'apps/v1', kind: 'Deployment', name: `${NAME}-${revision}` });
      expect(hpa.spec).to.include({ minReplicas: 2, maxReplicas: 6 });
    }
    // The HPAs own the replica counts.
    expect(replicasOf(plan)).to.deep.equal({ [`${NAME}-${A}`]: undefined, [`${NAME}-${B}`]: undefined });
    expect(namesOf(plan, 'PodDisruptionBudget')).to.deep.equal([`${NAME}-${A}`, `${NAME}-${B}`]);
    expect(plan.routing.condition.message).to.equal('Istio is not installed: with autoscaling, stable and candidate pods share the Service by whatever replica counts their HPAs choose');
  });

  it('runs a first revision as <name>-<revision> with no candidate and reports no split', () => {
    const md = modelDeployment({ replicas: 2, rollout: CANARY });
    const plan = planOf(md);
    expect(replicasOf(plan)).to.deep.equal({ [`${NAME}-${revisionOf(md)}`]: 2 });
    expect(plan.candidateDeploymentName).to.equal(undefined);
    expect(plan.routing).to.deep.include({ router: 'Service', weights: { stable: 100, candidate: 0 } });
    expect(plan.routing.condition.message).to.match(/\(no candidate\), and kube-proxy balances connections, not requests$/);
  });
});

describe('plan: Canary with Istio', () => {
  it('keeps full capacity on stable and routes the step weight through the VirtualService', () => {
    const { md, A, B, revisions } = newRevision({ replicas: 4, rollout: CANARY }, { istio: true });
    const plan = planOf(md, { revisions, deployments: ready(md), istio: true });
    expect(plan.rollout.weights).to.deep.equal({ stable: 90, candidate: 10 });
    expect(replicasOf(plan)).to.deep.equal({ [`${NAME}-${A}`]: 4, [`${NAME}-${B}`]: 1 });
    expect(selectorOf(plan, NAME)).to.deep.equal(pods());
    expect(routed(plan)).to.deep.equal({ router: 'Istio', weights: { stable: 90, candidate: 10 }, condition: { status: 'True', reason: 'IstioRouting', message: 'VirtualService routes 90% stable, 10% candidate' } });

    expect(istioSpec(plan, 'DestinationRule')).to.deep.equal({
      host: HOST,
      subsets: [{ name: 'stable', labels: pods(A) }, { name: 'candidate', labels: pods(B) }],
    });
    expect(istioSpec(plan, 'VirtualService').hosts).to.deep.equal([HOST]);
    expect(restRoutes(istioSpec(plan, 'VirtualService'))).to.deep.equal([
      { name: 'primary', route: [{ destination: destination('stable'), weight: 90 }, { destination: destination('candidate'), weight: 10 }] },
    ]);
  });

  it('routes a model that ends TLS in its pods (security.tls) as without a mesh, and says why: Envoy cannot route what it cannot read', () => {
    const { md, revisions } = newRevision({ replicas: 4, rollout: CANARY, security: { tls: { secretName: 'cert' } } }, { istio: true });
    const plan = planOf(md, { revisions, deployments: ready(md), istio: true });
    expect(objectsOf(plan, 'VirtualService')).to.deep.equal([]);
    expect(objectsOf(plan, 'PeerAuthentication')).to.deep.equal([]);
    expect(plan.routing).to.deep.include({ router: 'Service' });
    expect(plan.routing.condition.reason).to.equal('TlsEndsInPods');
    expect(plan.routing.condition.message).to.match(/^security\.tls ends TLS in the pods, where Istio cannot route it: the canary weight is approximated by replica counts/);
  });

  it('puts the runtime pods under strict mesh mTLS while Istio routes them, unless the spec leaves it to the mesh', () => {
    const { md, revisions } = newRevision({ replicas: 4, rollout: CANARY }, { istio: true });
    const peer = one(planOf(md, { revisions, istio: true }), 'PeerAuthentication', NAME) as KubernetesObject & { spec: unknown };
    expect(peer.apiVersion).to.equal('security.istio.io/v1');
    expect(peer.spec).to.deep.equal({ selector: { matchLabels: pods() }, mtls: { mode: 'STRICT' } });
    const permissive = { ...md, spec: { ...md.spec, security: { meshMtls: 'Permissive' as const } } };
    expect((one(planOf(permissive, { revisions, istio: true }), 'PeerAuthentication', NAME) as KubernetesObject & { spec: { mtls: unknown } }).spec.mtls).to.deep.equal({ mode: 'PERMISSIVE' });
    const meshDefault = { ...md, spec: { ...md.spec, security: { meshMtls: 'MeshDefault' as const } } };
    expect(namesOf(planOf(meshDefault, { revisions, istio: true }), 'PeerAuthentication')).to.deep.equal([]);
    expect(namesOf(planOf(md, { revisions, istio: false }), 'PeerAuthentication')).to.deep.equal([]);
    // A rolling update goes through the mesh only when spec.traffic asks for it.
    const rolling = modelDeployment({});
    expect(namesOf(planOf(rolling, { istio: true }), 'PeerAuthentication')).to.deep.equal([]);
    expect(namesOf(planOf(modelDeployment({ traffic: {} }), { istio: true }), 'PeerAuthentication')).to.deep.equal([NAME]);
  });

  it('sends nothing to a candidate that is not ready yet, and has a single subset once it is promoted', () => {
    const { md, A, B, revisions } = newRevision({ replicas: 4, rollout: CANARY }, { istio: true });
    const starting = planOf(md, { revisions, istio: true });
    expect((restRoutes(istioSpec(starting, 'VirtualService')) as { route: { weight: number }[] }[])[0]?.route.map((r) => r.weight)).to.deep.equal([100, 0]);

    const promoted = planOf({ ...md, metadata: { ...md.metadata, annotations: { 'modelship.io/promote': 'full' } } }, { revisions, deployments: ready(md), istio: true });
    expect(promoted.rollout.stableRevision).to.equal(B);
    // The VirtualService sends the old revision nothing, so it keeps its pods for the scale-down delay.
    expect(promoted.rollout.retiring).to.deep.equal([{ revision: A, scaleDownAt: '2026-11-25T10:00:30Z' }]);
    expect(replicasOf(promoted)).to.deep.equal({ [`${NAME}-${B}`]: 4, [`${NAME}-${A}`]: 4 });
    expect(istioSpec(promoted, 'DestinationRule').subsets).to.deep.equal([{ name: 'stable', labels: pods(B) }]);
    expect(restRoutes(istioSpec(promoted, 'VirtualService'))).to.deep.equal([{ name: 'primary', route: [{ destination: destination('stable'), weight: 100 }] }]);
  });

  it('writes spec.traffic hosts, gateways, timeout and retries into every route, durations in seconds', () => {
    const traffic: ModelDeploymentSpec['traffic'] = {
      hosts: ['fraud.example.com'],
      gateways: ['istio-system/public'],
      timeout: '1m30s',
      retries: { attempts: 3, perTryTimeout: '500ms', retryOn: 'connect-failure,unavailable' },
    };
    const { md, revisions } = newRevision({ replicas: 4, rollout: { strategy: 'ABTest', abTest: { header: { name: 'X-Variant', value: 'b' } } }, traffic }, { istio: true });
    const spec = istioSpec(planOf(md, { revisions, deployments: ready(md), istio: true }), 'VirtualService');
    expect(spec.hosts).to.deep.equal([HOST, 'fraud.example.com']);
    expect(spec.gateways).to.deep.equal(['istio-system/public', 'mesh']);
    const policy = { timeout: '90s', retries: { attempts: 3, perTryTimeout: '0.5s', retryOn: 'connect-failure,unavailable' } };
    for (const route of spec.http as Record<string, unknown>[]) expect(route, String(route.name)).to.deep.include(policy);
  });
});

describe('plan: routes per Service port', () => {
  it('routes REST and gRPC by port, each destination naming its port (the Service has two, so Istio needs it)', () => {
    const { md, revisions } = newRevision({ replicas: 4, rollout: CANARY }, { istio: true });
    const http = istioSpec(planOf(md, { revisions, deployments: ready(md), istio: true }), 'VirtualService').http as Route[];
    expect(http.map((route) => [route.name, route.match])).to.deep.equal([['primary-http', [{ port: 8080 }]], ['primary-grpc', [{ port: 8081 }]]]);
    for (const route of http) {
      const port = (route.match?.[0] as { port: number }).port;
      expect(route.route.map((r) => r.destination.port), route.name).to.deep.equal([{ number: port }, { number: port }]);
    }
  });
});

describe('plan: BlueGreen', () => {
  const blueGreen = (autoPromote?: boolean): Rollout => ({ strategy: 'BlueGreen', ...(autoPromote !== undefined && { blueGreen: { autoPromote } }) });

  it('without Istio: full-size candidate on the preview Service, the main Service pinned to stable', () => {
    const { md, A, B, revisions } = newRevision({ replicas: 3, service: { type: 'LoadBalancer' }, rollout: blueGreen(false) });
    const plan = planOf(md, { revisions, deployments: ready(md) });
    expect(plan.rollout.rollout.phase).to.equal('WaitingForPromotion');
    expect(replicasOf(plan)).to.deep.equal({ [`${NAME}-${A}`]: 3, [`${NAME}-${B}`]: 3 });
    expect(namesOf(plan, 'Service')).to.deep.equal([NAME, `${NAME}-preview`]);
    expect(selectorOf(plan, NAME)).to.deep.equal(pods(A));
    expect(one<V1Service>(plan, 'Service', NAME).spec?.type).to.equal('LoadBalancer');
    expect(selectorOf(plan, `${NAME}-preview`)).to.deep.equal(pods(B));
    expect(one<V1Service>(plan, 'Service', `${NAME}-preview`).spec?.type).to.equal('ClusterIP');
    expect(routed(plan)).to.deep.equal({
      router: 'Service',
      weights: { stable: 100, candidate: 0 },
      condition: { status: 'False', reason: 'IstioNotInstalled', message: 'Istio is not installed: blue/green switches the Service selector' },
    });
  });

  it('switches the Service to the candidate when ready (autoPromote), keeps the old Deployment until scaleDownAt, then drops it', () => {
    const { md, A, B, revisions } = newRevision({ replicas: 3, rollout: blueGreen() });
    const starting = planOf(md, { revisions });
    expect(selectorOf(starting, NAME)).to.deep.equal(pods(A));
    expect(selectorOf(starting, `${NAME}-preview`)).to.deep.equal(pods(B));

    const switched = planOf(recorded(md, starting), { revisions, deployments: ready(md), now: later(10) });
    expect(switched.rollout.retiring).to.deep.equal([{ revision: A, scaleDownAt: '2026-11-25T10:00:40Z' }]);
    expect(switched.rollout.requeueAfterMs).to.equal(30_000);
    expect(selectorOf(switched, NAME)).to.deep.equal(pods(B));
    expect(namesOf(switched, 'Service')).to.deep.equal([NAME]);
    expect(replicasOf(switched)).to.deep.equal({ [`${NAME}-${B}`]: 3, [`${NAME}-${A}`]: 3 });
    expect(switched.stableDeploymentName).to.equal(`${NAME}-${B}`);
    // Clients keep the connections they opened to the old pods before the switch: status waits for those pods to exit.
    expect(switched.routing.retiredPodsServe).to.equal(true);

    const draining = planOf(recorded(md, switched), { revisions, deployments: ready(md), now: later(39) });
    expect(namesOf(draining, 'Deployment')).to.deep.equal([`${NAME}-${B}`, `${NAME}-${A}`]);
    const gone = planOf(recorded(md, switched), { revisions, deployments: ready(md), now: later(40) });
    expect(namesOf(gone, 'Deployment')).to.deep.equal([`${NAME}-${B}`]);
    expect(gone.rollout.retiring).to.deep.equal([]);
    expect(gone.rollout.requeueAfterMs).to.equal(undefined);
  });

  it('with Istio: the mesh keeps all traffic on stable while the preview Service reaches the candidate', () => {
    const { md, A, B, revisions } = newRevision({ replicas: 3, rollout: blueGreen(false) }, { istio: true });
    const plan = planOf(md, { revisions, deployments: ready(md), istio: true });
    expect(selectorOf(plan, NAME)).to.deep.equal(pods());
    expect(selectorOf(plan, `${NAME}-preview`)).to.deep.equal(pods(B));
    expect(istioSpec(plan, 'DestinationRule').subsets).to.deep.equal([{ name: 'stable', labels: pods(A) }, { name: 'candidate', labels: pods(B) }]);
    expect(restRoutes(istioSpec(plan, 'VirtualService'))).to.deep.equal([{ name: 'primary', route: [{ destination: destination('stable'), weight: 100 }] }]);
    expect(routed(plan)).to.deep.include({ router: 'Istio', weights: { stable: 100, candidate: 0 } });
    expect(plan.routing.retiredPodsServe).to.equal(false);
  });
});

describe('plan: ABTest and Mirror', () => {
  it('ABTest with Istio sends requests matching the header or the cookie to the candidate, the rest to stable', () => {
    const abTest = { header: { name: 'X-Model-Variant', value: 'b' }, cookie: { name: 'variant', value: 'b.1' } };
    const { md, revisions } = newRevision({ replicas: 2, rollout: { strategy: 'ABTest', abTest } }, { istio: true });
    const plan = planOf(md, { revisions, deployments: ready(md), istio: true });
    expect(plan.rollout.rollout.phase).to.equal('WaitingForPromotion');
    const [ab, primary] = restRoutes(istioSpec(plan, 'VirtualService')) as { name: string; match: { headers: Record<string, { exact?: string; regex?: string }> }[]; route: unknown }[];
    expect(ab?.name).to.equal('ab-candidate');
    expect(ab?.route).to.deep.equal([{ destination: destination('candidate'), weight: 100 }]);
    expect(ab?.match[0]).to.deep.equal({ headers: { 'x-model-variant': { exact: 'b' } } });
    const cookie = new RegExp(ab?.match[1]?.headers.cookie?.regex ?? '(?!)');
    expect(['variant=b.1', 'session=1; variant=b.1', 'a=1;variant=b.1; z=2'].every((header) => cookie.test(header))).to.equal(true);
    expect(['variant=bx1', 'myvariant=b.1', 'variant=b.12'].some((header) => cookie.test(header))).to.equal(false);
    expect(primary).to.deep.equal({ name: 'primary', route: [{ destination: destination('stable'), weight: 100 }] });
  });

  it('ABTest without Istio says the candidate gets no live traffic and pins the Service to stable', () => {
    const { md, A, revisions } = newRevision({ replicas: 2, rollout: { strategy: 'ABTest', abTest: { header: { name: 'x-variant', value: 'b' } } } });
    const plan = planOf(md, { revisions, deployments: ready(md) });
    expect(selectorOf(plan, NAME)).to.deep.equal(pods(A));
    expect(routed(plan)).to.deep.equal({
      router: 'Service',
      weights: { stable: 100, candidate: 0 },
      condition: { status: 'False', reason: 'IstioNotInstalled', message: 'Istio is not installed: ABTest needs a traffic router, the candidate gets no live traffic (reach it through its own pods)' },
    });
  });

  it('Mirror with Istio routes everything to stable and mirrors the given share to the candidate', () => {
    const { md, revisions } = newRevision({ replicas: 2, rollout: { strategy: 'Mirror', mirror: { percent: 20 } } }, { istio: true });
    const plan = planOf(md, { revisions, deployments: ready(md), istio: true });
    expect(restRoutes(istioSpec(plan, 'VirtualService'))).to.deep.equal([{
      name: 'primary',
      route: [{ destination: destination('stable'), weight: 100 }],
      mirror: destination('candidate'),
      mirrorPercentage: { value: 20 },
    }]);
    const withoutIstio = planOf(md, { revisions, deployments: ready(md) });
    expect(withoutIstio.routing.condition.message).to.match(/^Istio is not installed: Mirror needs a traffic router/);
  });
});

describe('plan: RollingUpdate', () => {
  it('keeps one Deployment named <name> across revisions, selecting every pod of the ModelDeployment', () => {
    const { md, B, revisions } = newRevision({ replicas: 2 });
    const plan = planOf(md, { revisions });
    expect(namesOf(plan, 'Deployment')).to.deep.equal([NAME]);
    const deployment = one<V1Deployment>(plan, 'Deployment', NAME);
    expect(deployment.spec?.selector.matchLabels).to.deep.equal(pods());
    expect(deployment.spec?.template.metadata?.labels?.[REVISION_LABEL]).to.equal(B);
    expect(selectorOf(plan, NAME)).to.deep.equal(pods());
    expect(plan.rollout).to.deep.include({ stableRevision: B, rollout: { phase: 'Stable' } });
    expect(routed(plan)).to.deep.equal({ router: 'Service', weights: { stable: 100, candidate: 0 }, condition: { status: 'True', reason: 'ServiceRouting', message: 'the Service routes to every ready pod' } });
    expect(plan.stableDeploymentName).to.equal(NAME);
  });

  it('applies spec.traffic through Istio, to the pods of old and new revisions alike while the Deployment replaces them', () => {
    const traffic = { hosts: ['fraud.example.com'], timeout: '30s' };
    const { md, revisions } = newRevision({ replicas: 2, traffic }, { istio: true });
    const plan = planOf(md, { revisions, istio: true });
    expect(istioSpec(plan, 'DestinationRule').subsets).to.deep.equal([{ name: 'stable', labels: pods() }]);
    expect(istioSpec(plan, 'VirtualService').hosts).to.deep.equal([HOST, 'fraud.example.com']);
    expect(restRoutes(istioSpec(plan, 'VirtualService'))).to.deep.equal([{ name: 'primary', route: [{ destination: destination('stable'), weight: 100 }], timeout: '30s' }]);
    expect(routed(plan)).to.deep.include({ router: 'Istio', weights: { stable: 100, candidate: 0 } });
  });

  it('unpins the subset when the strategy goes from Canary back to RollingUpdate (the controller sees the change and applies it)', () => {
    const canary = modelDeployment({ replicas: 2, traffic: { timeout: '30s' }, rollout: CANARY });
    const pinned = one<KubernetesObject & { spec: Record<string, unknown> }>(planOf(canary, { istio: true }), 'DestinationRule', NAME);
    expect(pinned.spec.subsets).to.deep.equal([{ name: 'stable', labels: pods(revisionOf(canary)) }]);
    const rolling = modelDeployment({ replicas: 2, traffic: { timeout: '30s' } });
    const unpinned = one(planOf(rolling, { istio: true }), 'DestinationRule', NAME);
    expect(satisfies(pinned, unpinned, IstioKinds.destinationRule.exactLabelMaps)).to.equal(false);
  });

  it('writes no Istio objects without spec.traffic, and says spec.traffic is ignored without Istio', () => {
    expect(objectsOf(planOf(modelDeployment(), { istio: true }), 'VirtualService')).to.deep.equal([]);
    const plan = planOf(modelDeployment({ traffic: { timeout: '30s' } }));
    expect(objectsOf(plan, 'VirtualService')).to.deep.equal([]);
    expect(routed(plan)).to.deep.equal({
      router: 'Service',
      weights: { stable: 100, candidate: 0 },
      condition: { status: 'False', reason: 'IstioNotInstalled', message: 'Istio is not installed: spec.traffic is ignored' },
    });
  });
});

describe('plan: ControllerRevisions', () => {
  /** A spec at model version `version` (each a distinct revision). */
  const at = (base: ModelDeployment, version: number): ModelDeployment =>
    ({ ...base, spec: { ...base.spec, model: { ...base.spec.model, version: String(version), sha256: String(version % 10).repeat(64) } } });

  /** Passes through versions one after the other (each promoted at once), feeding back what was recorded. */
  function history(base: ModelDeployment, versions: number[]): { md: ModelDeployment; revisions: V1ControllerRevision[] } {
    let md = base;
    let revisions: V1ControllerRevision[] = [];
    for (const version of versions) {
      md = at(md, version);
      const plan = planOf(md, { revisions });
      md = recorded(md, plan);
      revisions = revisionsIn(plan);
    }
    return { md, revisions };
  }

  const numbered = (revisions: V1ControllerRevision[]) => revisions.map((r) => [r.metadata?.labels?.[REVISION_LABEL], r.revision]);

  it('records the first revision as number 1 with what it was made from', () => {
    const md = modelDeployment();
    const [revision, ...rest] = revisionsIn(planOf(md));
    expect(rest).to.deep.equal([]);
    expect(revision?.metadata?.name).to.equal(`${NAME}-${revisionOf(md)}`);
    expect(revision?.metadata?.labels).to.include({ [REVISION_LABEL]: revisionOf(md), [MODEL_VERSION_LABEL]: '2' });
    expect(revision?.revision).to.equal(1);
    expect(revision?.data).to.deep.equal({ modelDeployment: 'payments/fraud-detector', model: md.spec.model, runtime: {}, authSecret: null });
  });

  it('numbers each new revision after the newest', () => {
    const base = modelDeployment({ replicas: 1 });
    const { revisions } = history(base, [3, 4, 5]);
    expect(numbered(revisions)).to.deep.equal([[revisionOf(at(base, 3)), 1], [revisionOf(at(base, 4)), 2], [revisionOf(at(base, 5)), 3]]);
  });

  it('numbers a revision the spec goes back to after the newest, as StatefulSets do', () => {
    const base = modelDeployment({ replicas: 1 });
    const { revisions } = history(base, [3, 4, 3]);
    expect(numbered(revisions)).to.deep.equal([[revisionOf(at(base, 4)), 2], [revisionOf(at(base, 3)), 3]]);
    // And the number stays put on the next pass.
    const again = revisionsIn(planOf(at(base, 3), { revisions }));
    expect(numbered(again)).to.deep.equal(numbered(revisions));
  });

  it('keeps revisionHistoryLimit revisions: the current one and the newest others', () => {
    const base = modelDeployment({ replicas: 1, revisionHistoryLimit: 2 });
    const { revisions } = history(base, [3, 4, 5, 6]);
    expect(numbered(revisions)).to.deep.equal([[revisionOf(at(base, 5)), 3], [revisionOf(at(base, 6)), 4]]);
  });

  it('keeps every live revision (stable, candidate, retiring) even beyond revisionHistoryLimit', () => {
    const base = modelDeployment({ replicas: 1, revisionHistoryLimit: 1, rollout: { strategy: 'BlueGreen', blueGreen: { autoPromote: false } } });
    // Version 3 is stable; 4 and 5 were candidates the spec moved past; 6 is the candidate now.
    const { md, revisions } = history(base, [3]);
    const v6 = at(md, 6);
    const more = [4, 5].map((version, i) => ({ ...revisionsIn(planOf(at(md, version), { revisions }))[1], revision: 2 + i }) as V1ControllerRevision);
    const plan = planOf(v6, { revisions: [...revisions, ...more] });
    expect(numbered(revisionsIn(plan))).to.deep.equal([[revisionOf(md), 1], [revisionOf(v6), 4]]);
    // A revision that lost its traffic and still drains is live too.
    const v4 = revisionOf(at(md, 4));
    const draining = planOf({ ...v6, status: { ...v6.status, retiring: [{ revision: v4, scaleDownAt: '2026-11-25T10:00:30Z' }] } }, { revisions: [...revisions, ...more] });
    expect(numbered(revisionsIn(draining))).to.deep.equal([[revisionOf(md), 1], [v4, 2], [revisionOf(v6), 4]]);
  });

  it('rebuilds a recorded revision\'s Deployment from its recorded spec after the spec changed', () => {
    const v1 = modelDeployment({ replicas: 4, runtime: { image: 'runtime:1' }, rollout: CANARY });
    const first = planOf(v1);
    const md: ModelDeployment = { ...recorded(v1, first), spec: { ...v1.spec, model: nextModel(v1), runtime: { image: 'runtime:2' } } };
    const plan = planOf(md, { revisions: revisionsIn(first) });
    const env = (deployment: V1Deployment) => Object.fromEntries((deployment.spec?.template.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
    const stable = one<V1Deployment>(plan, 'Deployment', `${NAME}-${revisionOf(v1)}`);
    const candidate = one<V1Deployment>(plan, 'Deployment', `${NAME}-${revisionOf(md)}`);
    expect(stable.spec?.template.spec?.containers[0]?.image).to.equal('runtime:1');
    expect(env(stable)).to.include({ [RuntimeEnv.modelVersion]: '2', [RuntimeEnv.modelSha256]: SHA });
    expect(stable.spec?.template.metadata?.labels).to.include({ [REVISION_LABEL]: revisionOf(v1), [MODEL_VERSION_LABEL]: '2' });
    expect(candidate.spec?.template.spec?.containers[0]?.image).to.equal('runtime:2');
    expect(env(candidate)).to.include({ [RuntimeEnv.modelVersion]: '3', [RuntimeEnv.modelSha256]: 'b'.repeat(64) });
    // The stable Deployment is the same object it was before the spec changed, but for the canary's replica share.
    const before = one<V1Deployment>(first, 'Deployment', `${NAME}-${revisionOf(v1)}`);
    expect({ ...stable, spec: { ...stable.spec, replicas: 4 } }).to.deep.equal(before);
  });

  it('skips a ControllerRevision whose data does not hash to its revision label', () => {
    const md = modelDeployment();
    const [revision] = revisionsIn(planOf(md));
    const tampered = { ...revision, data: { ...(revision?.data as object), runtime: { image: 'evil:1' } } } as V1ControllerRevision;
    const other = at(md, 7);
    expect(numbered(revisionsIn(planOf(other, { revisions: [tampered] })))).to.deep.equal([[revisionOf(other), 1]]);
  });
});

describe('plan: Gateway API router (spec.traffic.router: GatewayAPI)', () => {
  const traffic = { router: 'GatewayAPI' as const, gateways: ['edge/public'], hosts: ['fraud.example.com'] };
  const gatewayApi = { gatewayApi: true };
  const routeSpec = (plan: Plan, kind: 'HTTPRoute' | 'GRPCRoute') => (one(plan, kind, NAME) as KubernetesObject & { spec: Record<string, unknown> }).spec;
  const rulesOf = (plan: Plan, kind: 'HTTPRoute' | 'GRPCRoute' = 'HTTPRoute') => routeSpec(plan, kind).rules as Record<string, unknown>[];
  // The GRPCRoute takes only the runtime's gRPC service, leaving REST on a shared listener to the HTTPRoute.
  const grpcOnly = [{ method: { service: 'inference.GRPCInferenceService' } }];
  const backend = (revision: string | undefined, port: number, weight?: number) => ({ name: revision ? `${NAME}-${revision}` : NAME, port, ...(weight !== undefined && { weight }) });

  it('splits a canary by weight between one Service per revision, for REST and gRPC, attached to the named Gateways', () => {
    const { md, A, B, revisions } = newRevision({ replicas: 4, rollout: CANARY, traffic }, gatewayApi);
    const started = planOf(md, { revisions, deployments: ready(md), ...gatewayApi });
    const plan = planOf(recorded(md, started), { revisions, deployments: ready(md), ...gatewayApi });
    expect(plan.routing.weights).to.deep.equal({ stable: 90, candidate: 10 });
    expect(routeSpec(plan, 'HTTPRoute').parentRefs).to.deep.equal([{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'edge', name: 'public' }]);
    expect(routeSpec(plan, 'HTTPRoute').hostnames).to.deep.equal(['fraud.example.com']);
    expect(rulesOf(plan)).to.deep.equal([{ name: 'primary', backendRefs: [backend(A, 8080, 90), backend(B, 8080, 10)] }]);
    expect(rulesOf(plan, 'GRPCRoute')).to.deep.equal([{ name: 'primary', matches: grpcOnly, backendRefs: [backend(A, 8081, 90), backend(B, 8081, 10)] }]);
    // The backends select one revision each; the model's own Service keeps the stable side for in-cluster clients.
    expect(selectorOf(plan, `${NAME}-${A}`)).to.deep.equal(pods(A));
    expect(selectorOf(plan, `${NAME}-${B}`)).to.deep.equal(pods(B));
    expect(selectorOf(plan, NAME)).to.deep.equal(pods(A));
    // Replicas follow the weight (the stable side keeps its size): the gateway, not the pods, makes the split.
    expect(replicasOf(plan)).to.deep.equal({ [`${NAME}-${A}`]: 4, [`${NAME}-${B}`]: 1 });
    expect(plan.routing.router).to.equal('GatewayAPI');
  });

  it('without hosts of its own, takes only its model\'s paths on the Gateway: two models there never catch each other\'s requests', () => {
    const abTest = { header: { name: 'x-variant', value: 'b' } };
    const shared = { router: 'GatewayAPI' as const, gateways: ['edge/public'] };
    const { md, A, B, revisions } = newRevision({ replicas: 2, rollout: { strategy: 'ABTest', abTest }, traffic: shared }, gatewayApi);
    const plan = planOf(md, { revisions, deployments: ready(md), ...gatewayApi });
    const path = { type: 'PathPrefix', value: '/v2/models/fraud-detector' };
    expect(routeSpec(plan, 'HTTPRoute').hostnames).to.equal(undefined);
    expect(rulesOf(plan)).to.deep.equal([
      { name: 'ab-candidate', matches: [{ path, headers: [{ type: 'Exact', name: 'x-variant', value: 'b' }] }], backendRefs: [backend(B, 8080)] },
      { name: 'primary', matches: [{ path }], backendRefs: [backend(A, 8080)] },
    ]);
    const other = planOf(modelDeployment({ traffic: shared }, 'churn'), gatewayApi);
    expect((one(other, 'HTTPRoute', 'churn') as KubernetesObject & { spec: { rules: { matches: unknown[] }[] } }).spec.rules[0]?.matches)
      .to.deep.equal([{ path: { type: 'PathPrefix', value: '/v2/models/churn' } }]);
  });

  it('after promotion routes everything to the new revision and keeps the retiring revision\'s Service while its pods drain', () => {
    const { md, A, B, revisions } = newRevision({ replicas: 2, rollout: CANARY, traffic }, gatewayApi);
    const started = planOf(md, { revisions, deployments: ready(md), ...gatewayApi });
    const full = { ...recorded(md, started), metadata: { ...md.metadata, annotations: { 'modelship.io/promote': 'full' } } };
    const promoted = planOf(full, { revisions, deployments: [candidateWith(md, 2, 2)], ...gatewayApi });
    expect(promoted.rollout.stableRevision).to.equal(B);
    expect(rulesOf(promoted)).to.deep.equal([{ name: 'primary', backendRefs: [backend(B, 8080)] }]);
    expect(namesOf(promoted, 'Service')).to.include.members([NAME, `${NAME}-${B}`, `${NAME}-${A}`]);
    expect(selectorOf(promoted, NAME)).to.deep.equal(pods(B));
  });

  it('routes an A/B test\'s header and cookie to the candidate, the rest to stable', () => {
    const abTest = { header: { name: 'X-Variant', value: 'b' }, cookie: { name: 'variant', value: 'b.1' } };
    const { md, A, B, revisions } = newRevision({ replicas: 2, rollout: { strategy: 'ABTest', abTest }, traffic }, gatewayApi);
    const plan = planOf(md, { revisions, deployments: ready(md), ...gatewayApi });
    expect(rulesOf(plan)).to.deep.equal([
      {
        name: 'ab-candidate',
        matches: [
          { headers: [{ type: 'Exact', name: 'x-variant', value: 'b' }] },
          { headers: [{ type: 'RegularExpression', name: 'cookie', value: '^(.*?;\\s*)?variant=b\\.1(;.*)?$' }] },
        ],
        backendRefs: [backend(B, 8080)],
      },
      { name: 'primary', backendRefs: [backend(A, 8080)] },
    ]);
    expect((rulesOf(plan, 'GRPCRoute')[0]?.matches as unknown[])[0]).to.deep.equal({ method: { service: 'inference.GRPCInferenceService' }, headers: [{ type: 'Exact', name: 'x-variant', value: 'b' }] });
    const cookie = new RegExp((((rulesOf(plan)[0]?.matches as { headers: { value: string }[] }[])[1]?.headers[0]?.value) ?? ''));
    expect(['variant=b.1', 'a=1; variant=b.1', 'variant=b.1; z=2'].every((header) => cookie.test(header))).to.equal(true);
    expect(['variant=bx1', 'myvariant=b.1', 'variant=b.10'].some((header) => cookie.test(header))).to.equal(false);
  });

  it('sends an A/B match or a mirror to the candidate only once it is ready (a gateway answered 503 before), through Istio as through the Gateway API', () => {
    const abTest = { header: { name: 'x-variant', value: 'b' } };
    for (const rollout of [{ strategy: 'ABTest' as const, abTest }, { strategy: 'Mirror' as const, mirror: { percent: 100 } }]) {
      const viaGateway = newRevision({ replicas: 2, rollout, traffic }, gatewayApi);
      const starting = planOf(viaGateway.md, { revisions: viaGateway.revisions, deployments: [candidateWith(viaGateway.md, 2, 0)], ...gatewayApi });
      expect(rulesOf(starting), rollout.strategy).to.deep.equal([{ name: 'primary', backendRefs: [backend(viaGateway.A, 8080)] }]);
      const viaIstio = newRevision({ replicas: 2, rollout }, { istio: true });
      const meshStarting = planOf(viaIstio.md, { revisions: viaIstio.revisions, deployments: [candidateWith(viaIstio.md, 2, 0)], istio: true });
      expect(restRoutes(istioSpec(meshStarting, 'VirtualService')), rollout.strategy).to.deep.equal([{ name: 'primary', route: [{ destination: destination('stable'), weight: 100 }] }]);
    }
  });

  it('mirrors a share of requests to the candidate with the RequestMirror filter', () => {
    const { md, A, B, revisions } = newRevision({ replicas: 2, rollout: { strategy: 'Mirror', mirror: { percent: 20 } }, traffic }, gatewayApi);
    const plan = planOf(md, { revisions, deployments: ready(md), ...gatewayApi });
    expect(rulesOf(plan)).to.deep.equal([{
      name: 'primary',
      backendRefs: [backend(A, 8080)],
      filters: [{ type: 'RequestMirror', requestMirror: { backendRef: backend(B, 8080), percent: 20 } }],
    }]);
  });

  it('leaves out a mirror or a timeout the Gateway\'s class says it cannot apply (a mirror filter would fail every request), and says so', () => {
    const traefik: GatewaySupport = { className: 'traefik', features: new Set(['Gateway', 'HTTPRoute', 'GRPCRoute', 'HTTPRouteQueryParamMatching']) };
    const gateways = new Map([['edge/public', traefik]]);
    const { md, A, revisions } = newRevision({ replicas: 2, rollout: { strategy: 'Mirror', mirror: { percent: 20 } }, traffic: { ...traffic, timeout: '30s' } }, gatewayApi);
    const plan = planOf(md, { revisions, deployments: ready(md), ...gatewayApi, gateways });
    expect(rulesOf(plan)).to.deep.equal([{ name: 'primary', backendRefs: [backend(A, 8080)] }]);
    expect(rulesOf(plan, 'GRPCRoute')).to.deep.equal([{ name: 'primary', matches: grpcOnly, backendRefs: [backend(A, 8081)] }]);
    const accepted = (routed: Plan) => (['HTTPRoute', 'GRPCRoute'] as const).map((kind) => ({
      apiVersion: 'gateway.networking.k8s.io/v1', kind, metadata: { name: NAME }, spec: routeSpec(routed, kind),
      status: { parents: [{ parentRef: { name: 'public', namespace: 'edge' }, conditions: [{ type: 'Accepted', status: 'True' }, { type: 'ResolvedRefs', status: 'True' }] }] },
    }));
    const reported = planOf(md, { revisions, deployments: ready(md), ...gatewayApi, gateways, routes: accepted(plan) });
    expect(reported.routing.condition).to.deep.equal({
      status: 'False',
      reason: 'GatewayFeatureUnsupported',
      message: 'GatewayClass traefik does not support HTTPRouteRequestMirror: the candidate gets no mirrored requests; GatewayClass traefik does not support HTTPRouteRequestTimeout: traffic.timeout is not applied',
    });
    // A class that lists the features gets them; one that lists nothing is taken at the spec's word.
    const full = new Set([...traefik.features!, 'HTTPRouteRequestMirror', 'HTTPRouteRequestPercentageMirror', 'HTTPRouteRequestTimeout']);
    for (const support of [{ className: 'envoy', features: full }, { className: 'silent' }]) {
      const asked = planOf(md, { revisions, deployments: ready(md), ...gatewayApi, gateways: new Map([['edge/public', support]]) });
      const routed = planOf(md, { revisions, deployments: ready(md), ...gatewayApi, gateways: new Map([['edge/public', support]]), routes: accepted(asked) });
      expect(rulesOf(routed)[0]).to.have.property('filters');
      expect(rulesOf(routed)[0]).to.deep.include({ timeouts: { request: '30s' } });
      expect(routed.routing.condition.reason).to.equal('GatewayAPIRouting');
    }
  });

  it('puts traffic.timeout on the REST rules, and a rolling update routes to the model\'s Service', () => {
    const md = modelDeployment({ replicas: 2, traffic: { ...traffic, timeout: '1500ms' } });
    const plan = planOf(md, gatewayApi);
    expect(rulesOf(plan)).to.deep.equal([{ name: 'primary', backendRefs: [backend(undefined, 8080)], timeouts: { request: '1500ms' } }]);
    expect(rulesOf(plan, 'GRPCRoute')).to.deep.equal([{ name: 'primary', matches: grpcOnly, backendRefs: [backend(undefined, 8081)] }]);
    expect(selectorOf(plan, NAME)).to.deep.equal(pods());
  });

  it('reports what the Gateway says of the routes: not yet accepted, refused with its reason, or routing', () => {
    const { md, revisions } = newRevision({ replicas: 2, rollout: CANARY, traffic }, gatewayApi);
    const fresh = planOf(md, { revisions, deployments: ready(md), ...gatewayApi });
    expect(fresh.routing.condition).to.deep.include({ status: 'False', reason: 'RouteNotAccepted' });
    expect(fresh.routing.condition.message).to.equal('HTTPRoute fraud-detector on Gateway edge/public: not accepted yet (no Gateway controller has reported on it)');
    // The routes as the cluster has them: this plan's spec at generation 2, reported on at `taken`.
    const reported = (accepted: string, resolved: string, message = '', taken = 2, spec = (kind: 'HTTPRoute' | 'GRPCRoute') => routeSpec(fresh, kind)) => (['HTTPRoute', 'GRPCRoute'] as const).map((kind) => ({
      apiVersion: 'gateway.networking.k8s.io/v1', kind, metadata: { name: NAME, namespace: md.metadata.namespace, generation: 2 }, spec: spec(kind),
      status: { parents: [{ parentRef: { name: 'public', namespace: 'edge' }, controllerName: 'traefik.io/gateway-controller', conditions: [
        { type: 'Accepted', status: accepted, reason: accepted === 'True' ? 'Accepted' : 'NotAllowedByListeners', message, observedGeneration: taken },
        { type: 'ResolvedRefs', status: resolved, reason: resolved === 'True' ? 'ResolvedRefs' : 'BackendNotFound', message, observedGeneration: taken },
      ] }] },
    }));
    const refused = planOf(md, { revisions, deployments: ready(md), ...gatewayApi, routes: reported('False', 'True', 'no listener allows routes from namespace default') });
    expect(refused.routing.condition).to.deep.equal({
      status: 'False', reason: 'RouteNotAccepted', message: 'HTTPRoute fraud-detector on Gateway edge/public: NotAllowedByListeners: no listener allows routes from namespace default',
    });
    const unresolved = planOf(md, { revisions, deployments: ready(md), ...gatewayApi, routes: reported('True', 'False', 'service not found') });
    expect(unresolved.routing.condition).to.deep.include({ status: 'False', reason: 'RouteRefsNotResolved' });
    const routing = planOf(md, { revisions, deployments: ready(md), ...gatewayApi, routes: reported('True', 'True') });
    expect(routing.routing.condition).to.deep.equal({ status: 'True', reason: 'GatewayAPIRouting', message: 'HTTPRoute and GRPCRoute route 90% stable, 10% candidate' });
  });

  it('says the weights are pending until the Gateway reports on the generation that carries them (it splits by the old ones meanwhile)', () => {
    const { md, A, B, revisions } = newRevision({ replicas: 2, rollout: CANARY, traffic }, gatewayApi);
    const fresh = planOf(md, { revisions, deployments: ready(md), ...gatewayApi });
    const route = (taken: number, spec: Record<string, unknown>) => (['HTTPRoute', 'GRPCRoute'] as const).map((kind) => ({
      apiVersion: 'gateway.networking.k8s.io/v1', kind, metadata: { name: NAME, namespace: md.metadata.namespace, generation: 2 }, spec,
      status: { parents: [{ parentRef: { name: 'public', namespace: 'edge' }, conditions: [{ type: 'Accepted', status: 'True', observedGeneration: taken }, { type: 'ResolvedRefs', status: 'True', observedGeneration: taken }] }] },
    }));
    // Not written yet: the route the Gateway has sends everything to stable.
    const before = planOf(md, { revisions, deployments: ready(md), ...gatewayApi, routes: route(2, { rules: [{ name: 'primary', backendRefs: [{ name: `${NAME}-${A}`, port: 8080 }] }] }) });
    expect(before.routing.condition).to.deep.equal({ status: 'False', reason: 'RoutePending', message: `HTTPRoute ${NAME} on Gateway edge/public: being changed to route ${NAME}-${A}=90,${NAME}-${B}=10` });
    // Written, but the Gateway still reports on generation 1.
    const written = planOf(md, { revisions, deployments: ready(md), ...gatewayApi, routes: route(1, routeSpec(fresh, 'HTTPRoute')) });
    expect(written.routing.condition).to.deep.equal({
      status: 'False', reason: 'RoutePending', message: `HTTPRoute ${NAME} on Gateway edge/public: generation 2 (${NAME}-${A}=90,${NAME}-${B}=10) not taken yet, the Gateway reports on generation 1`,
    });
    expect(written.routing.weights).to.deep.equal({ stable: 90, candidate: 10 });
  });

  describe('in an HTTPRoute the user owns (traffic.httpRouteRef)', () => {
    const sharedTraffic = { router: 'GatewayAPI' as const, httpRouteRef: { name: 'shop' } };
    const userRule = { name: 'checkout', matches: [{ path: { type: 'PathPrefix', value: '/checkout' } }], backendRefs: [{ name: 'checkout', port: 80 }] };
    const userRoute = (rules: Record<string, unknown>[], taken = 1): GatewayRoute => ({
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'shop', namespace: 'payments', generation: 1 },
      spec: { parentRefs: [{ name: 'public', namespace: 'edge' }], hostnames: ['shop.example.com'], rules },
      status: { parents: [{ parentRef: { name: 'public', namespace: 'edge' }, conditions: [{ type: 'Accepted', status: 'True', observedGeneration: taken }, { type: 'ResolvedRefs', status: 'True', observedGeneration: taken }] }] },
    });
    const modelPath = { path: { type: 'PathPrefix', value: `/v2/models/${NAME}` } };

    it('writes only the model\'s own rules, matching its V2 paths, and no route of its own', () => {
      const abTest = { header: { name: 'x-variant', value: 'b' } };
      const { md, A, B, revisions } = newRevision({ replicas: 2, rollout: { strategy: 'ABTest', abTest }, traffic: sharedTraffic }, gatewayApi);
      const plan = planOf(md, { revisions, deployments: ready(md), ...gatewayApi, sharedRoute: userRoute([userRule]) });
      expect(namesOf(plan, 'HTTPRoute')).to.deep.equal([]);
      expect(namesOf(plan, 'GRPCRoute')).to.deep.equal([]);
      expect(plan.routing.sharedRouteRules).to.deep.equal({
        name: 'shop',
        rules: [
          { name: `modelship-${NAME}-ab`, matches: [{ ...modelPath, headers: [{ type: 'Exact', name: 'x-variant', value: 'b' }] }], backendRefs: [backend(B, 8080)] },
          { name: `modelship-${NAME}`, matches: [modelPath], backendRefs: [backend(A, 8080)] },
        ],
      });
      expect(namesOf(plan, 'Service')).to.include.members([NAME, `${NAME}-${A}`, `${NAME}-${B}`]);
    });

    it('reports on the route\'s own Gateways: pending until they take the model\'s rules, then routing; a missing route or one without parents says so', () => {
      const { md, A, B, revisions } = newRevision({ replicas: 2, rollout: CANARY, traffic: sharedTraffic }, gatewayApi);
      const started = planOf(md, { revisions, deployments: ready(md), ...gatewayApi, sharedRoute: userRoute([userRule]) });
      const running = recorded(md, started);
      const asked = planOf(running, { revisions, deployments: ready(md), ...gatewayApi, sharedRoute: userRoute([userRule]) });
      const own = asked.routing.sharedRouteRules?.rules ?? [];
      expect(own).to.deep.equal([{ name: `modelship-${NAME}`, matches: [modelPath], backendRefs: [backend(A, 8080, 90), backend(B, 8080, 10)] }]);
      expect(asked.routing.condition).to.deep.equal({ status: 'False', reason: 'RoutePending', message: `HTTPRoute shop on Gateway edge/public: being changed to route ${NAME}-${A}=90,${NAME}-${B}=10` });
      const written = { ...userRoute([userRule, ...own], 1), metadata: { name: 'shop', namespace: 'payments', generation: 2 } };
      const pending = planOf(running, { revisions, deployments: ready(md), ...gatewayApi, sharedRoute: written });
      expect(pending.routing.condition.reason).to.equal('RoutePending');
      const taken = { ...userRoute([userRule, ...own], 2), metadata: { name: 'shop', namespace: 'payments', generation: 2 } };
      const routing = planOf(running, { revisions, deployments: ready(md), ...gatewayApi, sharedRoute: taken });
      expect(routing.routing.condition).to.deep.equal({ status: 'True', reason: 'GatewayAPIRouting', message: 'the model\'s rules in HTTPRoute shop route 90% stable, 10% candidate (gRPC is not routed through it)' });

      const missing = planOf(running, { revisions, deployments: ready(md), ...gatewayApi, sharedRoute: null });
      expect(missing.routing.condition).to.deep.equal({
        status: 'False', reason: 'HTTPRouteNotFound', message: 'HTTPRoute shop (traffic.httpRouteRef) does not exist in namespace payments: the model\'s rules go into it once it does',
      });
      const orphan = planOf(running, { revisions, deployments: ready(md), ...gatewayApi, sharedRoute: { ...taken, spec: { ...taken.spec, parentRefs: [] } } });
      expect(orphan.routing.condition).to.deep.include({ status: 'False', reason: 'RouteNotAccepted' });
    });
  });

  it('without the Gateway API CRDs the Service stands in and says so; the routes are not written', () => {
    const { md, revisions } = newRevision({ replicas: 4, rollout: CANARY, traffic });
    const plan = planOf(md, { revisions, istio: true });
    expect(plan.routing.router).to.equal('Service');
    expect(plan.routing.condition).to.deep.include({ status: 'False', reason: 'GatewayAPINotInstalled' });
    expect(plan.routing.condition.message).to.match(/^the Gateway API CRDs \(HTTPRoute, GRPCRoute\) are not installed: the canary weight is approximated by replica counts/);
    expect(namesOf(plan, 'HTTPRoute')).to.deep.equal([]);
    // Istio installed does not take over a model that names another router.
    expect(namesOf(plan, 'VirtualService')).to.deep.equal([]);
  });

  it('an explicit router Service routes a canary by replica counts without calling it degraded, even where Istio is installed', () => {
    const { md, revisions } = newRevision({ replicas: 4, rollout: CANARY, traffic: { router: 'Service' } }, { istio: true });
    const plan = planOf(md, { revisions, istio: true });
    expect(plan.routing.condition).to.deep.equal({ status: 'True', reason: 'ServiceRouting', message: 'the canary weight is approximated by replica counts (0 candidate, 4 stable), and kube-proxy balances connections, not requests' });
    expect(namesOf(plan, 'VirtualService')).to.deep.equal([]);
  });
});
