import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeRestClient } from '../kube/rest-client.ts';
import { apiVersionOf, CoreResources } from '../kube/resources.ts';
import type { Logger } from '../logging.ts';
import type { ModelDeploymentEvent } from '../status/events.ts';


const microTime = (date: Date) => date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/** Writes events.k8s.io/v1 Events (what `kubectl describe` and `kubectl events` show). */
export class EventRecorder {
  private sequence = 0;

  constructor(private readonly client: KubeRestClient, private readonly instance: string, private readonly log: Logger) {}

  async record(regarding: KubernetesObject, event: ModelDeploymentEvent): Promise<void> {
    const { name = '', namespace = 'default', uid, resourceVersion } = regarding.metadata ?? {};
    const now = new Date();
    const body = {
      apiVersion: apiVersionOf(CoreResources.event),
      kind: 'Event',
      metadata: { name: `${name}.${now.getTime().toString(16)}${(this.sequence++ % 4096).toString(16).padStart(3, '0')}`, namespace },
      eventTime: microTime(now),
      reportingController: 'modelship.io/operator',
      reportingInstance: this.instance,
      action: event.reason,
      reason: event.reason,
      note: event.message.slice(0, 1024),
      type: event.type,
      regarding: { apiVersion: regarding.apiVersion, kind: regarding.kind, name, namespace, uid, resourceVersion },
    };
    try {
      await this.client.create(CoreResources.event, body);
    } catch (error) {
      // An event is a courtesy to humans; failing to write one must not fail the reconcile.
      this.log.warn({ err: error, reason: event.reason }, 'could not record event');
    }
  }
}
