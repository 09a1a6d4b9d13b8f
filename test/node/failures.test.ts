import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { plane } from '../integration/context.ts';
import { eventually } from '../support/eventually.ts';
import { type OperatorProcess } from '../support/operator-process.ts';
import { MODELS_DIR } from '../runtime/helpers.ts';
import { leaveNamespace, modelDigest, podsOf, prepareNamespace } from './cluster.ts';

interface Condition { type: string; status: string; reason: string; message: string }
interface Status { conditions?: Condition[]; stableRevision?: string; candidateRevision?: string; weights?: { stable: number; candidate: number }; rollout?: { phase?: string; message?: string } }

/**
 * Models a runtime cannot serve, on real pods: the kubelet restarts the container, reads the
 * runtime's own reason from its termination message, and the ModelDeployment says so
 * (Ready=False, Stalled=True with that reason) — never Ready on a crash-looping pod. A rollout to
 * such a model keeps the stable revision serving and says why the candidate does not come up.
 */
describe('real node: a model that cannot be served', function () {
  this.timeout(10 * 60_000);
  const namespace = `failures-${Date.now().toString(36)}`;
  const kubectl = (args: string[], stdin?: string) => plane().running.kubectl(args, stdin);
  const status = async (name: string): Promise<Status> =>
    (JSON.parse(await kubectl(['get', 'md', name, '-n', namespace, '-o', 'json'])) as { status?: Status }).status ?? {};
  const condition = (s: Status, type: string) => s.conditions?.find((c) => c.type === type);
  let operator: OperatorProcess;

  const modelDeployment = (name: string, model: { file: string; sha256?: string; version?: string }, extra: Record<string, unknown> = {}) => ({
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name, namespace },
    spec: {
      model: { uri: `http://models.modelship-system.svc:8000/${model.file}`, sha256: model.sha256 ?? modelDigest(model.file), ...(model.version && { version: model.version }) },
      runtime: { resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '1Gi' } } },
      replicas: 1,
      ...extra,
    },
  });

  before(async () => {
    operator = await prepareNamespace(kubectl, namespace, 'operator-failures');
  });

  after(async () => {
    await leaveNamespace(kubectl, namespace, operator);
  });

  /** Watches a ModelDeployment until its pod has been restarted and its status gives the runtime's reason; Ready is never True on the way. */
  async function expectStalled(name: string, reason: string, text: RegExp): Promise<Status> {
    const seenReady: string[] = [];
    const final = await eventually(async () => {
      const s = await status(name);
      if (condition(s, 'Ready')?.status === 'True') seenReady.push(JSON.stringify(condition(s, 'Ready')));
      const [pod] = await podsOf(kubectl, namespace, `app.kubernetes.io/instance=${name}`);
      const runtime = pod?.status.containerStatuses?.[0];
      expect(runtime?.restartCount ?? 0, 'the kubelet restarted the runtime').to.be.at.least(1);
      expect(runtime?.ready).to.equal(false);
      expect(runtime?.lastState?.terminated?.message ?? '').to.match(new RegExp(`^${reason}: `));
      expect(condition(s, 'Ready')).to.include({ status: 'False' });
      expect(condition(s, 'Stalled')).to.include({ status: 'True', reason });
      expect(condition(s, 'Stalled')?.message).to.match(text);
      return s;
    }, { timeoutMs: 180_000, intervalMs: 500 });
    expect(seenReady, 'Ready=True while the runtime could not serve').to.deep.equal([]);
    return final;
  }

  it('a file whose digest does not match: the runtime\'s reason, Ready=False, Stalled=True', async () => {
    await kubectl(['apply', '-f', '-'], JSON.stringify(modelDeployment('wrong-digest', { file: 'fraud-fp32.onnx', sha256: modelDigest('fraud-int8-qdq.onnx') })));
    await expectStalled('wrong-digest', 'ModelLoadFailed', new RegExp(`sha256.*${modelDigest('fraud-int8-qdq.onnx')}|${modelDigest('fraud-int8-qdq.onnx')}.*sha256`, 'i'));
  });

  it('a file that is not a model (its digest right): the runtime\'s load failure, Ready=False, Stalled=True', async () => {
    const sha256 = createHash('sha256').update(readFileSync(join(MODELS_DIR, 'fraud-fp32.onnx.sig'))).digest('hex');
    await kubectl(['apply', '-f', '-'], JSON.stringify(modelDeployment('not-a-model', { file: 'fraud-fp32.onnx.sig', sha256 })));
    await expectStalled('not-a-model', 'ModelLoadFailed', /.+/);
  });

  it('a canary to a model that cannot be served: the stable revision keeps serving, and status says why the candidate does not come up', async () => {
    const name = 'bad-candidate';
    const rollout = { rollout: { strategy: 'Canary', canary: { steps: [{ weight: 50, pause: '1h' }] } } };
    await kubectl(['apply', '-f', '-'], JSON.stringify(modelDeployment(name, { file: 'fraud-fp32.onnx', version: '1' }, rollout)));
    const stable = await eventually(async () => {
      const s = await status(name);
      expect(condition(s, 'Ready')?.status).to.equal('True');
      return s.stableRevision;
    }, { timeoutMs: 180_000, intervalMs: 1_000 });
    await kubectl(['apply', '-f', '-'], JSON.stringify(modelDeployment(name, { file: 'fraud-fp32.onnx', sha256: modelDigest('fraud-int8-qdq.onnx'), version: '2' }, rollout)));
    const final = await eventually(async () => {
      const s = await status(name);
      expect(s.stableRevision).to.equal(stable);
      expect(condition(s, 'Stalled')).to.include({ status: 'True', reason: 'ModelLoadFailed' });
      expect(condition(s, 'Stalled')?.message).to.include(s.candidateRevision ?? 'no candidate');
      return s;
    }, { timeoutMs: 180_000, intervalMs: 500 });
    await sleep(2_000);
    const clusterIp = (await kubectl(['get', 'service', name, '-n', namespace, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    const versions = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`http://${clusterIp}:8080/v2/models/${name}`, { headers: { connection: 'close' } });
      expect(response.status).to.equal(200);
      versions.add(((await response.json()) as { versions?: string[] }).versions?.join(',') ?? '');
    }
    expect([...versions], 'only the stable revision answers').to.deep.equal(['1']);
    expect(final.weights, 'status gives the candidate no traffic it cannot take').to.deep.equal({ stable: 100, candidate: 0 });
  });
});
