import type { ModelDeploymentSpec } from '../api/types.ts';

export type AnalysisSpec = NonNullable<NonNullable<ModelDeploymentSpec['rollout']>['analysis']>;

/** What a sample's queries are about: the candidate against the stable revision, over one interval. */
export interface AnalysisTarget {
  namespace: string;
  name: string;
  revision: string;
  stableRevision: string;
  windowSeconds: number;
}

/** The runtime series the built-in checks read (runtime/metrics.ts); every series carries a revision label. */
const REQUESTS = 'prediction_requests_total';
const LATENCY_BUCKETS = 'prediction_latency_seconds_bucket';
const CLASSES = 'prediction_class_total';

const selector = (revision: string, extra = '') => `{revision="${revision}"${extra}}`;

export interface AnalysisQueries {
  requests: string;
  errorRate?: string;
  p99Seconds?: string;
  candidateClasses?: string;
  stableClasses?: string;
  custom: { name: string; query: string }[];
}

/** Fills {{revision}}, {{stableRevision}}, {{namespace}}, {{name}} and {{interval}} into a user's PromQL. */
export function fillTemplate(query: string, target: AnalysisTarget): string {
  const values: Record<string, string> = {
    revision: target.revision,
    stableRevision: target.stableRevision,
    namespace: target.namespace,
    name: target.name,
    interval: `${target.windowSeconds}s`,
  };
  return query.replace(/\{\{\s*(\w+)\s*\}\}/g, (whole, key: string) => values[key] ?? whole);
}

/** PromQL for every check the analysis asks for, over the last interval. */
export function analysisQueries(analysis: AnalysisSpec, target: AnalysisTarget): AnalysisQueries {
  const window = `[${target.windowSeconds}s]`;
  const candidate = target.revision;
  const increase = (metric: string, extra = '') => `sum(increase(${metric}${selector(candidate, extra)}${window}))`;
  // A 429 is the runtime shedding load by design, not the model failing.
  const failed = ',code=~"4..|5..",code!="429"';
  return {
    requests: increase(REQUESTS),
    ...(analysis.maxErrorRate !== undefined && { errorRate: `(${increase(REQUESTS, failed)} or vector(0)) / ${increase(REQUESTS)}` }),
    ...(analysis.maxP99LatencyMs !== undefined && {
      p99Seconds: `histogram_quantile(0.99, sum by (le) (rate(${LATENCY_BUCKETS}${selector(candidate)}${window})))`,
    }),
    ...(analysis.maxClassShareRatio !== undefined && {
      candidateClasses: `sum by (class) (increase(${CLASSES}${selector(candidate)}${window}))`,
      stableClasses: `sum by (class) (increase(${CLASSES}${selector(target.stableRevision)}${window}))`,
    }),
    custom: (analysis.checks ?? []).map((check) => ({ name: check.name, query: fillTemplate(check.query, target) })),
  };
}
