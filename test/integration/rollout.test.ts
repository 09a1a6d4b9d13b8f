import type { KubernetesObject } from '@kubernetes/client-node';
import { expect } from 'chai';
import { plane } from './context.ts';
import { eventually } from '../support/eventually.ts';
import { istioAnalyze } from '../support/istioctl.ts';
import { installOptionalCrds, uninstallOptionalCrds } from '../support/optional-crds.ts';
import { startOperator, type OperatorProcess } from '../support/operator-process.ts';
import { startMeshStandIn, type MeshRules } from '../support/mesh-standin.ts';
import { sampleSum } from '../support/prometheus-text.ts';
import { fraudRequest, modelPath, postJson, startTestRuntime } from '../runtime/helpers.ts';

interface Condition { type: string; status: string; reason: string; message: string }
interface RolloutStatus { phase: string; step?: number; abortedRevision?: string; message?: string }
interface MdObject extends KubernetesObject {
  status?: {
    conditions?: Condition[];
    revision?: string;
    stableRevision?: string;
    candidateRevision?: string;
    weights?: { stable: number; candidate: number };
    rollout?: RolloutStatus;
    retiring?: { revision: string; scaleDownAt: string }[];
  };
}
interface Deployment extends KubernetesObject { spec: { replicas?: number; selector: { matchLabels: Record<string, string> } } }
interface Route { destination: { subset: string }; weight?: number }
interface VirtualService extends KubernetesObject {
  spec: { hosts: string[]; http: { name: string; match?: unknown[]; route: Route[]; mirror?: { subset: string }; mirrorPercentage?: { value: number } }[] };
}
interface DestinationRule extends KubernetesObject { spec: { subsets: { name: string; labels: Record<string, string> }[] } }

const namespace = `rollout-${Date.now().toString(36)}`;
const kubectl = (args: string[], stdin?: string) => plane().running.kubectl(args, stdin);
const json = async <T>(args: string[]): Promise<T> => JSON.parse(await kubectl([...args, '-o', 'json'])) as T;
const getMd = (name: string) => json<MdObject>(['get', 'modeldeployments.modelship.io', name, '-n', namespace]);
const get = <T>(kind: string, name: string) => json<T>(['get', kind, name, '-n', namespace]);
const names = async (kind: string) => (await kubectl(['get', kind, '-n', namespace, '-o', 'name'])).split('\n').filter(Boolean).map((line) => line.split('/')[1] ?? '').sort();
const condition = (md: MdObject, type: string) => md.status?.conditions?.find((c) => c.type === type);
const annotate = (name: string, annotation: string) => kubectl(['annotate', '--overwrite', 'modeldeployments.modelship.io', name, '-n', namespace, annotation]);
const apply = (name: string, spec: Record<string, unknown>) => kubectl(
  ['apply', '--server-side', '--field-manager=test-user', '-f', '-'],
  JSON.stringify({ apiVersion: 'modelship.io/v1alpha1', kind: 'ModelDeployment', metadata: { name, namespace }, spec }),
);

const model = (version: string) => ({
  uri: `https://models.example.com/fraud/v${version}/model.onnx`,
  sha256: String(version).repeat(64).slice(0, 64),
  version,
});

/** Waits for a rollout state and returns the ModelDeployment then. */
async function until(name: string, check: (md: MdObject) => void, timeoutMs = 60_000): Promise<MdObject> {
  return eventually(async () => {
    const md = await getMd(name);
    check(md);
    return md;
  }, { timeoutMs });
}

