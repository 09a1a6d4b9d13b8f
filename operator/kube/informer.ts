import type { KubernetesObject } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { isGone, type KubeRestClient, type WatchEvent } from './rest-client.ts';
import type { ResourceType } from './resources.ts';

export type InformerEvent = 'add' | 'update' | 'delete';
export type InformerHandler<T> = (event: InformerEvent, object: T, previous?: T) => void;

/** Why the informer listed everything again: its first list, or its watch position was gone (410) or broken. */
export type RelistCause = 'Start' | 'Expired' | 'WatchError';

/** What an informer reports about its connection, for logs and metrics. */
export interface InformerHooks {
  /** A list/watch failed; the informer keeps retrying with backoff. */
  onError?: (error: unknown) => void;
  /** A full list succeeded. */
  onRelist?: (cause: RelistCause) => void;
  /** A list or watch succeeded again after one or more failures. */
  onReconnected?: () => void;
}

export interface InformerOptions<T extends KubernetesObject = KubernetesObject> extends InformerHooks {
  labelSelector?: string;
  namespace?: string;
  maxBackoffMs?: number;
  /**
   * What of each object the cache keeps (controller-runtime's cache TransformFunc): an informer
   * whose readers need a few fields holds only those, which at 10,000 ModelDeployments is most of
   * the operator's memory. managedFields are always dropped.
   */
  transform?: (object: T) => T;
}

/**
 * Like controller-runtime's TransformStripManagedFields: managedFields are often the bulk of an
 * object and nothing in the cache reads them, so they are dropped before caching.
 */
function stripManagedFields<T extends KubernetesObject>(object: T): T {
  if (object.metadata?.managedFields) delete object.metadata.managedFields;
  return object;
}

export const objectKey = (object: KubernetesObject): string =>
  object.metadata?.namespace ? `${object.metadata.namespace}/${object.metadata.name}` : `${object.metadata?.name}`;

/**
 * A shared-informer in the client-go sense: list, then watch from the list's resourceVersion with
 * bookmarks, keeping a local cache. A 410 Gone (history compacted) or a lost connection re-lists and
 * reconciles the cache against what the server now has, emitting the deletes it missed.
 */
export class Informer<T extends KubernetesObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandler<T>[] = [];
  private readonly relistListeners: (() => void)[] = [];
  private resourceVersion = '';
  private synced = false;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private syncWaiters: (() => void)[] = [];
  private currentWatch: AbortController | undefined;
  private relistCause: RelistCause = 'Start';
  private failures = 0;

  constructor(private readonly client: KubeRestClient, readonly type: ResourceType, private readonly options: InformerOptions<T> = {}) {}

  /** An object as the cache keeps it. */
  private cached(object: T): T {
    const stripped = stripManagedFields(object);
    return this.options.transform ? this.options.transform(stripped) : stripped;
  }

  on(handler: InformerHandler<T>): void {
    this.handlers.push(handler);
  }

  /** Runs after each full list has replaced the cache. */
  afterRelist(listener: () => void): void {
    this.relistListeners.push(listener);
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  start(): void {
    this.running ??= this.run();
  }

  waitForSync(): Promise<void> {
    return this.synced ? Promise.resolve() : new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private async run(): Promise<void> {
    const maxBackoff = this.options.maxBackoffMs ?? 5_000;
    while (!this.abort.signal.aborted) {
      try {
        if (!this.resourceVersion) await this.relist();
        this.currentWatch = new AbortController();
        const signal = AbortSignal.any([this.abort.signal, this.currentWatch.signal]);
        await this.client.watch<T>(this.type, {
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: true,
          labelSelector: this.options.labelSelector,
          timeoutSeconds: 300 + Math.floor(Math.random() * 300),
        }, (event) => this.apply(event), signal, this.options.namespace, () => this.succeeded());
      } catch (error) {
        if (this.abort.signal.aborted) break;
        if (isGone(error)) {
          // The watch position was compacted away (or the apiserver's watch cache restarted past it).
          this.expire('Expired');
          continue;
        }
        this.options.onError?.(error);
        this.failures += 1;
        await sleep(Math.min(maxBackoff, 200 * 2 ** Math.min(this.failures, 10)) * (0.5 + Math.random()), undefined, { signal: this.abort.signal }).catch(() => {});
      }
    }
  }

  private succeeded(): void {
    if (this.failures === 0) return;
    this.failures = 0;
    this.options.onReconnected?.();
  }

  private expire(cause: RelistCause): void {
    this.resourceVersion = '';
    this.relistCause = cause;
  }

  private async relist(): Promise<void> {
    const fresh = new Map<string, T>();
    let continueToken: string | undefined;
    let resourceVersion: string;
    do {
      const page = await this.client.list<T>(this.type, { labelSelector: this.options.labelSelector, limit: 500, continue: continueToken }, this.options.namespace);
      const kind = this.type.kind;
      const apiVersion = this.type.group ? `${this.type.group}/${this.type.version}` : this.type.version;
      for (const item of page.items) fresh.set(objectKey(item), this.cached({ ...item, kind, apiVersion }));
      continueToken = page.metadata.continue || undefined;
      resourceVersion = page.metadata.resourceVersion ?? '';
    } while (continueToken);

    for (const [key, old] of this.cache) if (!fresh.has(key)) { this.cache.delete(key); this.emit('delete', old); }
    for (const [key, object] of fresh) {
      const old = this.cache.get(key);
      this.cache.set(key, object);
      if (!old) this.emit('add', object);
      else if (old.metadata?.resourceVersion !== object.metadata?.resourceVersion) this.emit('update', object, old);
    }
    this.resourceVersion = resourceVersion;
    this.options.onRelist?.(this.relistCause);
    for (const listener of this.relistListeners) listener();
    this.succeeded();
    if (!this.synced) {
      this.synced = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve();
    }
  }

  private apply(event: WatchEvent<T>): void {
    if (event.type === 'ERROR') {
      // The server ends a too-old watch with an ERROR event carrying a 410 Status: re-list.
      const code = (event.object as { code?: number }).code;
      this.expire(code === 410 ? 'Expired' : 'WatchError');
      this.currentWatch?.abort();
      return;
    }
    const rv = event.object.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (event.type === 'BOOKMARK') return;
    const object = this.cached(event.object);
    const key = objectKey(object);
    const old = this.cache.get(key);
    if (event.type === 'DELETED') {
      this.cache.delete(key);
      this.emit('delete', object);
    } else {
      this.cache.set(key, object);
      this.emit(old ? 'update' : 'add', object, old);
    }
  }

  private emit(event: InformerEvent, object: T, previous?: T): void {
    for (const handler of this.handlers) handler(event, object, previous);
  }
}
