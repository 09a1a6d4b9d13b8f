import type { V1EnvVar } from '@kubernetes/client-node';
import { RUNTIME_DEFAULT_GRPC_PORT, RUNTIME_DEFAULT_PORT, RuntimeEnv, type RuntimeEnvName } from '../../runtime/contract.ts';
import { SpecDefaults } from '../api/schema.ts';
import type { ModelDeployment } from '../api/types.ts';
import { authTokenMount } from './auth-token.ts';
import { servingTlsMount } from './tls.ts';
import { nameOf, namespaceOf } from './metadata.ts';
import { MODEL_CACHE_DIR, modelVersionOf, type ModelDelivery } from './model-source.ts';
import { cpuCores } from './quantity.ts';

/** Kubernetes' default, set on the container explicitly because the runtime is told to write its failure there. */
export const TERMINATION_MESSAGE_PATH = '/dev/termination-log';

export function modelNameOf(md: ModelDeployment): string {
  return md.spec.model.name ?? nameOf(md);
}

/**
 * ONNX Runtime sizes its thread pool by the node's cores, not the container's CPU limit, and a
 * pool larger than the limit gets throttled; so unless the spec says otherwise, use the limit.
 */
function intraOpThreads(md: ModelDeployment): number | undefined {
  const runtime = md.spec.runtime;
  if (runtime?.threads?.intraOp) return runtime.threads.intraOp;
  const cpu = runtime?.resources?.limits?.cpu ?? runtime?.resources?.requests?.cpu;
  const cores = cpu === undefined ? undefined : cpuCores(cpu);
  return cores === undefined ? undefined : Math.max(1, Math.floor(cores));
}

/**
 * spec.tracing as OpenTelemetry's standard variables: parent-based ratio sampling, the ModelDeployment
 * as the service, its namespace and revision as resource attributes.
 */
function tracingEnv(md: ModelDeployment, revision: string): [RuntimeEnvName, string | number | undefined][] {
  const tracing = md.spec.tracing;
  if (!tracing) return [];
  const resource = [`k8s.namespace.name=${namespaceOf(md)}`, `modelship.revision=${revision}`];
  return [
    [RuntimeEnv.otelEndpoint, tracing.endpoint],
    [RuntimeEnv.otelProtocol, tracing.protocol],
    [RuntimeEnv.otelTracesSampler, 'parentbased_traceidratio'],
    [RuntimeEnv.otelTracesSamplerArg, tracing.samplingRatio],
    [RuntimeEnv.otelServiceName, nameOf(md)],
    [RuntimeEnv.otelResourceAttributes, resource.join(',')],
  ];
}

/** The runtime's environment: the contract's variables from the spec, then the user's own. */
export function runtimeEnv(md: ModelDeployment, source: ModelDelivery, revision: string): V1EnvVar[] {
  const runtime = md.spec.runtime ?? {};
  const batching = runtime.batching ?? {};
  // Typed by the contract's names, so nothing outside runtime/contract.ts can be emitted; unset ones take the runtime's default.
  const values: [RuntimeEnvName, string | number | undefined][] = [
    [RuntimeEnv.modelName, modelNameOf(md)],
    [RuntimeEnv.modelVersion, modelVersionOf(md)],
    [RuntimeEnv.modelUri, source.runtimeUri],
    [RuntimeEnv.modelSha256, source.sha256],
    [RuntimeEnv.modelSignatureMethod, source.signature?.method],
    [RuntimeEnv.modelSignatureUri, source.signature?.runtimeUri],
    [RuntimeEnv.modelSignatureTrustFile, source.signature?.trustFile],
    [RuntimeEnv.modelCacheDir, MODEL_CACHE_DIR],
    [RuntimeEnv.revision, revision],
    [RuntimeEnv.port, RUNTIME_DEFAULT_PORT],
    [RuntimeEnv.grpcPort, RUNTIME_DEFAULT_GRPC_PORT],
    [RuntimeEnv.executionProviders, (runtime.executionProviders ?? SpecDefaults.executionProviders).join(',')],
    [RuntimeEnv.intraOpThreads, intraOpThreads(md)],
    [RuntimeEnv.interOpThreads, runtime.threads?.interOp],
    [RuntimeEnv.maxBatchSize, batching.maxBatchSize ?? SpecDefaults.maxBatchSize],
    [RuntimeEnv.maxQueueDelayMs, batching.maxQueueDelayMs ?? SpecDefaults.maxQueueDelayMs],
    [RuntimeEnv.preferredBatchSizes, batching.preferredBatchSizes?.join(',')],
    [RuntimeEnv.maxQueueSize, batching.maxQueueSize],
    [RuntimeEnv.maxConcurrentRuns, runtime.maxConcurrentRuns],
    [RuntimeEnv.rateLimitRps, runtime.rateLimit?.requestsPerSecond],
    [RuntimeEnv.rateLimitBurst, runtime.rateLimit?.burst],
    [RuntimeEnv.rateLimitTotalRps, runtime.rateLimit?.totalRequestsPerSecond],
    [RuntimeEnv.logLevel, runtime.logLevel],
    [RuntimeEnv.terminationMessagePath, TERMINATION_MESSAGE_PATH],
    // JSON, so that names may hold commas.
    [RuntimeEnv.classNames, md.spec.monitoring?.classNames && JSON.stringify(md.spec.monitoring.classNames)],
    ...tracingEnv(md, revision),
  ];
  const env: V1EnvVar[] = values.flatMap(([name, value]) => (value === undefined || value === '' ? [] : [{ name, value: String(value) }]));
  const registryToken = md.spec.model.mlflow?.tokenSecret;
  if (registryToken) {
    env.push({ name: RuntimeEnv.modelDownloadToken, valueFrom: { secretKeyRef: { name: registryToken.name, key: registryToken.key ?? SpecDefaults.registryTokenKey } } });
  }
  return [...env, ...authTokenMount(md).env, ...servingTlsMount(md).env, ...(runtime.env ?? [])];
}
