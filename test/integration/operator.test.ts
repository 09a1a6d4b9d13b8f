import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { plane } from './context.ts';
import { loadConfig } from '../../runtime/config.ts';
import { RuntimeContract } from '../../runtime/contract.ts';
import { eventually } from '../support/eventually.ts';
import { startOperator, type OperatorProcess } from '../support/operator-process.ts';

interface Condition { type: string; status: string; reason: string; message: string; observedGeneration?: number }
interface MdObject extends KubernetesObject {
  status?: { conditions?: Condition[]; revision?: string; ready?: string; phase?: string; observedGeneration?: number; endpoint?: string };
}

const namespace = `md-${Date.now().toString(36)}`;
const clusterDomain = 'corp.test';
const json = async <T>(args: string[]): Promise<T> => JSON.parse(await plane().running.kubectl([...args, '-o', 'json'])) as T;
const getMd = (name: string) => json<MdObject>(['get', 'modeldeployments.modelship.io', name, '-n', namespace]);
const getChild = <T>(kind: string, name: string) => json<T>(['get', kind, name, '-n', namespace]);
const exists = async (kind: string, name: string) =>
  (await plane().running.kubectl(['get', kind, '-n', namespace, '--ignore-not-found', '-o', 'name'])).includes(`/${name}`);
const apply = (object: unknown) => plane().running.kubectl(['apply', '--server-side', '--field-manager=test-user', '-f', '-'], JSON.stringify(object));
const condition = (md: MdObject, type: string) => md.status?.conditions?.find((c) => c.type === type);
/**
 * The operator here watches every namespace: ModelDeployments other suites left in namespaces still
 * being deleted retry their refused children (with backoff) and count as writes. Steady state is
 * measured once no namespace is terminating.
 */
async function untilNoNamespaceTerminates(): Promise<void> {
  await eventually(async () => {
    const terminating = await plane().running.kubectl(['get', 'namespaces', '-o', 'jsonpath={.items[?(@.status.phase=="Terminating")].metadata.name}']);
    expect(terminating.trim(), 'namespaces still being deleted').to.equal('');
  }, { timeoutMs: 180_000, intervalMs: 1_000 });
}

/**
 * Waits (bounded) for 5 s in which the operator logs no failed reconcile. ModelDeployments of a suite
 * that ran before, in a namespace deleted since, have been seen failing their passes (the namespace
 * gone) well after it went; each retry, with backoff, counts as writes here. Retries thin out as the
 * backoff grows, so the steady-state window starts in a quiet stretch, not during the retries.
 */
async function untilNoReconcileFails(operator: OperatorProcess): Promise<void> {
  await eventually(async () => {
    const from = operator.logs.length;
    await sleep(5_000);
    const failed = operator.logs.slice(from).filter((entry) => entry.msg === 'reconcile failed');
    expect(failed.map((entry) => String(entry.key)), 'reconciles failing').to.deep.equal([]);
  }, { timeoutMs: 120_000, intervalMs: 0 });
}

/** What the apiserver has of every ModelDeployment: a failed steady-state count says whether the keys it names still exist. */
const allModelDeployments = async () =>
  (await plane().running.kubectl(['get', 'modeldeployments.modelship.io', '-A', '-o', 'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name} {end}'])).trim();

/** ModelDeployments ("namespace/name") whose namespace no longer exists. */
async function orphanedModelDeployments(): Promise<string[]> {
  const namespaces = new Set((await plane().running.kubectl(['get', 'namespaces', '-o', 'jsonpath={.items[*].metadata.name}'])).split(/\s+/).filter(Boolean));
  return (await allModelDeployments()).split(/\s+/).filter((entry) => entry && !namespaces.has(entry.split('/')[0] ?? ''));
}

/**
 * Deletes ModelDeployments an earlier suite left in a namespace deleted since. The test plane has
 * left such objects behind in etcd (CI at 22a6b7f: the examples suite's ten, their namespace gone);
 * this operator watches every namespace, fails each of their passes (no namespace to create children
 * in) and would count those retries as writes of its own.
 */
