import type { ModelDeployment } from '../api/types.ts';
import type { OperatorOptions } from '../desired/index.ts';
import { asksForZero } from '../desired/autoscaling/registry.ts';
import { Informer, objectKey, type InformerHooks } from '../kube/informer.ts';
import { ReadYourWrites } from '../kube/read-your-writes.ts';
import { failureReason, isConflict, isNotFound, type KubeRestClient } from '../kube/rest-client.ts';
import type { Logger } from '../logging.ts';
import { revisionWeights, type OperatorMetrics } from '../metrics.ts';
import type { EventRecorder } from './event-recorder.ts';
import { modelDeploymentResource } from './model-deployment-resource.ts';
import { OwnedChildren } from './owned-children.ts';
import { needsReconcile } from './predicates.ts';
import { RegistryPoller, secretTokenReader } from '../registry/poller.ts';
import { ActivatorEndpoints } from './activator-endpoints.ts';
import { AdmissionPolicyCheck } from './admission-policy.ts';
import { GatewaySupportLookup } from './gateway-support.ts';
import { OperatorSettings } from '../settings.ts';
import { reconcile } from './reconciler.ts';
import { RuntimePods } from './runtime-pods.ts';
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
  /** How often API discovery is asked whether optional CRDs (Istio's) were installed or removed. */
  discoveryIntervalMs?: number;
  /** How often models:/ URIs are resolved again, unless their ModelDeployment says. */
  registryPollMs?: number;
  /** The admission policy that checks ModelDeployment authors (MODELSHIP_ADMISSION_POLICY). */
  admissionPolicy?: string;
}

/**
 * Wires informers to a work queue and reconcile workers, the way controller-runtime does
 * For(ModelDeployment).Owns(children): a change to a ModelDeployment other than to its status alone
 * (see predicates.ts), or any change to an object it controls, enqueues the ModelDeployment's key.
 */
export class ModelDeploymentController {
  private readonly queue = new WorkQueue();
  private readonly modelDeployments: Informer<ModelDeployment>;
  private readonly latestModelDeployments: ReadYourWrites<ModelDeployment>;
  private readonly children: OwnedChildren;
  private readonly pods: RuntimePods;
  private readonly registry: RegistryPoller;
  private readonly authorCheck: AdmissionPolicyCheck | undefined;
  private readonly gatewaySupport: GatewaySupportLookup;
  private readonly activator: ActivatorEndpoints | undefined;
  private workers: Promise<void>[] = [];
  private resyncTimer: NodeJS.Timeout | undefined;

  constructor(private readonly config: ControllerConfig) {
    this.modelDeployments = new Informer<ModelDeployment>(config.client, modelDeploymentResource, { namespace: config.namespace, ...this.hooks(modelDeploymentResource.kind) });
    this.modelDeployments.on((event, md, previous) => {
      if (needsReconcile(event, md, previous)) this.queue.add(objectKey(md));
    });
    this.latestModelDeployments = new ReadYourWrites(this.modelDeployments);
    config.metrics.readRolloutWeightsFrom(() => this.modelDeployments.list().flatMap(revisionWeights));

    this.authorCheck = config.admissionPolicy ? new AdmissionPolicyCheck(config.client, config.admissionPolicy) : undefined;
    this.gatewaySupport = new GatewaySupportLookup(config.client);
    this.registry = new RegistryPoller(secretTokenReader(config.client), config.registryPollMs ?? OperatorSettings.registryPollSeconds.default * 1000);
    this.children = new OwnedChildren({
      client: config.client,
      log: config.log,
      namespace: config.namespace,
      discoveryIntervalMs: config.discoveryIntervalMs ?? 30_000,
      onOwnerChanged: (key) => this.queue.add(key),
      onKindsChanged: () => {
        for (const md of this.modelDeployments.list()) this.queue.add(objectKey(md));
      },
      hooks: (kind) => this.hooks(kind.kind),
    });
    const activator = config.options.activator;
    this.activator = activator && new ActivatorEndpoints(config.client, activator, this.hooks('EndpointSlice (activator)'), () => {
      for (const md of this.modelDeployments.list()) if (asksForZero(md)) this.queue.add(objectKey(md));
    });
    this.pods = new RuntimePods({ client: config.client, namespace: config.namespace, hooks: this.hooks('Pod'), onStatusInputChanged: (key) => this.queue.add(key) });
  }

  /** Every list/watch failure, relist and reconnect of one kind's informer is logged and counted. */
  private hooks(kind: string): InformerHooks {
    const { log, metrics } = this.config;
    return {
      onError: (error) => {
        const reason = failureReason(error);
        metrics.informerErrors.inc({ kind, reason });
        log.warn({ err: error, kind, reason }, `${kind} list/watch failed; retrying`);
      },
      onRelist: (cause) => {
        metrics.informerRelists.inc({ kind, cause });
        if (cause === 'Expired') log.info({ kind, cause }, `${kind} watch expired (410 Gone): listed everything again`);
      },
      onReconnected: () => log.info({ kind }, `${kind} list/watch reconnected`),
    };
  }

  get synced(): boolean {
    return this.modelDeployments.hasSynced && this.children.synced && this.pods.synced && (this.activator?.synced ?? true);
  }

  async start(): Promise<void> {
    this.modelDeployments.start();
    await Promise.all([this.modelDeployments.waitForSync(), this.children.start(), this.pods.start(), this.activator?.start()]);
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
    await Promise.all([this.modelDeployments.stop(), this.children.stop(), this.pods.stop(), this.activator?.stop()]);
  }

  private async work(): Promise<void> {
    const { metrics, log } = this.config;
    for (;;) {
      metrics.queueDepth.set(this.queue.length);
      const key = await this.queue.get();
      if (key === undefined) return;
      const stopTimer = metrics.reconcileDuration.startTimer();
      try {
        const outcome = await reconcile({ ...this.config, modelDeployments: this.latestModelDeployments, children: this.children, pods: this.pods, registry: this.registry, gatewaySupport: this.gatewaySupport, ...(this.authorCheck && { authorCheck: this.authorCheck }), ...(this.activator && { activator: this.activator }) }, key);
        this.queue.forget(key);
        if (outcome.requeueAfterMs !== undefined) this.queue.addAfter(key, outcome.requeueAfterMs);
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
