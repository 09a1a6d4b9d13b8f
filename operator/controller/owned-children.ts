import type { KubernetesObject } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { childKinds, type ChildKind } from '../desired/child-kinds.ts';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../desired/labels.ts';
import { Informer, objectKey, type InformerHooks } from '../kube/informer.ts';
import { isForbidden, type KubeRestClient } from '../kube/rest-client.ts';
import type { Logger } from '../logging.ts';
import { UnservedGrace } from './unserved-grace.ts';

export interface OwnedChildrenConfig {
  client: KubeRestClient;
  log: Logger;
  namespace?: string;
  /** How often to ask API discovery whether an optional kind's CRD was installed or removed. */
  discoveryIntervalMs: number;
  /** A child changed: the key (namespace/name) of the ModelDeployment that controls it. */
  onOwnerChanged: (ownerKey: string) => void;
  /** An optional kind appeared or went away, or a kind's watch became forbidden or allowed: every ModelDeployment should be revisited. */
  onKindsChanged: () => void;
  /** Logging and metrics of one kind's informer. */
  hooks: (kind: ChildKind) => InformerHooks;
}

/** A kind the operator may not list/watch (RBAC): it can neither see, write nor prune those children. */
export interface WatchProblem {
  kind: string;
  message: string;
}

const UNSERVED_GRACE_MS = 30_000;

const controllerOf = (object: KubernetesObject) => object.metadata?.ownerReferences?.find((ref) => ref.controller);

/**
 * The cache of every object the operator owns, one informer per child kind from the registry,
 * indexed by owner uid so that a pass reads only its own children. Optional kinds (Istio's) are
 * watched from the moment discovery finds their CRD, and dropped when it goes.
 */
export class OwnedChildren {
  private readonly informers = new Map<ChildKind, Informer<KubernetesObject>>();
  /** owner uid -> child kind -> object key -> object */
  private readonly byOwner = new Map<string, Map<ChildKind, Map<string, KubernetesObject>>>();
  /** Kinds whose list/watch the apiserver refuses, with its message; cleared by the next successful list. */
  private readonly forbidden = new Map<ChildKind, string>();
  private readonly forbiddenWaiters = new Map<ChildKind, (() => void)[]>();
  private readonly discovery = new AbortController();
  private discoveryLoop: Promise<void> | undefined;
  /** A CRD left out of discovery for this long is taken as removed (an apiserver restart leaves CRDs out for seconds). */
  private readonly unservedGrace = new UnservedGrace<ChildKind>(UNSERVED_GRACE_MS);

  constructor(private readonly config: OwnedChildrenConfig) {}

  /**
   * Starts the informers of every kind the cluster serves and waits until each has listed or is
   * forbidden: a kind the operator may not watch is reported (watchProblems) instead of stalling everything.
   */
  async start(): Promise<void> {
    const served = await Promise.all(childKinds.map(async (kind) => (kind.optional ? (await this.servesQuietly(kind)) ?? false : true)));
    childKinds.forEach((kind, i) => {
      if (served[i]) this.watch(kind);
      else if (kind.optional) this.config.log.info({ kind: kind.kind, crd: kind.optional.crd }, `${kind.optional.provider} not installed: ${kind.kind} not watched until its CRD appears`);
    });
    await Promise.all([...this.informers.keys()].map((kind) => this.settled(kind)));
    this.discoveryLoop = this.discover();
  }

  async stop(): Promise<void> {
    this.discovery.abort();
    await this.discoveryLoop;
    await Promise.all([...this.informers.values()].map((informer) => informer.stop()));
  }

  /** Every informer has listed, or is known to be forbidden. */
  get synced(): boolean {
    return [...this.informers].every(([kind, informer]) => informer.hasSynced || this.forbidden.has(kind));
  }

  /** The kinds the operator may not list/watch now, in registry order. */
  watchProblems(): WatchProblem[] {
    return childKinds.flatMap((kind) => {
      const message = this.forbidden.get(kind);
      return message === undefined ? [] : [{ kind: kind.kind, message }];
    });
  }

  /** Whether the kind is served and its cache has listed: only then may a pass write or prune it. */
  available(kind: ChildKind): boolean {
    return this.informers.get(kind)?.hasSynced ?? false;
  }

  get(kind: ChildKind, key: string): KubernetesObject | undefined {
    return this.informers.get(kind)?.get(key);
  }

  /** The children of one kind whose controller reference is this owner uid. */
  ownedBy(uid: string, kind: ChildKind): KubernetesObject[] {
    return [...(this.byOwner.get(uid)?.get(kind)?.values() ?? [])];
  }

