import type { KubernetesObject, V1Container, V1Deployment, V1Pod, V1Service, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { REPO_ROOT } from '../../scripts/repo-root.ts';
import { eventually } from '../support/eventually.ts';
import { installOptionalCrds, uninstallOptionalCrds } from '../support/optional-crds.ts';
import { startOperator, type OperatorProcess } from '../support/operator-process.ts';
import { plane } from './context.ts';

/**
 * Every file in examples/ applied as it is to the real apiserver, with Istio's CRDs installed, and
 * reconciled by the real operator: Ready at its generation, with the children its use promises.
 * The folder is listed, so a new example runs here at once, and fails until it gets an expectation
 * (or names the suite that applies it against a service this one does not run).
 */

interface Condition { type: string; status: string; reason: string; message: string; observedGeneration?: number }
interface Example extends KubernetesObject {
  spec: { model: { version?: string } };
  status?: {
    observedGeneration?: number;
    conditions?: Condition[];
    ready?: string;
    revision?: string;
    stableRevision?: string;
    candidateRevision?: string;
    weights?: { stable: number; candidate: number };
    rollout?: { phase: string; step?: number };
  };
}
interface Route { destination: { subset: string; port: { number: number } }; weight?: number }
interface HttpRoute { name: string; match?: { headers?: Record<string, { exact?: string }>; port?: number }[]; route: Route[]; mirror?: { subset: string }; mirrorPercentage?: { value: number } }
interface VirtualService extends KubernetesObject { spec: { hosts: string[]; http: HttpRoute[] } }
interface DestinationRule extends KubernetesObject { spec: { subsets: { name: string; labels: Record<string, string> }[] } }

const EXAMPLES_DIR = join(REPO_ROOT, 'examples');
const EXAMPLE_FILES = readdirSync(EXAMPLES_DIR).filter((file) => file.endsWith('.yaml')).sort();
const DIGESTS = new Map(readFileSync(join(EXAMPLES_DIR, 'models', 'SHA256SUMS'), 'utf8').trim().split('\n').map((line) => {
  const [digest = '', file = ''] = line.split(/\s+/);
  return [file, digest];
}));
const REVISION_LABEL = 'modelship.io/revision';
/** A simulated GPU node: the label the GPU example selects, the taint GPU nodes carry, four GPUs. */
const GPU_NODE = 'kwok-gpu-node-examples';

const namespace = `examples-${Date.now().toString(36)}`;
const kubectl = (args: string[], stdin?: string) => plane().running.kubectl(args, stdin);
const json = async <T>(args: string[]): Promise<T> => JSON.parse(await kubectl([...args, '-o', 'json'])) as T;
const get = <T>(kind: string, name: string) => json<T>(['get', kind, name, '-n', namespace]);
const getExample = (name: string) => get<Example>('modeldeployments.modelship.io', name);
const names = async (kind: string) =>
  (await kubectl(['get', kind, '-n', namespace, '-o', 'name'])).split('\n').filter(Boolean).map((line) => line.split('/')[1] ?? '');
const condition = (md: Example, type: string) => md.status?.conditions?.find((c) => c.type === type);
const runtimeContainer = (deployment: V1Deployment): V1Container => {
  const container = deployment.spec?.template.spec?.containers[0];
  if (!container) throw new Error(`${deployment.metadata?.name} has no container`);
  return container;
};
const envOf = (deployment: V1Deployment) =>
  Object.fromEntries((runtimeContainer(deployment).env ?? []).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])));
const digestOf = (file: string) => {
  const digest = DIGESTS.get(file);
  if (!digest) throw new Error(`examples/models/SHA256SUMS has no ${file}`);
  return digest;
};
const hpaMetrics = (hpa: V2HorizontalPodAutoscaler) =>
  (hpa.spec?.metrics ?? []).map((m) => (m.pods ? `${m.pods.metric.name}<=${m.pods.target.averageValue}` : `${m.resource?.name}@${m.resource?.target.averageUtilization}%`));
const modelFile = (env: Record<string, string>) => env.MODELSHIP_MODEL_URI?.split('/').pop() ?? '';
/** Routes of the REST port (the gRPC port has the same ones). */
const restRoutes = (vs: VirtualService) => vs.spec.http.filter((route) => route.match?.some((m) => m.port === 8080) ?? true);

/** The Deployment serving a revision: `<name>` for a rolling update, `<name>-<revision>` for the progressive strategies. */
async function servingDeployment(md: Example, perRevision: boolean): Promise<V1Deployment> {
  const name = md.metadata?.name ?? '';
  return get<V1Deployment>('deployment', perRevision ? `${name}-${md.status?.stableRevision}` : name);
}

