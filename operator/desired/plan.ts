import type { KubernetesObject, V1ControllerRevision, V1Deployment } from '@kubernetes/client-node';
import { SpecDefaults } from '../api/schema.ts';
import type { ModelDeployment } from '../api/types.ts';
import type { AnalysisSample } from '../analysis/evaluate.ts';
import { rolloutCommands } from '../rollout/commands.ts';
import { deploymentProgress, deploymentState } from '../status/deployment-progress.ts';
import { isProgressive, nextRollout, recordIn, strategyOf, type RolloutDecision, type Weights } from '../rollout/state-machine.ts';
import { desiredPrometheusRule } from './alert-rules.ts';
import { desiredAutoscaler } from './autoscaler.ts';
import { childKindKey, childKinds, type ChildKind } from './child-kinds.ts';
import { desiredDeployment } from './deployment.ts';
import { desiredDisruptionBudget } from './disruption-budget.ts';
import { desiredControllerRevision, recordedRevisions, revisionHistory, type RecordedRevision } from './history.ts';
import { desiredDestinationRule, desiredPeerAuthentication, desiredVirtualService, type MeshRoute } from './istio.ts';
import type { RevisionSlot } from './labels.ts';
import { nameOf } from './metadata.ts';
import { desiredNetworkPolicy } from './network-policy.ts';
import type { OperatorOptions } from './options.ts';
import { atRevision, revisionOf } from './revision.ts';
import { desiredService, previewServiceName } from './service.ts';

/** What a pass observed that the plan depends on; everything else comes from the ModelDeployment. */
export interface PlanInput {
  md: ModelDeployment;
  options: OperatorOptions;
  controllerRevisions: readonly V1ControllerRevision[];
  deployments: readonly V1Deployment[];
  /** Istio's CRDs are installed and watched. */
  istio: boolean;
  /** The Prometheus Operator's CRDs are installed and watched. */
  prometheusOperator?: boolean;
  /** A canary analysis sample taken in this pass. */
  sample?: AnalysisSample;
  now: Date;
}

export type TrafficMode = 'Istio' | 'ReplicaRatio' | 'ServiceSelector' | 'AllPods';

export interface TrafficRouting {
  mode: TrafficMode;
  /** Weights as routed: what the mesh does, or what the replica counts approximate. */
  weights: Weights;
  /** Why routing is not what the spec asks for, when it is not. */
  degraded?: string;
  /** Why there is no mesh routing: none installed, or TLS it cannot see into. */
  noMeshReason?: NoMeshReason;
}

export type NoMeshReason = 'IstioNotInstalled' | 'TlsEndsInPods';

export interface Plan {
  /** Every object the ModelDeployment should own now, in the registry's apply order. */
  objects: KubernetesObject[];
  rollout: RolloutDecision;
  routing: TrafficRouting;
  /** The Deployment serving the stable revision's traffic: its readiness is the ModelDeployment's. */
  stableDeploymentName: string;
  candidateDeploymentName?: string;
  /** Where spec.slo alerts go (absent without spec.slo). */
  alerting?: 'PrometheusRule' | 'NotInstalled';
}

export const revisionDeploymentName = (md: ModelDeployment, revision: string): string => `${nameOf(md)}-${revision}`;

/** The candidate can take traffic once its Deployment has rolled out completely, as status judges any Deployment. */
function deploymentReady(deployment: V1Deployment | undefined, revision: string): boolean {
  return deployment !== undefined && deploymentState(deploymentProgress(deployment, 1), revision) === 'Complete';
}

/** Pods of a Deployment that the Service sends traffic to. */
function availableReplicas(deployment: V1Deployment | undefined): number {
  return deployment?.status?.availableReplicas ?? 0;
}

function canaryReplicas(total: number, weight: number): number {
  return Math.min(total, Math.max(1, Math.ceil((total * weight) / 100)));
}

const byRegistryOrder = (objects: KubernetesObject[]): KubernetesObject[] => {
  const order = new Map(childKinds.map((kind, i) => [childKindKey(kind), i]));
  return objects
    .map((object, i) => ({ object, i }))
    .sort((a, b) => (order.get(`${a.object.apiVersion}/${a.object.kind}`) ?? 99) - (order.get(`${b.object.apiVersion}/${b.object.kind}`) ?? 99) || a.i - b.i)
    .map(({ object }) => object);
};

