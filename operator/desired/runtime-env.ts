import type { V1EnvVar } from '@kubernetes/client-node';
import { RUNTIME_DEFAULT_PORT, RuntimeContract, RuntimeEnv, type RuntimeSettingKey } from '../../runtime/contract.ts';
import { SpecDefaults } from '../api/schema.ts';
import type { ModelDeployment } from '../api/types.ts';
import { nameOf } from './metadata.ts';
import { MODEL_CACHE_DIR, type ModelSource } from './model-source.ts';
import { cpuCores } from './quantity.ts';

/** The bearer token the runtime requires when spec.security.authSecret is set. */
export const AUTH_TOKEN_ENV = RuntimeEnv.authToken;

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

/** The runtime's environment: the contract's variables from the spec, then the user's own. */
export function runtimeEnv(md: ModelDeployment, source: ModelSource, revision: string): V1EnvVar[] {
  const runtime = md.spec.runtime ?? {};
  const batching = runtime.batching ?? {};
  // Keyed by contract setting, so only contract variables can be emitted; unset ones take the runtime's default.
  const values: Partial<Record<RuntimeSettingKey, string | number | undefined>> = {
    modelName: modelNameOf(md),
    modelVersion: md.spec.model.version,
    modelUri: source.runtimeUri,
    modelSha256: source.sha256,
    modelCacheDir: MODEL_CACHE_DIR,
    revision,
    port: RUNTIME_DEFAULT_PORT,
    executionProviders: (runtime.executionProviders ?? SpecDefaults.executionProviders).join(','),
    intraOpThreads: intraOpThreads(md),
    interOpThreads: runtime.threads?.interOp,
    maxBatchSize: batching.maxBatchSize ?? SpecDefaults.maxBatchSize,
    maxQueueDelayMs: batching.maxQueueDelayMs ?? SpecDefaults.maxQueueDelayMs,
    preferredBatchSizes: batching.preferredBatchSizes?.join(','),
    maxQueueSize: batching.maxQueueSize,
    maxConcurrentRuns: runtime.maxConcurrentRuns,
    logLevel: runtime.logLevel,
  };
  const env: V1EnvVar[] = Object.entries(values).flatMap(([key, value]) =>
    value === undefined || value === '' ? [] : [{ name: RuntimeContract[key as RuntimeSettingKey].name, value: String(value) }]);
  const auth = md.spec.security?.authSecret;
  if (auth) env.push({ name: AUTH_TOKEN_ENV, valueFrom: { secretKeyRef: { name: auth.name, key: auth.key ?? SpecDefaults.authSecretKey } } });
  return [...env, ...(runtime.env ?? [])];
}
