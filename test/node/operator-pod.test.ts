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
import { fraudRequest, MODELS_DIR, postJson, REPO_ROOT, type V2InferResponse } from '../runtime/helpers.ts';
import { startMlflow } from '../support/mlflow-server.ts';
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
    await kubectl(['delete', 'clusterrole,clusterrolebinding,validatingadmissionpolicy,validatingadmissionpolicybinding', '-l', `app.kubernetes.io/instance=${operatorNamespace}`]).catch(() => undefined);
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('becomes Ready as two pods, and the leader reconciles a ModelDeployment whose pods serve', async () => {
    const helm = await toolPath('build-helm.sh');
    const serverVersion = (JSON.parse(await kubectl(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion;
    const { stdout: manifests } = await run(helm, [
      'template', operatorNamespace, CHART, '--namespace', operatorNamespace, '--kube-version', serverVersion,
      '--set', `image.tag=${OPERATOR_TAG}`, '--set', `runtimeImage=${realNode().runtimeImageName}`,
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
  it('serves examples/registry.yaml as it is: the operator pod resolves models:/fraud@champion in a real MLflow registry at mlflow.mlops.svc, the runtime pods download and serve it', async () => {
    const mlflow = await startMlflow({ host: realNode().node.hostAddress, alsoKnownAs: ['mlflow.mlops.svc:5000', 'mlflow.mlops.svc'] });
    const registryNamespace = `registry-${Date.now().toString(36)}`;
    try {
      const v1 = await mlflow.register('fraud', join(MODELS_DIR, 'fraud-fp32.onnx'));
      await mlflow.setAlias('fraud', 'champion', v1.version);
      // The address the example names, http://mlflow.mlops.svc:5000: a Service whose endpoint is the
      // registry on this machine's bridge address, as a Service in front of an external registry would be.
      const mlflowPort = Number(new URL(mlflow.url).port);
      await kubectl(['create', 'namespace', 'mlops']).catch(() => undefined);
      await kubectl(['apply', '-n', 'mlops', '-f', '-'], JSON.stringify({
        apiVersion: 'v1', kind: 'List', items: [
          { apiVersion: 'v1', kind: 'Service', metadata: { name: 'mlflow' }, spec: { ports: [{ name: 'http', port: 5000, targetPort: mlflowPort }] } },
          {
            apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
            metadata: { name: 'mlflow-registry', labels: { 'kubernetes.io/service-name': 'mlflow', 'endpointslice.kubernetes.io/managed-by': 'modelship-tests' } },
            addressType: 'IPv4', endpoints: [{ addresses: [realNode().node.hostAddress], conditions: { ready: true } }],
            ports: [{ name: 'http', port: mlflowPort, protocol: 'TCP' }],
          },
        ],
      }));
      await kubectl(['create', 'namespace', registryNamespace]);
      await kubectl(['apply', '-n', registryNamespace, '-f', join(REPO_ROOT, 'examples', 'registry.yaml')]);
      const md = await eventually(async () => {
        const out = JSON.parse(await kubectl(['get', 'md', 'fraud-registry', '-n', registryNamespace, '-o', 'json'])) as { status?: { modelVersion?: string; conditions?: { type: string; status: string; message: string }[] } };
        expect(out.status?.conditions?.find((c) => c.type === 'ModelResolved')?.status, JSON.stringify(out.status?.conditions)).to.equal('True');
        expect(out.status?.conditions?.find((c) => c.type === 'Ready')?.status).to.equal('True');
        return out;
      }, { timeoutMs: 240_000, intervalMs: 1_000 });
      expect(md.status?.modelVersion).to.equal(v1.version);
      const pods = await podsOf(kubectl, registryNamespace, 'app.kubernetes.io/instance=fraud-registry');
      expect(pods.map((pod) => [pod.spec.nodeName, pod.status.phase])).to.deep.equal([[realNode().node.name, 'Running'], [realNode().node.name, 'Running']]);
      const clusterIp = (await kubectl(['get', 'service', 'fraud-registry', '-n', registryNamespace, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
      const answer = await postJson<V2InferResponse>(`http://${clusterIp}:8080/v2/models/fraud-registry/infer`, fraudRequest(2, 9));
      expect(answer.status, JSON.stringify(answer.body)).to.equal(200);
      expect(answer.body.model_version).to.equal(v1.version);
    } finally {
      await mlflow.close();
      await kubectl(['delete', 'namespace', registryNamespace, 'mlops', '--wait=false']).catch(() => undefined);
    }
  });
});
