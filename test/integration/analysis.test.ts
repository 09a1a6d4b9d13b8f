import type { KubernetesObject } from '@kubernetes/client-node';
import { expect } from 'chai';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunningRuntime } from '../../runtime/server.ts';
import { fraudRequest, modelPath, postJson, seededFloats, startTestRuntime } from '../runtime/helpers.ts';
import { ensurePython, runPython } from '../runtime/python.ts';
import { eventually } from '../support/eventually.ts';
import { startPrometheus, type PrometheusServer } from '../support/prometheus-server.ts';
import { startOperator, type OperatorProcess } from '../support/operator-process.ts';
import { plane } from './context.ts';

interface Check { name: string; verdict: string; value?: number; threshold: string }
interface MdObject extends KubernetesObject {
  status?: {
    stableRevision?: string;
    candidateRevision?: string;
    weights?: { stable: number; candidate: number };
    rollout?: { phase: string; step?: number; stepStartedAt?: string; abortedRevision?: string; abortReason?: string; message?: string };
    analysis?: { failures: number; verdict?: string; lastSampleAt?: string; checks?: Check[] };
    conditions?: { type: string; status: string; reason: string; message: string }[];
  };
}

const namespace = `analysis-${Date.now().toString(36)}`;
const kubectl = (args: string[], stdin?: string) => plane().running.kubectl(args, stdin);
const getMd = async (name: string) => JSON.parse(await kubectl(['get', 'modeldeployments.modelship.io', name, '-n', namespace, '-o', 'json'])) as MdObject;

/** Real runtimes standing for each revision's pods (KWOK pods run no containers), scraped by a real Prometheus. */
type Payload = (seed: number) => Record<string, unknown>;
/** What clients send: one fraud-shaped row. */
const fraudRow: Payload = (seed) => fraudRequest(1, seed);

class RevisionPods {
  private readonly runtimes = new Map<string, { runtime: RunningRuntime; payload: Payload }>();
  private load: Promise<void> | undefined;
  private stopped = false;
  constructor(private readonly targetsFile: string) {}

  /** `model` is what the revision's pods would load (a path or an example model's file name); `payload` what its clients send. */
  async start(revision: string, model: string, payload: Payload = fraudRow): Promise<void> {
    const runtime = await startTestRuntime({ modelUri: model.startsWith('/') ? model : modelPath(model), modelName: 'fraud', revision, maxBodyBytes: String(8 << 20) });
    this.runtimes.set(revision, { runtime, payload });
    await writeFile(this.targetsFile, JSON.stringify([{ targets: [...this.runtimes.values()].map((r) => new URL(r.runtime.url).host), labels: { namespace } }]));
  }

