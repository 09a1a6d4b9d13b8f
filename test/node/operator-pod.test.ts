import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { plane } from '../integration/context.ts';
import { CHART } from '../support/chart.ts';
import { eventually } from '../support/eventually.ts';
import { replayedNodeImage } from '../support/node-images.ts';
import { toolPath } from '../support/test-tools.ts';
import { REPO_ROOT } from '../runtime/helpers.ts';
import { realNode } from './context.ts';
import { installExampleModelStore, modelDigest, podsOf } from './cluster.ts';

const run = promisify(execFile);
const OPERATOR_TAG = 'real-node';

/**
 * The operator as users run it: Dockerfile.operator's image, installed by the chart, two replicas
 * on the real node talking to the apiserver through the `kubernetes` Service with the
 * ServiceAccount token the kubelet projects into the pod; the leader reconciles a ModelDeployment
 * into runtime pods that serve.
 */
describe('real node: the operator installed by the chart runs as pods with its in-cluster credentials', function () {
  this.timeout(10 * 60_000);
  const operatorNamespace = `modelship-${Date.now().toString(36)}`;
  const namespace = `operator-pod-${Date.now().toString(36)}`;
  const kubectl = (args: string[], stdin?: string) => plane().running.kubectl(args, stdin);
  let scratch: string;

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'modelship-operator-image-'));
    const image = await replayedNodeImage({
      name: `ghcr.io/modelship/operator:${OPERATOR_TAG}`, dockerfile: join(REPO_ROOT, 'Dockerfile.operator'), context: REPO_ROOT, scratch,
    });
    await realNode().node.loadImage(image);
    await kubectl(['apply', '--server-side', '-f', join(REPO_ROOT, 'crds')]);
    await installExampleModelStore(kubectl);
    await kubectl(['create', 'namespace', namespace]);
  });

  after(async () => {
    await kubectl(['delete', 'namespace', operatorNamespace, namespace, '--wait=false']).catch(() => undefined);
    await kubectl(['delete', 'clusterrole,clusterrolebinding', '-l', `app.kubernetes.io/instance=${operatorNamespace}`]).catch(() => undefined);
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('becomes Ready as two pods, and the leader reconciles a ModelDeployment whose pods serve', async () => {
    const helm = await toolPath('build-helm.sh');
    const serverVersion = (JSON.parse(await kubectl(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion;
    const { stdout: manifests } = await run(helm, [
      'template', operatorNamespace, CHART, '--namespace', operatorNamespace, '--kube-version', serverVersion,
      '--set', `image.tag=${OPERATOR_TAG}`, '--set', `runtimeImage=${realNode().runtimeImage.name}`,
    ], { maxBuffer: 16 * 1024 * 1024 });
    await kubectl(['create', 'namespace', operatorNamespace]);
    await kubectl(['apply', '-n', operatorNamespace, '-f', '-'], manifests);

    await eventually(async () => {
      const pods = await podsOf(kubectl, operatorNamespace, 'app.kubernetes.io/name=modelship-operator');
      expect(pods.map((pod) => [pod.status.phase, pod.spec.nodeName, pod.status.containerStatuses?.[0]?.ready])).to.deep.equal([
        ['Running', realNode().node.name, true], ['Running', realNode().node.name, true],
      ]);
    }, { timeoutMs: 180_000, intervalMs: 1_000 });
    const pods = await podsOf(kubectl, operatorNamespace, 'app.kubernetes.io/name=modelship-operator');
    const token = pods[0]!.spec.volumes?.find((volume) => volume.projected?.sources?.some((source) => source.serviceAccountToken));
    expect(token, 'a projected, kubelet-rotated ServiceAccount token').to.not.equal(undefined);

    await kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'modelship.io/v1alpha1',
      kind: 'ModelDeployment',
      metadata: { name: 'in-cluster', namespace },
      spec: {
        model: { uri: 'http://models.modelship-system.svc:8000/fraud-fp32.onnx', sha256: modelDigest('fraud-fp32.onnx') },
        runtime: { resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '1Gi' } } },
      },
    }));
    await eventually(async () => {
      const md = JSON.parse(await kubectl(['get', 'md', 'in-cluster', '-n', namespace, '-o', 'json'])) as { status?: { conditions?: { type: string; status: string }[] } };
      expect(md.status?.conditions?.find((c) => c.type === 'Ready')?.status).to.equal('True');
    }, { timeoutMs: 180_000, intervalMs: 1_000 });
    const logs = await kubectl(['logs', '-n', operatorNamespace, '-l', 'app.kubernetes.io/name=modelship-operator', '--tail=-1']);
    const reconciled = logs.split('\n').filter((line) => line.includes('children reconciled') && line.includes(`"namespace":"${namespace}"`));
    expect(reconciled, 'the leader pod\'s own log, read through the kubelet, says it wrote the children').to.have.length.greaterThan(0);
  });
});
