import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ModelDeployment } from './api/types.ts';

/** One revision's share of a ModelDeployment's traffic. */
export interface RevisionWeight {
  namespace: string;
  name: string;
  revision: string;
  weight: number;
}

/** The traffic shares a ModelDeployment's status records: the stable revision's and, during a rollout, the candidate's. */
export function revisionWeights(md: ModelDeployment): RevisionWeight[] {
  const status = md.status;
  if (!status?.weights || !status.stableRevision) return [];
  const owner = { namespace: md.metadata.namespace ?? '', name: md.metadata.name ?? '' };
  return [
    { ...owner, revision: status.stableRevision, weight: status.weights.stable },
    ...(status.candidateRevision && status.candidateRevision !== status.stableRevision
      ? [{ ...owner, revision: status.candidateRevision, weight: status.weights.candidate }]
      : []),
  ];
}

/** The operator's own Prometheus metrics, served on /metrics. */
export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({ name: 'modelship_reconcile_total', help: 'Reconciles by result', labelNames: ['result'] as const, registers: [this.registry] });
  readonly reconcileErrors = new Counter({ name: 'modelship_reconcile_errors_total', help: 'Reconciles that failed and were retried', registers: [this.registry] });
  readonly reconcileDuration = new Histogram({
    name: 'modelship_reconcile_duration_seconds', help: 'Time of one reconcile',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry],
  });
  readonly queueDepth = new Gauge({ name: 'modelship_workqueue_depth', help: 'Keys waiting in the work queue', registers: [this.registry] });
  readonly apiWrites = new Counter({ name: 'modelship_api_writes_total', help: 'Mutating API requests by verb and resource', labelNames: ['verb', 'resource'] as const, registers: [this.registry] });
  readonly apiReads = new Counter({ name: 'modelship_api_reads_total', help: 'Get and list requests (not watches) by verb and resource', labelNames: ['verb', 'resource'] as const, registers: [this.registry] });
  readonly informerErrors = new Counter({
    name: 'modelship_informer_errors_total', help: 'Failed list/watch calls of an informer, by kind and reason (Forbidden, Expired, InternalError, ECONNREFUSED ...)',
    labelNames: ['kind', 'reason'] as const, registers: [this.registry],
  });
  readonly informerRelists = new Counter({
    name: 'modelship_informer_relists_total', help: 'Full lists of an informer, by kind and cause: Start, or Expired after a watch answered 410 Gone',
    labelNames: ['kind', 'cause'] as const, registers: [this.registry],
  });
  readonly isLeader = new Gauge({ name: 'modelship_leader', help: '1 while this replica holds the leader lease', registers: [this.registry] });
  private rolloutWeights: () => RevisionWeight[] = () => [];

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const weights = () => this.rolloutWeights();
    new Gauge({
      name: 'modelship_rollout_weight',
      help: "Percent of a ModelDeployment's traffic on each live revision, as its status records it (served by the leader)",
      labelNames: ['namespace', 'name', 'revision'] as const,
      registers: [this.registry],
      // Read at scrape time from the informer cache, so a deleted ModelDeployment or a finished revision leaves no stale series.
      collect() {
        this.reset();
        for (const { weight, ...labels } of weights()) this.set(labels, weight);
      },
    });
  }

  /** Where modelship_rollout_weight reads its values; the controller points it at its cache. */
  readRolloutWeightsFrom(source: () => RevisionWeight[]): void {
    this.rolloutWeights = source;
  }
}