/**
 * Desired state as a pure function: the rollout decision, then the objects that carry it out.
 * The controller observes, calls this, applies what differs and prunes the rest.
 */
export function planModelDeployment(input: PlanInput): Plan {
  const { md, options, now } = input;
  // TLS that ends in the pods (security.tls) is opaque to the mesh: Envoy cannot route its HTTP by
  // weight, header or mirror, so such a model is routed as where there is no mesh.
  const istio = input.istio && !md.spec.security?.tls;
  const noMesh = input.istio ? 'security.tls ends TLS in the pods, where Istio cannot route it' : 'Istio is not installed';
  const noMeshReason: NoMeshReason = input.istio ? 'TlsEndsInPods' : 'IstioNotInstalled';
  const strategy = strategyOf(md.spec);
  const desiredRevision = revisionOf(md);
  const total = md.spec.replicas ?? SpecDefaults.replicas;
  const candidateDeployment = input.deployments.find((d) => d.metadata?.name === revisionDeploymentName(md, desiredRevision));
  // Without a mesh a canary's revisions share the Service, which weighs them by their ready pods.
  const sharedService = !istio && strategy === 'Canary';
  const rollout = nextRollout({
    spec: md.spec,
    desiredRevision,
    previous: recordIn(md.status),
    candidateReady: deploymentReady(candidateDeployment, desiredRevision),
    // Under autoscaling the HPAs size both sides: there is no full size to grow the candidate to.
    ...(strategy === 'Canary' && { promotion: { candidateAtFullSize: md.spec.autoscaling !== undefined || availableReplicas(candidateDeployment) >= total, sharedService } }),
    commands: rolloutCommands(md.metadata.annotations),
    ...(input.sample && { sample: input.sample }),
    now,
  });
  const candidate = rollout.candidateRevision;
  const live = [rollout.stableRevision, ...(candidate ? [candidate] : []), ...rollout.retiring.map((entry) => entry.revision)];
  const history = revisionHistory(md, recordedRevisions(input.controllerRevisions), live);
  const specAt = (revision: string): ModelDeployment => {
    const recorded: RecordedRevision | undefined = history.find((entry) => entry.hash === revision);
    return recorded ? atRevision(md, recorded.spec) : md;
  };
  const objects: KubernetesObject[] = history.map((revision) => desiredControllerRevision(md, revision));
  const networkPolicy = desiredNetworkPolicy(md, options);
  if (networkPolicy) objects.push(networkPolicy);
  // Progressive strategies route through the mesh whenever Istio is there; a rolling update only when asked to.
  const meshRouted = istio && (md.spec.traffic !== undefined || isProgressive(strategy));
  const peerAuthentication = meshRouted ? desiredPeerAuthentication(md) : undefined;
  if (peerAuthentication) objects.push(peerAuthentication);
  const prometheusRule = desiredPrometheusRule(md);
  if (prometheusRule) objects.push(prometheusRule);
  const alerting = prometheusRule ? { alerting: input.prometheusOperator ? 'PrometheusRule' as const : 'NotInstalled' as const } : {};

  if (!isProgressive(strategy)) {
    objects.push(desiredService(md), desiredDeployment(md, options));
    const hpa = desiredAutoscaler(md);
    const pdb = desiredDisruptionBudget(md);
    if (hpa) objects.push(hpa);
    if (pdb) objects.push(pdb);
    // One Deployment replaces its pods in place: the route takes old and new revisions' pods alike.
    const route: MeshRoute = { strategy, weights: rollout.weights };
    if (istio && md.spec.traffic) objects.push(desiredDestinationRule(md, options, route), desiredVirtualService(md, options, route));
    return {
      objects: byRegistryOrder(objects),
      rollout,
      routing: { mode: istio && md.spec.traffic ? 'Istio' : 'AllPods', weights: rollout.weights, ...(!istio && md.spec.traffic && { degraded: `spec.traffic is ignored: ${noMesh}`, noMeshReason }) },
      stableDeploymentName: nameOf(md),
      ...alerting,
    };
  }

  const steps = md.spec.rollout?.canary?.steps ?? [];
  const firstStepWeight = steps[0]?.weight ?? 0;
  // Past its last step a candidate grows to full size before it is promoted (whatever traffic it has meanwhile).
  const growing = (rollout.rollout.step ?? 0) >= steps.length;
  const canaryShare = candidate && strategy === 'Canary' ? (growing ? total : canaryReplicas(total, rollout.weights.candidate || firstStepWeight)) : 0;
  const ratio = sharedService && candidate !== undefined && !md.spec.autoscaling;
  // The candidate's pods that take traffic now; the stable side gives a pod up only for each of
  // them (as Argo Rollouts' basic canary does), so serving capacity never dips below the spec.
  const candidatePods = Math.min(canaryShare, availableReplicas(candidateDeployment));
  const slots: RevisionSlot[] = [
    // The stable side keeps a pod even at a 100% step, unless the model is scaled to zero.
    { name: revisionDeploymentName(md, rollout.stableRevision), revision: rollout.stableRevision, replicas: ratio ? Math.max(Math.min(1, total), total - candidatePods) : total },
    ...(candidate ? [{ name: revisionDeploymentName(md, candidate), revision: candidate, replicas: strategy === 'Canary' ? canaryShare : total }] : []),
    ...rollout.retiring.map((entry) => ({ name: revisionDeploymentName(md, entry.revision), revision: entry.revision, replicas: total })),
  ];
  for (const slot of slots) {
    const at = specAt(slot.revision);
    objects.push(desiredDeployment(at, options, slot));
    const hpa = desiredAutoscaler(at, slot);
    const pdb = slot.replicas !== undefined && !md.spec.autoscaling && slot.replicas <= 1 ? undefined : desiredDisruptionBudget(at, slot);
    if (hpa) objects.push(hpa);
    if (pdb) objects.push(pdb);
  }

  // The mesh picks subsets out of the Service's endpoints, so under Istio the Service selects every
  // revision; without a mesh only a canary may share it (by replica count), the others pin the stable side.
  const pinStable = !istio && strategy !== 'Canary';
  objects.push(pinStable ? desiredService(md, { revision: rollout.stableRevision }) : desiredService(md));
  if (strategy === 'BlueGreen' && candidate) objects.push(desiredService(md, { revision: candidate, name: previewServiceName(md) }));

  let routing: TrafficRouting;
  if (istio) {
    // While a canary's candidate grows to full size before promotion, each of its ready pods takes
    // a stable pod's share, whatever step it came from: no pod carries more than its share.
    const share = Math.floor((100 * Math.min(total, availableReplicas(candidateDeployment))) / Math.max(1, total));
    const weights = candidate && strategy === 'Canary' && growing ? { stable: 100 - share, candidate: share } : rollout.weights;
    const route: MeshRoute = { strategy, stableRevision: rollout.stableRevision, ...(candidate && { candidateRevision: candidate }), weights };
    objects.push(desiredDestinationRule(md, options, route), desiredVirtualService(md, options, route));
    routing = { mode: 'Istio', weights };
  } else if (strategy === 'Canary') {
    const stablePods = slots[0]?.replicas ?? total;
    const servingPods = candidatePods + stablePods;
    const share = candidate && servingPods > 0 ? Math.round((100 * candidatePods) / servingPods) : 0;
    routing = {
      mode: 'ReplicaRatio',
      weights: { stable: 100 - share, candidate: share },
      degraded: md.spec.autoscaling
        ? `${noMesh}: with autoscaling, stable and candidate pods share the Service by whatever replica counts their HPAs choose`
        : `${noMesh}: the canary weight is approximated by replica counts (${candidate ? `${candidatePods} candidate, ${stablePods} stable` : 'no candidate'})`,
      noMeshReason,
    };
  } else {
    routing = {
      mode: 'ServiceSelector',
      weights: { stable: 100, candidate: 0 },
      degraded: strategy === 'BlueGreen'
        ? `${noMesh}: blue/green switches the Service selector`
        : `${noMesh}: ${strategy} needs it, the candidate gets no live traffic (reach it through its own pods)`,
      noMeshReason,
    };
  }
  return {
    objects: byRegistryOrder(objects),
    rollout,
    routing,
    stableDeploymentName: revisionDeploymentName(md, rollout.stableRevision),
    ...(candidate && { candidateDeploymentName: revisionDeploymentName(md, candidate) }),
    ...alerting,
  };
}

/** Kinds whose objects this pass may create or delete: the required ones, and optional ones being watched. */
export function writableKinds(available: (kind: ChildKind) => boolean): ChildKind[] {
  return childKinds.filter((kind) => !kind.optional || available(kind));
}
