import { Watch, type KubernetesObject } from '@kubernetes/client-node';
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { plane } from './context.ts';
import { eventually } from '../support/eventually.ts';
import { ARGOCD_HEALTH_SCRIPT, gitopsHealth, type GitopsVerdicts } from '../support/gitops-health.ts';
import { startOperator, type OperatorProcess } from '../support/operator-process.ts';
import { toolPath } from '../support/test-tools.ts';

interface Condition { type: string; status: string; reason: string; message: string }
interface MdObject extends KubernetesObject {
  status?: { observedGeneration?: number; conditions?: Condition[]; rollout?: { phase: string; step?: number } };
}

const namespace = `gitops-${Date.now().toString(36)}`;
const kubectl = (args: string[], stdin?: string) => plane().running.kubectl(args, stdin);
const getMd = async (name: string) => JSON.parse(await kubectl(['get', 'modeldeployments.modelship.io', name, '-n', namespace, '-o', 'json'])) as MdObject;
const condition = (md: MdObject, type: string) => md.status?.conditions?.find((c) => c.type === type);
const annotate = (name: string, ...annotations: string[]) => kubectl(['annotate', '--overwrite', 'modeldeployments.modelship.io', name, '-n', namespace, ...annotations]);
/** Applies a spec as a GitOps tool would and returns the object the apiserver answered with (before the operator saw it). */
const apply = async (name: string, spec: Record<string, unknown>): Promise<MdObject> => JSON.parse(await kubectl(
  ['apply', '--server-side', '--field-manager=gitops-test', '-o', 'json', '-f', '-'],
  JSON.stringify({ apiVersion: 'modelship.io/v1alpha1', kind: 'ModelDeployment', metadata: { name, namespace }, spec }),
)) as MdObject;
const waitReady = (name: string) => kubectl(['wait', '--for=condition=Ready', `modeldeployments.modelship.io/${name}`, '-n', namespace, '--timeout=90s']);

const model = (version: string) => ({ uri: `https://models.example.com/fraud/v${version}/model.onnx`, sha256: version.repeat(64).slice(0, 64), version });

/** Both tools' verdicts on an object, compact for assertions: "kstatus/argocd". */
async function verdicts(md: MdObject): Promise<string> {
  const { kstatus, argocd } = await gitopsHealth(md);
  return `${kstatus.status}/${argocd.status}`;
}

/** Waits until the ModelDeployment reaches a state, then returns both tools' full verdicts on it. */
async function judgedWhen(name: string, check: (md: MdObject) => void): Promise<{ md: MdObject; health: GitopsVerdicts }> {
  const md = await eventually(async () => {
    const current = await getMd(name);
    check(current);
    return current;
  }, { timeoutMs: 90_000 });
  return { md, health: await gitopsHealth(md) };
}

