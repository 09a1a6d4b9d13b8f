/**
 * The Modelship Grafana dashboard, shipped in the chart (a ConfigMap for Grafana's dashboard
 * sidecar). Its PromQL reads the runtime's series (runtime/metrics.ts, runtime/prediction-metrics.ts;
 * `namespace` and `pod` come from the pod scrape) and the operator's (operator/metrics.ts).
 * test/integration/dashboard.test.ts evaluates every expression of the generated JSON on a real Prometheus.
 */

/** Template variables, each a label of the runtime series that the one before narrows. */
export const DASHBOARD_VARIABLES = [
  { name: 'namespace', label: 'Namespace', query: 'label_values(prediction_requests_total, namespace)' },
  { name: 'model', label: 'Model', query: 'label_values(prediction_requests_total{namespace=~"$namespace"}, model)' },
  { name: 'revision', label: 'Revision', query: 'label_values(prediction_requests_total{namespace=~"$namespace",model=~"$model"}, revision)' },
] as const;

const RUNTIME = 'namespace=~"$namespace",model=~"$model",revision=~"$revision"';
const rate = (metric: string, extra = '') => `rate(${metric}{${RUNTIME}${extra}}[$__rate_interval])`;
const quantile = (q: number, metric: string, by: string) => `histogram_quantile(${q}, sum by (${by}, le) (${rate(`${metric}_bucket`)}))`;

interface Target { expr: string; legend: string }
interface Panel { title: string; description: string; unit: string; targets: Target[]; stacked?: boolean }

const PANELS: Panel[] = [
  {
    title: 'Request rate',
    description: 'Inference requests per second by revision (prediction_requests_total).',
    unit: 'reqps',
    targets: [{ expr: `sum by (revision) (${rate('prediction_requests_total')})`, legend: '{{revision}}' }],
  },
  {
    title: 'Error rate (5xx share)',
    description: 'Share of requests answered with a server error, by revision; 0 while none fail.',
    unit: 'percentunit',
    targets: [{
      expr: `(sum by (revision) (${rate('prediction_requests_total', ',code=~"5.."')}) or 0 * sum by (revision) (${rate('prediction_requests_total')})) / sum by (revision) (${rate('prediction_requests_total')})`,
      legend: '{{revision}}',
    }],
  },
  {
    title: 'Answers by status code',
    description: 'Requests per second by revision and HTTP status (gRPC answers by their HTTP equivalent); 429 is load shedding.',
    unit: 'reqps',
    targets: [{ expr: `sum by (revision, code) (${rate('prediction_requests_total')})`, legend: '{{revision}} {{code}}' }],
    stacked: true,
  },
  {
    title: 'Prediction latency p50 / p99',
    description: 'prediction_latency: from request parsed to response ready, by revision.',
    unit: 's',
    targets: [
      { expr: quantile(0.5, 'prediction_latency_seconds', 'revision'), legend: 'p50 {{revision}}' },
      { expr: quantile(0.99, 'prediction_latency_seconds', 'revision'), legend: 'p99 {{revision}}' },
    ],
  },
  {
    title: 'Batch size',
    description: 'Rows per model run after dynamic batching: mean and p99, by revision.',
    unit: 'short',
    targets: [
      { expr: `sum by (revision) (${rate('inference_batch_size_sum')}) / sum by (revision) (${rate('inference_batch_size_count')})`, legend: 'mean {{revision}}' },
      { expr: quantile(0.99, 'inference_batch_size', 'revision'), legend: 'p99 {{revision}}' },
    ],
  },
  {
    title: 'Queue depth',
    description: 'Requests waiting in the batching queues, summed over the pods of each revision.',
    unit: 'short',
    targets: [{ expr: `sum by (revision) (inference_queue_depth{${RUNTIME}})`, legend: '{{revision}}' }],
  },
  {
    title: 'Replicas',
    description: 'Runtime pods Prometheus scrapes, by revision.',
    unit: 'short',
    targets: [{ expr: `count by (revision) (inference_queue_depth{${RUNTIME}})`, legend: '{{revision}}' }],
  },
  {
    title: 'Rollout weights',
    description: "Percent of each ModelDeployment's traffic on each live revision, as the operator routes it (modelship_rollout_weight).",
    unit: 'percent',
    targets: [{ expr: 'max by (namespace, name, revision) (modelship_rollout_weight{namespace=~"$namespace",revision=~"$revision"})', legend: '{{name}} {{revision}}' }],
  },
  {
    title: 'Predicted class shares',
    description: "Share of predicted rows in each class, by revision (classifiers' prediction_class_total).",
    unit: 'percentunit',
    targets: [{
      expr: `sum by (revision, class) (${rate('prediction_class_total')}) / ignoring (class) group_left sum by (revision) (${rate('prediction_class_total')})`,
      legend: '{{revision}} {{class}}',
    }],
    stacked: true,
  },
];

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

function panelJson(panel: Panel, index: number) {
  return {
    id: index + 1,
    type: 'timeseries',
    title: panel.title,
    description: panel.description,
    datasource: DATASOURCE,
    gridPos: { h: 8, w: 12, x: (index % 2) * 12, y: Math.floor(index / 2) * 8 },
    fieldConfig: {
      defaults: {
        unit: panel.unit,
        min: 0,
        custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: panel.stacked ? 40 : 10, stacking: { mode: panel.stacked ? 'normal' : 'none', group: 'A' } },
      },
      overrides: [],
    },
    options: { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
    targets: panel.targets.map((target, i) => ({
      datasource: DATASOURCE,
      refId: String.fromCharCode(65 + i),
      expr: target.expr,
      legendFormat: target.legend,
      range: true,
    })),
  };
}

/** The dashboard as Grafana imports it. */
export function grafanaDashboard() {
  return {
    uid: 'modelship',
    title: 'Modelship',
    description: 'ModelDeployments: traffic, errors, latency, batching, replicas, rollout weights and predictions, by revision.',
    tags: ['modelship', 'inference'],
    editable: true,
    schemaVersion: 39,
    version: 1,
    time: { from: 'now-1h', to: 'now' },
    refresh: '30s',
    templating: {
      list: [
        { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0 },
        ...DASHBOARD_VARIABLES.map((variable) => ({
          name: variable.name,
          label: variable.label,
          type: 'query',
          datasource: DATASOURCE,
          definition: variable.query,
          query: { query: variable.query, refId: `${variable.name}-query` },
          refresh: 2,
          multi: true,
          includeAll: true,
          allValue: '.*',
          current: {},
          sort: 1,
          hide: 0,
        })),
      ],
    },
    panels: PANELS.map(panelJson),
  };
}
