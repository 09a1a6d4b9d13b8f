import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeRestClient } from '../kube/rest-client.ts';
import { apiVersionOf, CoreResources } from '../kube/resources.ts';
import type { Logger } from '../logging.ts';
import type { ModelDeploymentEvent } from '../status/events.ts';


const microTime = (date: Date) => date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/** As client-go's broadcaster: beyond this many unsent Events, new ones are dropped (and logged), never waited for. */
const MAX_QUEUED_EVENTS = 1000;
/** Events in flight at once: enough to keep up, few enough that a burst of them does not crowd out the workers' writes. */
const CONCURRENT_SENDS = 2;

interface EventBody extends KubernetesObject { reason: string }

/**
 * Writes events.k8s.io/v1 Events (what `kubectl describe` and `kubectl events` show) in the
 * background, as client-go's recorder does: a reconcile hands its Events over and goes on, so a
 * pass costs its children and status writes, not the Events' round trips; they follow within
 * milliseconds. `flush` sends what is queued before the operator exits.
 */
export class EventRecorder {
  private sequence = 0;
  private readonly queue: EventBody[] = [];
  private sending = 0;
  private dropped = 0;
  private idle: (() => void)[] = [];

  constructor(private readonly client: Pick<KubeRestClient, 'create'>, private readonly instance: string, private readonly log: Logger) {}

  record(regarding: KubernetesObject, event: ModelDeploymentEvent): void {
    if (this.queue.length >= MAX_QUEUED_EVENTS) {
      if (this.dropped++ === 0) this.log.warn({ queued: this.queue.length, reason: event.reason }, 'too many Events waiting to be written: dropping new ones until the queue drains');
      return;
    }
    this.queue.push(this.eventFor(regarding, event));
    this.pump();
  }

  /** Resolves once every queued Event has been written (or given up on). */
  async flush(): Promise<void> {
    if (this.queue.length === 0 && this.sending === 0) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    while (this.sending < CONCURRENT_SENDS && this.queue.length > 0) {
      const body = this.queue.shift()!;
      this.sending++;
      void this.send(body).finally(() => {
        this.sending--;
        this.pump();
        if (this.queue.length === 0 && this.sending === 0) this.drained();
      });
    }
  }

  private drained(): void {
    if (this.dropped > 0) this.log.warn({ dropped: this.dropped }, 'Event queue drained; some Events were dropped while it was full');
    this.dropped = 0;
    for (const resolve of this.idle.splice(0)) resolve();
  }

  private async send(body: EventBody): Promise<void> {
    try {
      await this.client.create(CoreResources.event, body);
    } catch (error) {
      // An event is a courtesy to humans; failing to write one must not fail the reconcile.
      this.log.warn({ err: error, reason: body.reason }, 'could not record event');
    }
  }

  private eventFor(regarding: KubernetesObject, event: ModelDeploymentEvent): EventBody {
    const { name = '', namespace = 'default', uid, resourceVersion } = regarding.metadata ?? {};
    const now = new Date();
    return {
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
    } as EventBody;
  }
}
