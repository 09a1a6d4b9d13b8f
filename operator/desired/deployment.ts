import type { V1Container, V1Deployment, V1PodSpec, V1Probe, V1ResourceRequirements, V1Toleration } from '@kubernetes/client-node';
import { RUNTIME_DEFAULT_GRPC_PORT, RUNTIME_DEFAULT_PORT, RuntimeProbePaths } from '../../runtime/contract.ts';
import { SpecDefaults } from '../api/schema.ts';
import { asksForZero } from './autoscaling/registry.ts';
import type { ModelDeployment } from '../api/types.ts';
import { childLabels, MODEL_VERSION_LABEL, REVISION_LABEL, slotSelector, type RevisionSlot } from './labels.ts';
import { childMetadata } from './metadata.ts';
import { MODEL_CACHE_DIR, MODEL_CACHE_VOLUME, modelSource, modelVersionOf, TMP_VOLUME } from './model-source.ts';
import { authTokenMount } from './auth-token.ts';
import { servingTlsMount } from './tls.ts';
import { DEFAULT_S3_FETCHER_IMAGE, type OperatorOptions } from './options.ts';
import { revisionOf } from './revision.ts';
import { runtimeEnv, TERMINATION_MESSAGE_PATH } from './runtime-env.ts';
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from './security-context.ts';

export const RUNTIME_CONTAINER = 'runtime';
export const HTTP_PORT_NAME = 'http';
/** The Open Inference Protocol gRPC port's name on the container and the Service. */
export const GRPC_PORT_NAME = 'grpc';
export const GPU_RESOURCE = 'nvidia.com/gpu';
/** Seconds a terminating pod keeps serving while Service endpoints drop it, so no request hits a closed port. */
const PRE_STOP_DRAIN_SECONDS = 5;

function probe(path: string, scheme: 'HTTP' | 'HTTPS', timing: Pick<V1Probe, 'periodSeconds' | 'failureThreshold'>): V1Probe {
  return { httpGet: { path, port: HTTP_PORT_NAME, ...(scheme === 'HTTPS' && { scheme }) }, timeoutSeconds: 2, ...timing };
}

function runtimeResources(md: ModelDeployment): V1ResourceRequirements | undefined {
  const { resources, gpus = 0 } = md.spec.runtime ?? {};
  if (!resources && gpus === 0) return undefined;
  const limits = gpus > 0 ? { ...resources?.limits, [GPU_RESOURCE]: String(gpus) } : resources?.limits;
  return { ...(resources?.requests && { requests: stringQuantities(resources.requests) }), ...(limits && { limits: stringQuantities(limits) }) };
}

/** V1ResourceRequirements types quantities as strings; the apiserver accepts both and stores strings. */
function stringQuantities(quantities: Record<string, string | number>): Record<string, string> {
  return Object.fromEntries(Object.entries(quantities).map(([name, value]) => [name, String(value)]));
}

/** GPU nodes are commonly tainted so that only GPU workloads land there. */
function tolerations(md: ModelDeployment): V1Toleration[] | undefined {
  const user = md.spec.runtime?.tolerations ?? [];
  const gpu: V1Toleration[] = (md.spec.runtime?.gpus ?? 0) > 0 ? [{ key: GPU_RESOURCE, operator: 'Exists', effect: 'NoSchedule' }] : [];
  const all = [...gpu, ...user];
  return all.length > 0 ? all : undefined;
}

