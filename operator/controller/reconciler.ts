import type { KubernetesObject, V1Deployment, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { ModelDeployment, ModelDeploymentStatus } from '../api/types.ts';
import { desiredChildren, type OperatorOptions } from '../desired/index.ts';
import { computeStatus, statusEqual, transitionEvents } from '../status/index.ts';
import type { Informer } from '../kube/informer.ts';
import { isConflict, type KubeRestClient } from '../kube/rest-client.ts';
import { apiVersionOf, CoreResources, type ResourceType } from '../kube/resources.ts';
import type { Logger } from '../logging.ts';
import type { EventRecorder } from './event-recorder.ts';
import { satisfies } from './object-diff.ts';
import { modelDeploymentResource } from './model-deployment-resource.ts';

/** The kinds of object a ModelDeployment owns, in the order they are applied. */
export const childResources: readonly ResourceType[] = [
  CoreResources.service,
  CoreResources.deployment,
  CoreResources.horizontalPodAutoscaler,
  CoreResources.podDisruptionBudget,
  CoreResources.networkPolicy,
];

export type ChildInformers = ReadonlyMap<string, Informer<KubernetesObject>>;

export interface ReconcilerDeps {
  client: KubeRestClient;
  modelDeployments: Informer<ModelDeployment>;
  children: ChildInformers;
  options: OperatorOptions;
  recorder: EventRecorder;
  log: Logger;
  fieldManager: string;
  now?: () => Date;
}

export interface ReconcileOutcome {
  applied: string[];
  deleted: string[];
  statusWritten: boolean;
}

const ownedBy = (object: KubernetesObject, uid: string | undefined): boolean =>
  !!uid && (object.metadata?.ownerReferences ?? []).some((ref) => ref.controller && ref.uid === uid);

/**
 * One level-triggered pass for one ModelDeployment: compute the desired children, apply only
 * those the cluster does not already match, delete owned children no longer wanted, and write
 * status only when it changed. At steady state this makes no API writes at all.
 */
export async function reconcile(deps: ReconcilerDeps, key: string): Promise<ReconcileOutcome> {
  const outcome: ReconcileOutcome = { applied: [], deleted: [], statusWritten: false };
  const md = deps.modelDeployments.get(key);
  if (!md || md.metadata?.deletionTimestamp) return outcome;
  const uid = md.metadata?.uid;
  const log = deps.log.child({ namespace: md.metadata?.namespace, name: md.metadata?.name });

  const desired = desiredChildren(md, deps.options);
  const observed = new Map<string, KubernetesObject>();
  const conflicts: string[] = [];

  let applyFailure: Error | undefined;
  for (const object of desired) {
    const type = resourceFor(object);
    const informer = deps.children.get(type.kind);
    const current = informer?.get(`${object.metadata?.namespace}/${object.metadata?.name}`);
    if (current && !ownedBy(current, uid)) {
      // Never take over an object someone else created under the same name.
      conflicts.push(`${type.kind} ${current.metadata?.name} exists and is not owned by this ModelDeployment`);
      continue;
    }
    if (current && satisfies(current, object)) {
      observed.set(type.kind, current);
      continue;
    }
    try {
      const applied = await deps.client.apply(type, object, deps.fieldManager);
      outcome.applied.push(`${type.kind}/${object.metadata?.name}`);
      observed.set(type.kind, applied);
    } catch (error) {
      if (isConflict(error)) throw error;
      // Keep going for the other children, report the failure in status, then fail the pass so the queue retries with backoff.
      applyFailure ??= new Error(`applying ${type.kind} ${object.metadata?.name}: ${(error as Error).message}`, { cause: error });
      if (current) observed.set(type.kind, current);
    }
  }

  const wanted = new Set(desired.map((object) => `${object.kind}/${object.metadata?.name}`));
  for (const type of childResources) {
    for (const child of deps.children.get(type.kind)?.list() ?? []) {
      if (child.metadata?.namespace !== md.metadata?.namespace || !ownedBy(child, uid)) continue;
      if (wanted.has(`${type.kind}/${child.metadata?.name}`)) continue;
      await deps.client.delete(type, child.metadata?.namespace, child.metadata?.name ?? '', child.metadata?.uid);
      outcome.deleted.push(`${type.kind}/${child.metadata?.name}`);
    }
  }
  if (outcome.applied.length || outcome.deleted.length) log.info({ applied: outcome.applied, deleted: outcome.deleted }, 'children reconciled');

  const previous = md.status;
  const next = computeStatus(md, {
    deployment: observed.get('Deployment') as V1Deployment | undefined,
    hpa: observed.get('HorizontalPodAutoscaler') as V2HorizontalPodAutoscaler | undefined,
    conflicts,
    ...(applyFailure ? { applyError: applyFailure.message } : {}),
  }, (deps.now ?? (() => new Date()))());
  if (!statusEqual(previous, next)) {
    await writeStatus(deps, md, next);
    outcome.statusWritten = true;
    for (const event of transitionEvents(previous, next, md)) await deps.recorder.record(md, event);
  }
  if (applyFailure) throw applyFailure;
  return outcome;
}

async function writeStatus(deps: ReconcilerDeps, md: ModelDeployment, status: ModelDeploymentStatus): Promise<void> {
  await deps.client.apply(modelDeploymentResource, {
    apiVersion: apiVersionOf(modelDeploymentResource),
    kind: modelDeploymentResource.kind,
    metadata: { name: md.metadata?.name, namespace: md.metadata?.namespace },
    status,
  }, deps.fieldManager, 'status');
}

function resourceFor(object: KubernetesObject): ResourceType {
  const type = childResources.find((candidate) => candidate.kind === object.kind && apiVersionOf(candidate) === object.apiVersion);
  if (!type) throw new Error(`desired state produced an unmanaged kind ${object.apiVersion}/${object.kind}`);
  return type;
}
