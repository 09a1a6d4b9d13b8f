import { expect } from 'chai';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { plane } from '../integration/context.ts';
import { eventually } from '../support/eventually.ts';
import { type OperatorProcess } from '../support/operator-process.ts';
import { fraudRequest, MODELS_DIR, postJson, REPO_ROOT, type V2InferResponse } from '../runtime/helpers.ts';
import { realNode } from './context.ts';
import { leaveNamespace, type Pod, podsOf, prepareNamespace } from './cluster.ts';

/**
 * The operator's pods as containers: the minimal example, applied as it is, becomes a runtime pod
 * on the real node that fetches its model from the in-cluster model store (cluster DNS + a Service
 * through kube-proxy), turns Ready by its own probes, and answers V2 requests sent to its Service's
 * ClusterIP with what the model computes.
 */
describe('real node: the minimal example serves V2 requests through its Service', function () {
  this.timeout(10 * 60_000);
  const namespace = `serving-${Date.now().toString(36)}`;
  const kubectl = (args: string[], stdin?: string) => plane().running.kubectl(args, stdin);
  let operator: OperatorProcess;

  before(async () => {
    operator = await prepareNamespace(kubectl, namespace, 'operator-serving');
  });

  after(async () => {
    await leaveNamespace(kubectl, namespace, operator);
  });

  it('runs the runtime pod on the real node and answers what the model computes', async () => {
    const applied = Date.now();
    await kubectl(['apply', '-n', namespace, '-f', join(REPO_ROOT, 'examples', 'minimal.yaml')]);

    const pods = await eventually(async () => {
      const list = await podsOf(kubectl, namespace, 'app.kubernetes.io/instance=fraud-minimal');
      expect(list.map(describePod)).to.have.length(1);
      expect(list.map(describePod)[0]).to.include({ node: realNode().node.name, phase: 'Running', ready: true });
      return list;
    }, { timeoutMs: 240_000, intervalMs: 1_000 });
    const pod = pods[0]!;
    expect(pod.status.podIP, 'a pod IP on the node\'s bridge').to.match(/^10\.89\.0\./);
    const runtime = pod.status.containerStatuses?.[0];
    expect(runtime?.restartCount, `no restarts (last: ${JSON.stringify(runtime?.lastState)}; ${await kubectl(['logs', '-n', namespace, pod.metadata.name!, '--previous', '--tail=20']).catch((e: Error) => e.message)})`).to.equal(0);

    const md = await eventually(async () => {
      const out = JSON.parse(await kubectl(['get', 'md', 'fraud-minimal', '-n', namespace, '-o', 'json'])) as { status?: { conditions?: { type: string; status: string }[] } };
      expect(out.status?.conditions?.find((c) => c.type === 'Ready')?.status).to.equal('True');
      return out;
    }, { timeoutMs: 60_000 });
    expect(md.status?.conditions?.find((c) => c.type === 'Degraded')?.status ?? 'False').to.equal('False');

    const clusterIp = (await kubectl(['get', 'service', 'fraud-minimal', '-n', namespace, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    expect(clusterIp).to.match(/^10\.0\./);
    const request = fraudRequest(4, 7);
    const answer = await postJson<V2InferResponse>(`http://${clusterIp}:8080/v2/models/fraud-minimal/infer`, request);
    const served = Date.now();
    expect(answer.status, JSON.stringify(answer.body)).to.equal(200);

    const session = await ort.InferenceSession.create(join(MODELS_DIR, 'fraud-fp32.onnx'));
    const input = (request.inputs as { data: number[] }[])[0]!.data;
    const expected = await session.run({ features: new ort.Tensor('float32', Float32Array.from(input), [4, 30]) });
    for (const name of session.outputNames) {
      const output = answer.body.outputs.find((o) => o.name === name);
      expect(output, `output ${name}`).to.not.equal(undefined);
      const want = Array.from(expected[name]!.data as ArrayLike<number | bigint>, Number);
      const got = (output!.data as (number | boolean)[]).flat(Infinity as 1).map(Number);
      expect(got).to.have.length(want.length);
      got.forEach((value, i) => expect(value, `${name}[${i}]`).to.be.closeTo(want[i]!, 1e-5));
    }
    console.log(`      kubectl apply -> first answer through the Service: ${((served - applied) / 1000).toFixed(1)} s`);
  });
});

function describePod(pod: Pod): { node: string | undefined; phase: string | undefined; ready: boolean } {
  return {
    node: pod.spec.nodeName,
    phase: pod.status.phase,
    ready: pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
  };
}
