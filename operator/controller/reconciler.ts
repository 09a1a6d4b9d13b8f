import type { KubernetesObject, V1ControllerRevision, V1Deployment } from '@kubernetes/client-node';
import type { Endpoint } from '../activator/slices.ts';
import type { ActivatorEndpoints } from './activator-endpoints.ts';
import type { ModelDeployment, ModelDeploymentStatus } from '../api/types.ts';
import { ChildKinds, childKindOf, type ChildKind } from '../desired/child-kinds.ts';
import { asksForZero } from '../desired/autoscaling/registry.ts';
import type { OperatorOptions } from '../desired/options.ts';
import { planModelDeployment, writableKinds, type Plan } from '../desired/plan.ts';
import { GatewayApiKinds, type GatewayRoute } from '../desired/routing/gateway-api.ts';
import { objectKey } from '../kube/informer.ts';
import type { ReadYourWrites } from '../kube/read-your-writes.ts';
import { isConflict, isNotFound, type KubeRestClient } from '../kube/rest-client.ts';
import { apiVersionOf } from '../kube/resources.ts';
import type { Logger } from '../logging.ts';
import { takeSample } from '../analysis/sampler.ts';
import type { AnalysisSample } from '../analysis/evaluate.ts';
import { SpecDefaults } from '../api/schema.ts';
import { revisionOf } from '../desired/revision.ts';
import { RolloutAnnotations } from '../rollout/commands.ts';
import { durationMs, earliest } from '../rollout/duration.ts';
import { isProgressive, nextSampleAt, sameRolloutRecord, strategyOf } from '../rollout/state-machine.ts';
import { computeStatus, nextCondition, plannedStableReplicas, statusEqual, transitionEvents, type ConditionState, type ModelDeploymentEvent } from '../status/index.ts';
import type { RegistryPoller } from '../registry/poller.ts';
import { authorGrants } from '../desired/pod-grants.ts';
import type { AdmissionPolicyCheck } from './admission-policy.ts';
import type { GatewaySupportLookup } from './gateway-support.ts';
import type { EventRecorder } from './event-recorder.ts';
import { modelDeploymentResource } from './model-deployment-resource.ts';
import { satisfies } from './object-diff.ts';
import type { OwnedChildren, WatchProblem } from './owned-children.ts';
import type { RuntimePods } from './runtime-pods.ts';
import { holdDeletionForSharedRoute, readSharedRoute, releaseSharedRoute, writeOwnRules } from './shared-route.ts';
import { retiredPods, type RetiredPods } from '../status/retired-pods.ts';
import { runtimeFailure, type RuntimeFailure } from '../status/runtime-failure.ts';

export interface ReconcilerDeps {
  client: KubeRestClient;
  /** The ModelDeployments as the informer has them, or as this operator last wrote them where the watch lags. */
  modelDeployments: Pick<ReadYourWrites<ModelDeployment>, 'get' | 'write'>;
  children: OwnedChildren;
  /** The runtime pods, for the failures they report; absent: none are looked at. */
  pods?: Pick<RuntimePods, 'of'>;
  options: OperatorOptions;
  recorder: EventRecorder;
  log: Logger;
  fieldManager: string;
  /** Resolves models:/ URIs in their MLflow registry. */
  registry?: RegistryPoller;
  /** What the Gateways of Gateway API routes support; absent: taken to support what the spec asks. */
  gatewaySupport?: Pick<GatewaySupportLookup, 'of'>;
  /** Whether the policy that checks authors is in force; absent: authors are trusted. */
  authorCheck?: Pick<AdmissionPolicyCheck, 'whyNotInForce'>;
  /** The activator's ready pods; absent: the operator runs without the activator. */
  activator?: Pick<ActivatorEndpoints, 'ready'>;
  now?: () => Date;
}

export interface ReconcileOutcome {
  applied: string[];
  deleted: string[];
  statusWritten: boolean;
  /** Come back after this long even if nothing changes: a pause ends, an old revision is due to go. */
  requeueAfterMs?: number;
}

const ownedBy = (object: KubernetesObject, uid: string | undefined): boolean =>
  !!uid && (object.metadata?.ownerReferences ?? []).some((ref) => ref.controller && ref.uid === uid);

interface Observed {
  md: ModelDeployment;
  uid: string;
  owned: (kind: ChildKind) => KubernetesObject[];
  /** Status as read, before this pass. */
  stored: ModelDeploymentStatus | undefined;
  /** The ModelResolved condition of a models:/ URI. */
  modelResolved?: ConditionState;
}

