import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import * as ort from 'onnxruntime-node';
import { plane } from '../integration/context.ts';
import { eventually } from '../support/eventually.ts';
import { startOperator, type OperatorProcess } from '../support/operator-process.ts';
import { fraudRequest, MODELS_DIR, REPO_ROOT, type V2InferResponse } from '../runtime/helpers.ts';
import { realNode } from './context.ts';
import { installExampleModelStore, podsOf, type Pod } from './cluster.ts';

interface Manifest { kind: string; metadata: { name: string }; spec?: { model?: { uri?: string } }; stringData?: Record<string, string> }
interface Condition { type: string; status: string; reason: string; message: string }

/** What each example does on one 2-core node, applied as it is. */
type Expectation =
  | { serves: true }
  | { serves: true; pending: number; why: string }
  | { pendingOnly: string }
  | { elsewhere: string };

const EXPECTATIONS: Record<string, Expectation> = {
  'minimal.yaml': { serves: true },
  'fraud-detector.yaml': { serves: true },
  'autoscaled.yaml': { serves: true },
  'blue-green.yaml': { serves: true },
  // Where the Gateway API is not installed the Service stands in (gateway-api.test.ts routes it through Traefik).
  'gateway-api-canary.yaml': { serves: true },
  'ab-test.yaml': { serves: true },
  'mirror.yaml': { serves: true },
  'signed-model.yaml': { serves: true },
  // Four replicas of 500m CPU each ask for all of this node's two cores; the model store takes a little.
  'canary.yaml': { serves: true, pending: 1, why: 'Insufficient cpu' },
  // No node here has a GPU (nor the GPU feature-discovery label the example selects).
  'fraud-detector-gpu.yaml': { pendingOnly: 'node affinity/selector' },
  // Its operator must resolve mlflow.mlops.svc: the chart-installed operator pod does (operator-pod.test.ts).
  'registry.yaml': { elsewhere: 'operator-pod.test.ts serves it with the chart\'s operator and a real MLflow registry' },
};

const EXAMPLE_FILES = readdirSync(join(REPO_ROOT, 'examples')).filter((file) => file.endsWith('.yaml')).sort();

/**
 * Every file in examples/, applied as it is on the real node (one at a time: the node has two
 * cores): its pods run the runtime image, fetch the model the file names from the example model
 * store, turn Ready, and a V2 request through the Service is answered with what that model computes.
 */
