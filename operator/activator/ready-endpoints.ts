import type { KubernetesObject, V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { ChildKinds } from '../desired/child-kinds.ts';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../desired/labels.ts';
import { Informer, objectKey } from '../kube/informer.ts';
import { CoreResources } from '../kube/resources.ts';
import type { KubeRestClient } from '../kube/rest-client.ts';
import { readyEndpointsOf, SERVICE_NAME_LABEL, type Endpoint } from './slices.ts';
import type { Target } from './target.ts';

type Waiter = (endpoints: Endpoint[]) => void;

/**
 * The model Services and their EndpointSlices (those labelled as Modelship's; the EndpointSlice
 * controller copies a Service's labels onto its slices), watched cluster-wide: a held request is
 * let go the moment its model has a ready pod.
 */
export class ReadyEndpoints {
  private readonly services: Informer<V1Service & KubernetesObject>;
  private readonly slices: Informer<V1EndpointSlice & KubernetesObject>;
  private readonly waiters = new Map<string, Set<Waiter>>();

  constructor(client: KubeRestClient, private readonly portName: string) {
    const labelSelector = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;
    this.services = new Informer(client, ChildKinds.service, { labelSelector });
    this.slices = new Informer(client, CoreResources.endpointSlice, { labelSelector });
    this.slices.on((_event, slice) => {
      const service = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
      if (service) this.release(`${slice.metadata?.namespace}/${service}`);
    });
  }

  async start(): Promise<void> {
    this.services.start();
    this.slices.start();
    await Promise.all([this.services.waitForSync(), this.slices.waitForSync()]);
  }

  async stop(): Promise<void> {
    await Promise.all([this.services.stop(), this.slices.stop()]);
  }

  /** namespace/name of the model Service a target names; undefined where no such Service is Modelship's. */
  serviceOf(target: Target): string | undefined {
    if (target.kind === 'unknown') return undefined;
    if (target.kind === 'service') {
      const key = `${target.namespace}/${target.name}`;
      return this.services.get(key) ? key : undefined;
    }
    const found = this.services.list().find((service) => service.spec?.clusterIPs?.includes(target.ip) || service.spec?.clusterIP === target.ip);
    return found ? objectKey(found) : undefined;
  }

  now(serviceKey: string): Endpoint[] {
    const [namespace, name] = serviceKey.split('/');
    const slices = this.slices.list().filter((slice) => slice.metadata?.namespace === namespace && slice.metadata?.labels?.[SERVICE_NAME_LABEL] === name);
    return readyEndpointsOf(slices, this.portName);
  }

  /** Resolves with the Service's ready endpoints as soon as there is one; rejects when the signal aborts. */
  whenReady(serviceKey: string, signal: AbortSignal): Promise<Endpoint[]> {
    const ready = this.now(serviceKey);
    if (ready.length > 0) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const waiters = this.waiters.get(serviceKey) ?? new Set<Waiter>();
      this.waiters.set(serviceKey, waiters);
      const waiter: Waiter = (endpoints) => {
        signal.removeEventListener('abort', aborted);
        resolve(endpoints);
      };
      const aborted = () => {
        waiters.delete(waiter);
        reject(signal.reason);
      };
      waiters.add(waiter);
      signal.addEventListener('abort', aborted, { once: true });
    });
  }

  private release(serviceKey: string): void {
    const waiters = this.waiters.get(serviceKey);
    if (!waiters?.size) return;
    const ready = this.now(serviceKey);
    if (ready.length === 0) return;
    this.waiters.delete(serviceKey);
    for (const waiter of waiters) waiter(ready);
  }
}
