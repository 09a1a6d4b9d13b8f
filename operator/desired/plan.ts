import type { KubernetesObject, V1ControllerRevision, V1Deployment } from '@kubernetes/client-node';
import { SpecDefaults, type TrafficRouterName } from '../api/schema.ts';
import type { ModelDeployment } from '../api/types.ts';
import type { AnalysisSample } from '../analysis/evaluate.ts';
import { rolloutCommands } from '../rollout/commands.ts';
import type { ConditionState } from '../status/conditions.ts';
import { deploymentProgress, deploymentState } from '../status/deployment-progress.ts';
import { isProgressive, nextRollout, recordIn, strategyOf, type RolloutDecision } from '../rollout/state-machine.ts';
import { desiredPrometheusRule } from './alert-rules.ts';
import type { Endpoint } from '../activator/slices.ts';
import { desiredActivatorSlice } from './activator-slice.ts';
import { autoscalerOf, effectiveAutoscaling } from './autoscaling/registry.ts';
import { childKinds, inApplyOrder, type ChildKind } from './child-kinds.ts';
import { desiredDeployment } from './deployment.ts';
import { desiredDisruptionBudget } from './disruption-budget.ts';
import { desiredControllerRevision, recordedRevisions, revisionHistory, type RecordedRevision } from './history.ts';
import type { RevisionSlot } from './labels.ts';
import { nameOf } from './metadata.ts';
import { desiredNetworkPolicy } from './network-policy.ts';
import type { OperatorOptions } from './options.ts';
import { atRevision, revisionOf } from './revision.ts';
import { routerOf } from './routing/registry.ts';
import type { GatewayRoute, GatewaySupport } from './routing/gateway-api.ts';
import type { Route, RouteRequest } from './routing/router.ts';

/** What a pass observed that the plan depends on; everything else comes from the ModelDeployment. */
export interface PlanInput {
  md: ModelDeployment;
  options: OperatorOptions;
  controllerRevisions: readonly V1ControllerRevision[];
  deployments: readonly V1Deployment[];
  /** Whether the cluster serves an optional kind (another project's CRD): which routers are installed. */
  served: (kind: ChildKind) => boolean;
  /** The ModelDeployment's objects of a kind as observed (a router's, for the status it reports); absent: none. */
  observed?: (kind: ChildKind) => readonly KubernetesObject[];
  /** What the Gateways the model's routes attach to support, by "namespace/name" (Gateway API only). */
  gateways?: ReadonlyMap<string, GatewaySupport>;
  /** The user's HTTPRoute of spec.traffic.httpRouteRef; null: it does not exist. */
  sharedRoute?: GatewayRoute | null;
  /** The Prometheus Operator's CRDs are installed and watched. */
  prometheusOperator?: boolean;
  /** A canary analysis sample taken in this pass. */
  sample?: AnalysisSample;
  /** The activator's ready pods, where the model may scale to zero (operator/activator). */
  activatorEndpoints?: readonly Endpoint[];
  now: Date;
}

/** How the model's traffic is routed in this pass, and by which router. */
export interface TrafficRouting extends Omit<Route, 'objects'> {
  router: TrafficRouterName;
}

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
  /** Which autoscaler scales the model on what (absent without spec.autoscaling). */
  autoscaling?: ConditionState;
}

export const revisionDeploymentName = (md: ModelDeployment, revision: string): string => `${nameOf(md)}-${revision}`;

/**
 * The candidate can take traffic once its Deployment has rolled out completely, as status judges any
 * Deployment. Under autoscaling the replica count moves with the load, and a scale-up makes the
 * Deployment progress again: there the candidate is ready while all its pods run its revision and at
 * least the autoscaler's floor of them are available, so pods its autoscaler adds do not take its
 * traffic (and its step's clock) away.
 */