describe('GitOps health of ModelDeployments from the real plane: kstatus (Flux, cli-utils) and the chart\'s Argo CD Lua check', function () {
  this.timeout(300_000);
  let operator: OperatorProcess | undefined;
  let stopWatch: AbortController | undefined;
  let stopped = false;
  /** Every version of every ModelDeployment in the namespace, as a watch delivered it. */
  const history: MdObject[] = [];
  let watchEnded: unknown;

  /** Watches from the last version seen; restarts when the apiserver ends the watch (e.g. 429 while a new CRD's storage initialises). */
  async function recordHistory(): Promise<void> {
    const resourceVersion = history.at(-1)?.metadata?.resourceVersion;
    stopWatch = await new Watch(plane().kubeConfig).watch(
      `/apis/modelship.io/v1alpha1/namespaces/${namespace}/modeldeployments`,
      resourceVersion ? { resourceVersion } : {},
      (phase, object: MdObject) => { if (phase === 'ADDED' || phase === 'MODIFIED') history.push(object); },
      (error: unknown) => {
        watchEnded = error;
        if (!stopped) setTimeout(() => void recordHistory(), 200);
      },
    );
  }

  before(async function () {
    this.timeout(1_800_000);
    await toolPath('build-gitops-health.sh');
    await kubectl(['apply', '--server-side', '-f', 'crds/']);
    await kubectl(['wait', '--for=condition=Established', 'crd/modeldeployments.modelship.io', '--timeout=60s']);
    await kubectl(['create', 'namespace', namespace]);
    await recordHistory();
  });

  after(async function () {
    this.timeout(120_000);
    stopped = true;
    stopWatch?.abort();
    await operator?.stop();
    await kubectl(['delete', 'namespace', namespace, '--wait=false']);
  });

  it('just created, before the operator reported: observedGeneration 0, so kstatus says InProgress (not Current) and Argo CD Progressing', async () => {
    const created = await apply('plain', { model: model('1'), replicas: 2 });
    expect(created.metadata?.generation).to.equal(1);
    expect(created.status).to.deep.equal({ observedGeneration: 0 });
    const health = await gitopsHealth(created);
    expect(health.kstatus).to.deep.equal({ status: 'InProgress', message: 'ModelDeployment generation is 1, but latest observed generation is 0' });
    expect(health.argocd).to.deep.equal({ status: 'Progressing', message: 'waiting for the operator to observe generation 1' });
  });

  it('being created and starting pods: InProgress/Progressing; fully serving: Current/Healthy, and kubectl wait --for=condition=Ready returns', async () => {
    operator = await startOperator(plane().kubeconfigPath, 'operator-gitops', { MODELSHIP_WATCH_NAMESPACE: namespace });
    await waitReady('plain');
    // Ready comes with the pods; the rollout is done (Reconciling=False) once they count as available
    // (minReadySeconds later), and that is when both tools say Current/Healthy.
    const { health } = await judgedWhen('plain', (md) => expect(condition(md, 'Reconciling')?.status, JSON.stringify(md.status)).to.equal('False'));
    expect(health.kstatus).to.deep.equal({ status: 'Current', message: 'Resource is Ready' });
    expect(health.argocd.status).to.equal('Healthy');
    expect(health.argocd.message).to.match(/^revision [0-9a-f]{7}: 2\/2 replicas ready$/);

    // Every version the operator wrote before that: still working on it, never Current.
    const reported = history.filter((md) => md.metadata?.name === 'plain' && md.status?.observedGeneration === 1);
    const before = reported.slice(0, reported.findIndex((md) => condition(md, 'Ready')?.status === 'True' && condition(md, 'Reconciling')?.status === 'False'));
    expect(before.length, `the operator reports at least once before the pods are ready (watch: ${String(watchEnded)})`).to.be.greaterThan(0);
    for (const md of before) {
      expect(condition(md, 'Reconciling'), JSON.stringify(md.status)).to.include({ status: 'True' });
      expect(await verdicts(md), JSON.stringify(md.status)).to.equal('InProgress/Progressing');
    }
  });

  it('a canary: a spec change not yet observed, a step in progress, paused, aborted (rolled back), a new spec, promoted', async () => {
    const spec = (version: string) => ({ model: model(version), replicas: 2, rollout: { strategy: 'Canary', canary: { steps: [{ weight: 50, pause: '1h' }] } } });
    await apply('canary', spec('1'));
    await waitReady('canary');
    const settled = await judgedWhen('canary', (md) => expect(condition(md, 'Reconciling')?.status, JSON.stringify(md.status)).to.equal('False'));
    expect(`${settled.health.kstatus.status}/${settled.health.argocd.status}`).to.equal('Current/Healthy');

    const changed = await apply('canary', spec('2'));
    expect(changed.metadata?.generation).to.equal(2);
    expect(changed.status?.observedGeneration, 'the apiserver answered before the operator saw the change').to.equal(1);
    const unobserved = await gitopsHealth(changed);
    expect(unobserved.kstatus).to.deep.equal({ status: 'InProgress', message: 'ModelDeployment generation is 2, but latest observed generation is 1' });
    expect(unobserved.argocd.status).to.equal('Progressing');

    const step = await judgedWhen('canary', (md) => expect(md.status?.rollout, JSON.stringify(md.status)).to.deep.include({ phase: 'Progressing', step: 0 }));
    expect(step.health.kstatus.status).to.equal('InProgress');
    expect(step.health.argocd.status).to.equal('Progressing');
    expect(condition(step.md, 'Ready')?.status, 'the stable revision serves meanwhile').to.equal('True');

    await annotate('canary', 'modelship.io/paused=true');
    const paused = await judgedWhen('canary', (md) => expect(md.status?.rollout?.phase).to.equal('Paused'));
    expect(paused.health.kstatus).to.deep.equal({ status: 'InProgress', message: 'paused by modelship.io/paused' });
    expect(paused.health.argocd).to.deep.equal({ status: 'Suspended', message: 'paused by modelship.io/paused' });

    await annotate('canary', 'modelship.io/paused-', 'modelship.io/abort=true');
    await kubectl(['wait', '--for=condition=Stalled', 'modeldeployments.modelship.io/canary', '-n', namespace, '--timeout=90s']);
    const aborted = await judgedWhen('canary', (md) => expect(md.status?.rollout?.phase).to.equal('Aborted'));
    expect(aborted.health.kstatus.status).to.equal('Failed');
    expect(aborted.health.kstatus.message).to.match(/was aborted; change the spec or annotate modelship.io\/retry=true/);
    expect(aborted.health.argocd.status).to.equal('Degraded');
    expect(aborted.health.argocd.message).to.match(/^RolloutAborted: revision [0-9a-f]{7} was aborted/);

    // The fix a GitOps user makes: a new spec. InProgress again at once, then through its step.
    const fixed = await apply('canary', spec('3'));
    expect(await verdicts(fixed)).to.equal('InProgress/Progressing');
    const again = await judgedWhen('canary', (md) => {
      expect(md.status?.observedGeneration).to.equal(3);
      expect(md.status?.rollout, JSON.stringify(md.status)).to.deep.include({ phase: 'Progressing', step: 0 });
    });
    expect(`${again.health.kstatus.status}/${again.health.argocd.status}`).to.equal('InProgress/Progressing');

    await annotate('canary', 'modelship.io/promote=full');
    // kubectl wait skips conditions older than metadata.generation, so this waits for the rollout of generation 3 to finish.
    await kubectl(['wait', '--for=condition=Reconciling=False', 'modeldeployments.modelship.io/canary', '-n', namespace, '--timeout=90s']);
    const promoted = await judgedWhen('canary', (md) => expect(md.status?.rollout?.phase).to.equal('Stable'));
    expect(`${promoted.health.kstatus.status}/${promoted.health.argocd.status}`).to.equal('Current/Healthy');
  });

  it('scaled to zero: nothing serves, so Ready stays False: kstatus InProgress, Argo CD Suspended', async () => {
    await apply('idle', { model: model('1'), replicas: 0 });
    const { health } = await judgedWhen('idle', (md) => expect(condition(md, 'Ready'), JSON.stringify(md.status)).to.include({ status: 'False', reason: 'ScaledToZero' }));
    expect(health.kstatus).to.deep.equal({ status: 'InProgress', message: 'no replicas requested' });
    expect(health.argocd).to.deep.equal({ status: 'Suspended', message: 'ScaledToZero: no replicas requested' });
  });

  it('a child name taken by an object it does not own: Failed/Degraded with the reason', async () => {
    // Someone else's Service, without modelship's labels: the operator's informers never see it, yet it must not be taken over.
    await kubectl(['create', 'service', 'clusterip', 'taken', '--tcp=80:80', '-n', namespace]);
    await apply('taken', { model: model('1'), replicas: 1 });
    const { health } = await judgedWhen('taken', (md) => expect(condition(md, 'Stalled')?.status).to.equal('True'));
    const service = JSON.parse(await kubectl(['get', 'service', 'taken', '-n', namespace, '-o', 'json', '--show-managed-fields'])) as { metadata: { managedFields: { manager: string }[]; ownerReferences?: unknown[] }; spec: { selector?: unknown } };
    expect(service.metadata.managedFields.map((field) => field.manager), 'no field of it applied by the operator').to.not.include('modelship-operator');
    expect(service.metadata.ownerReferences).to.equal(undefined);
    expect(service.spec.selector).to.deep.equal({ app: 'taken' });
    expect(health.kstatus).to.deep.equal({ status: 'Failed', message: 'Service taken exists and is not owned by this ModelDeployment' });
    expect(health.argocd).to.deep.equal({ status: 'Degraded', message: 'ChildConflict: Service taken exists and is not owned by this ModelDeployment' });
  });

  it('a child the apiserver refuses (ResourceQuota allows no more Deployments): Failed/Degraded with the apiserver\'s message', async () => {
    await kubectl(['create', 'quota', 'no-more-deployments', '--hard=count/deployments.apps=0', '-n', namespace]);
    await apply('refused', { model: model('1'), replicas: 1 });
    const { md, health } = await judgedWhen('refused', (current) => expect(condition(current, 'Stalled'), JSON.stringify(current.status)).to.include({ status: 'True', reason: 'ApplyFailed' }));
    expect(health.kstatus.status).to.equal('Failed');
    expect(health.kstatus.message).to.match(/^applying Deployment refused: .*forbidden.*quota/i);
    expect(health.argocd.status).to.equal('Degraded');
    expect(health.argocd.message).to.equal(`ApplyFailed: ${condition(md, 'Stalled')?.message}`);
    await kubectl(['delete', 'quota', 'no-more-deployments', '-n', namespace]);
  });

  it("docs/gitops.md's argocd-cm command adds the chart's health check and keeps the ConfigMap's other keys", async () => {
    const key = 'resource.customizations.health.modelship.io_ModelDeployment';
    await kubectl(['create', 'configmap', 'argocd-cm', '-n', namespace, '--from-literal=url=https://argocd.example.com']);
    const patch = await kubectl(['-n', namespace, 'create', 'configmap', 'argocd-cm', '--dry-run=client', '-o', 'yaml', `--from-file=${key}=${ARGOCD_HEALTH_SCRIPT}`]);
    await kubectl(['-n', namespace, 'apply', '--server-side', '--field-manager=modelship-health', '-f', '-'], patch);
    const { data } = JSON.parse(await kubectl(['get', 'configmap', 'argocd-cm', '-n', namespace, '-o', 'json'])) as { data: Record<string, string> };
    expect(data).to.deep.equal({ url: 'https://argocd.example.com', [key]: await readFile(ARGOCD_HEALTH_SCRIPT, 'utf8') });
  });

  it('on every version the watch saw, kstatus and the Argo CD check agree with the conditions', async () => {
    expect(history.length).to.be.greaterThan(10);
    const seen = new Set<string>();
    for (const md of history) {
      const generationSeen = md.status?.observedGeneration === md.metadata?.generation;
      const stalled = condition(md, 'Stalled')?.status === 'True';
      const reconciling = condition(md, 'Reconciling')?.status === 'True';
      const held = ['Paused', 'WaitingForPromotion'].includes(md.status?.rollout?.phase ?? '');
      const idle = condition(md, 'Ready')?.reason === 'ScaledToZero';
      const expected = !generationSeen ? 'InProgress/Progressing'
        : stalled ? 'Failed/Degraded'
          : held || (idle && !reconciling) ? 'InProgress/Suspended'
            : reconciling ? 'InProgress/Progressing'
              : condition(md, 'Ready')?.status === 'True' ? 'Current/Healthy' : 'InProgress/Progressing';
      expect(stalled && reconciling, 'never both Stalled and Reconciling').to.equal(false);
      expect(await verdicts(md), `${md.metadata?.name} ${md.metadata?.resourceVersion}: ${JSON.stringify(md.status)}`).to.equal(expected);
      seen.add(expected);
    }
    expect([...seen].sort()).to.deep.equal(['Current/Healthy', 'Failed/Degraded', 'InProgress/Progressing', 'InProgress/Suspended']);
  });
});
