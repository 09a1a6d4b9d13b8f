/** The per-pod custom metric an HPA's latency target names; a metrics adapter serves it from the runtime's histogram. */
export const PREDICTION_LATENCY_METRIC = 'prediction_latency';

/** The runtime's request latency histogram (runtime/metrics.ts), in seconds. */
const LATENCY_HISTOGRAM = 'prediction_latency_seconds';

/**
 * HPA target for the latency metric. The adapter serves prediction_latency in seconds, the
 * Prometheus base unit; a quantity with the milli suffix is thousandths of that unit, so a
 * target of N ms is written "Nm" (200 ms -> "200m" = 0.2 s).
 */
export function latencyTarget(ms: number): string {
  return `${ms}m`;
}

/**
 * Mean request latency in seconds over the last minute of the series the matchers select, grouped
 * by `groupBy` when given. An idle model reads 0 rather than NaN, so the autoscaler can scale down.
 * Both the prometheus-adapter rule (its <<.LabelMatchers>> and <<.GroupBy>> templates) and KEDA's
 * Prometheus trigger ask this query.
 */
export function meanLatencyQuery(matchers: string, groupBy?: string): string {
  const by = groupBy ? ` by (${groupBy})` : '';
  return `sum(rate(${LATENCY_HISTOGRAM}_sum{${matchers}}[1m]))${by} / clamp_min(sum(rate(${LATENCY_HISTOGRAM}_count{${matchers}}[1m]))${by}, 1e-9)`;
}