describe('real node: every example, applied as it is', function () {
  this.timeout(10 * 60_000);
  const kubectl = (args: string[], stdin?: string) => plane().running.kubectl(args, stdin);
  let operator: OperatorProcess;

  before(async () => {
    await kubectl(['apply', '--server-side', '-f', join(REPO_ROOT, 'crds')]);
    await installExampleModelStore(kubectl);
    operator = await startOperator(plane().kubeconfigPath, 'operator-examples', {
      MODELSHIP_RUNTIME_IMAGE: realNode().runtimeImageName,
      MODELSHIP_LOG_LEVEL: 'info',
    });
  });
  after(async () => operator?.stop());

  it('has an expectation for every example file', () => {
    expect(Object.keys(EXPECTATIONS).sort()).to.deep.equal(EXAMPLE_FILES);
  });

  for (const file of EXAMPLE_FILES) {
    const expectation = EXPECTATIONS[file];
    if (!expectation || 'elsewhere' in expectation) continue;
    it(`${file}: ${'pendingOnly' in expectation ? 'Pending, and status says no node has what it asks for' : 'its pods serve through the Service what the model computes'}`, async () => {
      const namespace = `ex-${file.replace(/\.yaml$/, '').replace(/[^a-z0-9]+/g, '-')}-${Date.now().toString(36)}`.slice(0, 60);
      await kubectl(['create', 'namespace', namespace]);
      try {
        const text = readFileSync(join(REPO_ROOT, 'examples', file), 'utf8');
        const md = (loadAll(text) as Manifest[]).find((doc) => doc.kind === 'ModelDeployment')!;
        await kubectl(['apply', '-n', namespace, '-f', join(REPO_ROOT, 'examples', file)]);
        const pods = () => podsOf(kubectl, namespace, `app.kubernetes.io/instance=${md.metadata.name}`);
        if ('pendingOnly' in expectation) {
          await eventually(async () => {
            const list = await pods();
            expect(list.length).to.be.greaterThan(0);
            for (const pod of list) {
              expect(pod.status.phase).to.equal('Pending');
              expect(scheduling(pod)).to.include(expectation.pendingOnly);
            }
            const status = await mdStatus(namespace, md.metadata.name);
            expect(status.find((c) => c.type === 'Ready')?.status).to.equal('False');
            const degraded = status.find((c) => c.type === 'Degraded');
            expect(degraded, 'Degraded says why no pod runs, in the scheduler\'s words').to.include({ status: 'True', reason: 'Unschedulable' });
            expect(degraded?.message).to.include(expectation.pendingOnly);
          }, { timeoutMs: 120_000, intervalMs: 1_000 });
          return;
        }
        const pending = 'pending' in expectation ? expectation.pending : 0;
        const running = await eventually(async () => {
          const list = await pods();
          const ready = list.filter((pod) => pod.status.phase === 'Running' && pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
          expect(ready.length, JSON.stringify(list.map((pod) => [pod.metadata.name, pod.status.phase, scheduling(pod)]))).to.be.greaterThan(0);
          expect(list.length - ready.length, 'pods not running').to.equal(pending);
          for (const pod of list.filter((p) => !ready.includes(p))) expect(scheduling(pod)).to.include('why' in expectation ? expectation.why : '-');
          for (const pod of ready) expect(pod.spec.nodeName).to.equal(realNode().node.name);
          return ready;
        }, { timeoutMs: 240_000, intervalMs: 1_000 });
        expect(running.every((pod) => (pod.status.containerStatuses?.[0]?.restartCount ?? 0) === 0), 'no restarts').to.equal(true);
        await expectAnswersOfModel(namespace, md);
      } finally {
        await kubectl(['delete', 'namespace', namespace, '--wait=false']).catch(() => undefined);
      }
    });
  }

  it('signed-model.yaml with another public key: never Ready, Stalled with ModelSignatureInvalid', async () => {
    const namespace = `ex-signed-wrong-key-${Date.now().toString(36)}`;
    await kubectl(['create', 'namespace', namespace]);
    try {
      const docs = loadAll(readFileSync(join(REPO_ROOT, 'examples', 'signed-model.yaml'), 'utf8')) as Manifest[];
      const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const secret = docs.find((doc) => doc.kind === 'Secret')!;
      secret.stringData = Object.fromEntries(Object.keys(secret.stringData ?? {}).map((key) => [key, otherKey]));
      const md = docs.find((doc) => doc.kind === 'ModelDeployment')!;
      await kubectl(['apply', '-n', namespace, '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: docs }));
      await eventually(async () => {
        const status = await mdStatus(namespace, md.metadata.name);
        expect(status.find((c) => c.type === 'Ready')?.status).to.equal('False');
        expect(status.find((c) => c.type === 'Stalled')).to.include({ status: 'True', reason: 'ModelSignatureInvalid' });
        const [pod] = await podsOf(kubectl, namespace, `app.kubernetes.io/instance=${md.metadata.name}`);
        expect(pod?.status.containerStatuses?.[0]?.ready).to.equal(false);
      }, { timeoutMs: 180_000, intervalMs: 1_000 });
    } finally {
      await kubectl(['delete', 'namespace', namespace, '--wait=false']).catch(() => undefined);
    }
  });

  async function mdStatus(namespace: string, name: string): Promise<Condition[]> {
    const md = JSON.parse(await kubectl(['get', 'md', name, '-n', namespace, '-o', 'json'])) as { status?: { conditions?: Condition[] } };
    return md.status?.conditions ?? [];
  }

  /** A request through the example's Service, answered as the model file it names computes. */
  async function expectAnswersOfModel(namespace: string, md: Manifest): Promise<void> {
    const clusterIp = (await kubectl(['get', 'service', md.metadata.name, '-n', namespace, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    const file = md.spec?.model?.uri?.split('/').pop() ?? '';
    const request = fraudRequest(3, 5);
    const url = `http://${clusterIp}:8080/v2/models/${md.metadata.name}/infer`;
    const answer = await eventually(async () => {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
      const text = await response.text();
      // Who answered, when it is not the runtime's 200 (a CI run once saw a 404 with an empty body here).
      const headers = [...response.headers].map(([key, value]) => `${key}: ${value}`).join('; ');
      expect(response.status, `${url}: ${text.slice(0, 300)} (${text.length} bytes; headers ${headers})`).to.equal(200);
      return JSON.parse(text) as V2InferResponse;
    }, { timeoutMs: 30_000, intervalMs: 500 });
    const session = await ort.InferenceSession.create(join(MODELS_DIR, file));
    const input = (request.inputs as { data: number[] }[])[0]!.data;
    const expected = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', Float32Array.from(input), [3, 30]) });
    for (const name of session.outputNames) {
      const got = (answer.outputs.find((o) => o.name === name)?.data ?? []).flat(Infinity as 1).map(Number);
      const want = Array.from(expected[name]!.data as ArrayLike<number | bigint>, Number);
      expect(got.length, `${file}: output ${name}`).to.equal(want.length);
      got.forEach((value, i) => expect(value, `${file}: ${name}[${i}]`).to.be.closeTo(want[i]!, 1e-4));
    }
  }
});

/** Why the scheduler left a pod Pending (its PodScheduled condition's message), or '' once scheduled. */
function scheduling(pod: Pod): string {
  const condition = pod.status.conditions?.find((c) => c.type === 'PodScheduled');
  return condition?.status === 'False' ? `${condition.reason}: ${condition.message}` : '';
}