  /** Client traffic to every revision, one client per revision (a slow one does not hold the others back), bounded in time and count. */
  startLoad(): void {
    this.stopped = false;
    const deadline = Date.now() + 240_000;
    const clients = new Map<string, Promise<void>>();
    const client = async (revision: string) => {
      for (let i = 0; i < 50_000 && !this.stopped && Date.now() < deadline; i += 1) {
        const target = this.runtimes.get(revision);
        if (!target) return;
        await postJson(`${target.runtime.url}/v2/models/fraud/infer`, target.payload(i)).catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    this.load = (async () => {
      // Revisions started later get their client as they appear.
      while (!this.stopped && Date.now() < deadline) {
        for (const revision of this.runtimes.keys()) if (!clients.has(revision)) clients.set(revision, client(revision));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await Promise.all(clients.values());
    })();
  }

  async stopLoad(): Promise<void> {
    this.stopped = true;
    await this.load;
  }

  async close(): Promise<void> {
    await this.stopLoad();
    await Promise.all([...this.runtimes.values()].map(({ runtime }) => runtime.close()));
  }
}

describe('metric-gated canary analysis (real Prometheus scraping real runtimes)', function () {
  this.timeout(300_000);
  let operator: OperatorProcess;
  let prometheus: PrometheusServer;
  let promUrl: string;
  let pods: RevisionPods;

  const spec = (version: string, analysis: Record<string, unknown> = {}) => ({
    model: { uri: `https://models.example.com/fraud/v${version}/model.onnx`, sha256: version.repeat(64).slice(0, 64), version },
    replicas: 2,
    rollout: {
      strategy: 'Canary',
      canary: { steps: [{ weight: 20 }, { weight: 50 }] },
      analysis: { prometheus: promUrl, interval: '4s', failureLimit: 1, minRequests: 20, maxErrorRate: 0.05, ...analysis },
    },
  });
  const apply = (version: string, analysis?: Record<string, unknown>) => kubectl(['apply', '--server-side', '--field-manager=test-user', '-f', '-'],
    JSON.stringify({ apiVersion: 'modelship.io/v1alpha1', kind: 'ModelDeployment', metadata: { name: 'fraud', namespace }, spec: spec(version, analysis) }));

  before(async function () {
    this.timeout(600_000);
    // Targets come and go as revisions start: file-based discovery, as a pod scrape job would find them.
    prometheus = await startPrometheus((dir) => [{ job_name: 'modelship-runtime', file_sd_configs: [{ files: [join(dir, 'targets.json')], refresh_interval: '1s' }] }]);
    promUrl = prometheus.url;
    const targets = join(prometheus.dir, 'targets.json');
    await writeFile(targets, '[]');
    pods = new RevisionPods(targets);

    await kubectl(['apply', '--server-side', '-f', 'crds/']);
    await kubectl(['wait', '--for=condition=Established', 'crd/modeldeployments.modelship.io', '--timeout=60s']);
    await kubectl(['create', 'namespace', namespace]);
    operator = await startOperator(plane().kubeconfigPath, 'operator-analysis', { MODELSHIP_WATCH_NAMESPACE: namespace });
    await apply('1');
    const stable = await eventually(async () => {
      const md = await getMd('fraud');
      expect(md.status?.stableRevision, JSON.stringify(md.status)).to.have.length(7);
      return md.status?.stableRevision ?? '';
    });
    await pods.start(stable, 'fraud-fp32.onnx');
    pods.startLoad();
  });

  after(async () => {
    await operator?.stop();
    await kubectl(['delete', 'namespace', namespace, '--wait=false']);
    await pods?.close();
    await prometheus?.close();
  });

  /** Rolls out `version`, served by `model` (what the new revision's pods would load), and returns the candidate revision. */
  async function rollOut(version: string, model: string, analysis?: Record<string, unknown>, payload?: Payload): Promise<string> {
    await apply(version, analysis);
    const candidate = await eventually(async () => {
      const md = await getMd('fraud');
      expect(md.status?.candidateRevision, JSON.stringify(md.status)).to.have.length(7);
      return md.status?.candidateRevision ?? '';
    });
    await pods.start(candidate, model, payload);
    return candidate;
  }

  it('a healthy candidate passes a sample at every step and is promoted', async () => {
    const candidate = await rollOut('2', 'fraud-int8-qdq.onnx');
    const promoted = await eventually(async () => {
      const md = await getMd('fraud');
      expect(md.status?.stableRevision, JSON.stringify(md.status)).to.equal(candidate);
      return md;
    }, { timeoutMs: 90_000 });
    expect(promoted.status?.weights).to.deep.equal({ stable: 100, candidate: 0 });
    // Events are written in the background, just after the status that caused them.
    await eventually(async () => {
      const events = await kubectl(['get', 'events', '-n', namespace, '--field-selector', 'involvedObject.name=fraud', '-o', 'jsonpath={.items[*].reason}']);
      expect(events).to.include('CanaryStep').and.to.include('RolloutPromoted');
      expect(events).to.not.include('AnalysisFailed');
    });
  });

  it('a candidate that fails requests is rolled back after failureLimit samples, with the numbers in status and a Warning event', async () => {
    // The new model expects 64 features; clients still send 30: every request to it fails (400).
    const candidate = await rollOut('3', 'wide-mlp-fp32.onnx');
    const started = Date.now();
    const rolledBack = await eventually(async () => {
      const md = await getMd('fraud');
      expect(md.status?.rollout, JSON.stringify(md.status)).to.include({ phase: 'Aborted', abortedRevision: candidate, abortReason: 'AnalysisFailed' });
      return md;
    }, { timeoutMs: 90_000 });
    const seconds = (Date.now() - started) / 1000;
    console.log(`      rolled back ${seconds.toFixed(1)} s after the candidate's pods started serving (analysis interval 4 s)`);
    expect(rolledBack.status?.weights).to.deep.equal({ stable: 100, candidate: 0 });
    const errorRate = rolledBack.status?.analysis?.checks?.find((check) => check.name === 'error-rate');
    expect(errorRate).to.include({ verdict: 'Fail', threshold: '<= 0.05' });
    expect(errorRate?.value).to.be.greaterThan(0.5);
    const degraded = rolledBack.status?.conditions?.find((c) => c.type === 'Degraded');
    expect(degraded).to.include({ status: 'True', reason: 'AnalysisFailed' });
    expect(degraded?.message).to.match(/error-rate 1 \(<= 0\.05\)/);
    await eventually(async () => {
      const warnings = await kubectl(['get', 'events', '-n', namespace, '--field-selector', 'involvedObject.name=fraud,type=Warning', '-o', 'jsonpath={.items[*].reason}']);
      expect(warnings).to.include('AnalysisFailed');
    });
  });

  /** Waits for the rollback of `candidate` by analysis and returns the failed check named `check`. */
  async function rolledBackOn(candidate: string, check: string): Promise<{ value?: number; threshold: string; verdict: string }> {
    const md = await eventually(async () => {
      const current = await getMd('fraud');
      expect(current.status?.rollout, JSON.stringify(current.status)).to.include({ phase: 'Aborted', abortedRevision: candidate, abortReason: 'AnalysisFailed' });
      return current;
    }, { timeoutMs: 90_000 });
    expect(md.status?.weights).to.deep.equal({ stable: 100, candidate: 0 });
    const failed = md.status?.analysis?.checks?.find((entry) => entry.name === check);
    expect(failed, JSON.stringify(md.status?.analysis)).to.include({ verdict: 'Fail' });
    return failed as { value?: number; threshold: string; verdict: string };
  }

  it('a genuinely heavier candidate model (its p99 prediction_latency above the bound) is rolled back', async () => {
    // The new model is a wide MLP its clients call with 512 rows per request: every answer takes several
    // times the bound even on a fast machine (about 70 ms here), the stable one's well under it.
    const wideRows: Payload = (seed) => ({ inputs: [{ name: 'features', datatype: 'FP32', shape: [512, 64], data: seededFloats(seed, 512 * 64, 2) }] });
    const candidate = await rollOut('5', 'wide-mlp-fp32.onnx', { maxP99LatencyMs: 10 }, wideRows);
    const p99 = await rolledBackOn(candidate, 'p99-latency-ms');
    console.log(`      candidate p99 ${p99.value} ms against a bound of 10 ms`);
    expect(p99.threshold).to.equal('<= 10');
    expect(p99.value).to.be.greaterThan(10);
  });

  it('a candidate whose share of predicted fraud drifts from the stable revision beyond the bound is rolled back, however fast and error-free', async () => {
    const python = await ensurePython();
    const model = join(prometheus.dir, 'trigger-happy.onnx');
    await runPython(python, ['test/integration/build_drift_model.py', model]);
    const candidate = await rollOut('6', model, { maxClassShareRatio: 1.5, maxErrorRate: 0.05 });
    const share = await rolledBackOn(candidate, 'class-share');
    console.log(`      worst class-share ratio ${share.value} against a bound of 1.5`);
    expect(share.threshold).to.equal('<= 1.5x either way');
    expect(share.value).to.be.greaterThan(1.5);
  });

  it('an operator killed between analysis samples resumes at the same step: no step lost or repeated', async () => {
    const candidate = await rollOut('7', 'fraud-int8-qoperator.onnx');
    const between = await eventually(async () => {
      const md = await getMd('fraud');
      expect(md.status?.rollout, JSON.stringify(md.status)).to.include({ step: 1 });
      return md;
    }, { timeoutMs: 60_000 });
    expect(between.status?.analysis).to.include({ passedStep: 0, failures: 0 });

    await operator.stop('SIGKILL');
    operator = await startOperator(plane().kubeconfigPath, 'operator-analysis-2', { MODELSHIP_WATCH_NAMESPACE: namespace });
    // The new operator leads once the killed one's lease runs out; its first pass samples at once (overdue) and goes on from step 2.
    await eventually(async () => {
      const md = await getMd('fraud');
      expect(md.status?.stableRevision, JSON.stringify(md.status)).to.equal(candidate);
    }, { timeoutMs: 120_000 });
    await eventually(async () => {
      const messages = (await kubectl(['get', 'events', '-n', namespace, '--field-selector', 'involvedObject.name=fraud,reason=CanaryStep', '-o', 'jsonpath={range .items[*]}{.message}{"\\n"}{end}']))
        .split('\n').filter((line) => line.includes(candidate));
      expect(messages, 'step 2 announced exactly once').to.deep.equal([`step 2/2: 50% on revision ${candidate}`]);
    });
  });

  it('two ModelDeployments of the same spec never share a revision: one canary failing is rolled back, the other, on the same model, is promoted', async () => {
    const applyAs = (name: string, version: string) => kubectl(['apply', '--server-side', '--field-manager=test-user', '-f', '-'],
      JSON.stringify({ apiVersion: 'modelship.io/v1alpha1', kind: 'ModelDeployment', metadata: { name, namespace }, spec: spec(version) }));
    const revisionsOf = (name: string, which: 'stableRevision' | 'candidateRevision') => eventually(async () => {
      const md = await getMd(name);
      expect(md.status?.[which], JSON.stringify(md.status)).to.have.length(7);
      return md.status?.[which] ?? '';
    });
    // Fresh load: the clients' time bound counts from here.
    await pods.stopLoad();
    pods.startLoad();
    await applyAs('fraud-twin', '7');
    const twinStable = await revisionsOf('fraud-twin', 'stableRevision');
    const fraudAtSameSpec = await kubectl(['get', 'controllerrevisions', '-n', namespace, '-l', 'modelship.io/model-deployment=fraud,modelship.io/model-version=7',
      '-o', 'jsonpath={.items[*].metadata.labels.modelship\\.io/revision}']);
    expect(fraudAtSameSpec).to.match(/^[0-9a-f]{7}$/);
    expect(twinStable, 'the twin serves the same spec under a revision of its own').to.not.equal(fraudAtSameSpec);
    await pods.start(twinStable, 'fraud-fp32.onnx');

    await applyAs('fraud', '8');
    await applyAs('fraud-twin', '8');
    const [failing, healthy] = await Promise.all([revisionsOf('fraud', 'candidateRevision'), revisionsOf('fraud-twin', 'candidateRevision')]);
    expect(failing).to.not.equal(healthy);
    // fraud's new pods answer every client with a 400 (the model expects 64 features); the twin's serve well.
    await pods.start(failing, 'wide-mlp-fp32.onnx');
    await pods.start(healthy, 'fraud-int8-qdq.onnx');
    await eventually(async () => {
      const md = await getMd('fraud');
      expect(md.status?.rollout, JSON.stringify(md.status)).to.include({ phase: 'Aborted', abortedRevision: failing, abortReason: 'AnalysisFailed' });
    }, { timeoutMs: 90_000 });
    await eventually(async () => {
      const md = await getMd('fraud-twin');
      expect(md.status?.stableRevision, JSON.stringify(md.status)).to.equal(healthy);
    }, { timeoutMs: 90_000 });
    await eventually(async () => {
      const twinEvents = await kubectl(['get', 'events', '-n', namespace, '--field-selector', 'involvedObject.name=fraud-twin', '-o', 'jsonpath={.items[*].reason}']);
      expect(twinEvents, 'the twin counted only its own requests').to.include('RolloutPromoted').and.to.not.include('AnalysisFailed');
    });
  });

  it('too few requests, then a Prometheus that does not answer: inconclusive, and the step is held (onInconclusive: Hold), never passed', async () => {
    await pods.stopLoad();
    await rollOut('4', 'fraud-fp32.onnx', { minRequests: 1_000_000 });
    const held = await eventually(async () => {
      const md = await getMd('fraud');
      expect(md.status?.analysis?.verdict, JSON.stringify(md.status)).to.equal('Inconclusive');
      return md;
    }, { timeoutMs: 60_000 });
    expect(held.status?.rollout).to.include({ phase: 'Progressing', step: 0 });
    expect(held.status?.analysis?.failures).to.equal(0);
    expect(held.status?.analysis?.checks?.[0]).to.include({ name: 'requests', verdict: 'Inconclusive' });
    const progressing = (md: MdObject) => md.status?.conditions?.find((condition) => condition.type === 'Progressing');
    expect(progressing(held), 'kubectl describe shows why the step is held').to.include({ reason: 'TooFewRequests' });
    expect(progressing(held)?.message).to.match(/inconclusive: requests [\d.]+: fewer than 1000000 candidate requests in the interval/);
    const warnings = async (reason: string) => (await kubectl(['get', 'events', '-n', namespace, '--field-selector', `involvedObject.name=fraud,type=Warning,reason=${reason}`, '-o', 'jsonpath={range .items[*]}{.message}{"\\n"}{end}']))
      .split('\n').filter(Boolean);
    await eventually(async () => expect((await warnings('TooFewRequests')).join('\n')).to.match(/fewer than 1000000 candidate requests/));

    await prometheus.stop();
    const firstSample = held.status?.analysis?.lastSampleAt;
    const blind = await eventually(async () => {
      const md = await getMd('fraud');
      expect(md.status?.analysis?.lastSampleAt, JSON.stringify(md.status)).to.not.equal(firstSample);
      expect(md.status?.analysis?.checks?.[0]).to.include({ name: 'prometheus', verdict: 'Inconclusive' });
      return md;
    }, { timeoutMs: 60_000 });
    expect(blind.status?.rollout).to.include({ phase: 'Progressing', step: 0 });
    expect(blind.status?.analysis?.failures).to.equal(0);
    expect(progressing(blind)).to.include({ reason: 'PrometheusUnavailable' });
    expect(progressing(blind)?.message).to.match(/inconclusive: Prometheus at \S+ did not answer: fetch failed$/);
    await eventually(async () => expect((await warnings('PrometheusUnavailable')).join('\n')).to.match(/did not answer: fetch failed/));
  });
});
