import type { KubernetesObject } from '@kubernetes/client-node';
import { objectKey, type Informer } from './informer.ts';

/** Past this, a write the watch never showed is taken as overtaken (e.g. by a relist that went past it). */
const MAX_PENDING_MS = 60_000;

/**
 * An informer's cache that answers with what this process wrote itself until the watch delivers it,
 * like client-go's MutationCache. A pass that starts before the watch has caught up with the last
 * pass's writes would otherwise read the object as it was: it redoes a rollout decision already
 * recorded (a step's clock restarts, a consumed command comes back) and takes a status equal to the
 * stale copy as already written, leaving in place what the last pass wrote (a TrafficRouting
 * condition stuck on RoutePending after the Gateway took the route). The watch lags for seconds
 * when the apiserver throttles it (429).
 */
export class ReadYourWrites<T extends KubernetesObject> {
  private readonly written = new Map<string, { object: T; at: number }>();
  /** The resourceVersions the watch delivered while a write of that key was in flight. */
  private readonly inFlight = new Map<string, Set<string>>();

  constructor(private readonly informer: Pick<Informer<T>, 'get' | 'on' | 'afterRelist'>, private readonly now: () => number = Date.now) {
    informer.on((event, object) => {
      const key = objectKey(object);
      const version = object.metadata?.resourceVersion;
      if (version) this.inFlight.get(key)?.add(version);
      const pending = this.written.get(key);
      if (pending && (event === 'delete' || pending.object.metadata?.resourceVersion === version)) this.written.delete(key);
    });
    // A fresh list is at least as new as every write that completed before it.
    informer.afterRelist(() => this.written.clear());
  }

  get(key: string): T | undefined {
    const pending = this.written.get(key);
    if (pending && this.now() - pending.at < MAX_PENDING_MS) return pending.object;
    this.written.delete(key);
    return this.informer.get(key);
  }

  /** Runs a write of the object at `key` and remembers what the server answered until the watch shows it. */
  async write(key: string, request: () => Promise<T>): Promise<T> {
    const delivered = new Set<string>();
    this.inFlight.set(key, delivered);
    try {
      const answer = await request();
      const version = answer.metadata?.resourceVersion;
      if (version && !delivered.has(version)) {
        if (answer.metadata?.managedFields) delete answer.metadata.managedFields;
        this.written.set(key, { object: answer, at: this.now() });
      }
      return answer;
    } finally {
      if (this.inFlight.get(key) === delivered) this.inFlight.delete(key);
    }
  }
}
