import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ACTIVATOR_PENDING_METRIC } from './metric-names.ts';

/**
 * What the activator reports, by the model Service a request was for. The pending gauge is the
 * activation signal: a scaled-to-zero model's ScaledObject asks Prometheus for it, and KEDA scales
 * the model from zero while it is above 0.
 */
export class ActivatorMetrics {
  readonly registry = new Registry();
  readonly pending = new Gauge({ name: ACTIVATOR_PENDING_METRIC, help: 'Requests held for a model with no ready pod', labelNames: ['model_namespace', 'model_service'], registers: [this.registry] });
  readonly held = new Histogram({
    name: 'modelship_activator_hold_seconds',
    help: 'How long requests were held until their model had a ready pod',
    labelNames: ['model_namespace', 'model_service'],
    buckets: [0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120],
    registers: [this.registry],
  });
  readonly answered = new Counter({ name: 'modelship_activator_requests_total', help: 'Requests the activator answered, by status code', labelNames: ['model_namespace', 'model_service', 'code'], registers: [this.registry] });
}