/** Moves a progressive example to a new revision (the next model version) and waits for the candidate. */
async function newVersion(md: Example, rollout: (md: Example) => void): Promise<Example> {
  const name = md.metadata?.name ?? '';
  await kubectl(['patch', 'modeldeployments.modelship.io', name, '-n', namespace, '--type=merge', '-p', JSON.stringify({ spec: { model: { version: '3' } } })]);
  return eventually(async () => {
    const current = await getExample(name);
    expect(current.status?.candidateRevision, JSON.stringify(current.status)).to.be.a('string').and.not.equal(md.status?.stableRevision);
    expect(current.status?.observedGeneration).to.equal(current.metadata?.generation);
    rollout(current);
    return current;
  }, { timeoutMs: 90_000 });
}

async function expectMeshRouted(md: Example): Promise<{ vs: VirtualService; dr: DestinationRule }> {
  const name = md.metadata?.name ?? '';
  expect(condition(md, 'TrafficRouting'), 'routed through Istio').to.include({ status: 'True' });
  const vs = await get<VirtualService>('virtualservice', name);
  const dr = await get<DestinationRule>('destinationrule', name);
  expect(vs.spec.hosts).to.include(`${name}.${namespace}.svc.cluster.local`);
  return { vs, dr };
}

/** An example that needs a service this suite does not run, applied by the suite that runs it. */
interface CoveredElsewhere { coveredBy: string }