function deploymentReady(deployment: V1Deployment | undefined, revision: string, autoscalerFloor: number | undefined): boolean {
  if (!deployment) return false;
  const progress = deploymentProgress(deployment, 1);
  if (autoscalerFloor === undefined) return deploymentState(progress, revision) === 'Complete';
  return !progress.stalled && progress.revision === revision && progress.updated === progress.total && progress.available >= autoscalerFloor;
}

/** Pods of a Deployment that the Service sends traffic to. */
function availableReplicas(deployment: V1Deployment | undefined): number {
  return deployment?.status?.availableReplicas ?? 0;
}

function canaryReplicas(total: number, weight: number): number {
  return Math.min(total, Math.max(1, Math.ceil((total * weight) / 100)));
}

const noObjects = (): readonly KubernetesObject[] => [];

/**
 * Desired state as a pure function: the rollout decision, the revisions' workloads (slots), then
 * the routing that carries the decision, asked of the ModelDeployment's router. The controller
 * observes, calls this, applies what differs and prunes the rest.
 */
export function planModelDeployment(input: PlanInput): Plan {
  const { md, options, now } = input;
  const { router, standIn } = routerOf(md, input.served);
  const strategy = strategyOf(md.spec);
  const desiredRevision = revisionOf(md);
  const total = md.spec.replicas ?? SpecDefaults.replicas;
  const candidateDeployment = input.deployments.find((d) => d.metadata?.name === revisionDeploymentName(md, desiredRevision));
  const autoscaler = autoscalerOf(md, input.served, options);
  const autoscalerFloor = md.spec.autoscaling && autoscaler ? (effectiveAutoscaling(md.spec.autoscaling, autoscaler).minReplicas ?? SpecDefaults.minReplicas) : undefined;
  const candidateReady = deploymentReady(candidateDeployment, desiredRevision, autoscalerFloor);
  // Where the router splits a canary by pods, its revisions share the Service, which weighs them by their ready pods.
  const sharedService = router.splitsByPods && strategy === 'Canary';
  const rollout = nextRollout({
    spec: md.spec,
    desiredRevision,
    previous: recordIn(md.status),
    candidateReady,
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
  const prometheusRule = desiredPrometheusRule(md);
  if (prometheusRule) objects.push(prometheusRule);
  const alerting = prometheusRule ? { alerting: input.prometheusOperator ? 'PrometheusRule' as const : 'NotInstalled' as const } : {};
  const autoscaling = autoscaler ? { autoscaling: autoscaler.condition } : {};
  const scale = (at: ModelDeployment, slot?: RevisionSlot): KubernetesObject[] =>
    autoscaler && at.spec.autoscaling
      ? autoscaler.autoscaler.scale({ md: at, autoscaling: effectiveAutoscaling(at.spec.autoscaling, autoscaler), options, ...(slot && { slot }), ...(autoscaler.scaleToZero && { scaleToZero: autoscaler.scaleToZero }) })
      : [];
  const askRouter = (request: Pick<RouteRequest, 'stableRevision' | 'candidateRevision' | 'weights' | 'pods' | 'candidateReady'>): TrafficRouting => {
    const retiringRevisions = rollout.retiring.map((entry) => entry.revision);
    const { objects: routed, ...route } = router.route({ md, options, strategy, observed: input.observed ?? noObjects, retiringRevisions, ...(input.gateways && { gateways: input.gateways }), ...(input.sharedRoute !== undefined && { sharedRoute: input.sharedRoute }), ...(standIn && { standIn }), ...request });
    objects.push(...routed);
    return { router: router.name, ...route };
  };

  if (!isProgressive(strategy)) {
    objects.push(desiredDeployment(md, options));
    objects.push(...scale(md));
    // At zero (or on the way there: KEDA set 0 replicas) the activator takes the Service's requests.
    const deployment = input.deployments.find((d) => d.metadata?.name === nameOf(md));
    const atZero = deployment?.spec?.replicas === 0 || availableReplicas(deployment) === 0;
    const activatorSlice = autoscaler?.scaleToZero && atZero ? desiredActivatorSlice(md, input.activatorEndpoints ?? []) : undefined;
    if (activatorSlice) objects.push(activatorSlice);
    const pdb = desiredDisruptionBudget(md);
    if (pdb) objects.push(pdb);
    // One Deployment replaces its pods in place: the route takes old and new revisions' pods alike.
    const routing = askRouter({ weights: rollout.weights, pods: { candidate: 0, stable: total }, candidateReady: false });
    return { objects: inApplyOrder(objects), rollout, routing, stableDeploymentName: nameOf(md), ...alerting, ...autoscaling };
  }

  const steps = md.spec.rollout?.canary?.steps ?? [];
  const firstStepWeight = steps[0]?.weight ?? 0;
  // Past its last step a candidate grows to full size before it is promoted (whatever traffic it has meanwhile).
  const growing = (rollout.rollout.step ?? 0) >= steps.length;
  // The candidate is sized for the step it has reached, whether or not it takes the step's traffic yet.
  const stepWeight = steps[rollout.rollout.step ?? 0]?.weight ?? firstStepWeight;
  const canaryShare = candidate && strategy === 'Canary' ? (growing ? total : canaryReplicas(total, stepWeight)) : 0;
  const ratio = sharedService && candidate !== undefined && !md.spec.autoscaling;
  // The candidate's pods that take traffic now; the stable side gives a pod up only for each of
  // them (as Argo Rollouts' basic canary does), so serving capacity never dips below the spec.
  const candidatePods = Math.min(canaryShare, availableReplicas(candidateDeployment));
  const stablePods = ratio ? Math.max(Math.min(1, total), total - candidatePods) : total;
  const slots: RevisionSlot[] = [
    // The stable side keeps a pod even at a 100% step, unless the model is scaled to zero.
    { name: revisionDeploymentName(md, rollout.stableRevision), revision: rollout.stableRevision, replicas: stablePods },
    ...(candidate ? [{ name: revisionDeploymentName(md, candidate), revision: candidate, replicas: strategy === 'Canary' ? canaryShare : total }] : []),
    ...rollout.retiring.map((entry) => ({ name: revisionDeploymentName(md, entry.revision), revision: entry.revision, replicas: total })),
  ];
  for (const slot of slots) {
    const at = specAt(slot.revision);
    objects.push(desiredDeployment(at, options, slot));
    objects.push(...scale(at, slot));
    const pdb = slot.replicas !== undefined && !md.spec.autoscaling && slot.replicas <= 1 ? undefined : desiredDisruptionBudget(at, slot);
    if (pdb) objects.push(pdb);
  }

  // While a canary's candidate grows to full size before promotion, each of its ready pods takes
  // a stable pod's share, whatever step it came from: no pod carries more than its share.
  const grownShare = Math.floor((100 * Math.min(total, availableReplicas(candidateDeployment))) / Math.max(1, total));
  const weights = candidate && strategy === 'Canary' && growing ? { stable: 100 - grownShare, candidate: grownShare } : rollout.weights;
  const routing = askRouter({
    stableRevision: rollout.stableRevision,
    ...(candidate && { candidateRevision: candidate }),
    candidateReady: candidate === desiredRevision && candidateReady,
    weights,
    pods: { candidate: candidatePods, stable: stablePods },
  });
  return {
    objects: inApplyOrder(objects),
    rollout,
    routing,
    stableDeploymentName: revisionDeploymentName(md, rollout.stableRevision),
    ...(candidate && { candidateDeploymentName: revisionDeploymentName(md, candidate) }),
    ...alerting,
    ...autoscaling,
  };
}

/** Kinds whose objects this pass may create or delete: the required ones, and optional ones being watched. */
export function writableKinds(available: (kind: ChildKind) => boolean): ChildKind[] {
  return childKinds.filter((kind) => !kind.optional || available(kind));
}
