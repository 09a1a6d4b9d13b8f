import type { KubernetesObject } from '@kubernetes/client-node';
import { expect } from 'chai';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { dump, load } from 'js-yaml';
import { plane } from './context.ts';
import { eventually } from '../support/eventually.ts';
import { installOptionalCrds, uninstallOptionalCrds } from '../support/optional-crds.ts';
import { chartRbac, templateRules, type PolicyRule } from '../support/chart.ts';
import { startOperator, type OperatorProcess } from '../support/operator-process.ts';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay.ts';

interface Condition { type: string; status: string; reason: string; message: string }
interface MdObject extends KubernetesObject {
  status?: { conditions?: Condition[]; observedGeneration?: number; phase?: string; ready?: string };
}
interface Child extends KubernetesObject {
  spec?: { replicas?: number; template?: { spec?: { containers?: { image?: string; env?: { name: string; value?: string }[] }[] } } };
}
interface KubeconfigFile { clusters: { cluster: { server: string } }[]; users: { name: string; user: Record<string, unknown> }[] }
interface EventObject { regarding?: { kind?: string; name?: string }; reportingInstance?: string }

const suffix = Date.now().toString(36);
const namespace = `faults-${suffix}`;
const kubectl = (args: string[], input?: string) => plane().running.kubectl(args, input);
const json = async <T>(args: string[]): Promise<T> => JSON.parse(await kubectl([...args, '-o', 'json'])) as T;
const getMd = (name: string, ns = namespace) => json<MdObject>(['get', 'modeldeployments.modelship.io', name, '-n', ns]);
const condition = (md: MdObject, type: string) => md.status?.conditions?.find((c) => c.type === type);
const apply = (objects: unknown[]) => kubectl(['apply', '--server-side', '--field-manager=test-user', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
const nonLeaseWrites = async (operator: OperatorProcess) =>
  (await operator.metric('modelship_api_writes_total')) - (await operator.metric('modelship_api_writes_total', { resource: 'leases' }));
/** Writes and gets (the check before creating a child) outside the Lease: the operator acting on what it saw. */
const nonLeaseRequests = async (operator: OperatorProcess) =>
  (await nonLeaseWrites(operator)) + (await operator.metric('modelship_api_reads_total', { verb: 'get' })) - (await operator.metric('modelship_api_reads_total', { verb: 'get', resource: 'leases' }));
const logged = (operator: OperatorProcess, pattern: RegExp) => operator.logs.filter((entry) => pattern.test(String(entry.msg ?? '')));

function modelDeployment(name: string, version: string, scaling: { replicas: number } | { autoscaling: Record<string, number> } = { replicas: 1 }, ns = namespace) {
  return {
    apiVersion: 'modelship.io/v1alpha1', kind: 'ModelDeployment', metadata: { name, namespace: ns },
    spec: {
      model: { uri: `https://models.example.com/faults/v${version}/model.onnx`, sha256: 'c'.repeat(64), version },
      runtime: { resources: { requests: { cpu: '100m', memory: '128Mi' } } },
      ...scaling,
    },
  };
}

/** Ready for its current generation, rolled out (phase Ready), with `replicas` pods ready. */
async function untilReady(name: string, replicas = 1, ns = namespace, timeoutMs = 150_000): Promise<MdObject> {
  return eventually(async () => {
    const md = await getMd(name, ns);
    expect(condition(md, 'Ready'), `${name}: ${JSON.stringify(md.status)}`).to.include({ status: 'True' });
    expect(md.status?.observedGeneration, `${name} observedGeneration`).to.equal(md.metadata?.generation);
    expect(md.status?.ready, `${name} ready`).to.equal(`${replicas}/${replicas}`);
    expect(md.status?.phase, `${name} phase`).to.equal('Ready');
    return md;
  }, { timeoutMs, intervalMs: 500 });
}

/** Names of the objects of `kind` whose controller is the ModelDeployment `uid`. */
async function ownedNames(kind: string, uid: string | undefined, ns = namespace): Promise<string[]> {
  const list = await json<{ items: KubernetesObject[] }>(['get', kind, '-n', ns]);
  return list.items
    .filter((item) => (item.metadata?.ownerReferences ?? []).some((ref) => ref.controller && ref.uid === uid))
    .map((item) => item.metadata?.name ?? '')
    .sort();
}

/** Exactly one Deployment and one Service, `revisions` ControllerRevisions, and a single controller reference. */
async function expectOneOfEachChild(md: MdObject, revisions = 1, ns = namespace): Promise<void> {
  const name = md.metadata?.name ?? '';
  const uid = md.metadata?.uid;
  expect(await ownedNames('deployments', uid, ns), `${name} Deployments`).to.deep.equal([name]);
  expect(await ownedNames('services', uid, ns), `${name} Services`).to.deep.equal([name]);
  expect(await ownedNames('controllerrevisions', uid, ns), `${name} ControllerRevisions`).to.have.length(revisions);
  const deployment = await json<Child>(['get', 'deployment', name, '-n', ns]);
  expect(deployment.metadata?.ownerReferences?.filter((ref) => ref.controller), `${name} controller references`).to.have.length(1);
}

/**
 * Control-plane faults: the operator rides out an apiserver and an etcd restart, a watch whose
 * position was compacted away (410 Gone), a SIGKILL in the middle of creating children, external
 * writers racing its writes, a child kind it may not watch, and a leader that dies.
 */
describe('control-plane faults (apiserver and etcd restarts, 410 Gone, SIGKILL, races, forbidden watch, two replicas)', function () {
  // After several control-plane restarts kube-controller-manager and KWOK take their time to bring pods up again.
  this.timeout(480_000);
  let relay: TcpRelay;
  let relayedKubeconfig: string;
  const operators: OperatorProcess[] = [];
  const extraNamespaces: string[] = [];
  const clusterRole = `modelship-faults-${suffix}`;

  /** The operator under test, watching this suite's namespace, its Lease in the same namespace. */
  async function operatorFor(identity: string, env: Record<string, string> = {}, kubeconfig = relayedKubeconfig): Promise<OperatorProcess> {
    const operator = await startOperator(kubeconfig, identity, {
      MODELSHIP_WATCH_NAMESPACE: namespace,
      MODELSHIP_LEADER_ELECTION_NAMESPACE: namespace,
      ...env,
    });
    operators.push(operator);
    return operator;
  }
  const alive = (operator: OperatorProcess) => operator.child.exitCode === null && operator.child.signalCode === null;

  before(async function () {
    this.timeout(180_000);
    await kubectl(['apply', '--server-side', '-f', 'crds/']);
    await kubectl(['wait', '--for=condition=Established', 'crd/modeldeployments.modelship.io', '--timeout=60s']);
    await kubectl(['create', 'namespace', namespace]);
    // The operator reaches the apiserver through a relay the tests can cut, to change the world behind its back.
    const server = new URL(plane().server);
    relay = await startTcpRelay({ host: server.hostname, port: Number(server.port) });
    const kubeconfig = load(await readFile(plane().kubeconfigPath, 'utf8')) as KubeconfigFile;
    for (const cluster of kubeconfig.clusters) cluster.cluster.server = `https://${relay.address}`;
    relayedKubeconfig = join(dirname(plane().kubeconfigPath), `faults-relayed-${suffix}.kubeconfig`);
    await writeFile(relayedKubeconfig, dump(kubeconfig), { mode: 0o600 });
  });

  after(async function () {
    this.timeout(120_000);
    for (const operator of operators) await operator.stop();
    await relay?.close();
    for (const ns of [namespace, ...extraNamespaces]) await kubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']).catch(() => undefined);
    await kubectl(['delete', 'clusterrolebinding,clusterrole', clusterRole, '--ignore-not-found']).catch(() => undefined);
  });

  describe('outages with one operator', () => {
    let operator: OperatorProcess;

    before(async function () {
      this.timeout(420_000);
      // An optional kind is watched, and discovery asks every second whether it is still served.
      await installOptionalCrds(kubectl, 'prometheus-operator');
      // A lease far longer than any outage here: the leader must ride them out, not step down and exit.
      operator = await operatorFor('faults-outages', {
        MODELSHIP_LEASE_DURATION_SECONDS: '300', MODELSHIP_RENEW_DEADLINE_SECONDS: '240', MODELSHIP_DISCOVERY_INTERVAL_SECONDS: '1',
      });
    });

    after(async function () {
      this.timeout(420_000);
      await operator?.stop();
      await uninstallOptionalCrds(kubectl, 'prometheus-operator');
    });

    it('kube-apiserver restart: watches reconnect, a ModelDeployment changed and one created after the restart are both reconciled, and the operator keeps running', async () => {
      await apply([modelDeployment('api-a', '1')]);
      await untilReady('api-a');
      const errorsBefore = await operator.metric('modelship_informer_errors_total');

      await plane().running.restartApiserver(4_000);
      await apply([modelDeployment('api-a', '1', { replicas: 2 }), modelDeployment('api-b', '1')]);
      await untilReady('api-a', 2);
      await untilReady('api-b');

      expect(alive(operator), 'operator still running').to.equal(true);
      expect(await operator.metric('modelship_informer_errors_total'), 'list/watch failures while the apiserver was down').to.be.greaterThan(errorsBefore);
      expect(logged(operator, /list\/watch reconnected|watch expired/), 'reconnect logged').to.have.length.greaterThan(0);
      expect(logged(operator, /API discovery failed/), 'discovery failed during the outage').to.have.length.greaterThan(0);
      expect(logged(operator, /no longer served/), 'a failed discovery dropped a watch').to.deep.equal([]);
      for (const name of ['api-a', 'api-b']) await expectOneOfEachChild(await getMd(name));
    });

    it('etcd restart: a change the operator learns of while etcd is down is written once etcd is back, and it keeps reconciling', async () => {
      await apply([modelDeployment('etcd-a', '1')]);
      await untilReady('etcd-a');
      // Change etcd-a while the operator cannot see it; it learns of it only once etcd is down.
      relay.cut();
      await apply([modelDeployment('etcd-a', '2')]);
      // resourceVersion=0 is answered from the apiserver's watch cache: the change is there before etcd goes.
      await eventually(async () => {
        const cached = JSON.parse(await kubectl(['get', '--raw', `/apis/modelship.io/v1alpha1/namespaces/${namespace}/modeldeployments/etcd-a?resourceVersion=0`])) as MdObject;
        expect(cached.metadata?.generation).to.equal(2);
      });
      const requestsBefore = await nonLeaseRequests(operator);
      await plane().running.restartEtcd(3_000, async () => {
        relay.restore();
        await eventually(async () => expect(await nonLeaseRequests(operator), 'requests attempted during the etcd outage').to.be.greaterThan(requestsBefore), { timeoutMs: 60_000 });
      });
      await apply([modelDeployment('etcd-b', '1')]);
      const md = await untilReady('etcd-a');
      await untilReady('etcd-b');

      expect(alive(operator), 'operator still running').to.equal(true);
      const deployment = await json<Child>(['get', 'deployment', 'etcd-a', '-n', namespace]);
      const env = deployment.spec?.template?.spec?.containers?.[0]?.env ?? [];
      expect(env.find((e) => e.name === 'MODELSHIP_MODEL_URI')?.value).to.contain('/v2/');
      await expectOneOfEachChild(md, 2);
    });

    it('watch expiry: resuming from a resourceVersion the apiserver no longer has (410 Gone) lists everything again and misses nothing', async () => {
      await apply([modelDeployment('gone-a', '1'), modelDeployment('gone-b', '1')]);
      await untilReady('gone-a');
      await untilReady('gone-b');
      const expiredBefore = await operator.metric('modelship_informer_relists_total', { cause: 'Expired' });

      // Behind the operator's back: a spec change, a deleted child, a new ModelDeployment. The
      // apiserver then restarts, so its watch cache begins after these changes and the operator's
      // resourceVersions are too old for it: the 410 an informer meets after etcd compaction.
      relay.cut();
      await apply([modelDeployment('gone-a', '1', { replicas: 2 }), modelDeployment('gone-c', '1')]);
      await kubectl(['delete', 'service', 'gone-b', '-n', namespace]);
      await plane().running.restartApiserver(1_000);
      relay.restore();

      await untilReady('gone-a', 2);
      await untilReady('gone-c');
      await eventually(async () => expect(await ownedNames('services', (await getMd('gone-b')).metadata?.uid)).to.deep.equal(['gone-b']), { timeoutMs: 60_000 });
      for (const kind of ['ModelDeployment', 'Service']) {
        expect(await operator.metric('modelship_informer_relists_total', { kind, cause: 'Expired' }), `${kind} relisted after 410`).to.be.greaterThan(0);
      }
      expect(await operator.metric('modelship_informer_relists_total', { cause: 'Expired' })).to.be.greaterThan(expiredBefore);
      expect(logged(operator, /watch expired \(410 Gone\)/), '410 logged').to.have.length.greaterThan(0);
      for (const name of ['gone-a', 'gone-b', 'gone-c']) await expectOneOfEachChild(await getMd(name));
    });
  });

  describe('SIGKILL and racing writers', () => {
    let operator: OperatorProcess;
    const short = {
      MODELSHIP_LEADER_ELECTION_LEASE: 'faults-burst',
      MODELSHIP_LEASE_DURATION_SECONDS: '10', MODELSHIP_RENEW_DEADLINE_SECONDS: '8', MODELSHIP_RETRY_PERIOD_SECONDS: '1',
    };

    after(async () => {
      await operator?.stop();
    });

    it('an operator SIGKILLed while it creates the children of many ModelDeployments leaves, once restarted, exactly one of each child and correct status', async () => {
      const names = Array.from({ length: 16 }, (_, i) => `burst-${i}`);
      const first = await operatorFor('faults-burst-1', { ...short, MODELSHIP_WORKERS: '1' });
      await apply(names.map((name) => modelDeployment(name, '1')));
      await eventually(async () => expect(logged(first, /children reconciled/)).to.have.length.greaterThan(0), { timeoutMs: 60_000, intervalMs: 5 });
      await first.stop('SIGKILL');
      const deploymentsAtKill = (await kubectl(['get', 'deployments', '-n', namespace, '-o', 'name'])).split('\n').filter((line) => line.includes('/burst-'));
      expect(deploymentsAtKill.length, 'the kill landed before every ModelDeployment had its children').to.be.lessThan(names.length);

      operator = await operatorFor('faults-burst-2', short);
      for (const name of names) await expectOneOfEachChild(await untilReady(name, 1, namespace, 120_000));
    });

    it('external writers racing its status and child writes: it ends with its own status and children, for the latest spec', async () => {
      await apply([modelDeployment('race', '1')]);
      await untilReady('race');
      // Another client keeps rewriting status and the Deployment while the spec changes under the operator.
      for (let round = 1; round <= 6; round += 1) {
        await kubectl(['patch', 'modeldeployments.modelship.io', 'race', '-n', namespace, '--subresource=status', '--type=merge', '-p',
          JSON.stringify({ status: { phase: 'Degraded', ready: '0/9', conditions: [{ type: 'Ready', status: 'False', reason: 'ExternalWriter', message: 'not the operator', lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') }] } })]);
        await kubectl(['set', 'image', '-n', namespace, 'deployment/race', '*=intruder/image:latest']);
        if (round % 2 === 0) await apply([modelDeployment('race', String(round))]);
      }
      const md = await untilReady('race');
      expect(condition(md, 'Ready')?.reason).to.equal('StableServing');
      await eventually(async () => {
        const container = (await json<Child>(['get', 'deployment', 'race', '-n', namespace])).spec?.template?.spec?.containers?.[0];
        expect(container?.image).to.equal('ghcr.io/modelship/runtime:test');
        expect(container?.env?.find((e) => e.name === 'MODELSHIP_MODEL_URI')?.value).to.contain('/v6/');
      }, { timeoutMs: 60_000 });
      expect(alive(operator), 'operator still running').to.equal(true);
    });
  });

  describe('a child kind the operator may not watch', () => {
    const system = `faults-sys-${suffix}`;
    const apps = `faults-rbac-${suffix}`;
    let operator: OperatorProcess;
    let fullRules: PolicyRule[];

    /** The chart's rules, less list and watch of PodDisruptionBudgets: an RBAC mistake a user could make. */
    const withoutPdbWatch = (rules: PolicyRule[]): PolicyRule[] => rules.flatMap((rule) => {
      if (!rule.resources.includes('poddisruptionbudgets')) return [rule];
      return [{ ...rule, verbs: rule.verbs.filter((verb) => verb !== 'list' && verb !== 'watch') }];
    });
    const clusterRoleObject = (rules: PolicyRule[]) => ({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: clusterRole }, rules });

    before(async function () {
      this.timeout(120_000);
      extraNamespaces.push(system, apps);
      for (const ns of [system, apps]) await kubectl(['create', 'namespace', ns]);
      await kubectl(['create', 'serviceaccount', 'modelship-operator', '-n', system]);
      fullRules = await templateRules('clusterrole.yaml');
      await kubectl(['apply', '-f', '-'], JSON.stringify(await chartRbac(clusterRole, system, withoutPdbWatch(fullRules))));
      const token = (await kubectl(['create', 'token', 'modelship-operator', '-n', system, '--duration=1h'])).trim();
      const kubeconfig = load(await readFile(plane().kubeconfigPath, 'utf8')) as KubeconfigFile;
      for (const user of kubeconfig.users) user.user = { token };
      const path = join(dirname(plane().kubeconfigPath), `faults-restricted-${suffix}.kubeconfig`);
      await writeFile(path, dump(kubeconfig), { mode: 0o600 });
      operator = await startOperator(path, `faults-restricted-${suffix}`, { MODELSHIP_LEADER_ELECTION_NAMESPACE: system, MODELSHIP_WATCH_NAMESPACE: apps });
      operators.push(operator);
    });

    after(async () => {
      await operator?.stop();
    });

    it('reports Degraded/WatchForbidden with a log line and a metric instead of stalling, manages every other child, and recovers once RBAC allows the watch', async () => {
      const autoscaled = { autoscaling: { minReplicas: 2, maxReplicas: 3, targetCPUUtilization: 80 } };
      await apply([modelDeployment('guarded', '1', autoscaled, apps)]);
      const md = await eventually(async () => {
        const current = await getMd('guarded', apps);
        const degraded = condition(current, 'Degraded');
        expect(degraded, JSON.stringify(current.status)).to.include({ status: 'True', reason: 'WatchForbidden' });
        expect(degraded?.message).to.match(/PodDisruptionBudget: .*forbidden/);
        expect(condition(current, 'Stalled'), 'kstatus reads it as Failed').to.include({ status: 'True', reason: 'WatchForbidden' });
        expect(current.status?.ready).to.equal('2/2');
        return current;
      }, { timeoutMs: 90_000, intervalMs: 500 });
      for (const kind of ['deployments', 'services', 'horizontalpodautoscalers']) {
        expect(await ownedNames(kind, md.metadata?.uid, apps), kind).to.deep.equal(['guarded']);
      }
      expect(await ownedNames('poddisruptionbudgets', md.metadata?.uid, apps), 'no PodDisruptionBudget written blind').to.deep.equal([]);
      expect(await operator.metric('modelship_informer_errors_total', { kind: 'PodDisruptionBudget', reason: 'Forbidden' })).to.be.greaterThan(0);
      expect(logged(operator, /not allowed to list\/watch PodDisruptionBudget/), 'forbidden watch logged').to.have.length.greaterThan(0);

      await kubectl(['apply', '-f', '-'], JSON.stringify(clusterRoleObject(fullRules)));
      await eventually(async () => {
        const current = await getMd('guarded', apps);
        expect(condition(current, 'Degraded'), JSON.stringify(current.status)).to.include({ status: 'False' });
        expect(condition(current, 'Stalled')).to.include({ status: 'False' });
        expect(condition(current, 'Ready')).to.include({ status: 'True' });
        expect(await ownedNames('poddisruptionbudgets', md.metadata?.uid, apps)).to.deep.equal(['guarded']);
      }, { timeoutMs: 90_000, intervalMs: 500 });
      expect(logged(operator, /PodDisruptionBudget may be watched again/)).to.have.length.greaterThan(0);
    });
  });

  describe('two operator replicas', () => {
    it('only the leader writes; when it is killed the standby takes over and reconciles', async function () {
      this.timeout(240_000);
      const a = await operatorFor('faults-replica-a', { MODELSHIP_LEADER_ELECTION_LEASE: 'faults-replicas' }, plane().kubeconfigPath);
      await eventually(async () => expect(await a.metric('modelship_leader')).to.equal(1), { timeoutMs: 60_000 });
      const b = await operatorFor('faults-replica-b', { MODELSHIP_LEADER_ELECTION_LEASE: 'faults-replicas' }, plane().kubeconfigPath);
      const [leader, standby] = [a, b];

      await apply([modelDeployment('duo-1', '1')]);
      await untilReady('duo-1');
      await kubectl(['set', 'image', '-n', namespace, 'deployment/duo-1', '*=intruder/image:latest']);
      await eventually(async () => {
        const container = (await json<Child>(['get', 'deployment', 'duo-1', '-n', namespace])).spec?.template?.spec?.containers?.[0];
        expect(container?.image).to.equal('ghcr.io/modelship/runtime:test');
      }, { timeoutMs: 60_000 });
      expect(await standby.metric('modelship_leader')).to.equal(0);
      expect(await nonLeaseWrites(standby), 'writes by the standby').to.equal(0);
      expect(await nonLeaseWrites(leader), 'writes by the leader').to.be.greaterThan(0);
      const reporters = async (name: string) => {
        const events = await json<{ items: EventObject[] }>(['get', 'events.events.k8s.io', '-n', namespace]);
        return [...new Set(events.items.filter((event) => event.regarding?.kind === 'ModelDeployment' && event.regarding.name === name).map((event) => event.reportingInstance))];
      };
      await eventually(async () => expect(await reporters('duo-1'), 'Events of duo-1 reported by').to.deep.equal([leader.identity]));

      await leader.stop('SIGKILL');
      await eventually(async () => expect(await standby.metric('modelship_leader')).to.equal(1), { timeoutMs: 90_000 });
      await apply([modelDeployment('duo-2', '1')]);
      await expectOneOfEachChild(await untilReady('duo-2'));
      await eventually(async () => expect(await reporters('duo-2'), 'Events of duo-2 reported by').to.deep.equal([standby.identity]));
    });
  });
});
