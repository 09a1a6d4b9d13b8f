import type { KubernetesObject, V1Container, V1Deployment, V1EnvVar, V2HorizontalPodAutoscaler, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { expect } from 'chai';
import { loadConfig } from '../../../runtime/config.ts';
import { RUNTIME_DEFAULT_GRPC_PORT, RUNTIME_DEFAULT_PORT, RuntimeEnv, RuntimeProbePaths } from '../../../runtime/contract.ts';
import type { ModelDeployment } from '../../../operator/api/types.ts';
import {
  childKinds,
  desiredDeployment,
  endpointUrl,
  MANAGED_BY_LABEL,
  REVISION_LABEL,
  revisionOf,
} from '../../../operator/desired/index.ts';
import { desiredChildren, modelDeployment, OPTIONS, SHA } from './fixtures.ts';

function runtimeContainer(deployment: V1Deployment): V1Container {
  const container = deployment.spec?.template.spec?.containers[0];
  if (!container) throw new Error('no runtime container');
  return container;
}

function envOf(md: ModelDeployment): Record<string, V1EnvVar> {
  return Object.fromEntries((runtimeContainer(desiredDeployment(md, OPTIONS)).env ?? []).map((e) => [e.name, e]));
}

function kindOf<T extends KubernetesObject>(children: KubernetesObject[], kind: string): T | undefined {
  return children.find((child) => child.kind === kind) as T | undefined;
}

const kinds = (md: ModelDeployment) => desiredChildren(md, OPTIONS).map((child) => child.kind).filter((kind) => kind !== 'ControllerRevision');

describe('desired children of a ModelDeployment', () => {
  it('makes every child a garbage-collected, controller-owned, labelled object in the MD namespace', () => {
    const md = modelDeployment({
      autoscaling: { minReplicas: 2, maxReplicas: 4, targetPredictionLatencyMs: 200 },
      security: { networkPolicy: { enabled: true } },
    });
    const children = desiredChildren(md, OPTIONS);
    expect(children.map((c) => c.kind)).to.deep.equal(['ControllerRevision', 'Service', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'NetworkPolicy']);
    for (const child of children) {
      expect(child.metadata?.namespace, child.kind).to.equal('payments');
      expect(child.metadata?.labels?.[MANAGED_BY_LABEL], child.kind).to.equal('modelship');
      expect(child.metadata?.ownerReferences, child.kind).to.deep.equal([
        { apiVersion: 'modelship.io/v1alpha1', kind: 'ModelDeployment', name: 'fraud-detector', uid: md.metadata.uid, controller: true, blockOwnerDeletion: true },
      ]);
      expect(childKinds.some((k) => k.kind === child.kind && k.apiVersion === child.apiVersion), `${child.kind} listed in childKinds`).to.equal(true);
    }
  });

  it('refuses to build children for a ModelDeployment without a uid (they could never be garbage-collected)', () => {
    const md = modelDeployment();
    delete md.metadata.uid;
    expect(() => desiredChildren(md, OPTIONS)).to.throw(/metadata.uid/);
  });

  it('only adds the HPA, PDB and NetworkPolicy when the spec asks for them', () => {
    const plain = modelDeployment();
    expect(kinds(plain)).to.deep.equal(['Service', 'Deployment']);
    expect(kinds(modelDeployment({ replicas: 3 }))).to.deep.equal(['Service', 'Deployment', 'PodDisruptionBudget']);
    expect(kinds(modelDeployment({ autoscaling: { minReplicas: 1, maxReplicas: 5, targetCPUUtilization: 70 } }))).to.deep.equal(['Service', 'Deployment', 'HorizontalPodAutoscaler']);
  });

  it('is deterministic: the same spec gives byte-identical objects, whatever the key order', () => {
    const a = modelDeployment({ runtime: { resources: { requests: { cpu: '500m', memory: '512Mi' } }, env: [{ name: 'A', value: '1' }] }, replicas: 2 });
    const b = modelDeployment({ replicas: 2, runtime: { env: [{ value: '1', name: 'A' }], resources: { requests: { memory: '512Mi', cpu: '500m' } } } });
    expect(JSON.stringify(desiredChildren(a, OPTIONS))).to.equal(JSON.stringify(desiredChildren(structuredClone(a), OPTIONS)));
    expect(revisionOf(a)).to.equal(revisionOf(b));
  });
});

describe('runtime Deployment', () => {
  it('sets the runtime env contract from the spec, then the user env', () => {
    const env = envOf(modelDeployment({
      runtime: { executionProviders: ['cpu'], batching: { maxBatchSize: 64, maxQueueDelayMs: 2, preferredBatchSizes: [16, 64] }, env: [{ name: 'OMP_WAIT_POLICY', value: 'PASSIVE' }] },
    }));
    expect(env[RuntimeEnv.modelName]?.value).to.equal('fraud-detector');
    expect(env[RuntimeEnv.modelVersion]?.value).to.equal('2');
    expect(env[RuntimeEnv.modelUri]?.value).to.equal('https://models.example.com/fraud/model.onnx');
    expect(env[RuntimeEnv.modelSha256]?.value).to.equal(SHA);
    expect(env[RuntimeEnv.port]?.value).to.equal(String(RUNTIME_DEFAULT_PORT));
    expect(env[RuntimeEnv.grpcPort]?.value).to.equal(String(RUNTIME_DEFAULT_GRPC_PORT));
    expect(env[RuntimeEnv.executionProviders]?.value).to.equal('cpu');
    expect(env[RuntimeEnv.maxBatchSize]?.value).to.equal('64');
    expect(env[RuntimeEnv.maxQueueDelayMs]?.value).to.equal('2');
    expect(env[RuntimeEnv.preferredBatchSizes]?.value).to.equal('16,64');
    expect(env[RuntimeEnv.revision]?.value).to.equal(revisionOf(modelDeployment({
      runtime: { executionProviders: ['cpu'], batching: { maxBatchSize: 64, maxQueueDelayMs: 2, preferredBatchSizes: [16, 64] }, env: [{ name: 'OMP_WAIT_POLICY', value: 'PASSIVE' }] },
    })));
    expect(env.OMP_WAIT_POLICY?.value).to.equal('PASSIVE');
  });

  it('passes spec.monitoring.classNames to the runtime as MODELSHIP_CLASS_NAMES, which the runtime reads back', () => {
    const classNames = ['legit', 'fraud, confirmed'];
    const env = envOf(modelDeployment({ monitoring: { classNames } }));
    const value = env[RuntimeEnv.classNames]?.value;
    expect(loadConfig({ [RuntimeEnv.modelUri]: 'm.onnx', [RuntimeEnv.classNames]: value }).classNames).to.deep.equal(classNames);
    expect(envOf(modelDeployment())[RuntimeEnv.classNames]).to.equal(undefined);
  });

  it('sizes the ONNX Runtime thread pool to the CPU limit unless told otherwise', () => {
    expect(envOf(modelDeployment({ runtime: { resources: { limits: { cpu: '2500m' } } } }))[RuntimeEnv.intraOpThreads]?.value).to.equal('2');
    expect(envOf(modelDeployment({ runtime: { resources: { requests: { cpu: '500m' } } } }))[RuntimeEnv.intraOpThreads]?.value).to.equal('1');
    expect(envOf(modelDeployment({ runtime: { threads: { intraOp: 8 }, resources: { limits: { cpu: 2 } } } }))[RuntimeEnv.intraOpThreads]?.value).to.equal('8');
    expect(envOf(modelDeployment())[RuntimeEnv.intraOpThreads]).to.equal(undefined);
  });

  it('serves the INT8 variant when asked', () => {
    const int8 = { uri: 'https://models.example.com/fraud/model.int8.onnx', sha256: 'b'.repeat(64) };
    const env = envOf(modelDeployment({ model: { uri: 'https://models.example.com/fraud/model.onnx', sha256: SHA, int8, variant: 'int8' } }));
    expect(env[RuntimeEnv.modelUri]?.value).to.equal(int8.uri);
    expect(env[RuntimeEnv.modelSha256]?.value).to.equal(int8.sha256);
  });

  it('exposes the REST and gRPC ports and probes the Open Inference Protocol health endpoints on the REST port', () => {
    const container = runtimeContainer(desiredDeployment(modelDeployment(), OPTIONS));
    expect(container.ports).to.deep.equal([
      { name: 'http', containerPort: RUNTIME_DEFAULT_PORT, protocol: 'TCP' },
      { name: 'grpc', containerPort: RUNTIME_DEFAULT_GRPC_PORT, protocol: 'TCP' },
    ]);
    expect(container.readinessProbe?.httpGet).to.deep.equal({ path: RuntimeProbePaths.ready, port: 'http' });
    expect(container.livenessProbe?.httpGet).to.deep.equal({ path: RuntimeProbePaths.live, port: 'http' });
    expect(container.startupProbe?.httpGet?.path).to.equal(RuntimeProbePaths.live);
    // A slow model download must not get the pod killed by liveness.
    const startup = container.startupProbe!;
    expect((startup.periodSeconds ?? 10) * (startup.failureThreshold ?? 3)).to.be.at.least(300);
  });

  it('runs restricted: non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp, no API token', () => {
    const deployment = desiredDeployment(modelDeployment(), OPTIONS);
    const pod = deployment.spec!.template.spec!;
    expect(pod.securityContext).to.include({ runAsNonRoot: true, runAsUser: 65532 });
    expect(pod.securityContext?.seccompProfile).to.deep.equal({ type: 'RuntimeDefault' });
    expect(pod.automountServiceAccountToken).to.equal(false);
    expect(runtimeContainer(deployment).securityContext).to.deep.equal({
      runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
    });
    // With a read-only root the model cache and /tmp need writable volumes.
    const mounts = runtimeContainer(deployment).volumeMounts?.map((m) => m.mountPath);
    expect(mounts).to.include.members([envOf(modelDeployment())[RuntimeEnv.modelCacheDir]?.value, '/tmp']);
  });

  it('labels pods with the revision and asks Prometheus to scrape them', () => {
    const md = modelDeployment();
    const template = desiredDeployment(md, OPTIONS).spec!.template;
    expect(template.metadata?.labels?.[REVISION_LABEL]).to.equal(revisionOf(md));
    expect(template.metadata?.annotations).to.deep.equal({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080', 'prometheus.io/path': '/metrics' });
  });

  it('keeps the pod selector independent of the revision (it is immutable in a Deployment)', () => {
    const v1 = desiredDeployment(modelDeployment(), OPTIONS);
    const v2 = desiredDeployment(modelDeployment({ model: { uri: 'https://models.example.com/fraud/v3.onnx', sha256: SHA, version: '3' } }), OPTIONS);
    expect(v1.spec?.selector).to.deep.equal(v2.spec?.selector);
    expect(v1.spec?.template.metadata?.labels?.[REVISION_LABEL]).to.not.equal(v2.spec?.template.metadata?.labels?.[REVISION_LABEL]);
  });

  it('leaves replicas to the HPA under autoscaling, and sets them otherwise', () => {
    expect(desiredDeployment(modelDeployment({ autoscaling: { minReplicas: 2, maxReplicas: 9, targetCPUUtilization: 70 } }), OPTIONS).spec).to.not.have.property('replicas');
    expect(desiredDeployment(modelDeployment({ replicas: 3 }), OPTIONS).spec?.replicas).to.equal(3);
    expect(desiredDeployment(modelDeployment(), OPTIONS).spec?.replicas).to.equal(1);
  });

  it('rolls out without dropping serving capacity', () => {
    expect(desiredDeployment(modelDeployment(), OPTIONS).spec?.strategy?.rollingUpdate).to.deep.equal({ maxSurge: '25%', maxUnavailable: 0 });
  });

  it('uses the runtime image of the spec, else the operator default', () => {
    expect(runtimeContainer(desiredDeployment(modelDeployment(), OPTIONS)).image).to.equal(OPTIONS.defaultRuntimeImage);
    expect(runtimeContainer(desiredDeployment(modelDeployment({ runtime: { image: 'registry.example/runtime:gpu' } }), OPTIONS)).image).to.equal('registry.example/runtime:gpu');
  });

  it('requests nvidia.com/gpu, tolerates the GPU taint and keeps the user node selector for GPU models', () => {
    const md = modelDeployment({
      runtime: {
        gpus: 1,
        executionProviders: ['cuda', 'cpu'],
        resources: { limits: { cpu: '4', memory: '8Gi' } },
        nodeSelector: { 'nvidia.com/gpu.product': 'NVIDIA-A10G' },
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'ml', effect: 'NoSchedule' }],
      },
    });
    const deployment = desiredDeployment(md, OPTIONS);
    const pod = deployment.spec!.template.spec!;
    expect(runtimeContainer(deployment).resources?.limits).to.deep.equal({ cpu: '4', memory: '8Gi', 'nvidia.com/gpu': '1' });
    expect(pod.nodeSelector).to.deep.equal({ 'nvidia.com/gpu.product': 'NVIDIA-A10G' });
    expect(pod.tolerations).to.deep.equal([
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
      { key: 'dedicated', operator: 'Equal', value: 'ml', effect: 'NoSchedule' },
    ]);
    expect(envOf(md)[RuntimeEnv.executionProviders]?.value).to.equal('cuda,cpu');
    const cpuOnly = desiredDeployment(modelDeployment(), OPTIONS);
    expect(cpuOnly.spec?.template.spec?.tolerations).to.equal(undefined);
    expect(runtimeContainer(cpuOnly).resources).to.equal(undefined);
  });

  it('mounts a PVC read-only and points the runtime at the file in it', () => {
    const md = modelDeployment({ model: { uri: 'pvc://model-store/fraud/v2/model.onnx', sha256: SHA } });
    const deployment = desiredDeployment(md, OPTIONS);
    expect(deployment.spec?.template.spec?.volumes).to.deep.include({ name: 'model-store', persistentVolumeClaim: { claimName: 'model-store', readOnly: true } });
    expect(runtimeContainer(deployment).volumeMounts).to.deep.include({ name: 'model-store', mountPath: '/mnt/models', readOnly: true });
    expect(envOf(md)[RuntimeEnv.modelUri]?.value).to.equal('file:///mnt/models/fraud/v2/model.onnx');
  });

  it('copies s3:// models with a restricted init container into the cache, where the runtime verifies the digest', () => {
    const md = modelDeployment({ model: { uri: 's3://models/fraud/v2/model.int8.onnx', sha256: SHA, s3: { endpoint: 'http://minio.storage:9000', credentialsSecret: 'minio-creds' } } });
    const pod = desiredDeployment(md, OPTIONS).spec!.template.spec!;
    const fetcher = pod.initContainers?.[0];
    expect(fetcher?.args).to.include.members(['s3://models/fraud/v2/model.int8.onnx', '--endpoint-url', 'http://minio.storage:9000']);
    expect(fetcher?.args).to.not.include('--no-sign-request');
    expect(fetcher?.env?.find((e) => e.name === 'AWS_SECRET_ACCESS_KEY')?.valueFrom?.secretKeyRef).to.deep.equal({ name: 'minio-creds', key: 'AWS_SECRET_ACCESS_KEY' });
    expect(fetcher?.securityContext?.readOnlyRootFilesystem).to.equal(true);
    const target = fetcher?.args?.[3];
    expect(envOf(md)[RuntimeEnv.modelUri]?.value).to.equal(`file://${target}`);
    expect(envOf(md)[RuntimeEnv.modelSha256]?.value).to.equal(SHA);
    const anonymous = desiredDeployment(modelDeployment({ model: { uri: 's3://public/model.onnx', sha256: SHA } }), OPTIONS);
    expect(anonymous.spec?.template.spec?.initContainers?.[0]?.args).to.include('--no-sign-request');
  });

  describe('spec.model.signature', () => {
    const keySecret = { name: 'model-signer', key: 'public-key.pem' };
    const podOf = (md: ModelDeployment) => desiredDeployment(md, OPTIONS).spec!.template.spec!;

    it('mounts the Secret read-only as one file and has the runtime verify <model uri>.sig with it', () => {
      const md = modelDeployment({ model: { uri: 'https://models.example.com/fraud.onnx', sha256: SHA, signature: { secret: keySecret } } });
      const pod = podOf(md);
      expect(pod.volumes).to.deep.include({ name: 'model-signature-trust', secret: { secretName: 'model-signer', items: [{ key: 'public-key.pem', path: 'trust.pem' }] } });
      expect(runtimeContainer(desiredDeployment(md, OPTIONS)).volumeMounts).to.deep.include({ name: 'model-signature-trust', mountPath: '/etc/modelship/model-signature', readOnly: true });
      const env = envOf(md);
      expect(env[RuntimeEnv.modelSignatureMethod]?.value).to.equal('key');
      expect(env[RuntimeEnv.modelSignatureUri]?.value).to.equal('https://models.example.com/fraud.onnx.sig');
      expect(env[RuntimeEnv.modelSignatureTrustFile]?.value).to.equal('/etc/modelship/model-signature/trust.pem');
      const config = loadConfig(Object.fromEntries(Object.values(env).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]]))));
      expect(config.model.signature).to.deep.equal({ method: 'key', uri: 'https://models.example.com/fraud.onnx.sig', trustFile: '/etc/modelship/model-signature/trust.pem' });
    });

    it('reads the signature of the INT8 file when that variant is served', () => {
      const md = modelDeployment({
        model: { uri: 'https://m/fraud.onnx', sha256: SHA, int8: { uri: 'https://m/fraud-int8.onnx', sha256: SHA }, variant: 'int8', signature: { method: 'certificate', secret: { name: 'ca', key: 'ca.pem' } } },
      });
      expect(envOf(md)[RuntimeEnv.modelSignatureUri]?.value).to.equal('https://m/fraud-int8.onnx.sig');
      expect(envOf(md)[RuntimeEnv.modelSignatureMethod]?.value).to.equal('certificate');
    });

    it('finds a pvc:// signature through the model claim mount, and another claim through its own read-only mount', () => {
      const sameClaim = modelDeployment({ model: { uri: 'pvc://store/fraud/model.onnx', sha256: SHA, signature: { secret: keySecret } } });
      expect(envOf(sameClaim)[RuntimeEnv.modelSignatureUri]?.value).to.equal('file:///mnt/models/fraud/model.onnx.sig');
      expect(podOf(sameClaim).volumes?.filter((v) => v.persistentVolumeClaim)).to.have.length(1);
      const otherClaim = modelDeployment({ model: { uri: 'pvc://store/fraud/model.onnx', sha256: SHA, signature: { secret: keySecret, uri: 'pvc://signatures/fraud.sig' } } });
      expect(envOf(otherClaim)[RuntimeEnv.modelSignatureUri]?.value).to.equal('file:///mnt/model-signature/fraud.sig');
      expect(podOf(otherClaim).volumes).to.deep.include({ name: 'model-signature-store', persistentVolumeClaim: { claimName: 'signatures', readOnly: true } });
    });

    it('copies an s3:// signature with its own init container next to the copied model', () => {
      const md = modelDeployment({ model: { uri: 's3://models/fraud.onnx', sha256: SHA, signature: { secret: keySecret } } });
      const [model, signature] = podOf(md).initContainers ?? [];
      expect(model?.name).to.equal('fetch-model');
      expect(signature?.name).to.equal('fetch-model-signature');
      expect(signature?.args?.slice(0, 4)).to.deep.equal(['s3', 'cp', 's3://models/fraud.onnx.sig', `${String(model?.args?.[3])}.sig`]);
      expect(envOf(md)[RuntimeEnv.modelSignatureUri]?.value).to.equal(`file://${String(model?.args?.[3])}.sig`);
    });

    it('has the runtime write why it cannot serve to the file Kubernetes reads as the termination message', () => {
      const container = runtimeContainer(desiredDeployment(modelDeployment(), OPTIONS));
      expect(container.terminationMessagePolicy).to.equal('File');
      expect(envOf(modelDeployment())[RuntimeEnv.terminationMessagePath]?.value).to.equal(container.terminationMessagePath).and.to.equal('/dev/termination-log');
    });

    it('sets nothing about signatures when the spec has none', () => {
      const md = modelDeployment();
      expect(Object.keys(envOf(md)).filter((name) => name.startsWith('MODELSHIP_MODEL_SIGNATURE'))).to.deep.equal([]);
      expect(podOf(md).volumes?.map((v) => v.name)).to.not.include('model-signature-trust');
    });
  });

  it('mounts the auth Secret as a file the runtime re-reads (rotation without restart), never as a literal or an env var', () => {
    const md = modelDeployment({ security: { authSecret: { name: 'fraud-token', key: 'bearer' } } });
    const pod = desiredDeployment(md, OPTIONS).spec!.template.spec!;
    const volume = pod.volumes?.find((v) => v.secret?.secretName === 'fraud-token');
    expect(volume?.secret?.items).to.deep.equal([{ key: 'bearer', path: 'token' }]);
    const mount = pod.containers[0]?.volumeMounts?.find((m) => m.name === volume?.name);
    // A subPath mount would never see the kubelet's updates.
    expect(mount).to.deep.equal({ name: volume?.name, mountPath: '/var/run/secrets/modelship/auth', readOnly: true });
    const env = envOf(md);
    expect(env[RuntimeEnv.authTokenFile]?.value).to.equal('/var/run/secrets/modelship/auth/token');
    expect(env[RuntimeEnv.authToken]).to.equal(undefined);
    expect(JSON.stringify(pod)).to.not.match(/secretKeyRef/);
  });

  it('serves TLS from security.tls: the whole Secret mounted (renewals reach the pod), the runtime told where, probes, scrape annotation, Service and endpoint on https', () => {
    const md = modelDeployment({ security: { tls: { secretName: 'fraud-cert' } } });
    const deployment = desiredDeployment(md, OPTIONS);
    const pod = deployment.spec!.template.spec!;
    const volume = pod.volumes?.find((v) => v.secret?.secretName === 'fraud-cert');
    expect(volume?.secret?.items).to.deep.equal([{ key: 'tls.crt', path: 'tls.crt' }, { key: 'tls.key', path: 'tls.key' }]);
    const mount = pod.containers[0]?.volumeMounts?.find((m) => m.name === volume?.name);
    expect(mount).to.deep.equal({ name: volume?.name, mountPath: '/var/run/secrets/modelship/tls', readOnly: true });
    const config = loadConfig(Object.fromEntries(Object.entries(envOf(md)).flatMap(([name, entry]) => (entry.value === undefined ? [] : [[name, entry.value]]))));
    expect(config.tls).to.deep.equal({ certFile: '/var/run/secrets/modelship/tls/tls.crt', keyFile: '/var/run/secrets/modelship/tls/tls.key' });
    const container = pod.containers[0]!;
    for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) expect(probe?.httpGet?.scheme).to.equal('HTTPS');
    expect(deployment.spec?.template.metadata?.annotations).to.include({ 'prometheus.io/scheme': 'https' });
    const service = kindOf(desiredChildren(md, OPTIONS), 'Service') as { spec: { ports: { appProtocol: string }[] } };
    expect(service.spec.ports.map((port) => port.appProtocol)).to.deep.equal(['https', 'https']);
    expect(endpointUrl(md)).to.match(/^https:\/\/fraud-detector\.payments\.svc/);
    const plain = desiredDeployment(modelDeployment(), OPTIONS).spec!.template;
    expect(plain.spec?.containers[0]?.readinessProbe?.httpGet?.scheme, 'plain HTTP by default').to.equal(undefined);
    expect(plain.metadata?.annotations).to.not.have.property('prometheus.io/scheme');
  });
});

