import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { plane } from '../integration/context.ts';
import { eventually } from '../support/eventually.ts';
import { type OperatorProcess } from '../support/operator-process.ts';
import { realNode } from './context.ts';
import { leaveNamespace, modelDigest, prepareNamespace, readyPodsOf } from './cluster.ts';
import { startLoad } from './load.ts';

/**
 * Disruptions under steady keep-alive traffic through the Service: a deleted pod leaves the Service,
 * finishes what it was sent and is replaced; a node drain evicts one pod at a time as the
 * PodDisruptionBudget allows and no more, so the model keeps serving.
 *
 * One race is left to the client, as with any HTTP/1.1 server: a pod that exits closes a keep-alive
 * connection that sat idle through its drain, and a client that picks that connection at the same
 * instant sees a reset (a POST is not retried). Measured here: 0 in 58,000 requests; seen once in
 * 40,000 in the canary suite. So no more than one request in a thousand may fail.
 */
const tolerated = (requests: number) => Math.floor(requests / 1000);
describe('real node: pod deletion and node drain under load', function () {
  this.timeout(10 * 60_000);
  const namespace = `disruption-${Date.now().toString(36)}`;
  const name = 'fraud-disrupted';
  const kubectl = (args: string[], stdin?: string) => plane().running.kubectl(args, stdin);
  const selector = `app.kubernetes.io/instance=${name}`;
  let operator: OperatorProcess;
  let url: string;

  const readyPods = () => readyPodsOf(kubectl, namespace, selector);

  before(async () => {
    operator = await prepareNamespace(kubectl, namespace, 'operator-disruption');
    await kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'modelship.io/v1alpha1',
      kind: 'ModelDeployment',
      metadata: { name, namespace },
      spec: {
        model: { uri: 'http://models.modelship-system.svc:8000/fraud-fp32.onnx', sha256: modelDigest('fraud-fp32.onnx') },
        runtime: { resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '1Gi' } } },
        replicas: 2,
      },
    }));
    await eventually(async () => expect(await readyPods()).to.have.length(2), { timeoutMs: 240_000, intervalMs: 1_000 });
    const clusterIp = (await kubectl(['get', 'service', name, '-n', namespace, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    url = `http://${clusterIp}:8080/v2/models/${name}/infer`;
  });

  after(async () => {
    await kubectl(['uncordon', realNode().node.name]).catch(() => undefined);
    await leaveNamespace(kubectl, namespace, operator);
  });

  it('kubectl delete pod: the pod answers what it was sent and leaves, its replacement takes over, requests keep being answered', async () => {
    const load = startLoad(url, { concurrency: 4, maxSeconds: 120 });
    try {
      await sleep(2_000);
      const [victim] = await readyPods();
      await kubectl(['delete', 'pod', '-n', namespace, victim!.metadata.name!, '--wait=true']);
      await eventually(async () => expect(await readyPods()).to.have.length(2), { timeoutMs: 120_000, intervalMs: 500 });
      await sleep(2_000);
    } finally {
      await load.stop();
    }
    const failed = load.answers.filter((a) => a.status !== 200);
    console.log(`      ${load.answers.length} requests during the deletion, ${failed.length} failed`);
    expect(failed.length, JSON.stringify(failed.slice(0, 3))).to.be.at.most(tolerated(load.answers.length));
  });

  it('kubectl drain of the node: one pod evicted as the PodDisruptionBudget allows, the other kept serving', async () => {
    const load = startLoad(url, { concurrency: 4, maxSeconds: 120 });
    let refusal: string;
    try {
      await sleep(2_000);
      // The only node: an evicted pod's replacement cannot be placed anywhere, so the budget
      // (maxUnavailable 1) must keep the second pod; drain gives up at its timeout.
      refusal = await kubectl(['drain', realNode().node.name, '--ignore-daemonsets', '--delete-emptydir-data', '--pod-selector', selector, '--timeout=25s'])
        .then((out) => `drain succeeded: ${out}`, (error: Error & { stderr?: string }) => `${error.stderr ?? error.message}`);
      const remaining = await readyPods();
      expect(remaining, 'the pod the budget protects still serves').to.have.length(1);
      await sleep(1_000);
    } finally {
      await load.stop();
      await kubectl(['uncordon', realNode().node.name]);
    }
    expect(refusal).to.include('disruption budget');
    const failed = load.answers.filter((a) => a.status !== 200);
    console.log(`      ${load.answers.length} requests during the drain, ${failed.length} failed`);
    expect(failed.length, JSON.stringify(failed.slice(0, 3))).to.be.at.most(tolerated(load.answers.length));
    await eventually(async () => expect(await readyPods()).to.have.length(2), { timeoutMs: 120_000, intervalMs: 1_000 });
  });
});
