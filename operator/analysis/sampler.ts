import { evaluateSample, type AnalysisSample, type Measurements } from './evaluate.ts';
import { instantQuery } from './prometheus.ts';
import { analysisQueries, type AnalysisSpec, type AnalysisTarget } from './queries.ts';

async function scalar(baseUrl: string, query: string, time: Date): Promise<number | undefined> {
  const [first] = await instantQuery(baseUrl, query, time);
  return first === undefined || Number.isNaN(first.value) ? undefined : first.value;
}

async function byClass(baseUrl: string, query: string, time: Date): Promise<Map<string, number>> {
  return new Map((await instantQuery(baseUrl, query, time)).map((series) => [series.metric.class ?? '', series.value]));
}

/** Reads one sample of the candidate from Prometheus and judges it; a Prometheus that fails makes it inconclusive. */
export async function takeSample(analysis: AnalysisSpec, target: AnalysisTarget, prometheusUrl: string | undefined, now: Date): Promise<AnalysisSample> {
  if (!prometheusUrl) {
    return evaluateSample(analysis, { requests: undefined, custom: new Map(), unavailable: 'no Prometheus: set rollout.analysis.prometheus or the operator setting MODELSHIP_PROMETHEUS_URL' });
  }
  const queries = analysisQueries(analysis, target);
  let measurements: Measurements;
  try {
    const [requests, errorRate, p99Seconds, candidateClasses, stableClasses, custom] = await Promise.all([
      scalar(prometheusUrl, queries.requests, now),
      queries.errorRate ? scalar(prometheusUrl, queries.errorRate, now) : undefined,
      queries.p99Seconds ? scalar(prometheusUrl, queries.p99Seconds, now) : undefined,
      queries.candidateClasses ? byClass(prometheusUrl, queries.candidateClasses, now) : undefined,
      queries.stableClasses ? byClass(prometheusUrl, queries.stableClasses, now) : undefined,
      Promise.all(queries.custom.map(async (check) => [check.name, await scalar(prometheusUrl, check.query, now)] as const)),
    ]);
    measurements = {
      requests,
      errorRate,
      p99Seconds,
      ...(candidateClasses && { candidateClasses }),
      ...(stableClasses && { stableClasses }),
      custom: new Map(custom),
    };
  } catch (error) {
    measurements = { requests: undefined, custom: new Map(), unavailable: `Prometheus at ${prometheusUrl} did not answer: ${(error as Error).message}` };
  }
  return evaluateSample(analysis, measurements);
}
