import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { plane } from '../integration/context.ts';
import { eventually } from '../support/eventually.ts';
import { type OperatorProcess } from '../support/operator-process.ts';
import { leaveNamespace, modelDigest, prepareNamespace } from './cluster.ts';
import { startLoad } from './load.ts';

interface Status {
  stableRevision?: string;
  candidateRevision?: string;
  weights?: { stable: number; candidate: number };
  conditions?: { type: string; status: string; reason: string }[];
}

/**
 * A canary without a mesh (replica ratio in the one Service), under steady keep-alive traffic to the
 * Service on the real node: the stable side keeps its capacity until the candidate's pods are ready,
 * both versions answer during the step, status says 100/0 at promotion and stays Reconciling while
 * the old pods still answer, and once it settles no request is answered by the old version.
 */
describe('real node: a canary without Istio, under real traffic', function () {
  this.timeout(10 * 60_000);
  const namespace = `canary-${Date.now().toString(36)}`;
  const name = 'fraud-canary';
  const kubectl = (args: string[], stdin?: string) => plane().running.kubectl(args, stdin);
  const status = async (): Promise<Status> =>
    (JSON.parse(await kubectl(['get', 'md', name, '-n', namespace, '-o', 'json'])) as { status?: Status }).status ?? {};
  let operator: OperatorProcess;

  const modelDeployment = (file: string, version: string) => ({
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name, namespace },
    spec: {
      model: { uri: `http://models.modelship-system.svc:8000/${file}`, sha256: modelDigest(file), version },
      runtime: { resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } } },
      replicas: 2,
      rollout: { strategy: 'Canary', canary: { steps: [{ weight: 50, pause: '1h' }] } },
    },
  });

  before(async () => {
    operator = await prepareNamespace(kubectl, namespace, 'operator-canary');
  });

  after(async () => {
    await leaveNamespace(kubectl, namespace, operator);
  });

  it('keeps the stable capacity until the candidate is ready, and once status settles after promotion only the new version answers', async () => {
    await kubectl(['apply', '-f', '-'], JSON.stringify(modelDeployment('fraud-fp32.onnx', '1')));
    await eventually(async () => {
      const s = await status();
      expect(s.conditions?.find((c) => c.type === 'Ready')?.status).to.equal('True');
      expect(await readyEndpoints()).to.equal(2);
    }, { timeoutMs: 240_000, intervalMs: 1_000 });
    const clusterIp = (await kubectl(['get', 'service', name, '-n', namespace, '-o', 'jsonpath={.spec.clusterIP}'])).trim();

    const load = startLoad(`http://${clusterIp}:8080/v2/models/${name}/infer`, { concurrency: 4, maxSeconds: 300 });
    const endpointCounts: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        endpointCounts.push(await readyEndpoints().catch(() => -1));
        await sleep(250);
      }
    })();
    try {
      await sleep(2_000);
      await kubectl(['apply', '-f', '-'], JSON.stringify(modelDeployment('fraud-int8-qdq.onnx', '2')));
      // The step: the candidate's pod serves beside the stable ones.
      await eventually(async () => {
        const s = await status();
        expect(s.candidateRevision).to.be.a('string');
        expect(s.weights).to.deep.equal({ stable: 50, candidate: 50 });
        expect(load.answers.slice(-40).map((a) => a.version)).to.include.members(['1', '2']);
      }, { timeoutMs: 240_000, intervalMs: 500 });
      const candidate = (await status()).candidateRevision;

      await kubectl(['annotate', 'md', name, '-n', namespace, 'modelship.io/promote=full']);
      const promotedAt = await eventually(async () => {
        const s = await status();
        expect(s.stableRevision).to.equal(candidate);
        expect(s.weights).to.deep.equal({ stable: 100, candidate: 0 });
        return Date.now();
      }, { timeoutMs: 240_000, intervalMs: 250 });
      // The old pods leave the Service as they stop (endpoints, then kube-proxy's rules; each answer
      // on an open connection says Connection: close); until the last is gone, status says traffic
      // has not settled (Reconciling, RetiredPodsStopping).
      const settledAt = await eventually(async () => {
        const s = await status();
        expect(s.conditions?.find((c) => c.type === 'Reconciling')).to.include({ status: 'False' });
        return Date.now();
      }, { timeoutMs: 120_000, intervalMs: 250 });
      await sleep(3_000);
      const answers = await load.stop();

      // The keep-alive race of a pod that exits (see disruption.test.ts): at most one in a thousand.
      const failed = answers.filter((a) => a.status !== 200);
      console.log(`      ${answers.length} requests, ${failed.length} failed${failed.length ? `: ${JSON.stringify(failed.slice(0, 3))}` : ''}`);
      expect(failed.length, `failed requests: ${JSON.stringify(failed.slice(0, 5))}`).to.be.at.most(Math.floor(answers.length / 1000));
      const late = answers.filter((a) => a.sentAt >= promotedAt && a.version !== '2');
      console.log(`      status said 100/0, then settled ${settledAt - promotedAt} ms later; the old version answered ${late.length} requests in between, the last ${late.length ? late.at(-1)!.sentAt - promotedAt : 0} ms after 100/0`);
      const settled = answers.filter((a) => a.sentAt >= settledAt);
      expect(new Set(settled.map((a) => a.version)), `${settled.length} answers once status settled`).to.deep.equal(new Set(['2']));
      expect(settled.length, 'traffic after status settled').to.be.greaterThan(10);
    } finally {
      sampling = false;
      await sampler;
      await load.stop();
    }
    // The Deployment controller counts a candidate pod available only minReadySeconds after it is
    // Ready, by when its endpoint is listed and programmed: the stable side gives up a pod only then,
    // so the Service never has fewer ready endpoints than the model's replicas.
    const counts = endpointCounts.filter((n) => n >= 0);
    console.log(`      ready endpoints sampled every 250 ms: min ${Math.min(...counts)}`);
    expect(Math.min(...counts), `ready endpoints of the Service over the rollout: ${counts.join(',')}`).to.be.at.least(2);
  });

  async function readyEndpoints(): Promise<number> {
    const slices = JSON.parse(await kubectl(['get', 'endpointslices', '-n', namespace, '-l', `kubernetes.io/service-name=${name}`, '-o', 'json'])) as
      { items: { endpoints?: { conditions?: { ready?: boolean } }[] }[] };
    return slices.items.flatMap((slice) => slice.endpoints ?? []).filter((endpoint) => endpoint.conditions?.ready).length;
  }
});
