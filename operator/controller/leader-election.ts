import type { KubernetesObject } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { isConflict, isNotFound, type KubeRestClient } from '../kube/rest-client.ts';
import { CoreResources } from '../kube/resources.ts';

export interface LeaderElectionConfig {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export interface LeaderCallbacks {
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  onNewLeader?: (identity: string) => void;
  /** The leader could not renew its lease this time; it keeps trying until renewDeadline. */
  onRenewFailed?: (error: unknown) => void;
  /**
   * A standby could not read or write the lease (namespace missing, access forbidden, apiserver
   * unreachable): unlike a lease held by another replica, this never resolves by waiting alone.
   */
  onAcquireFailed?: (error: unknown) => void;
  /** An attempt took the lease, renewed it, or found it held by another replica. */
  onLeaseReached?: () => void;
}

/** A coordination.k8s.io/v1 Lease as it travels in JSON (times are RFC 3339 micro-time strings). */
interface V1Lease extends KubernetesObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

const microTime = (date: Date) => date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/**
 * Lease-based leader election with client-go's rules: a lease is free once its holder has not
 * renewed it for leaseDuration as measured on this clock since we last saw it change; updates use
 * optimistic concurrency so two candidates cannot both win. A leader that cannot renew within
 * renewDeadline steps down.
 */
export class LeaderElector {
  private observedRecord: string | undefined;
  private observedHolder: string | undefined;
  private observedAt = 0;
  private leading = false;
  private stopped = false;
  private lastLease: V1Lease | undefined;

  constructor(private readonly client: KubeRestClient, private readonly config: LeaderElectionConfig, private readonly callbacks: LeaderCallbacks) {}

  get isLeader(): boolean {
    return this.leading;
  }

  async run(): Promise<void> {
    while (!this.stopped) {
      if (await this.tryAcquireOrRenew()) {
        if (!this.leading) {
          this.leading = true;
          this.callbacks.onStartedLeading();
        }
        await this.renewLoop();
        if (this.leading) {
          this.leading = false;
          this.callbacks.onStoppedLeading();
        }
      } else {
        await sleep(this.config.retryPeriodMs * (1 + Math.random() * 0.2));
      }
    }
  }

  /** Gives the lease up so a standby takes over at once instead of after leaseDuration. */
  async release(): Promise<void> {
    this.stopped = true;
    if (!this.leading || !this.lastLease) return;
    this.leading = false;
    const released: V1Lease = {
      ...this.lastLease,
      spec: { ...this.lastLease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(new Date()) },
    };
    await this.client.update(CoreResources.lease, released).catch(() => undefined);
  }

  private async renewLoop(): Promise<void> {
    let lastRenew = Date.now();
    while (!this.stopped) {
      await sleep(this.config.retryPeriodMs);
      if (this.stopped) return;
      if (await this.tryAcquireOrRenew()) {
        lastRenew = Date.now();
      } else if (Date.now() - lastRenew > this.config.renewDeadlineMs || !this.leading || this.heldByOther()) {
        return;
      }
    }
  }

  private heldByOther(): boolean {
    const holder = this.lastLease?.spec?.holderIdentity;
    return !!holder && holder !== this.config.identity;
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.config;
    const now = new Date();
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.config.leaseDurationMs / 1000),
      renewTime: microTime(now),
    };
    let existing: V1Lease;
    try {
      existing = await this.client.get<V1Lease>(CoreResources.lease, namespace, name);
    } catch (error) {
      if (!isNotFound(error)) return this.failed(error);
      try {
        this.lastLease = await this.client.create<V1Lease>(CoreResources.lease, {
          apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace },
          spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 },
        });
        this.observe(this.lastLease);
        return this.reached(true);
      } catch (createError) {
        // Already exists: another candidate created it first, which is election working.
        return isConflict(createError) ? this.reached(false) : this.failed(createError);
      }
    }

    this.observe(existing);
    const holder = existing.spec?.holderIdentity ?? '';
    const durationMs = (existing.spec?.leaseDurationSeconds ?? 0) * 1000;
    if (holder && holder !== identity && Date.now() < this.observedAt + durationMs) {
      this.lastLease = existing;
      return this.reached(false);
    }
    const takingOver = holder !== identity;
    const updated: V1Lease = {
      ...existing,
      spec: {
        ...existing.spec,
        ...spec,
        acquireTime: takingOver ? microTime(now) : existing.spec?.acquireTime,
        leaseTransitions: (existing.spec?.leaseTransitions ?? 0) + (takingOver ? 1 : 0),
      },
    };
    try {
      this.lastLease = await this.client.update<V1Lease>(CoreResources.lease, updated);
      this.observe(this.lastLease);
      return this.reached(true);
    } catch (error) {
      // A conflict means another candidate wrote first; anything else is retried the same way.
      if (isConflict(error)) {
        this.lastLease = undefined;
        if (!this.leading) return this.reached(false);
      }
      return this.failed(error);
    }
  }

  private reached<T extends boolean>(acquired: T): T {
    this.callbacks.onLeaseReached?.();
    return acquired;
  }

  private failed(error: unknown): false {
    if (this.leading) this.callbacks.onRenewFailed?.(error);
    else this.callbacks.onAcquireFailed?.(error);
    return false;
  }

  private observe(lease: V1Lease): void {
    const record = JSON.stringify(lease.spec ?? {});
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAt = Date.now();
    }
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder !== this.observedHolder) {
      this.observedHolder = holder;
      if (holder) this.callbacks.onNewLeader?.(holder);
    }
  }
}