/**
 * One level-triggered pass for one ModelDeployment, in visible stages: observe the cached
 * children, plan (pure), record the rollout decision, apply what differs and prune what is no
 * longer wanted, then write status. At steady state it makes no API writes at all.
 */
export async function reconcile(deps: ReconcilerDeps, key: string): Promise<ReconcileOutcome> {
  const deleting = deps.modelDeployments.get(key);
  if (deleting?.metadata?.deletionTimestamp) {
    const released = await releaseSharedRoute(deps.client, deleting);
    return { applied: released ? [`HTTPRoute/${deleting.spec.traffic?.httpRouteRef?.name} (rules removed)`] : [], deleted: [], statusWritten: false };
  }
  const found = observe(deps, key);
  if (!found) return { applied: [], deleted: [], statusWritten: false };
  const now = (deps.now ?? (() => new Date()))();
  const { stored } = found;
  const unchecked = await uncheckedGrants(deps, found.md);
  if (unchecked) return holdChildren(deps, found.md, 'Admitted', unchecked, now, ADMISSION_RECHECK_MS);
  const resolution = await deps.registry?.resolve(found.md);
  if (resolution && !resolution.model) return holdChildren(deps, found.md, 'ModelResolved', resolution.condition, now, resolution.pollMs);
  // The resolution goes where the builders read it (status.model), and into the status written below.
  const observed: Observed = resolution?.model
    ? { ...found, md: { ...found.md, status: { ...stored, model: resolution.model } }, modelResolved: resolution.condition }
    : found;
  const sample = await sampleIfDue(deps, observed.md, now);
  const activatorEndpoints = activatorEndpointsFor(deps, observed.md);
  const gateways = observed.md.spec.traffic?.router === 'GatewayAPI' ? await deps.gatewaySupport?.of(observed.md) : undefined;
  const sharedRoute = deps.children.available(GatewayApiKinds.httpRoute) ? await readSharedRoute(deps.client, observed.md) : undefined;
  const plan = planModelDeployment({
    md: observed.md,
    options: deps.options,
    controllerRevisions: observed.owned(ChildKinds.controllerRevision) as V1ControllerRevision[],
    deployments: observed.owned(ChildKinds.deployment) as V1Deployment[],
    served: (kind) => deps.children.available(kind),
    observed: observed.owned,
    prometheusOperator: deps.children.available(ChildKinds.prometheusRule),
    ...(gateways && { gateways }),
    ...(sharedRoute !== undefined && { sharedRoute }),
    ...(sample && { sample }),
    ...(activatorEndpoints && { activatorEndpoints }),
    now,
  });
  const log = deps.log.child({ namespace: observed.md.metadata.namespace, name: observed.md.metadata.name });
  const recorded = await recordDecision(deps, observed, plan, now);
  const { applied, conflicts, result, ...written } = await applyPlan(deps, observed, plan);
  const sharedRouteFailure = await applySharedRouteRules(deps, observed.md, plan, sharedRoute, applied);
  const applyFailure = written.applyFailure ?? sharedRouteFailure;
  const deleted = await prune(deps, observed, plan);
  if (applied.length || deleted.length) log.info({ applied, deleted }, 'children reconciled');

  const { md } = observed;
  const previous = recorded ?? md.status;
  const failure = podFailure(deps, md);
  const find = (kind: ChildKind, name: string) => result.get(`${kind.kind}/${name}`);
  const problems = { conflicts, applyFailure, failure, modelResolved: observed.modelResolved, watchProblems: deps.children.watchProblems(), retired: podsOfRetiredRevisions(deps, md, plan) };
  const next = statusOf({ ...md, ...(previous && { status: previous }) }, plan, find, problems, now, deps.options);
  // A decision not recorded ahead (nothing to resume) has its Events recorded with the pass's status.
  const deferredEvents = recorded || !changesRecord(md, plan) ? [] : plan.rollout.events;
  const statusWritten = (await commitStatus(deps, md, recorded ?? stored, next, deferredEvents)) || recorded !== undefined;
  if (applyFailure) throw applyFailure;
  const requeueAfterMs = earliest(plan.rollout.requeueAfterMs, resolution?.pollMs, sharedRouteRecheckMs(plan));
  return { applied, deleted, statusWritten, ...(requeueAfterMs !== undefined && { requeueAfterMs }) };
}

/**
 * The model's rules written into the user's HTTPRoute (spec.traffic.httpRouteRef), once a finalizer
 * holds the ModelDeployment's deletion until they are taken out again. A conflict (the route's
 * owner wrote it meanwhile) fails the pass, to be retried on the route as it is now; another error
 * is reported like a child that could not be applied.
 */