describe('rollouts against the real control plane (Canary, BlueGreen, ABTest, Mirror)', function () {
  this.timeout(300_000);
  let operator: OperatorProcess;

  before(async function () {
    this.timeout(1_800_000);
    await kubectl(['apply', '--server-side', '-f', 'crds/']);
    await kubectl(['wait', '--for=condition=Established', 'crd/modeldeployments.modelship.io', '--timeout=60s']);
    await kubectl(['create', 'namespace', namespace]);
    // Istio's CRDs are not installed yet: the operator must start and serve without them.
    operator = await startOperator(plane().kubeconfigPath, 'operator-rollout', { MODELSHIP_DISCOVERY_INTERVAL_SECONDS: '2', MODELSHIP_WATCH_NAMESPACE: namespace });
  });

  after(async function () {
    this.timeout(420_000);
    await operator?.stop();
    await kubectl(['delete', 'namespace', namespace, '--wait=false']);
    // Later suites start, as this one did, on a cluster without Istio.
    await uninstallOptionalCrds(kubectl, 'istio');
  });

  it('without Istio: a canary is approximated by replica counts, a step without a pause waits for promote, and status says routing is approximate', async () => {
    const spec = (version: string) => ({
      model: model(version),
      replicas: 4,
      rollout: { strategy: 'Canary', canary: { steps: [{ weight: 25, pause: '2s' }, { weight: 50 }] } },
    });
    await apply('canary', spec('1'));
    const first = await until('canary', (md) => {
      expect(condition(md, 'Ready')?.status, JSON.stringify(md.status)).to.equal('True');
      expect(md.status?.rollout?.phase).to.equal('Stable');
    });
    const stable = first.status?.stableRevision ?? '';
    expect(stable).to.have.length(7);
    expect(await names('deployments')).to.deep.equal([`canary-${stable}`]);
    expect(await names('controllerrevisions')).to.deep.equal([`canary-${stable}`]);
    expect(condition(first, 'TrafficRouting')).to.include({ status: 'False', reason: 'IstioNotInstalled' });

    await apply('canary', spec('2'));
    const waiting = await until('canary', (md) => {
      expect(md.status?.rollout, JSON.stringify(md.status)).to.include({ phase: 'WaitingForPromotion', step: 1 });
      // Without a router the weights are the ready pods' split: 50/50 once the candidate's second pod is ready.
      expect(md.status?.weights, JSON.stringify(md.status)).to.deep.equal({ stable: 50, candidate: 50 });
    });
    const candidate = waiting.status?.candidateRevision ?? '';
    expect(candidate).to.not.equal(stable);
    expect((await get<Deployment>('deployment', `canary-${candidate}`)).spec.replicas).to.equal(2);
    expect((await get<Deployment>('deployment', `canary-${stable}`)).spec.replicas).to.equal(2);
    expect(condition(waiting, 'Progressing')).to.include({ status: 'True', reason: 'WaitingForPromotion' });
    // The Service spans both revisions: the replica ratio is the traffic split.
    expect((await get<{ spec: { selector: Record<string, string> } }>('service', 'canary')).spec.selector).to.deep.equal({ 'modelship.io/model-deployment': 'canary' });

    await annotate('canary', 'modelship.io/promote=true');
    const promoted = await until('canary', (md) => {
      expect(md.status?.stableRevision, JSON.stringify(md.status)).to.equal(candidate);
      expect(md.status?.candidateRevision).to.equal(undefined);
      expect(md.metadata?.annotations?.['modelship.io/promote'], 'the operator clears the command it acted on').to.equal(undefined);
    });
    expect(promoted.status?.weights).to.deep.equal({ stable: 100, candidate: 0 });
    // Promoted once at full size; nothing could keep the old revision's pods from taking traffic, so it goes at once.
    expect((await get<Deployment>('deployment', `canary-${candidate}`)).spec.replicas).to.equal(4);
    expect(promoted.status?.retiring).to.equal(undefined);
    await eventually(async () => expect(await names('deployments')).to.deep.equal([`canary-${candidate}`]), { timeoutMs: 10_000 });
    expect(await names('controllerrevisions')).to.deep.equal([`canary-${stable}`, `canary-${candidate}`].sort());
  });

  it('Istio CRDs installed while the operator runs: VirtualService and DestinationRule appear without a restart, and istioctl analyze finds nothing wrong', async function () {
    this.timeout(1_800_000);
    await installOptionalCrds(kubectl, 'istio');
    await eventually(async () => {
      const md = await getMd('canary');
      expect(condition(md, 'TrafficRouting'), JSON.stringify(md.status)).to.include({ status: 'True', reason: 'IstioRouting' });
      const vs = await get<VirtualService>('virtualservices.networking.istio.io', 'canary');
      expect(vs.spec.http.at(-1)?.route.map((r) => [r.destination.subset, r.weight])).to.deep.equal([['stable', 100]]);
      // Inside the wait: discovery may find networking.istio.io a poll before security.istio.io.
      const peer = await get<{ spec: { selector: { matchLabels: Record<string, string> }; mtls: { mode: string } } }>('peerauthentications.security.istio.io', 'canary');
      expect(peer.spec).to.deep.equal({ selector: { matchLabels: { 'modelship.io/model-deployment': 'canary' } }, mtls: { mode: 'STRICT' } });
    }, { timeoutMs: 60_000 });
    const findings = await istioAnalyze(plane().kubeconfigPath, namespace);
    expect(findings.filter((f) => f.level !== 'Info'), JSON.stringify(findings)).to.deep.equal([]);
  });

  it('through Istio: exact weights per step (checked through a stand-in data plane, not Envoy), stable keeps its full size, abort sends everything back and is not retried', async () => {
    const spec = (version: string) => ({
      model: model(version),
      replicas: 4,
      rollout: { strategy: 'Canary', canary: { steps: [{ weight: 10 }, { weight: 60 }] } },
    });
    await apply('canary', spec('3'));
    const started = await until('canary', (md) => expect(md.status?.rollout, JSON.stringify(md.status)).to.include({ phase: 'WaitingForPromotion', step: 0 }));
    const stable = started.status?.stableRevision ?? '';
    const candidate = started.status?.candidateRevision ?? '';
    expect(started.status?.weights).to.deep.equal({ stable: 90, candidate: 10 });
    const vs = await get<VirtualService>('virtualservices.networking.istio.io', 'canary');
    expect(vs.spec.http.at(-1)?.route.map((r) => [r.destination.subset, r.weight])).to.deep.equal([['stable', 90], ['candidate', 10]]);
    const dr = await get<DestinationRule>('destinationrules.networking.istio.io', 'canary');
    expect(dr.spec.subsets.map((s) => [s.name, s.labels['modelship.io/revision']])).to.deep.equal([['stable', stable], ['candidate', candidate]]);
    expect((await get<Deployment>('deployment', `canary-${stable}`)).spec.replicas).to.equal(4);
    expect((await get<Deployment>('deployment', `canary-${candidate}`)).spec.replicas).to.equal(1);
    const findings = await istioAnalyze(plane().kubeconfigPath, namespace);
    expect(findings.filter((f) => f.level !== 'Info'), JSON.stringify(findings)).to.deep.equal([]);

    // Stand-in data plane (NOT Envoy): real runtimes for the two revisions behind a proxy that
    // routes as the operator's VirtualService and DestinationRule say.
    const runtimes = await Promise.all([stable, candidate].map((revision) =>
      startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelName: 'canary', revision })));
    const rules = { virtualService: vs, destinationRule: dr } as unknown as MeshRules;
    const mesh = await startMeshStandIn(async () => rules, new Map([[stable, runtimes[0]!.url], [candidate, runtimes[1]!.url]]));
    try {
      for (let i = 0; i < 100; i += 1) {
        const { status } = await postJson(`${mesh.url}/v2/models/canary/infer`, fraudRequest(1, i));
        expect(status).to.equal(200);
      }
      const served = await Promise.all(runtimes.map(async (runtime) => sampleSum(await (await fetch(`${runtime.url}/metrics`)).text(), 'prediction_latency_seconds_count')));
      expect(served, 'requests answered by stable, candidate').to.deep.equal([90, 10]);
    } finally {
      await mesh.close();
      await Promise.all(runtimes.map((runtime) => runtime.close()));
    }

    await annotate('canary', 'modelship.io/abort=true');
    const aborted = await until('canary', (md) => {
      expect(md.status?.rollout, JSON.stringify(md.status)).to.include({ phase: 'Aborted', abortedRevision: candidate });
      expect(md.metadata?.annotations?.['modelship.io/abort']).to.equal(undefined);
    });
    expect(aborted.status?.stableRevision).to.equal(stable);
    expect(condition(aborted, 'Degraded')).to.include({ status: 'True', reason: 'RolloutAborted' });
    await eventually(async () => {
      expect(await names('deployments')).to.not.include(`canary-${candidate}`);
      const routes = (await get<VirtualService>('virtualservices.networking.istio.io', 'canary')).spec.http.at(-1)?.route;
      expect(routes?.map((r) => [r.destination.subset, r.weight])).to.deep.equal([['stable', 100]]);
    });
  });

  it('a paused canary holds its step past the pause; the operator killed mid-rollout resumes at the same step with no weight jump and no duplicates', async () => {
    const spec = (version: string) => ({
      model: model(version),
      replicas: 2,
      rollout: { strategy: 'Canary', canary: { steps: [{ weight: 20, pause: '3s' }, { weight: 40, pause: '1h' }] } },
    });
    await annotate('canary', 'modelship.io/paused=true');
    await apply('canary', spec('4'));
    await until('canary', (md) => expect(md.status?.rollout, JSON.stringify(md.status)).to.include({ phase: 'Paused', step: 0 }));
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect((await getMd('canary')).status?.rollout).to.include({ phase: 'Paused', step: 0 });

    await kubectl(['annotate', 'modeldeployments.modelship.io', 'canary', '-n', namespace, 'modelship.io/paused-']);
    const second = await until('canary', (md) => expect(md.status?.rollout, JSON.stringify(md.status)).to.include({ phase: 'Progressing', step: 1 }));
    expect(second.status?.weights).to.deep.equal({ stable: 60, candidate: 40 });

    await operator.stop('SIGKILL');
    operator = await startOperator(plane().kubeconfigPath, 'operator-rollout-2', { MODELSHIP_DISCOVERY_INTERVAL_SECONDS: '2', MODELSHIP_WATCH_NAMESPACE: namespace });
    // The new operator takes over once the killed one's lease runs out, then reconciles everything.
    await eventually(async () => expect(await operator.metric('modelship_reconcile_total')).to.be.greaterThan(0), { timeoutMs: 90_000 });
    const resumed = await getMd('canary');
    expect(resumed.status?.rollout).to.include({ phase: 'Progressing', step: 1, stepStartedAt: second.status?.rollout && (second.status.rollout as { stepStartedAt?: string }).stepStartedAt });
    expect(resumed.status?.weights).to.deep.equal({ stable: 60, candidate: 40 });
    const routes = (await get<VirtualService>('virtualservices.networking.istio.io', 'canary')).spec.http.at(-1)?.route;
    expect(routes?.map((r) => r.weight)).to.deep.equal([60, 40]);
    expect(await names('virtualservices.networking.istio.io')).to.deep.equal(['canary']);
    await annotate('canary', 'modelship.io/promote=full');
    await until('canary', (md) => expect(md.status?.rollout?.phase, JSON.stringify(md.status)).to.equal('Stable'));
  });

  it('blue/green previews the new revision on <name>-preview, switches at once on promotion and removes the old revision after the scale-down delay', async () => {
    const spec = (version: string) => ({
      model: model(version),
      replicas: 2,
      revisionHistoryLimit: 2,
      rollout: { strategy: 'BlueGreen', blueGreen: { autoPromote: false, scaleDownDelaySeconds: 2 } },
    });
    await apply('bg', spec('1'));
    const blue = (await until('bg', (md) => expect(condition(md, 'Ready')?.status, JSON.stringify(md.status)).to.equal('True'))).status?.stableRevision ?? '';
    await apply('bg', spec('2'));
    const waiting = await until('bg', (md) => expect(md.status?.rollout?.phase, JSON.stringify(md.status)).to.equal('WaitingForPromotion'));
    const green = waiting.status?.candidateRevision ?? '';
    const preview = await get<{ spec: { selector: Record<string, string> } }>('service', 'bg-preview');
    expect(preview.spec.selector['modelship.io/revision']).to.equal(green);
    const vs = await get<VirtualService>('virtualservices.networking.istio.io', 'bg');
    expect(vs.spec.http.at(-1)?.route.map((r) => r.destination.subset)).to.deep.equal(['stable']);

    await annotate('bg', 'modelship.io/promote=true');
    await until('bg', (md) => expect(md.status?.stableRevision, JSON.stringify(md.status)).to.equal(green));
    await eventually(async () => {
      expect(await names('deployments')).to.not.include(`bg-${blue}`);
      expect(await names('services')).to.not.include('bg-preview');
    }, { timeoutMs: 30_000 });
    const dr = await get<DestinationRule>('destinationrules.networking.istio.io', 'bg');
    expect(dr.spec.subsets.map((s) => s.labels['modelship.io/revision'])).to.deep.equal([green]);

    // revisionHistoryLimit 2: a third revision pushes the oldest record out.
    await apply('bg', spec('3'));
    await until('bg', (md) => expect(md.status?.rollout?.phase).to.equal('WaitingForPromotion'));
    await eventually(async () => expect((await names('controllerrevisions')).filter((n) => n.startsWith('bg-'))).to.have.length(2));
    expect(await names('controllerrevisions')).to.not.include(`bg-${blue}`);
  });

  it('A/B tests route matching requests to the candidate, mirroring shadows a share of live traffic; both accepted by Istio and istioctl analyze', async () => {
    await apply('ab', { model: model('1'), replicas: 1, rollout: { strategy: 'ABTest', abTest: { header: { name: 'x-model-variant', value: 'b' } } } });
    await apply('mirror', { model: model('1'), replicas: 1, rollout: { strategy: 'Mirror', mirror: { percent: 30 } } });
    await until('ab', (md) => expect(md.status?.stableRevision).to.have.length(7));
    await until('mirror', (md) => expect(md.status?.stableRevision).to.have.length(7));
    await apply('ab', { model: model('2'), replicas: 1, rollout: { strategy: 'ABTest', abTest: { header: { name: 'x-model-variant', value: 'b' } } } });
    await apply('mirror', { model: model('2'), replicas: 1, rollout: { strategy: 'Mirror', mirror: { percent: 30 } } });
    await until('ab', (md) => expect(md.status?.rollout?.phase, JSON.stringify(md.status)).to.equal('WaitingForPromotion'));
    await until('mirror', (md) => expect(md.status?.rollout?.phase, JSON.stringify(md.status)).to.equal('WaitingForPromotion'));
    const ab = await get<VirtualService>('virtualservices.networking.istio.io', 'ab');
    expect(ab.spec.http.map((route) => route.name)).to.deep.equal(['ab-candidate-http', 'primary-http', 'ab-candidate-grpc', 'primary-grpc']);
    expect(ab.spec.http[0]?.match).to.deep.equal([{ headers: { 'x-model-variant': { exact: 'b' } }, port: 8080 }]);
    expect(ab.spec.http[0]?.route.map((r) => r.destination.subset)).to.deep.equal(['candidate']);
    const mirror = await get<VirtualService>('virtualservices.networking.istio.io', 'mirror');
    expect(mirror.spec.http[0]?.mirror?.subset).to.equal('candidate');
    expect(mirror.spec.http[0]?.mirrorPercentage).to.deep.equal({ value: 30 });
    expect(mirror.spec.http[0]?.route.map((r) => [r.destination.subset, r.weight])).to.deep.equal([['stable', 100]]);
    const findings = await istioAnalyze(plane().kubeconfigPath, namespace);
    expect(findings.filter((f) => f.level !== 'Info'), JSON.stringify(findings)).to.deep.equal([]);
  });
});