  private watch(kind: ChildKind): void {
    if (this.informers.has(kind)) return;
    const hooks = this.config.hooks(kind);
    const informer = new Informer<KubernetesObject>(this.config.client, kind, {
      namespace: this.config.namespace,
      labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
      ...hooks,
      onError: (error) => {
        hooks.onError?.(error);
        if (isForbidden(error)) this.markForbidden(kind, (error as Error).message);
      },
      onRelist: (cause) => {
        hooks.onRelist?.(cause);
        if (this.forbidden.delete(kind)) {
          this.config.log.info({ kind: kind.kind }, `${kind.kind} may be watched again: reconciling every ModelDeployment`);
          this.config.onKindsChanged();
        }
      },
    });
    informer.on((event, child, previous) => {
      if (previous) this.unindex(kind, previous);
      if (event === 'delete') this.unindex(kind, child);
      else this.index(kind, child);
      const owner = controllerOf(child) ?? (previous && controllerOf(previous));
      if (owner) this.config.onOwnerChanged(`${child.metadata?.namespace}/${owner.name}`);
    });
    this.informers.set(kind, informer);
    informer.start();
  }

  private markForbidden(kind: ChildKind, message: string): void {
    for (const resolve of this.forbiddenWaiters.get(kind)?.splice(0) ?? []) resolve();
    if (this.forbidden.get(kind) === message) return;
    this.forbidden.set(kind, message);
    this.config.log.error({ kind: kind.kind, reason: 'Forbidden', message },
      `not allowed to list/watch ${kind.kind}: its children are neither written nor pruned, and every ModelDeployment reports Degraded/WatchForbidden until RBAC allows it`);
    this.config.onKindsChanged();
  }

  /** Resolves once the kind's informer has listed, or its list/watch was refused as forbidden. */
  private settled(kind: ChildKind): Promise<void> {
    const informer = this.informers.get(kind);
    if (!informer || informer.hasSynced || this.forbidden.has(kind)) return Promise.resolve();
    const forbidden = new Promise<void>((resolve) => {
      const waiters = this.forbiddenWaiters.get(kind) ?? [];
      waiters.push(resolve);
      this.forbiddenWaiters.set(kind, waiters);
    });
    return Promise.race([informer.waitForSync(), forbidden]);
  }

  private async unwatch(kind: ChildKind): Promise<void> {
    const informer = this.informers.get(kind);
    if (!informer) return;
    this.informers.delete(kind);
    this.forbidden.delete(kind);
    for (const perKind of this.byOwner.values()) perKind.delete(kind);
    await informer.stop();
  }

  private index(kind: ChildKind, child: KubernetesObject): void {
    const uid = controllerOf(child)?.uid;
    if (!uid) return;
    let perKind = this.byOwner.get(uid);
    if (!perKind) this.byOwner.set(uid, (perKind = new Map()));
    let objects = perKind.get(kind);
    if (!objects) perKind.set(kind, (objects = new Map()));
    objects.set(objectKey(child), child);
  }

  private unindex(kind: ChildKind, child: KubernetesObject): void {
    const uid = controllerOf(child)?.uid;
    if (!uid) return;
    const perKind = this.byOwner.get(uid);
    const objects = perKind?.get(kind);
    objects?.delete(objectKey(child));
    if (objects?.size === 0) perKind?.delete(kind);
    if (perKind?.size === 0) this.byOwner.delete(uid);
  }

  private untilSyncedOrStopped(kind: ChildKind): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.discovery.signal.addEventListener('abort', () => resolve(), { once: true }));
    return Promise.race([this.settled(kind), stopped]);
  }

  /** Whether the kind is served; undefined when discovery itself failed (e.g. the apiserver is down). */
  private async servesQuietly(kind: ChildKind): Promise<boolean | undefined> {
    try {
      return await this.config.client.serves(kind);
    } catch (error) {
      this.config.log.warn({ err: error, kind: kind.kind }, 'API discovery failed; keeping what was known');
      return undefined;
    }
  }

  private async discover(): Promise<void> {
    const optional = childKinds.filter((kind) => kind.optional);
    while (!this.discovery.signal.aborted) {
      await sleep(this.config.discoveryIntervalMs, undefined, { signal: this.discovery.signal }).catch(() => undefined);
      if (this.discovery.signal.aborted) return;
      let changed = false;
      for (const kind of optional) {
        const served = await this.servesQuietly(kind);
        // A failed discovery says nothing about the CRD: an apiserver outage must not drop a watch.
        if (served === undefined) continue;
        const removed = this.unservedGrace.removed(kind, served);
        if (served && !this.informers.has(kind)) {
          this.config.log.info({ kind: kind.kind }, `${kind.optional?.provider} CRD found: watching ${kind.kind}`);
          this.watch(kind);
          await this.untilSyncedOrStopped(kind);
          changed = true;
        } else if (removed && this.informers.has(kind)) {
          this.config.log.warn({ kind: kind.kind }, `${kind.kind} no longer served for ${UNSERVED_GRACE_MS / 1000} s: stopped watching it`);
          await this.unwatch(kind);
          changed = true;
        }
      }
      if (changed) this.config.onKindsChanged();
    }
  }
}
