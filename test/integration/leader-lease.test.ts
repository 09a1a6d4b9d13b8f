import { expect } from 'chai';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { dump, load } from 'js-yaml';
import { plane } from './context.ts';
import { eventually } from '../support/eventually.ts';
import { startOperator, type OperatorProcess } from '../support/operator-process.ts';

interface KubeconfigFile { users: { name: string; user: Record<string, unknown> }[] }
interface LogLine { level?: number; msg?: string; reason?: string }

/**
 * An operator whose leader-election Lease it cannot reach (its namespace missing, or no Role to
 * write it) says so in an error line and through /readyz, and goes on once the cause is fixed.
 */
describe('operator that cannot reach its leader-election Lease (real apiserver)', function () {
  this.timeout(180_000);
  const suffix = Date.now().toString(36);
  const missing = `lease-missing-${suffix}`;
  const locked = `lease-locked-${suffix}`;
  const apps = `lease-apps-${suffix}`;
  const binding = `lease-admin-${suffix}`;
  const operators: OperatorProcess[] = [];
  const kubectl = (args: string[], input?: string) => plane().running.kubectl(args, input);
  const errorLines = (operator: OperatorProcess, reason: string) =>
    (operator.logs as LogLine[]).filter((line) => line.level === 50 && line.reason === reason);
  const start = async (identity: string, leaseNamespace: string, kubeconfigPath = plane().kubeconfigPath) => {
    const operator = await startOperator(kubeconfigPath, identity, { MODELSHIP_LEADER_ELECTION_NAMESPACE: leaseNamespace, MODELSHIP_WATCH_NAMESPACE: apps });
    operators.push(operator);
    return operator;
  };

  before(async () => {
    await kubectl(['apply', '--server-side', '-f', 'crds/']);
    await kubectl(['wait', '--for=condition=Established', 'crd/modeldeployments.modelship.io', '--timeout=60s']);
    await kubectl(['create', 'namespace', apps]);
  });

  after(async () => {
    await Promise.all(operators.map((operator) => operator.stop()));
    await kubectl(['delete', 'clusterrolebinding', binding, '--ignore-not-found']).catch(() => undefined);
    await kubectl(['delete', 'namespace', missing, locked, apps, '--ignore-not-found', '--wait=false']).catch(() => undefined);
  });

  it('logs that the namespace does not exist and how to fix it, again while it lasts, answers /readyz 503 with why, and leads once it is created', async () => {
    const operator = await start(`lease-a-${suffix}`, missing);
    const first = await eventually(async () => {
      const [line] = errorLines(operator, 'NamespaceNotFound');
      expect(line, 'an error line about the namespace').to.not.equal(undefined);
      return line!;
    });
    expect(first.msg).to.include(`namespace "${missing}" does not exist`).and.include(`kubectl create namespace ${missing}`).and.include('MODELSHIP_LEADER_ELECTION_NAMESPACE');
    const readiness = await operator.readiness();
    expect(readiness.status).to.equal(503);
    expect(readiness.body.reason).to.equal(first.msg);
    expect(await operator.metric('modelship_leader')).to.equal(0);
    await eventually(async () => expect(errorLines(operator, 'NamespaceNotFound')).to.have.length(2), { timeoutMs: 15_000 });

    await kubectl(['create', 'namespace', missing]);
    await eventually(async () => {
      expect(await operator.metric('modelship_leader')).to.equal(1);
      expect(await operator.readiness()).to.deep.equal({ status: 200, body: { status: 'ok' } });
    }, { timeoutMs: 30_000 });
    expect((operator.logs as LogLine[]).some((line) => line.msg === 'leader-election Lease reachable again')).to.equal(true);
  });

  it('is ready as a standby when the Lease is held by the leader', async () => {
    const standby = await start(`lease-b-${suffix}`, missing);
    await eventually(async () => expect(await standby.readiness()).to.deep.equal({ status: 200, body: { status: 'ok' } }), { timeoutMs: 20_000 });
    expect(await standby.metric('modelship_leader')).to.equal(0);
    expect(standby.logs.filter((line) => line.level === 50)).to.deep.equal([]);
  });

  it('says it may not write the Lease when its ServiceAccount lacks the Role, and leads once access is granted', async () => {
    await kubectl(['create', 'namespace', locked]);
    await kubectl(['create', 'serviceaccount', 'modelship-operator', '-n', locked]);
    const token = (await kubectl(['create', 'token', 'modelship-operator', '-n', locked, '--duration=1h'])).trim();
    const kubeconfig = load(await readFile(plane().kubeconfigPath, 'utf8')) as KubeconfigFile;
    for (const user of kubeconfig.users) user.user = { token };
    const path = join(dirname(plane().kubeconfigPath), `lease-${suffix}.kubeconfig`);
    await writeFile(path, dump(kubeconfig), { mode: 0o600 });

    const operator = await start(`lease-c-${suffix}`, locked, path);
    const [line] = await eventually(async () => {
      const lines = errorLines(operator, 'Forbidden');
      expect(lines).to.have.length.greaterThan(0);
      return lines;
    });
    expect(line!.msg).to.include(`get, create and update on leases.coordination.k8s.io in namespace "${locked}"`).and.include('forbidden');
    const readiness = await operator.readiness();
    expect(readiness.status).to.equal(503);
    expect(readiness.body.reason).to.equal(line!.msg);

    await kubectl(['create', 'clusterrolebinding', binding, '--clusterrole=cluster-admin', `--serviceaccount=${locked}:modelship-operator`]);
    await eventually(async () => {
      expect(await operator.metric('modelship_leader')).to.equal(1);
      expect(await operator.readiness()).to.deep.equal({ status: 200, body: { status: 'ok' } });
    }, { timeoutMs: 30_000 });
  });
});