async function applySharedRouteRules(deps: ReconcilerDeps, md: ModelDeployment, plan: Plan, route: GatewayRoute | null | undefined, applied: string[]): Promise<Error | undefined> {
  const wanted = plan.routing.sharedRouteRules;
  if (!wanted || !route) return undefined;
  try {
    await holdDeletionForSharedRoute(deps.client, md);
    if (await writeOwnRules(deps.client, md, route, wanted.rules)) applied.push(`HTTPRoute/${wanted.name} (rules)`);
    return undefined;
  } catch (error) {
    if (isConflict(error)) throw error;
    return new Error(`writing the model's rules into HTTPRoute ${wanted.name}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * The user's HTTPRoute is read each pass, not watched (the informers see only the operator's own
 * objects): while its Gateways have not taken the model's rules, come back soon to say when they have.
 */
function sharedRouteRecheckMs(plan: Plan): number | undefined {
  if (!plan.routing.sharedRouteRules) return undefined;
  const { reason } = plan.routing.condition;
  return reason === 'RoutePending' ? 1_000 : reason === 'GatewayAPIRouting' ? undefined : 10_000;
}


const ADMISSION_RECHECK_MS = 30_000;

/**
 * What the ModelDeployment would hand its pods (a Secret, an image of its own) while the admission
 * policy that checks its author is not in force: then nothing of it is used. Undefined when there is
 * nothing to hold back.
 */
async function uncheckedGrants(deps: ReconcilerDeps, md: ModelDeployment): Promise<ConditionState | undefined> {
  if (!deps.authorCheck) return undefined;
  const grants = authorGrants(md, deps.options.defaultRuntimeImage);
  if (grants.length === 0) return undefined;
  const why = await deps.authorCheck.whyNotInForce();
  if (!why) return undefined;
  return {
    status: 'False',
    reason: 'AdmissionPolicyMissing',
    message: `spec names ${grants.join(', ')}, which the operator gives pods only while the admission policy that checks who wrote them is in force, and ${why}; nothing is changed until it is`,
  };
}

/**
 * A ModelDeployment that may not be acted on yet: a models:/ URI that has never resolved (a new one,
 * or a new reference) or whose token Secret may not be used, or one naming a Secret or image while
 * its author cannot be checked. No child is touched (a running revision keeps running as it was) and
 * status only says why, in the condition `type`.
 */
async function holdChildren(deps: ReconcilerDeps, md: ModelDeployment, type: 'ModelResolved' | 'Admitted', state: ConditionState, now: Date, requeueAfterMs: number): Promise<ReconcileOutcome> {
  const stored = md.status ?? {};
  const condition = nextCondition(stored.conditions, type, state, md.metadata.generation, now);
  const next: ModelDeploymentStatus = {
    ...stored,
    phase: stored.phase ?? 'Pending',
    conditions: [...(stored.conditions ?? []).filter((existing) => existing.type !== condition.type), condition],
  };
  const statusWritten = await commitStatus(deps, md, md.status, next);
  return { applied: [], deleted: [], statusWritten, requeueAfterMs };
}

/** Measures the canary when its next analysis sample is due: the only I/O the rollout decision depends on. */
async function sampleIfDue(deps: ReconcilerDeps, md: ModelDeployment, now: Date): Promise<AnalysisSample | undefined> {
  const analysis = md.spec.rollout?.analysis;
  const status = md.status;
  const candidate = status?.candidateRevision;
  if (!analysis || !candidate || candidate !== revisionOf(md) || !status.stableRevision) return undefined;
  const due = nextSampleAt(md.spec, status.rollout, status.analysis);
  if (due === undefined || due > now.getTime()) return undefined;
  const target = {
    namespace: md.metadata.namespace ?? 'default',
    name: md.metadata.name ?? '',
    revision: candidate,
    stableRevision: status.stableRevision,
    windowSeconds: Math.max(1, Math.round(durationMs(analysis.interval ?? SpecDefaults.analysisInterval) / 1000)),
  };
  return takeSample(analysis, target, analysis.prometheus ?? deps.options.prometheusUrl, now);
}

/**
 * The activator's ready pods, read from its Service's EndpointSlices, for a model that may scale to
 * zero (its slice leads there while the model has no ready pod); undefined for any other model.
 */
function activatorEndpointsFor(deps: ReconcilerDeps, md: ModelDeployment): Endpoint[] | undefined {
  if (!deps.activator || !asksForZero(md)) return undefined;
  return deps.activator.ready();
}

function observe(deps: ReconcilerDeps, key: string): Observed | undefined {
  const md = deps.modelDeployments.get(key);
  const uid = md?.metadata?.uid;
  if (!md || !uid || md.metadata?.deletionTimestamp) return undefined;
  return {
    md,
    stored: md.status,
    uid,
    owned: (kind) => deps.children.ownedBy(uid, kind).filter((child) => child.metadata?.namespace === md.metadata.namespace),
  };
}

function podFailure(deps: ReconcilerDeps, md: ModelDeployment): RuntimeFailure | undefined {
  return runtimeFailure(deps.pods?.of(md.metadata.namespace ?? '', md.metadata.name ?? '') ?? []);
}

/** Where one Service selects every revision's pods, those of revisions the plan no longer runs. */
function podsOfRetiredRevisions(deps: ReconcilerDeps, md: ModelDeployment, plan: Plan): RetiredPods[] {
  if (!plan.routing.retiredPodsServe) return [];
  const pods = deps.pods?.of(md.metadata.namespace ?? '', md.metadata.name ?? '') ?? [];
  return retiredPods(pods, [plan.rollout.stableRevision, plan.rollout.candidateRevision]);
}

function statusOf(
  md: ModelDeployment,
  plan: Plan,
  find: (kind: ChildKind, name: string) => KubernetesObject | undefined,
  problems: {
    conflicts: string[]; applyFailure: Error | undefined; failure: RuntimeFailure | undefined; modelResolved: ConditionState | undefined; watchProblems: WatchProblem[];
    retired: RetiredPods[];
  },
  now: Date,
  options: OperatorOptions,
): ModelDeploymentStatus {
  const plannedReplicas = plannedStableReplicas(plan);
  return computeStatus(md, {
    deployment: find(ChildKinds.deployment, plan.stableDeploymentName) as V1Deployment | undefined,
    ...(plannedReplicas !== undefined && { plannedReplicas }),
    rollout: plan.rollout,
    routing: plan.routing,
    ...(plan.alerting && { alerting: plan.alerting }),
    ...(plan.autoscaling && { autoscaling: plan.autoscaling }),
    ...(plan.objects.some((object) => childKindOf(object) === ChildKinds.endpointSlice) && { heldByActivator: true }),
    conflicts: problems.conflicts,
    ...(problems.applyFailure ? { applyError: problems.applyFailure.message } : {}),
    ...(problems.failure ? { runtimeFailure: problems.failure } : {}),
    ...(problems.retired.length > 0 && { retiredPods: problems.retired }),
    ...(problems.modelResolved && { modelResolved: problems.modelResolved }),
    ...(problems.watchProblems.length > 0 && { watchForbidden: problems.watchProblems.map((problem) => `${problem.kind}: ${problem.message}`) }),
  }, now, options);
}

/**
 * A rollout step is persisted before any traffic moves, so an operator killed mid-pass resumes
 * from the recorded step instead of jumping back; one-shot commands are removed first, so a
 * command is never acted on twice.
 */
async function recordDecision(deps: ReconcilerDeps, observed: Observed, plan: Plan, now: Date): Promise<ModelDeploymentStatus | undefined> {
  const { md } = observed;
  const { rollout } = plan;
  if (rollout.consumed.length > 0) {
    const annotations = Object.fromEntries(rollout.consumed.map((command) => [RolloutAnnotations[command], null]));
    await deps.modelDeployments.write(objectKey(md), () => deps.client.mergePatch<ModelDeployment>(modelDeploymentResource, md.metadata.namespace, md.metadata.name ?? '', { metadata: { annotations } }));
  }
  if (!changesRecord(md, plan) || !resumable(md)) return undefined;
  const find = (kind: ChildKind, name: string) => deps.children.get(kind, `${md.metadata.namespace}/${name}`);
  const status = statusOf(md, plan, find, {
    conflicts: [], applyFailure: undefined, failure: podFailure(deps, md), modelResolved: observed.modelResolved, watchProblems: deps.children.watchProblems(),
    retired: podsOfRetiredRevisions(deps, md, plan),
  }, now, deps.options);
  await commitStatus(deps, md, observed.stored, status, rollout.events);
  return status;
}

const changesRecord = (md: ModelDeployment, plan: Plan): boolean => !sameRolloutRecord(md.status ?? {}, plan.rollout);

/**
 * Whether an operator stopped mid-pass could jump back from a decision that moved traffic: only a
 * progressive rollout that has recorded a stable revision has steps to resume. A first pass, or a
 * rolling update (the Deployment moves its own pods), is decided the same again by the next pass, so
 * its record goes with the pass's one status write: one write fewer for every new ModelDeployment.
 */
const resumable = (md: ModelDeployment): boolean => isProgressive(strategyOf(md.spec)) && md.status?.stableRevision !== undefined;

async function applyPlan(deps: ReconcilerDeps, observed: Observed, plan: Plan) {
  const applied: string[] = [];
  const conflicts: string[] = [];
  const result = new Map<string, KubernetesObject>();
  let applyFailure: Error | undefined;
  for (const object of plan.objects) {
    const kind = childKindOf(object);
    if (!kind) throw new Error(`desired state produced an unmanaged kind ${object.apiVersion}/${object.kind}`);
    if (!deps.children.available(kind)) continue;
    const name = object.metadata?.name ?? '';
    let current = deps.children.get(kind, objectKey(object));
    if (!current) {
      try {
        current = await unlabelled(deps, kind, object);
      } catch (error) {
        applyFailure ??= new Error(`reading ${kind.kind} ${name}: ${(error as Error).message}`, { cause: error });
        continue;
      }
    }
    if (current && !ownedBy(current, observed.uid)) {
      // Never take over an object someone else created under the same name.
      conflicts.push(`${kind.kind} ${name} exists and is not owned by this ModelDeployment`);
      continue;
    }
    if (current && satisfies(current, object, kind.exactLabelMaps)) {
      result.set(`${kind.kind}/${name}`, current);
      continue;
    }
    try {
      result.set(`${kind.kind}/${name}`, await deps.client.apply(kind, object, deps.fieldManager));
      applied.push(`${kind.kind}/${name}`);
    } catch (error) {
      if (isConflict(error)) throw error;
      // Keep going for the other children, report the failure in status, then fail the pass so the queue retries with backoff.
      applyFailure ??= new Error(`applying ${kind.kind} ${name}: ${(error as Error).message}`, { cause: error });
      if (current) result.set(`${kind.kind}/${name}`, current);
    }
  }
  return { applied, conflicts, applyFailure, result };
}

/**
 * The informers see only objects carrying the operator's labels, so before creating a child, ask the
 * apiserver whether another object already holds its name: server-side apply would take it over.
 */
async function unlabelled(deps: ReconcilerDeps, kind: ChildKind, object: KubernetesObject): Promise<KubernetesObject | undefined> {
  try {
    return await deps.client.get<KubernetesObject>(kind, object.metadata?.namespace, object.metadata?.name ?? '');
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

async function prune(deps: ReconcilerDeps, observed: Observed, plan: Plan): Promise<string[]> {
  const wanted = new Set(plan.objects.map((object) => `${object.apiVersion}/${object.kind}/${object.metadata?.name}`));
  const deleted: string[] = [];
  for (const kind of writableKinds((candidate) => deps.children.available(candidate))) {
    for (const child of observed.owned(kind)) {
      if (wanted.has(`${apiVersionOf(kind)}/${kind.kind}/${child.metadata?.name}`)) continue;
      try {
        await deps.client.delete(kind, child.metadata?.namespace, child.metadata?.name ?? '', child.metadata?.uid);
      } catch (error) {
        // Already gone (the cache had not seen it go yet): what pruning wanted. Retrying the pass
        // would ask again every 100 ms until the watch delivered the deletion.
        if (isNotFound(error)) continue;
        throw error;
      }
      deleted.push(`${kind.kind}/${child.metadata?.name}`);
    }
  }
  return deleted;
}

/**
 * The one way status is written: only when it differs from `before` (or the rollout has Events to
 * record), then the Events of the change, the rollout's own first. Whether it wrote.
 */
async function commitStatus(deps: ReconcilerDeps, md: ModelDeployment, before: ModelDeploymentStatus | undefined, next: ModelDeploymentStatus, rolloutEvents: readonly ModelDeploymentEvent[] = []): Promise<boolean> {
  if (rolloutEvents.length === 0 && statusEqual(before, next)) return false;
  await writeStatus(deps, md, next);
  for (const event of [...rolloutEvents, ...transitionEvents(before, next, md)]) deps.recorder.record(md, event);
  return true;
}

async function writeStatus(deps: ReconcilerDeps, md: ModelDeployment, status: ModelDeploymentStatus): Promise<void> {
  const statusOnly = {
    apiVersion: apiVersionOf(modelDeploymentResource),
    kind: modelDeploymentResource.kind,
    metadata: { name: md.metadata?.name, namespace: md.metadata?.namespace },
    status,
  };
  // The server answers with the whole object, spec included.
  await deps.modelDeployments.write(objectKey(md), () => deps.client.apply(modelDeploymentResource, statusOnly, deps.fieldManager, 'status') as Promise<unknown> as Promise<ModelDeployment>);
}
