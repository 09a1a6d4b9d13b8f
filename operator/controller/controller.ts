import type { KubernetesObject } from '@kubernetes/client-node';
import type { ModelDeployment } from '../api/types.ts';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, type OperatorOptions } from '../desired/index.ts';
import { Informer, objectKey } from '../kube/informer.ts';
import { isConflict, isNotFound, type KubeRestClient } from '../kube/rest-client.ts';
import type { Logger } from '../logging.ts';
import type { OperatorMetrics } from '../metrics.ts';
import type { EventRecorder } from './event-recorder.ts';
import { modelDeploymentResource } from './model-deployment-resource.ts';
import { childResources, reconcile, type ChildInformers } from './reconciler.ts';
import { WorkQueue } from './work-queue.ts';

export interface ControllerConfig {
  client: KubeRestClient;
  options: OperatorOptions;
  recorder: EventRecorder;
  metrics: OperatorMetrics;
  log: Logger;
  fieldManager: string;
  workers: number;
  /** Watch one namespace only; all namespaces when omitted. */
  namespace?: string;
  resyncIntervalMs: number;
}

/**
 * Wires informers to a work queue and reconcile workers, the way controller-runtime does
 * For(ModelDeployment).Owns(children): any change to a ModelDeployment or to an object it
 * controls enqueues the ModelDeployment's key.
 */
export class ModelDeploymentController {
  private readonly queue = new WorkQueue();
  private readonly modelDeployments: Informer<ModelDeployment>;
  private readonly children: ChildInformers;
  private workers: Promise<void>[] = [];
  private resyncTimer: NodeJS.Timeout | undefined;

  constructor(private readonly config: ControllerConfig) {
    const onError = (what: string) => (error: unknown) => config.log.warn({ err: error }, `${what} list/watch failed; retrying`);
    this.modelDeployments = new Informer<ModelDeployment>(config.client, modelDeploymentResource, { namespace: config.namespace, onError: onError('ModelDeployment') });
    this.modelDeployments.on((_event, md) => this.queue.add(objectKey(md)));

    const children = new Map<string, Informer<KubernetesObject>>();
    for (const type of childResources) {
      const informer = new Informer<KubernetesObject>(config.client, type, {
        namespace: config.namespace,
        labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
        onError: onError(type.kind),
      });
      informer.on((_event, child) => {
        const owner = child.metadata?.ownerReferences?.find((ref) => ref.controller && ref.kind === modelDeploymentResource.kind);
        if (owner) this.queue.add(`${child.metadata?.namespace}/${owner.name}`);
      });
      children.set(type.kind, informer);
    }
    this.children = children;
  }

  get synced(): boolean {
    return this.modelDeployments.hasSynced && [...this.children.values()].every((informer) => informer.hasSynced);
  }

  async start(): Promise<void> {
    const informers = [this.modelDeployments, ...this.children.values()];
    for (const informer of informers) informer.start();
    await Promise.all(informers.map((informer) => informer.waitForSync()));
    this.config.log.info({ modelDeployments: this.modelDeployments.list().length }, 'caches synced; starting workers');
    this.workers = Array.from({ length: this.config.workers }, () => this.work());
    // Level-triggered safety net: revisit everything now and then; a no-op when nothing drifted.
    this.resyncTimer = setInterval(() => {
      for (const md of this.modelDeployments.list()) this.queue.add(objectKey(md));
    }, this.config.resyncIntervalMs);
    this.resyncTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.queue.shutDown();
    await Promise.all(this.workers);
    await Promise.all([this.modelDeployments, ...this.children.values()].map((informer) => informer.stop()));
  }

  private async work(): Promise<void> {
    const { metrics, log } = this.config;
    for (;;) {
      metrics.queueDepth.set(this.queue.length);
      const key = await this.queue.get();
      if (key === undefined) return;
      const stopTimer = metrics.reconcileDuration.startTimer();
      try {
        await reconcile({ ...this.config, modelDeployments: this.modelDeployments, children: this.children }, key);
        this.queue.forget(key);
        metrics.reconciles.inc({ result: 'success' });
      } catch (error) {
        metrics.reconcileErrors.inc();
        if (isConflict(error) || isNotFound(error)) {
          // Our cache was behind the server; the watch event that follows brings the fresh object.
          metrics.reconciles.inc({ result: 'requeue' });
          this.queue.addAfter(key, 100);
        } else {
          metrics.reconciles.inc({ result: 'error' });
          const delay = this.queue.addRateLimited(key);
          log.error({ err: error, key, retryInMs: delay }, 'reconcile failed');
        }
      } finally {
        stopTimer();
        this.queue.done(key);
      }
    }
  }
}
