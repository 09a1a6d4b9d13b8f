import { SpecDefaults } from '../api/schema.ts';
import type { ModelDeploymentStatus } from '../api/types.ts';
import type { AnalysisSpec } from './queries.ts';

export type AnalysisStatus = NonNullable<ModelDeploymentStatus['analysis']>;
export type CheckResult = NonNullable<AnalysisStatus['checks']>[number];
export type Verdict = CheckResult['verdict'];

/** One sample as read from Prometheus: a number per query, or why it could not be read. */
export interface Measurements {
  requests: number | undefined;
  errorRate?: number | undefined;
  p99Seconds?: number | undefined;
  candidateClasses?: ReadonlyMap<string, number>;
  stableClasses?: ReadonlyMap<string, number>;
  custom: ReadonlyMap<string, number | undefined>;
  /** Prometheus did not answer (or answered an error): the whole sample is inconclusive. */
  unavailable?: string;
}

export interface AnalysisSample {
  verdict: Verdict;
  checks: CheckResult[];
}

/** A class below this share on the stable side is too rare for a ratio to mean anything. */
const MIN_CLASS_SHARE = 0.01;

const round = (value: number) => Number(value.toPrecision(4));

function bounded(name: string, value: number | undefined, bounds: { min?: number; max?: number }, scale = 1): CheckResult {
  const threshold = [bounds.min !== undefined && `>= ${bounds.min}`, bounds.max !== undefined && `<= ${bounds.max}`].filter(Boolean).join(' and ');
  if (value === undefined || Number.isNaN(value)) return { name, verdict: 'Inconclusive', threshold, message: 'no data' };
  const scaled = round(value * scale);
  const pass = (bounds.min === undefined || scaled >= bounds.min) && (bounds.max === undefined || scaled <= bounds.max);
  return { name, verdict: pass ? 'Pass' : 'Fail', value: scaled, threshold };
}

function shares(counts: ReadonlyMap<string, number>): Map<string, number> {
  const total = [...counts.values()].reduce((sum, count) => sum + count, 0);
  return new Map([...counts].map(([label, count]) => [label, total > 0 ? count / total : 0]));
}

/** Candidate/stable share of each class that is common enough on the stable side; the worst ratio either way. */
function classShare(measurements: Measurements, maxRatio: number): CheckResult {
  const name = 'class-share';
  const threshold = `<= ${maxRatio}x either way`;
  const candidate = measurements.candidateClasses;
  const stable = measurements.stableClasses;
  if (!candidate?.size || !stable?.size) return { name, verdict: 'Inconclusive', threshold, message: 'no class counts for candidate or stable' };
  const candidateShares = shares(candidate);
  let worst = 1;
  let worstClass = '';
  for (const [label, stableShare] of shares(stable)) {
    if (stableShare < MIN_CLASS_SHARE) continue;
    const candidateShare = candidateShares.get(label) ?? 0;
    const ratio = candidateShare === 0 ? Number.POSITIVE_INFINITY : Math.max(candidateShare / stableShare, stableShare / candidateShare);
    if (ratio > worst) [worst, worstClass] = [ratio, label];
  }
  const value = Number.isFinite(worst) ? round(worst) : 1e9;
  const verdict = worst <= maxRatio ? 'Pass' : 'Fail';
  return { name, verdict, value, threshold, ...(worstClass && { message: `class ${worstClass}: candidate ${round(candidateShares.get(worstClass) ?? 0)} vs stable ${round(shares(stable).get(worstClass) ?? 0)}` }) };
}

/**
 * The verdict of one sample: any failed check fails it; otherwise any check without data (or too
 * few requests, or no Prometheus) makes it inconclusive, never a pass.
 */
export function evaluateSample(analysis: AnalysisSpec, measurements: Measurements): AnalysisSample {
  const minRequests = analysis.minRequests ?? SpecDefaults.minRequests;
  if (measurements.unavailable) {
    return { verdict: 'Inconclusive', checks: [{ name: 'prometheus', verdict: 'Inconclusive', threshold: 'answers', message: measurements.unavailable }] };
  }
  const requests = bounded('requests', measurements.requests ?? 0, { min: minRequests });
  if (requests.verdict !== 'Pass') return { verdict: 'Inconclusive', checks: [{ ...requests, verdict: 'Inconclusive', message: `fewer than ${minRequests} candidate requests in the interval` }] };
  const checks: CheckResult[] = [requests];
  if (analysis.maxErrorRate !== undefined) checks.push(bounded('error-rate', measurements.errorRate, { max: analysis.maxErrorRate }));
  if (analysis.maxP99LatencyMs !== undefined) checks.push(bounded('p99-latency-ms', measurements.p99Seconds, { max: analysis.maxP99LatencyMs }, 1000));
  if (analysis.maxClassShareRatio !== undefined) checks.push(classShare(measurements, analysis.maxClassShareRatio));
  for (const check of analysis.checks ?? []) {
    checks.push(bounded(check.name, measurements.custom.get(check.name), { ...(check.min !== undefined && { min: check.min }), ...(check.max !== undefined && { max: check.max }) }));
  }
  const verdict: Verdict = checks.some((c) => c.verdict === 'Fail') ? 'Fail' : checks.some((c) => c.verdict === 'Inconclusive') ? 'Inconclusive' : 'Pass';
  return { verdict, checks };
}

/** "error-rate 0.31 (<= 0.05); p99-latency-ms 412 (<= 250)": what failed, for messages and events. */
export function describeFailures(sample: AnalysisSample): string {
  return sample.checks
    .filter((check) => check.verdict !== 'Pass')
    .map((check) => `${check.name} ${check.value ?? 'n/a'} (${check.threshold})${check.message ? ` ${check.message}` : ''}`)
    .join('; ');
}

/** Condition reasons (and Warning Event reasons) for a canary whose last analysis sample could not judge it. */
export const InconclusiveReasons = {
  prometheus: 'PrometheusUnavailable',
  requests: 'TooFewRequests',
  other: 'AnalysisInconclusive',
} as const;

/**
 * Why the last sample could not judge the candidate, in a condition's words: "Prometheus at ... did
 * not answer: fetch failed", too few requests, or a check without data. Undefined unless it was inconclusive.
 */
export function inconclusiveCause(analysis: AnalysisStatus | undefined): { reason: string; message: string } | undefined {
  if (analysis?.verdict !== 'Inconclusive') return undefined;
  const unjudged = (analysis.checks ?? []).filter((check) => check.verdict === 'Inconclusive');
  const first = unjudged[0]?.name;
  const reason = first === 'prometheus' ? InconclusiveReasons.prometheus : first === 'requests' ? InconclusiveReasons.requests : InconclusiveReasons.other;
  const why = unjudged
    .map((check) => (check.name === 'prometheus' ? check.message : `${check.name}${check.value === undefined ? '' : ` ${check.value}`}: ${check.message ?? 'no data'}`))
    .join('; ');
  return { reason, message: `analysis sample at ${analysis.lastSampleAt ?? 'n/a'} was inconclusive: ${why || 'no data'}` };
}