function podSpec(md: ModelDeployment, options: OperatorOptions, revision: string): V1PodSpec {
  const runtime = md.spec.runtime ?? {};
  const source = modelSource(md, options.s3FetcherImage ?? DEFAULT_S3_FETCHER_IMAGE);
  const resources = runtimeResources(md);
  const auth = authTokenMount(md);
  const tls = servingTlsMount(md);
  const coldStarts = asksForZero(md);
  const container: V1Container = {
    name: RUNTIME_CONTAINER,
    image: runtime.image ?? options.defaultRuntimeImage,
    ...(runtime.imagePullPolicy && { imagePullPolicy: runtime.imagePullPolicy }),
    ports: [
      { name: HTTP_PORT_NAME, containerPort: RUNTIME_DEFAULT_PORT, protocol: 'TCP' },
      { name: GRPC_PORT_NAME, containerPort: RUNTIME_DEFAULT_GRPC_PORT, protocol: 'TCP' },
    ],
    env: runtimeEnv(md, source, revision),
    ...(resources && { resources }),
    volumeMounts: [
      { name: MODEL_CACHE_VOLUME, mountPath: MODEL_CACHE_DIR },
      { name: TMP_VOLUME, mountPath: '/tmp' },
      ...source.runtimeMounts,
      ...auth.mounts,
      ...tls.mounts,
    ],
    // Startup allows ten minutes for a large model to download and load before liveness takes over.
    // A model that scales to zero has a request waiting while its first pod starts: its probes ask
    // every second, so the pod takes traffic within a second of loading instead of up to ten.
    startupProbe: probe(RuntimeProbePaths.live, tls.scheme, coldStarts ? { periodSeconds: 1, failureThreshold: 600 } : { periodSeconds: 5, failureThreshold: 120 }),
    livenessProbe: probe(RuntimeProbePaths.live, tls.scheme, { periodSeconds: 10, failureThreshold: 3 }),
    readinessProbe: probe(RuntimeProbePaths.ready, tls.scheme, coldStarts ? { periodSeconds: 1, failureThreshold: 15 } : { periodSeconds: 5, failureThreshold: 3 }),
    lifecycle: { preStop: { sleep: { seconds: PRE_STOP_DRAIN_SECONDS } } },
    terminationMessagePath: TERMINATION_MESSAGE_PATH,
    terminationMessagePolicy: 'File',
    securityContext: restrictedContainerSecurityContext(),
  };
  const tolerated = tolerations(md);
  return {
    // The runtime never talks to the Kubernetes API; without a token a compromised pod cannot either.
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    securityContext: restrictedPodSecurityContext(),
    ...(runtime.imagePullSecrets && { imagePullSecrets: runtime.imagePullSecrets.map((name) => ({ name })) }),
    ...(source.initContainers.length > 0 && { initContainers: source.initContainers }),
    containers: [container],
    ...(runtime.nodeSelector && { nodeSelector: runtime.nodeSelector }),
    ...(tolerated && { tolerations: tolerated }),
    volumes: [{ name: MODEL_CACHE_VOLUME, emptyDir: {} }, { name: TMP_VOLUME, emptyDir: {} }, ...source.volumes, ...auth.volumes, ...tls.volumes],
  };
}

/** How long a Ready runtime pod waits to count as available: longer than kube-proxy's one-second minimum sync. */
export const SERVING_SETTLE_SECONDS = 3;

/**
 * The runtime Deployment. Under an HPA it carries no replica count: server-side apply then leaves
 * spec.replicas to the HPA instead of resetting it on every reconcile.
 */
export function desiredDeployment(md: ModelDeployment, options: OperatorOptions, slot?: RevisionSlot): V1Deployment {
  const revision = revisionOf(md);
  const version = modelVersionOf(md);
  const rollingUpdate = md.spec.rollout?.rollingUpdate;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: childMetadata(md, slot ? { ...childLabels(md), [REVISION_LABEL]: revision } : childLabels(md), slot?.name),
    spec: {
      ...(!md.spec.autoscaling && { replicas: slot?.replicas ?? md.spec.replicas ?? SpecDefaults.replicas }),
      selector: { matchLabels: slotSelector(md, slot) },
      // Never drop below the serving capacity during a rollout; surge instead.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: rollingUpdate?.maxSurge ?? '25%', maxUnavailable: rollingUpdate?.maxUnavailable ?? 0 } },
      revisionHistoryLimit: 3,
      // A pod is Ready a moment before kube-proxy sends it traffic (EndpointSlice, then iptables sync):
      // counting it available only after this long keeps the old pods it replaces (a rolling update's,
      // a canary's stable share) serving through that moment.
      minReadySeconds: SERVING_SETTLE_SECONDS,
      template: {
        metadata: {
          labels: { ...childLabels(md), [REVISION_LABEL]: revision, ...(version && { [MODEL_VERSION_LABEL]: version }) },
          annotations: {
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(RUNTIME_DEFAULT_PORT),
            'prometheus.io/path': RuntimeProbePaths.metrics,
            ...(md.spec.security?.tls && { 'prometheus.io/scheme': 'https' }),
          },
        },
        spec: podSpec(md, options, revision),
      },
    },
  };
}
