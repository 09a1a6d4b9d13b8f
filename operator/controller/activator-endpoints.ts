import type { V1EndpointSlice } from '@kubernetes/client-node';
import { readyEndpointsOf, SERVICE_NAME_LABEL, type Endpoint } from '../activator/slices.ts';
import { HTTP_PORT_NAME } from '../desired/deployment.ts';
import { Informer, type InformerHooks } from '../kube/informer.ts';
import { CoreResources } from '../kube/resources.ts';
import type { KubeRestClient } from '../kube/rest-client.ts';

/**
 * The activator's ready pods, watched through its Service's EndpointSlices: the slices that lead
 * scaled-to-zero models to it must follow its pods (a rolling update gives them new addresses), so a
 * change re-plans every model that may scale to zero.
 */
export class ActivatorEndpoints {
  private readonly slices: Informer<V1EndpointSlice & { metadata: { name?: string; namespace?: string } }>;

  constructor(client: KubeRestClient, activator: { namespace: string; name: string }, hooks: InformerHooks, onChanged: () => void) {
    this.slices = new Informer(client, CoreResources.endpointSlice, { namespace: activator.namespace, labelSelector: `${SERVICE_NAME_LABEL}=${activator.name}`, ...hooks });
    this.slices.on(() => onChanged());
  }

  start(): Promise<void> {
    this.slices.start();
    return this.slices.waitForSync();
  }

  stop(): Promise<void> {
    return this.slices.stop();
  }

  get synced(): boolean {
    return this.slices.hasSynced;
  }

  /** Its ready pods and the port its Service's `http` port leads to. */
  ready(): Endpoint[] {
    return readyEndpointsOf(this.slices.list(), HTTP_PORT_NAME);
  }
}
