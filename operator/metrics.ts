import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
  readonly isLeader = new Gauge({ name: 'modelship_leader', help: '1 while this replica holds the leader lease', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
