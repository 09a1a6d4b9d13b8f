import type { Logger } from '../logging.ts';
import { describeLeaseFailure, type LeaseLocation, type LeaseProblem } from './lease-problem.ts';

export interface LeaseHealthOptions {
  /** Gap between the first and second log line of one problem; it doubles after each line. */
  firstLogIntervalMs?: number;
  maxLogIntervalMs?: number;
  now?: () => number;
}

/**
 * Whether this replica reaches its leader-election Lease. A replica that has not yet taken it or
 * seen another replica hold it is not ready, and says why: without this, a missing namespace or a
 * missing Role left the operator waiting in silence. Election retries every retryPeriod; the
 * error line repeats with backoff so a lasting problem stays visible without flooding the log.
 */
export class LeaseHealth {
  private current: LeaseProblem | undefined;
  private failures = 0;
  private nextLogAt = 0;
  private logIntervalMs: number;
  private readonly firstLogIntervalMs: number;
  private readonly maxLogIntervalMs: number;
  private readonly now: () => number;

  constructor(private readonly lease: LeaseLocation, private readonly log: Logger, options: LeaseHealthOptions = {}) {
    this.firstLogIntervalMs = options.firstLogIntervalMs ?? 5_000;
    this.maxLogIntervalMs = options.maxLogIntervalMs ?? 300_000;
    this.logIntervalMs = this.firstLogIntervalMs;
    this.now = options.now ?? Date.now;
    this.current = { reason: 'Pending', message: `acquiring the leader-election Lease ${lease.namespace}/${lease.name}` };
  }

  /** Why this replica is not ready as far as the Lease goes; undefined once it reaches the Lease. */
  get problem(): LeaseProblem | undefined {
    return this.current;
  }

  /** An attempt to take the Lease failed for another reason than its being held by another replica. */
  failed(error: unknown): void {
    const problem = describeLeaseFailure(error, this.lease);
    const changed = problem.reason !== this.current?.reason;
    this.current = problem;
    this.failures += 1;
    const now = this.now();
    if (changed) this.logIntervalMs = this.firstLogIntervalMs;
    else if (now < this.nextLogAt) return;
    this.log.error({ lease: this.leaseName, reason: problem.reason, attempts: this.failures, nextReportInMs: this.logIntervalMs }, problem.message);
    this.nextLogAt = now + this.logIntervalMs;
    this.logIntervalMs = Math.min(this.maxLogIntervalMs, this.logIntervalMs * 2);
  }

  /** An attempt took the Lease or found it held by another replica: election works. */
  reached(): void {
    if (this.failures > 0) this.log.info({ lease: this.leaseName, failedAttempts: this.failures }, 'leader-election Lease reachable again');
    this.current = undefined;
    this.failures = 0;
    this.nextLogAt = 0;
    this.logIntervalMs = this.firstLogIntervalMs;
  }

  private get leaseName(): string {
    return `${this.lease.namespace}/${this.lease.name}`;
  }
}