async function deleteOrphanedModelDeployments(): Promise<void> {
  for (const entry of await orphanedModelDeployments()) {
    const [orphanNamespace, name] = entry.split('/') as [string, string];
    await plane().running.kubectl(['patch', 'modeldeployments.modelship.io', name, '-n', orphanNamespace, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']).catch(() => '');
    await plane().running.kubectl(['delete', 'modeldeployments.modelship.io', name, '-n', orphanNamespace, '--ignore-not-found', '--wait=false'])
      .catch((error: unknown) => console.log(`      could not delete the orphaned ModelDeployment ${entry}: ${(error as Error).message.split('\n')[0]}`));
  }
  // Whatever could not be deleted is left to the steady-state tests, whose failure message lists it.
  await eventually(async () => expect(await orphanedModelDeployments(), 'ModelDeployments whose namespace is gone').to.deep.equal([]), { timeoutMs: 30_000 })
    .catch((error: unknown) => console.log(`      ${(error as Error).message.split('\n')[0]}`));
}

/** Which ModelDeployments the operator logged about since log line `from`: what a failed steady-state count names. */
const loggedObjectsSince = (operator: OperatorProcess, from: number) =>
  [...new Set(operator.logs.slice(from).flatMap((entry) => {
    const object = typeof entry.key === 'string' ? entry.key : typeof entry.namespace === 'string' ? `${entry.namespace}/${String(entry.name)}` : undefined;
    const error = (entry.err as { message?: string } | undefined)?.message;
    return object ? [`${object}: ${String(entry.msg)}${error ? ` (${error.slice(0, 300)})` : ''}`] : [];
  }))].slice(0, 20).join('; ');

const writesExceptLeases = async (operator: OperatorProcess) =>
  (await operator.metric('modelship_api_writes_total')) - (await operator.metric('modelship_api_writes_total', { resource: 'leases' }));

function modelDeployment(name: string, spec: Record<string, unknown>) {
  return { apiVersion: 'modelship.io/v1alpha1', kind: 'ModelDeployment', metadata: { name, namespace }, spec };
}

const fraudSpec = (version: string) => ({
  model: {
    uri: `https://models.example.com/fraud/v${version}/model.int8.onnx`,
    sha256: version.repeat(64).slice(0, 64).replace(/[^0-9a-f]/g, 'a'),
    version,
  },
  runtime: { resources: { requests: { cpu: '500m', memory: '512Mi' }, limits: { cpu: '1', memory: '1Gi' } } },
  autoscaling: { minReplicas: 2, maxReplicas: 5, targetCPUUtilization: 70, targetPredictionLatencyMs: 200 },
});

describe('operator against the real control plane', function () {
  let operator: OperatorProcess;

  before(async function () {
    this.timeout(300_000);
    await plane().running.kubectl(['apply', '--server-side', '-f', 'crds/']);
    await plane().running.kubectl(['wait', '--for=condition=Established', 'crd/modeldeployments.modelship.io', '--timeout=60s']);
    // Other suites' namespaces are deleted without waiting; ModelDeployments still in one that is
    // terminating get refused writes retried with backoff, which the steady-state count below would see.
    await eventually(async () => {
      const terminating = await plane().running.kubectl(['get', 'namespaces', '-o', 'jsonpath={.items[?(@.status.phase=="Terminating")].metadata.name}']);
      expect(terminating.trim(), 'namespaces still terminating').to.equal('');
    }, { timeoutMs: 180_000 });
    await deleteOrphanedModelDeployments();
    await plane().running.kubectl(['create', 'namespace', namespace]);
    // The runtime pods must pass the restricted Pod Security Standard, enforced by the apiserver's admission.
    await plane().running.kubectl(['label', 'namespace', namespace, 'pod-security.kubernetes.io/enforce=restricted']);
    operator = await startOperator(plane().kubeconfigPath, 'operator-a', { MODELSHIP_CLUSTER_DOMAIN: clusterDomain });
  });

  after(async () => {
    await operator?.stop();
  });

  it('creates the runtime Deployment, Service, HPA and PDB, owned by the ModelDeployment, and reports Ready (pods admitted under the restricted Pod Security Standard)', async () => {
    await apply(modelDeployment('fraud', fraudSpec('1')));
    const md = await eventually(async () => {
      const current = await getMd('fraud');
      expect(condition(current, 'Ready'), JSON.stringify(current.status)).to.include({ status: 'True' });
      expect(current.status?.ready).to.equal('2/2');
      return current;
    }, { timeoutMs: 60_000 });
    expect(md.status?.endpoint).to.include(`fraud.${namespace}.svc.${clusterDomain}:`);

    const deployment = await getChild<V1Deployment>('deployment', 'fraud');
    const owner = deployment.metadata?.ownerReferences?.[0];
    expect(owner).to.include({ kind: 'ModelDeployment', name: 'fraud', uid: md.metadata?.uid, controller: true });
    const container = deployment.spec?.template.spec?.containers[0];
    expect(container?.readinessProbe?.httpGet?.path).to.equal('/v2/health/ready');
    expect(container?.securityContext).to.include({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(container?.env?.find((e) => e.name === 'MODELSHIP_MODEL_URI')?.value).to.equal('https://models.example.com/fraud/v1/model.int8.onnx');
    // The pod's env, with the apiserver's CRD defaults filled in, is what the runtime parses: the contract defaults.
    const runtime = loadConfig(Object.fromEntries((container?.env ?? []).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]]))));
    expect(runtime.batching).to.include({ maxBatchSize: RuntimeContract.maxBatchSize.default, maxQueueDelayMs: RuntimeContract.maxQueueDelayMs.default });
    expect(runtime.session).to.include({ intraOpThreads: 1 });
    for (const kind of ['service', 'horizontalpodautoscaler', 'poddisruptionbudget']) expect(await exists(kind, 'fraud'), kind).to.equal(true);

    const hpa = await getChild<{ spec: { metrics: { type: string; pods?: { metric: { name: string } } }[] } }>('horizontalpodautoscaler', 'fraud');
    expect(hpa.spec.metrics.map((m) => m.pods?.metric.name ?? m.type)).to.have.members(['Resource', 'prediction_latency']);

    const plainPod = await plane().running.kubectl(['run', 'plain', '-n', namespace, '--image=busybox', '--dry-run=server']).catch((error: Error) => error.message);
    expect(plainPod, 'the namespace really enforces the restricted standard').to.match(/violates PodSecurity "restricted/);

    await eventually(async () => {
      const events = await plane().running.kubectl(['get', 'events', '-n', namespace, '--field-selector', 'involvedObject.name=fraud']);
      expect(events).to.match(/RevisionCreated|Ready/);
    });
  });

  it('makes zero API writes at steady state', async () => {
    // Steady: the rollout done (its pods available, minReadySeconds after Ready) and nothing queued.
    await eventually(async () => {
      const md = JSON.parse(await plane().running.kubectl(['get', 'modeldeployments.modelship.io', 'fraud', '-n', namespace, '-o', 'json'])) as { status?: { conditions?: { type: string; status: string }[] } };
      expect(md.status?.conditions?.find((c) => c.type === 'Reconciling')?.status).to.equal('False');
    }, { timeoutMs: 30_000 });
    await untilNoNamespaceTerminates();
    await deleteOrphanedModelDeployments();
    await untilNoReconcileFails(operator);
    await eventually(async () => expect(await operator.metric('modelship_workqueue_depth')).to.equal(0), { timeoutMs: 10_000 });
    await sleep(2_000);
    const before = await writesExceptLeases(operator);
    const logsBefore = operator.logs.length;
    await plane().running.kubectl(['annotate', 'modeldeployments.modelship.io', 'fraud', '-n', namespace, 'touched=1']);
    await sleep(6_000);
    const writes = await writesExceptLeases(operator);
    const context = writes === before ? '' : `logged: ${loggedObjectsSince(operator, logsBefore)}; ModelDeployments in the apiserver: ${await allModelDeployments()}`;
    expect(writes, `writes after an unrelated annotation and 6s idle (${context})`).to.equal(before);
  });

  it('does not reconcile for a change to status alone (its own status writes among them), and does for an annotation', async () => {
    await untilNoNamespaceTerminates();
    await deleteOrphanedModelDeployments();
    await untilNoReconcileFails(operator);
    await eventually(async () => expect(await operator.metric('modelship_workqueue_depth')).to.equal(0), { timeoutMs: 10_000 });
    await sleep(2_000);
    const before = await operator.metric('modelship_reconcile_total');
    const logsBefore = operator.logs.length;
    await plane().running.kubectl(['patch', 'modeldeployments.modelship.io', 'fraud', '-n', namespace, '--subresource=status', '--type=merge', '-p', '{"status":{"phase":"Pending"}}']);
    await sleep(3_000);
    const reconciles = await operator.metric('modelship_reconcile_total');
    const context = reconciles === before ? '' : `logged: ${loggedObjectsSince(operator, logsBefore)}; ModelDeployments in the apiserver: ${await allModelDeployments()}`;
    expect(reconciles, `reconciles after a status-only change (${context})`).to.equal(before);
    expect((await getMd('fraud')).status?.phase, 'a hand-edited status waits for the next change or resync').to.equal('Pending');

    await plane().running.kubectl(['annotate', 'modeldeployments.modelship.io', 'fraud', '-n', namespace, 'touched=2', '--overwrite']);
    await eventually(async () => {
      expect(await operator.metric('modelship_reconcile_total')).to.be.greaterThan(before);
      expect((await getMd('fraud')).status?.phase).to.equal('Ready');
    }, { timeoutMs: 10_000 });
  });

  it('rolls out a new revision when the model changes', async () => {
    const before = await getMd('fraud');
    await apply(modelDeployment('fraud', fraudSpec('2')));
    await eventually(async () => {
      const md = await getMd('fraud');
      expect(md.status?.revision).to.be.a('string').and.not.equal(before.status?.revision);
      expect(md.status?.observedGeneration).to.equal(md.metadata?.generation);
      expect(condition(md, 'Ready')).to.include({ status: 'True' });
      const deployment = await getChild<V1Deployment>('deployment', 'fraud');
      const env = deployment.spec?.template.spec?.containers[0]?.env ?? [];
      expect(env.find((e) => e.name === 'MODELSHIP_MODEL_URI')?.value).to.contain('/v2/');
    }, { timeoutMs: 60_000 });
  });

  it('repairs a child edited or deleted by hand', async () => {
    await plane().running.kubectl(['set', 'image', '-n', namespace, 'deployment/fraud', '*=evil/image:latest']);
    await plane().running.kubectl(['delete', 'service', 'fraud', '-n', namespace]);
    await eventually(async () => {
      const deployment = await getChild<V1Deployment>('deployment', 'fraud');
      expect(deployment.spec?.template.spec?.containers[0]?.image).to.equal('ghcr.io/modelship/runtime:test');
      expect(await exists('service', 'fraud')).to.equal(true);
    }, { timeoutMs: 30_000 });
  });

  it('leaves replicas to the HPA', async () => {
    await plane().running.kubectl(['scale', 'deployment/fraud', '-n', namespace, '--replicas=4']);
    await sleep(3_000);
    const deployment = await getChild<V1Deployment>('deployment', 'fraud');
    expect(deployment.spec?.replicas).to.equal(4);
  });

  it('deletes the HPA when autoscaling is removed, and sets fixed replicas', async () => {
    const spec: Record<string, unknown> = { ...fraudSpec('2') };
    delete spec['autoscaling'];
    await apply(modelDeployment('fraud', { ...spec, replicas: 1 }));
    await eventually(async () => {
      expect(await exists('horizontalpodautoscaler', 'fraud')).to.equal(false);
      expect(await exists('poddisruptionbudget', 'fraud'), 'no PDB for a single replica').to.equal(false);
      expect((await getChild<V1Deployment>('deployment', 'fraud')).spec?.replicas).to.equal(1);
    }, { timeoutMs: 30_000 });
  });

  it('garbage-collects every child when the ModelDeployment is deleted', async () => {
    await plane().running.kubectl(['delete', 'modeldeployments.modelship.io', 'fraud', '-n', namespace, '--wait=true']);
    await eventually(async () => {
      expect(await exists('deployment', 'fraud')).to.equal(false);
      expect(await exists('service', 'fraud')).to.equal(false);
    }, { timeoutMs: 60_000 });
  });

  it('reports a child the apiserver refuses as Degraded/ApplyFailed with a Warning event, and recovers once it is allowed', async () => {
    const quotaNamespace = `${namespace}-quota`;
    await plane().running.kubectl(['create', 'namespace', quotaNamespace]);
    await plane().running.kubectl(['create', 'quota', 'no-services', '-n', quotaNamespace, '--hard=services=0']);
    await eventually(async () => {
      expect(await plane().running.kubectl(['get', 'quota', 'no-services', '-n', quotaNamespace, '-o', 'jsonpath={.status.hard.services}'])).to.equal('0');
    });
    const refused = { ...modelDeployment('refused', { ...fraudSpec('5'), autoscaling: undefined, replicas: 1 }) };
    refused.metadata.namespace = quotaNamespace;
    await apply(refused);
    const getRefused = () => json<MdObject>(['get', 'modeldeployments.modelship.io', 'refused', '-n', quotaNamespace]);
    await eventually(async () => {
      const degraded = condition(await getRefused(), 'Degraded');
      expect(degraded).to.include({ status: 'True', reason: 'ApplyFailed' });
      expect(degraded?.message).to.match(/Service refused: .*exceeded quota/);
    }, { timeoutMs: 30_000 });
    await eventually(async () => {
      const events = await plane().running.kubectl(['get', 'events', '-n', quotaNamespace, '--field-selector', 'involvedObject.name=refused,type=Warning']);
      expect(events).to.match(/ApplyFailed/);
    });
    expect(await plane().running.kubectl(['get', 'deployment', 'refused', '-n', quotaNamespace, '-o', 'name']), 'the other children are still applied').to.contain('refused');

    await plane().running.kubectl(['delete', 'quota', 'no-services', '-n', quotaNamespace]);
    await eventually(async () => {
      const md = await getRefused();
      expect(condition(md, 'Degraded')).to.include({ status: 'False' });
      expect(condition(md, 'Ready')).to.include({ status: 'True' });
    }, { timeoutMs: 60_000 });
  });

  it('recovers after the apiserver restarts mid-run', async () => {
    await plane().running.restartApiserver(3_000);
    await apply(modelDeployment('after-restart', { ...fraudSpec('3'), autoscaling: undefined, replicas: 1 }));
    await eventually(async () => {
      expect(condition(await getMd('after-restart'), 'Ready')).to.include({ status: 'True' });
    }, { timeoutMs: 90_000 });
  });

  it('fails over to a standby operator when the leader dies', async function () {
    this.timeout(120_000);
    const standby = await startOperator(plane().kubeconfigPath, 'operator-b');
    try {
      expect(await standby.metric('modelship_leader')).to.equal(0);
      expect(await operator.metric('modelship_leader')).to.equal(1);
      await operator.stop('SIGKILL');
      await eventually(async () => expect(await standby.metric('modelship_leader')).to.equal(1), { timeoutMs: 45_000 });
      await apply(modelDeployment('after-failover', { ...fraudSpec('4'), autoscaling: undefined, replicas: 1 }));
      await eventually(async () => {
        expect(condition(await getMd('after-failover'), 'Ready')).to.include({ status: 'True' });
      }, { timeoutMs: 60_000 });
    } finally {
      operator = standby;
    }
  });
});