/** What each example promises once reconciled; the key is the file name in examples/. */
const EXPECTATIONS: Record<string, ((md: Example) => Promise<void>) | CoveredElsewhere> = {
  // models:/ URIs need an MLflow registry: that suite starts a real one and applies this file.
  'registry.yaml': { coveredBy: 'test/integration/registry.test.ts' },

  'minimal.yaml': async (md) => {
    const deployment = await servingDeployment(md, false);
    expect(deployment.spec?.replicas, 'one replica by default').to.equal(1);
    const env = envOf(deployment);
    expect(modelFile(env)).to.equal('fraud-fp32.onnx');
    expect(env.MODELSHIP_MODEL_SHA256).to.equal(digestOf('fraud-fp32.onnx'));
    const service = await get<V1Service>('service', 'fraud-minimal');
    expect(service.spec?.ports?.map((p) => `${p.name}:${p.port}`)).to.have.members(['http:8080', 'grpc:8081']);
    expect(await names('horizontalpodautoscaler'), 'no autoscaling asked for').to.not.include('fraud-minimal');
  },

  'autoscaled.yaml': async () => {
    const hpa = await get<V2HorizontalPodAutoscaler>('horizontalpodautoscaler', 'fraud-autoscaled');
    expect(hpaMetrics(hpa), 'prediction_latency only, 100 ms as the quantity 100m').to.deep.equal(['prediction_latency<=100m']);
    expect(hpa.spec).to.include({ minReplicas: 2, maxReplicas: 10 });
    expect(hpa.spec?.scaleTargetRef).to.include({ kind: 'Deployment', name: 'fraud-autoscaled' });
    expect(hpa.spec?.behavior?.scaleDown).to.deep.include({ stabilizationWindowSeconds: 300, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] });
  },

  'fraud-detector.yaml': async (md) => {
    const env = envOf(await servingDeployment(md, false));
    expect(modelFile(env), 'variant int8 serves the quantized file').to.equal('fraud-int8-qdq.onnx');
    expect(env.MODELSHIP_MODEL_SHA256, "the INT8 file's digest").to.equal(digestOf('fraud-int8-qdq.onnx'));
    const hpa = await get<V2HorizontalPodAutoscaler>('horizontalpodautoscaler', 'fraud-detector');
    expect(hpaMetrics(hpa)).to.have.members(['cpu@70%', 'prediction_latency<=200m']);
  },

  'signed-model.yaml': async (md) => {
    const deployment = await servingDeployment(md, false);
    const env = envOf(deployment);
    expect(env.MODELSHIP_MODEL_SIGNATURE_METHOD).to.equal('key');
    expect(env.MODELSHIP_MODEL_SIGNATURE_URI, 'the signature beside the model').to.equal(`${env.MODELSHIP_MODEL_URI}.sig`);
    const volume = deployment.spec?.template.spec?.volumes?.find((v) => v.secret?.secretName === 'fraud-model-signer');
    expect(volume?.secret?.items).to.deep.equal([{ key: 'public-key.pem', path: 'trust.pem' }]);
    const secret = await get<{ data: Record<string, string> }>('secret', 'fraud-model-signer');
    const committedKey = readFileSync(join(EXAMPLES_DIR, 'models', 'fraud-fp32.pub.pem'), 'utf8');
    expect(Buffer.from(secret.data['public-key.pem'] ?? '', 'base64').toString('utf8'), 'the key that signed examples/models/fraud-fp32.onnx.sig').to.equal(committedKey);
  },

  'fraud-detector-gpu.yaml': async (md) => {
    const deployment = await servingDeployment(md, false);
    const container = runtimeContainer(deployment);
    expect(container.resources?.limits?.['nvidia.com/gpu']).to.equal('1');
    expect(envOf(deployment).MODELSHIP_EXECUTION_PROVIDERS).to.equal('cuda,cpu');
    const pod = deployment.spec?.template.spec;
    expect(pod?.tolerations).to.deep.include({ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' });
    expect(pod?.nodeSelector).to.deep.equal({ 'nvidia.com/gpu.present': 'true' });
    const pods = await json<{ items: V1Pod[] }>(['get', 'pods', '-n', namespace, '-l', 'modelship.io/model-deployment=fraud-detector-gpu']);
    expect(pods.items.map((p) => p.spec?.nodeName), 'scheduled onto the GPU node only').to.deep.equal([GPU_NODE]);
    expect(hpaMetrics(await get<V2HorizontalPodAutoscaler>('horizontalpodautoscaler', 'fraud-detector-gpu'))).to.deep.equal(['prediction_latency<=50m']);
  },

  'canary.yaml': async (md) => {
    expect((await servingDeployment(md, true)).spec?.replicas).to.equal(4);
    expect(await names('networkpolicy')).to.include('fraud-detector-canary');
    await expectMeshRouted(md);
    const rolling = await newVersion(md, (current) => {
      expect(current.status?.rollout, 'first step: 10% to the candidate').to.include({ phase: 'Progressing', step: 0 });
      expect(current.status?.weights).to.deep.equal({ stable: 90, candidate: 10 });
    });
    const { vs } = await expectMeshRouted(rolling);
    expect(restRoutes(vs)[0]?.route.map((r) => `${r.destination.subset}=${r.weight}`)).to.deep.equal(['stable=90', 'candidate=10']);
    expect(condition(rolling, 'Progressing')).to.include({ status: 'True' });
  },

  'blue-green.yaml': async (md) => {
    expect((await servingDeployment(md, true)).spec?.replicas).to.equal(3);
    const previewing = await newVersion(md, (current) => expect(current.status?.rollout).to.include({ phase: 'WaitingForPromotion' }));
    const candidate = previewing.status?.candidateRevision;
    // With Istio the mesh keeps all live traffic on stable; without it the Service selector would.
    const { vs } = await expectMeshRouted(previewing);
    expect(restRoutes(vs)[0]?.route.map((r) => `${r.destination.subset}=${r.weight ?? 100}`)).to.deep.equal(['stable=100']);
    const preview = await get<V1Service>('service', 'fraud-detector-bluegreen-preview');
    expect(preview.spec?.selector?.[REVISION_LABEL]).to.equal(candidate);
    expect((await get<V1Deployment>('deployment', `fraud-detector-bluegreen-${candidate}`)).spec?.replicas, 'the new version at full size').to.equal(3);
    expect(previewing.status?.weights).to.deep.equal({ stable: 100, candidate: 0 });
  },

  'ab-test.yaml': async (md) => {
    await expectMeshRouted(md);
    const testing = await newVersion(md, (current) => expect(current.status?.rollout).to.include({ phase: 'WaitingForPromotion' }));
    const { vs, dr } = await expectMeshRouted(testing);
    expect(dr.spec.subsets.find((s) => s.name === 'candidate')?.labels[REVISION_LABEL]).to.equal(testing.status?.candidateRevision);
    const [matched, rest] = restRoutes(vs);
    expect(matched?.match?.[0]?.headers?.['x-model-variant'], 'the header selects the candidate').to.deep.equal({ exact: 'int8' });
    expect(matched?.route.map((r) => r.destination.subset)).to.deep.equal(['candidate']);
    expect(rest?.route.map((r) => r.destination.subset)).to.deep.equal(['stable']);
  },

  'gateway-api-canary.yaml': async (md) => {
    // Istio is installed here, the Gateway API is not: a model that names GatewayAPI is not taken
    // over by Istio; its Service stands in and says so (test/node/gateway-api.test.ts routes it
    // through Traefik).
    expect(condition(md, 'TrafficRouting')).to.include({ status: 'False', reason: 'GatewayAPINotInstalled' });
    expect(condition(md, 'TrafficRouting')?.message).to.match(/^the Gateway API CRDs \(HTTPRoute, GRPCRoute\) are not installed: the canary weight is approximated by replica counts/);
    expect(await names('virtualservice')).to.not.include(md.metadata?.name);
  },

  'mirror.yaml': async (md) => {
    await expectMeshRouted(md);
    const mirroring = await newVersion(md, (current) => expect(current.status?.rollout).to.include({ phase: 'WaitingForPromotion' }));
    const { vs } = await expectMeshRouted(mirroring);
    const [route] = restRoutes(vs);
    expect(route?.route.map((r) => r.destination.subset), 'answers come from stable').to.deep.equal(['stable']);
    expect(route?.mirror?.subset).to.equal('candidate');
    expect(route?.mirrorPercentage?.value).to.equal(20);
  },
};

describe('examples/ applied as they are and reconciled (real apiserver, Istio CRDs, real operator)', function () {
  this.timeout(300_000);
  let operator: OperatorProcess;

  before(async function () {
    this.timeout(600_000);
    await kubectl(['apply', '--server-side', '-f', 'crds/']);
    await kubectl(['wait', '--for=condition=Established', 'crd/modeldeployments.modelship.io', '--timeout=60s']);
    await installOptionalCrds(kubectl, 'istio');
    await kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: GPU_NODE,
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        labels: { 'kubernetes.io/hostname': GPU_NODE, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', type: 'kwok', 'nvidia.com/gpu.present': 'true' },
      },
      spec: { taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }] },
      status: {
        allocatable: { cpu: '64', memory: '256Gi', pods: '500', 'nvidia.com/gpu': '4' },
        capacity: { cpu: '64', memory: '256Gi', pods: '500', 'nvidia.com/gpu': '4' },
      },
    }));
    await kubectl(['create', 'namespace', namespace]);
    await kubectl(['label', 'namespace', namespace, 'pod-security.kubernetes.io/enforce=restricted']);
    operator = await startOperator(plane().kubeconfigPath, 'operator-examples', { MODELSHIP_DISCOVERY_INTERVAL_SECONDS: '2', MODELSHIP_WATCH_NAMESPACE: namespace });
  });

  after(async function () {
    this.timeout(420_000);
    await operator?.stop();
    await kubectl(['delete', 'namespace', namespace, '--wait=false']);
    await kubectl(['delete', 'node', GPU_NODE, '--ignore-not-found', '--wait=false']);
    // Later suites start, as this one did, on a cluster without Istio.
    await uninstallOptionalCrds(kubectl, 'istio');
  });

  it('has an expectation for every example in the folder, and an example for every expectation', () => {
    expect(EXAMPLE_FILES, 'examples/*.yaml without an expectation in this test').to.have.members(Object.keys(EXPECTATIONS));
  });

  it('examples/models/model-server.yaml (the quickstart\'s model store) is admitted under the restricted Pod Security Standard', async () => {
    const out = await kubectl(['apply', '--dry-run=server', '-n', namespace, '-f', join(EXAMPLES_DIR, 'models', 'model-server.yaml')]);
    expect(out).to.contain('deployment.apps/models created (server dry run)').and.contain('service/models created (server dry run)');
  });

  for (const file of EXAMPLE_FILES) {
    const elsewhere = EXPECTATIONS[file];
    if (elsewhere && 'coveredBy' in elsewhere) {
      it(`${file}: applied as it is by ${elsewhere.coveredBy}`, async () => {
        expect(await readFile(join(REPO_ROOT, elsewhere.coveredBy), 'utf8')).to.contain(`examples/${file}`);
      });
      continue;
    }
    it(`${file}: applied as it is, Ready at its generation with the children it promises`, async () => {
      const expectation = EXPECTATIONS[file];
      if (!expectation || 'coveredBy' in expectation) return expect.fail(`no expectation for examples/${file}: add one to EXPECTATIONS in this test`);
      // A file may carry what the ModelDeployment needs beside it (a Secret); the ModelDeployment is the one judged.
      const documents = loadAll(readFileSync(join(EXAMPLES_DIR, file), 'utf8')) as KubernetesObject[];
      const name = documents.find((document) => document.kind === 'ModelDeployment')?.metadata?.name ?? '';
      await kubectl(['apply', '-n', namespace, '-f', join(EXAMPLES_DIR, file)]);
      const md = await eventually(async () => {
        const current = await getExample(name);
        const ready = condition(current, 'Ready');
        expect(ready, JSON.stringify(current.status)).to.include({ status: 'True' });
        expect(current.status?.observedGeneration, 'status is of the applied generation').to.equal(current.metadata?.generation);
        expect(ready?.observedGeneration).to.equal(current.metadata?.generation);
        const [readyPods, desired] = (current.status?.ready ?? '').split('/');
        expect(readyPods, `ready ${current.status?.ready}`).to.equal(desired).and.not.equal('0');
        return current;
      }, { timeoutMs: 90_000 });
      await expectation(md);
    });
  }
});