describe('Service, HPA, PDB and NetworkPolicy', () => {
  it('exposes REST on the spec port and gRPC on its own port, and names the in-cluster endpoint', () => {
    const md = modelDeployment({ service: { port: 80, type: 'LoadBalancer' } });
    const service = kindOf(desiredChildren(md, OPTIONS), 'Service') as { spec: { type: string; ports: unknown[]; selector: Record<string, string> } };
    expect(service.spec.type).to.equal('LoadBalancer');
    expect(service.spec.ports).to.deep.equal([
      { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' },
      { name: 'grpc', port: RUNTIME_DEFAULT_GRPC_PORT, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' },
    ]);
    expect(service.spec.selector).to.deep.equal(desiredDeployment(md, OPTIONS).spec?.selector.matchLabels);
    expect(endpointUrl(md)).to.equal('http://fraud-detector.payments.svc.cluster.local:80/v2/models/fraud-detector');
    expect(endpointUrl(md, { clusterDomain: 'corp.internal' })).to.contain('.svc.corp.internal:80/');
  });

  it('scales on CPU utilization and on prediction latency in milli-seconds-as-milli-units', () => {
    const md = modelDeployment({
      autoscaling: { minReplicas: 2, maxReplicas: 20, targetCPUUtilization: 70, targetPredictionLatencyMs: 200, behavior: { scaleDown: { stabilizationWindowSeconds: 300 } } },
    });
    const hpa = kindOf<V2HorizontalPodAutoscaler>(desiredChildren(md, OPTIONS), 'HorizontalPodAutoscaler')!;
    expect(hpa.apiVersion).to.equal('autoscaling/v2');
    expect(hpa.spec?.scaleTargetRef).to.deep.equal({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'fraud-detector' });
    expect(hpa.spec).to.include({ minReplicas: 2, maxReplicas: 20 });
    expect(hpa.spec?.metrics).to.deep.equal([
      { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
      // 200m of a metric in seconds = 0.2 s = 200 ms.
      { type: 'Pods', pods: { metric: { name: 'prediction_latency' }, target: { type: 'AverageValue', averageValue: '200m' } } },
    ]);
    expect(hpa.spec?.behavior).to.deep.equal({ scaleDown: { stabilizationWindowSeconds: 300 } });
  });

  it('lets drains evict one replica at a time once there is more than one', () => {
    const pdb = kindOf<V1PodDisruptionBudget>(desiredChildren(modelDeployment({ autoscaling: { minReplicas: 2, maxReplicas: 4, targetCPUUtilization: 50 } }), OPTIONS), 'PodDisruptionBudget');
    expect(pdb?.spec?.maxUnavailable).to.equal(1);
    expect(pdb?.spec?.selector?.matchLabels).to.deep.equal({ 'modelship.io/model-deployment': 'fraud-detector' });
  });

  it('admits same-namespace pods and allowFrom peers to the runtime ports only', () => {
    const md = modelDeployment({ security: { networkPolicy: { enabled: true, allowFrom: [{ namespaceSelector: { 'kubernetes.io/metadata.name': 'gateway' } }] } } });
    const policy = kindOf(desiredChildren(md, OPTIONS), 'NetworkPolicy') as { spec: { ingress: { from: unknown[]; ports: unknown[] }[] } };
    expect(policy.spec.ingress).to.deep.equal([{
      from: [{ podSelector: {} }, { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'gateway' } } }],
      ports: [{ protocol: 'TCP', port: RUNTIME_DEFAULT_PORT }, { protocol: 'TCP', port: RUNTIME_DEFAULT_GRPC_PORT }],
    }]);
  });

  it("admits the mesh ingress (its Gateways' namespaces) and the operator's Prometheus namespace, each once", () => {
    const md = modelDeployment({
      traffic: { gateways: ['istio-ingress/public', 'istio-ingress/internal', 'local-gw', 'mesh'] },
      security: { networkPolicy: { enabled: true } },
    });
    const policy = kindOf(desiredChildren(md, { ...OPTIONS, prometheusNamespace: 'monitoring' }), 'NetworkPolicy') as { spec: { ingress: { from: unknown[] }[] } };
    const byName = (namespace: string) => ({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } });
    expect(policy.spec.ingress[0]?.from).to.deep.equal([{ podSelector: {} }, byName('istio-ingress'), byName('monitoring')]);
  });
});
