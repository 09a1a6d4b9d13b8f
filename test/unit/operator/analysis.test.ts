import { expect } from 'chai';
import type { ModelDeploymentSpec } from '../../../operator/api/types.ts';
import { describeFailures, evaluateSample, type AnalysisSample, type Measurements } from '../../../operator/analysis/evaluate.ts';
import { analysisQueries, fillTemplate, type AnalysisSpec } from '../../../operator/analysis/queries.ts';
import { nextRollout, nextSampleAt, type RolloutRecord } from '../../../operator/rollout/state-machine.ts';

const A = 'aaaaaaa';
const B = 'bbbbbbb';
const T0 = Date.parse('2026-11-25T10:00:00Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000);
const stamp = (seconds: number) => at(seconds).toISOString().replace('.000Z', 'Z');
const target = { namespace: 'payments', name: 'fraud', revision: B, stableRevision: A, windowSeconds: 60 };
const measured = (values: Partial<Measurements>): Measurements => ({ requests: 500, custom: new Map(), ...values });

describe('unit: canary analysis queries', () => {
  it('selects the candidate by its revision label over one interval, and excludes 429 (load shedding) from errors', () => {
    const queries = analysisQueries({ maxErrorRate: 0.01, maxP99LatencyMs: 250, maxClassShareRatio: 2 }, target);
    expect(queries.requests).to.equal('sum(increase(prediction_requests_total{revision="bbbbbbb"}[60s]))');
    expect(queries.errorRate).to.contain('code=~"4..|5..",code!="429"').and.to.contain('[60s]');
    expect(queries.p99Seconds).to.equal('histogram_quantile(0.99, sum by (le) (rate(prediction_latency_seconds_bucket{revision="bbbbbbb"}[60s])))');
    expect(queries.candidateClasses).to.contain('revision="bbbbbbb"');
    expect(queries.stableClasses).to.contain('revision="aaaaaaa"');
  });

  it('asks only for what the spec checks', () => {
    const queries = analysisQueries({ maxErrorRate: 0.01 }, target);
    expect(queries).to.have.keys(['requests', 'errorRate', 'custom']);
  });

  it('fills {{revision}}, {{stableRevision}}, {{namespace}}, {{name}} and {{interval}} into custom PromQL and leaves unknown names alone', () => {
    expect(fillTemplate('x{rev="{{revision}}",s="{{ stableRevision }}",ns="{{namespace}}",md="{{name}}"}[{{interval}}] {{other}}', target))
      .to.equal('x{rev="bbbbbbb",s="aaaaaaa",ns="payments",md="fraud"}[60s] {{other}}');
  });
});

describe('unit: judging an analysis sample', () => {
  const spec: AnalysisSpec = { minRequests: 100, maxErrorRate: 0.05, maxP99LatencyMs: 250 };

  it('passes when every check is within its bound, with values in the check units', () => {
    const sample = evaluateSample(spec, measured({ errorRate: 0.01, p99Seconds: 0.1234 }));
    expect(sample.verdict).to.equal('Pass');
    expect(sample.checks.map((c) => [c.name, c.verdict, c.value, c.threshold])).to.deep.equal([
      ['requests', 'Pass', 500, '>= 100'],
      ['error-rate', 'Pass', 0.01, '<= 0.05'],
      ['p99-latency-ms', 'Pass', 123.4, '<= 250'],
    ]);
  });

  it('fails on any check out of bounds and says which, with the measured value', () => {
    const sample = evaluateSample(spec, measured({ errorRate: 0.01, p99Seconds: 0.412 }));
    expect(sample.verdict).to.equal('Fail');
    expect(describeFailures(sample)).to.equal('p99-latency-ms 412 (<= 250)');
  });

  it('is inconclusive, never a pass, with too few requests, no data, or no Prometheus', () => {
    expect(evaluateSample(spec, measured({ requests: 99, errorRate: 0 })).verdict).to.equal('Inconclusive');
    expect(evaluateSample(spec, measured({ requests: undefined })).verdict).to.equal('Inconclusive');
    expect(evaluateSample(spec, measured({ errorRate: 0, p99Seconds: undefined })).verdict).to.equal('Inconclusive');
    const blind = evaluateSample(spec, measured({ unavailable: 'connection refused' }));
    expect(blind).to.deep.equal({ verdict: 'Inconclusive', checks: [{ name: 'prometheus', verdict: 'Inconclusive', threshold: 'answers', message: 'connection refused' }] });
  });

  it('fails a candidate that flags twice as much fraud as stable (class-share ratio), and ignores classes too rare to compare', () => {
    const share = { maxClassShareRatio: 1.5, minRequests: 1 };
    const stableClasses = new Map([['0', 970], ['1', 30], ['rare', 1]]);
    const doubled = evaluateSample(share, measured({ candidateClasses: new Map([['0', 940], ['1', 60]]), stableClasses }));
    expect(doubled.verdict).to.equal('Fail');
    expect(doubled.checks[1]).to.include({ name: 'class-share', value: 2.002 });
    expect(describeFailures(doubled)).to.match(/class 1: candidate 0.06 vs stable 0.02997/);
    const same = evaluateSample(share, measured({ candidateClasses: new Map([['0', 968], ['1', 32]]), stableClasses }));
    expect(same.verdict).to.equal('Pass');
    expect(evaluateSample(share, measured({ candidateClasses: new Map(), stableClasses })).verdict).to.equal('Inconclusive');
  });

  it('bounds custom checks by min and/or max', () => {
    const custom: AnalysisSpec = { minRequests: 0, checks: [{ name: 'accuracy', query: 'q', min: 0.9 }, { name: 'drift', query: 'q', max: 0.2 }] };
    const sample = evaluateSample(custom, measured({ custom: new Map([['accuracy', 0.95], ['drift', 0.3]]) }));
    expect(sample.checks.slice(1).map((c) => [c.name, c.verdict])).to.deep.equal([['accuracy', 'Pass'], ['drift', 'Fail']]);
  });
});

describe('unit: analysis in the rollout state machine', () => {
  const model: ModelDeploymentSpec['model'] = { uri: 'https://models.example.com/m.onnx', sha256: 'a'.repeat(64) };
  const analysed = (analysis: AnalysisSpec): ModelDeploymentSpec => ({
    model,
    rollout: { strategy: 'Canary', canary: { steps: [{ weight: 10 }, { weight: 50, pause: '2m' }] }, analysis: { interval: '1m', ...analysis } },
  });
  const running = (step: number, startedAt: number, analysis: RolloutRecord['analysis'] = { failures: 0 }): Partial<RolloutRecord> => ({
    stableRevision: A,
    candidateRevision: B,
    rollout: { phase: 'Progressing', step, stepStartedAt: stamp(startedAt) },
    analysis,
  });
  const pass: AnalysisSample = { verdict: 'Pass', checks: [{ name: 'error-rate', verdict: 'Pass', value: 0, threshold: '<= 0.05' }] };
  const fail: AnalysisSample = { verdict: 'Fail', checks: [{ name: 'error-rate', verdict: 'Fail', value: 0.3, threshold: '<= 0.05' }] };
  const unknown: AnalysisSample = { verdict: 'Inconclusive', checks: [{ name: 'prometheus', verdict: 'Inconclusive', threshold: 'answers', message: 'down' }] };
  const decide = (spec: ModelDeploymentSpec, previous: Partial<RolloutRecord>, now: number, sample?: AnalysisSample) =>
    nextRollout({ spec, desiredRevision: B, previous, candidateReady: true, commands: {}, now: at(now), ...(sample && { sample }) });

  it('a step without a pause waits for a passing sample, not for a manual promote, and asks to come back when the sample is due', () => {
    const waiting = decide(analysed({ maxErrorRate: 0.05 }), running(0, 0), 10);
    expect(waiting.rollout).to.include({ phase: 'Progressing', step: 0 });
    expect(waiting.requeueAfterMs).to.equal(50_000);
    expect(nextSampleAt(analysed({ maxErrorRate: 0.05 }), waiting.rollout, waiting.analysis)).to.equal(T0 + 60_000);
    const advanced = decide(analysed({ maxErrorRate: 0.05 }), running(0, 0), 60, pass);
    expect(advanced.rollout).to.include({ step: 1 });
    expect(advanced.weights).to.deep.equal({ stable: 50, candidate: 50 });
    expect(advanced.analysis).to.include({ failures: 0, passedStep: 0, verdict: 'Pass', lastSampleAt: stamp(60) });
  });

  it('a step with a pause needs both its pause and a passing sample taken during it', () => {
    const early = decide(analysed({ maxErrorRate: 0.05 }), running(1, 0), 60, pass);
    expect(early.rollout).to.include({ step: 1 }); // sampled and passed, pause (2m) not over
    const paused = decide(analysed({ maxErrorRate: 0.05 }), running(1, 0, early.analysis), 121);
    expect(paused.rollout.phase, 'pause over, sample passed: promoted').to.equal('Stable');
    expect(paused.stableRevision).to.equal(B);
    const stale = decide(analysed({ maxErrorRate: 0.05 }), running(1, 0, { failures: 0, passedStep: 0, lastSampleAt: stamp(-10) }), 121);
    expect(stale.rollout, 'a pass from an earlier step does not count').to.include({ phase: 'Progressing', step: 1 });
  });

  it('failureLimit failed samples roll back to stable with the measured values; fewer only count', () => {
    const once = decide(analysed({ maxErrorRate: 0.05, failureLimit: 2 }), running(0, 0), 60, fail);
    expect(once.rollout).to.include({ phase: 'Progressing', step: 0 });
    expect(once.analysis).to.include({ failures: 1, verdict: 'Fail' });
    const twice = decide(analysed({ maxErrorRate: 0.05, failureLimit: 2 }), running(0, 0, once.analysis), 120, fail);
    expect(twice.rollout).to.include({ phase: 'Aborted', abortedRevision: B, abortReason: 'AnalysisFailed' });
    expect(twice.rollout.message).to.match(/analysis failed 2 time\(s\): error-rate 0.3 \(<= 0.05\)/);
    expect(twice.weights).to.deep.equal({ stable: 100, candidate: 0 });
    expect(twice.candidateRevision).to.equal(undefined);
    expect(twice.events.map((e) => [e.type, e.reason])).to.deep.equal([['Warning', 'AnalysisFailed']]);
    const after = nextRollout({ spec: analysed({ maxErrorRate: 0.05 }), desiredRevision: B, previous: twice, candidateReady: true, commands: {}, now: at(200) });
    expect(after.rollout, 'not retried until the spec changes').to.include({ phase: 'Aborted', abortReason: 'AnalysisFailed' });
    expect(after.analysis, 'the failing sample stays visible').to.deep.equal(twice.analysis);
  });

  it('an inconclusive sample holds the step (Hold) or counts as a failure (Fail)', () => {
    const held = decide(analysed({ maxErrorRate: 0.05 }), running(0, 0), 60, unknown);
    expect(held.rollout).to.include({ phase: 'Progressing', step: 0 });
    expect(held.analysis).to.include({ failures: 0, verdict: 'Inconclusive' });
    const failed = decide(analysed({ maxErrorRate: 0.05, onInconclusive: 'Fail' }), running(0, 0), 60, unknown);
    expect(failed.rollout).to.include({ phase: 'Aborted', abortReason: 'AnalysisFailed' });
  });

  it('a new candidate starts with a clean record; a manual promote still advances past a step', () => {
    const fresh = nextRollout({ spec: analysed({ maxErrorRate: 0.05 }), desiredRevision: 'ccccccc', previous: running(1, 0, { failures: 1 }), candidateReady: true, commands: {}, now: at(10) });
    expect(fresh.analysis).to.deep.equal({ failures: 0 });
    const promoted = nextRollout({ spec: analysed({ maxErrorRate: 0.05 }), desiredRevision: B, previous: running(0, 0), candidateReady: true, commands: { promote: true }, now: at(10) });
    expect(promoted.rollout).to.include({ step: 1 });
  });
});
