import type { V1Pod } from '@kubernetes/client-node';
import { isDeepStrictEqual } from 'node:util';
import { INSTANCE_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../desired/labels.ts';
import { Informer, type InformerHooks } from '../kube/informer.ts';
import type { KubeRestClient } from '../kube/rest-client.ts';
import type { ResourceType } from '../kube/resources.ts';
import { runtimeFailure } from '../status/runtime-failure.ts';

const POD: ResourceType = { group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true };

export interface RuntimePodsConfig {
  client: KubeRestClient;
  namespace?: string;
  /** Logging and metrics of the Pod informer. */
  hooks: InformerHooks;
  /** The key (namespace/name) of a ModelDeployment whose status reads something new from its pods: a reported failure changed, or a pod is gone. */
  onStatusInputChanged: (key: string) => void;
}

/**
 * The runtime pods the operator's Deployments run, read only for what they report when the model
 * cannot be served (the runtime's termination message). Pods belong to ReplicaSets, not to the
 * ModelDeployment, so they are found by the instance label rather than by owner.
 */
const podName = (pod: V1Pod): string => pod.metadata?.name ?? '';

/** namespace/name of the ModelDeployment a pod runs for. */
function instanceKey(pod: V1Pod): string | undefined {
  const instance = pod.metadata?.labels?.[INSTANCE_LABEL];
  return instance && `${pod.metadata?.namespace}/${instance}`;
}

/**
 * What the cache keeps of a runtime pod: what the status reads (its revision label, whether it is
 * going, the runtime container's state and termination message, whether it was scheduled). The
 * pod spec, most of a pod's size, is never read.
 */
export function podSummary(pod: V1Pod): V1Pod {
  const { name, namespace, uid, resourceVersion, labels, deletionTimestamp } = pod.metadata ?? {};
  const status = pod.status;
  return {
    ...(pod.apiVersion && { apiVersion: pod.apiVersion }), ...(pod.kind && { kind: pod.kind }),
    metadata: { name, namespace, uid, resourceVersion, labels, ...(deletionTimestamp && { deletionTimestamp }) },
    status: {
      ...(status?.phase && { phase: status.phase }),
      ...(status?.containerStatuses && { containerStatuses: status.containerStatuses.map(({ name: container, ready, restartCount, image, imageID, state, lastState }) => ({ name: container, ready, restartCount, image, imageID, ...(state && { state }), ...(lastState && { lastState }) })) }),
      ...(status?.conditions && { conditions: status.conditions.filter((condition) => condition.type === 'PodScheduled') }),
    },
  };
}

export class RuntimePods {
  private readonly informer: Informer<V1Pod>;
  /** ModelDeployment key -> pod name -> pod */
  private readonly byInstance = new Map<string, Map<string, V1Pod>>();

  constructor(config: RuntimePodsConfig) {
    this.informer = new Informer<V1Pod>(config.client, POD, {
      namespace: config.namespace,
      labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
      transform: podSummary,
      ...config.hooks,
    });
    this.informer.on((event, pod, previous) => {
      const key = instanceKey(pod);
      if (previous) this.forget(previous);
      if (event === 'delete') this.forget(pod);
      else if (key) this.byInstance.set(key, (this.byInstance.get(key) ?? new Map<string, V1Pod>()).set(podName(pod), pod));
      // Pods change status often (probes, restarts); only a change in what they report matters here.
      const before = event === 'add' ? undefined : runtimeFailure([previous ?? pod]);
      const after = event === 'delete' ? undefined : runtimeFailure([pod]);
      // A pod gone may be the last of a retired revision, whose traffic has then settled.
      if (key && (event === 'delete' || !isDeepStrictEqual(before, after))) config.onStatusInputChanged(key);
    });
  }

  private forget(pod: V1Pod): void {
    const key = instanceKey(pod);
    const pods = key && this.byInstance.get(key);
    if (!key || !pods) return;
    pods.delete(podName(pod));
    if (pods.size === 0) this.byInstance.delete(key);
  }

  start(): Promise<void> {
    this.informer.start();
    return this.informer.waitForSync();
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }

  get synced(): boolean {
    return this.informer.hasSynced;
  }

  /** The runtime pods of one ModelDeployment, every revision's. */
  of(namespace: string, instance: string): V1Pod[] {
    return [...(this.byInstance.get(`${namespace}/${instance}`)?.values() ?? [])];
  }
}
